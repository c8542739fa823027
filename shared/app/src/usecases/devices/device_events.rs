//! Messages from gates, cameras and bay sensors, as the IoT rules deliver
//! them: parsed, checked against the device registry, and applied. One
//! entry point, [`DeviceEvents::handle`], for every function, the command
//! line and the tests.
//!
//! - A message whose client is not registered for the lot and the gate or
//!   bay it speaks for is rejected and changes nothing.
//! - In a backlog every read is applied on its own: a bad read is
//!   rejected with its reason and the others go on; a read that fails for
//!   a reason worth retrying makes the whole message fail after all the
//!   others are applied, and the retry finds them done (duplicates).
//! - A lot's configuration and tariff are read once and cached for
//!   `cache_ttl`, not per message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::timeline::Tariffs;
use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};

use crate::commands::GateCommand;
use crate::devices::{DeviceMessage, MessageError};
use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

use crate::usecases::bay_state;
use crate::usecases::plate_read;
use crate::usecases::presence;

/// How many reads of one backlog are applied at the same time.
const BACKLOG_CONCURRENCY: usize = 8;

/// A lot as the device flows use it: configuration, compiled tariff and
/// the devices by client id.
#[derive(Debug)]
pub struct LoadedLot {
    pub lot: Lot,
    pub gates: HashMap<GateId, Gate>,
    pub devices: HashMap<DeviceId, Device>,
    pub tariffs: Tariffs,
}

impl LoadedLot {
    /// Compiles a stored configuration.
    ///
    /// # Errors
    ///
    /// The stored tariff does not compile.
    pub fn new(config: LotConfig) -> Result<LoadedLot, StoreError> {
        let tariffs = config.compiled()?;
        Ok(LoadedLot {
            gates: config
                .gates
                .into_iter()
                .map(|g| (g.id.clone(), g))
                .collect(),
            devices: config
                .devices
                .into_iter()
                .map(|d| (d.id.clone(), d))
                .collect(),
            lot: config.lot,
            tariffs,
        })
    }
}

/// Lot configurations read once per warm function, each kept for a time.
pub struct LotCache {
    ttl: SignedDuration,
    entries: Mutex<HashMap<LotId, (Timestamp, Arc<LoadedLot>)>>,
}

impl LotCache {
    pub fn new(ttl: SignedDuration) -> Self {
        LotCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The lot's configuration, from the cache while it is younger than the
    /// time to live (a clock that went backwards counts as young).
    ///
    /// # Errors
    ///
    /// The store's, when the lot must be read.
    pub async fn get<S: LotStore>(
        &self,
        store: &S,
        lot_id: &LotId,
        now: Timestamp,
    ) -> Result<Arc<LoadedLot>, StoreError> {
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, lot)) = entries.get(lot_id)
                && now.duration_since(*at).abs() <= self.ttl
            {
                return Ok(lot.clone());
            }
        }
        let loaded = Arc::new(LoadedLot::new(store.lot_config(lot_id).await?)?);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(lot_id.clone(), (now, loaded.clone()));
        Ok(loaded)
    }
}

/// Why a message, or one read of a backlog, was refused. Nothing it
/// carried was applied; the text names no plate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Malformed(MessageError),
    #[error("lot {0} does not exist")]
    UnknownLot(LotId),
    #[error("gate {gate} does not exist in lot {lot}")]
    UnknownGate { lot: LotId, gate: GateId },
    #[error("client {device} is not registered for {what} of lot {lot}")]
    NotRegistered {
        device: DeviceId,
        lot: LotId,
        what: String,
    },
    #[error("client {0} is not a registered device")]
    UnknownDevice(DeviceId),
    #[error("direction: gate {gate} is an {expected} gate")]
    WrongDirection {
        gate: GateId,
        expected: &'static str,
    },
}

/// A refused message or read, with its event id when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub event_id: Option<String>,
    pub rejection: Rejection,
}

/// What handling one message did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Events applied (a backlog counts each read).
    pub applied: u32,
    /// Events seen before: nothing changed.
    pub duplicates: u32,
    /// Sensor or presence events older than what is stored: ignored.
    pub stale: u32,
    pub rejected: Vec<Rejected>,
    /// Commands published to gates: topic and command.
    pub commands: Vec<(String, GateCommand)>,
}

impl Report {
    fn absorb(&mut self, other: Report) {
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.stale += other.stale;
        self.rejected.extend(other.rejected);
        self.commands.extend(other.commands);
    }

    fn rejected(event_id: Option<String>, rejection: Rejection) -> Report {
        Report {
            rejected: vec![Rejected {
                event_id,
                rejection,
            }],
            ..Report::default()
        }
    }
}

/// A failure of the store or the device link, not of the message: the
/// message fails, so it is retried and then kept in the dead-letter
/// queue. Whatever else the message carried was applied, and a retry
/// finds it done.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("store failed: {0}")]
    Store(StoreError),
    #[error(transparent)]
    Link(SendError),
}

/// An outcome of one event: what it did, or a failure worth retrying.
pub(crate) type Step = Result<Report, HandleError>;

/// Maps a store failure: whatever the store did not do, whether it
/// failed or refused, fails the message, so the event reaches the
/// dead-letter queue after its retries and is replayed from there once
/// the cause is fixed (`parkctl dead-letters replay --queue devices`);
/// it is never answered as handled.
pub(crate) fn store_failure(event_id: Option<String>, e: StoreError) -> Step {
    if !e.is_fault() {
        tracing::warn!(event = ?event_id, error = %e, "the store refused a device event");
    }
    Err(HandleError::Store(e))
}

/// The device flows over a store and a link to the gates.
pub struct DeviceEvents<S, L> {
    pub store: S,
    pub link: L,
    pub lots: LotCache,
    /// The feature flags in force (the built-in defaults unless set).
    pub flags: std::sync::Arc<dyn crate::flags::FlagReader>,
}

impl<S: Store, L: DeviceLink> DeviceEvents<S, L> {
    pub fn new(store: S, link: L, cache_ttl: SignedDuration) -> Self {
        DeviceEvents {
            store,
            link,
            lots: LotCache::new(cache_ttl),
            flags: std::sync::Arc::new(crate::flags::FixedFlags::default()),
        }
    }

    /// The same handler, reading its feature flags from `flags`.
    pub fn with_flags(mut self, flags: std::sync::Arc<dyn crate::flags::FlagReader>) -> Self {
        self.flags = flags;
        self
    }

    /// Handles one message as an IoT rule delivers it.
    ///
    /// # Errors
    ///
    /// [`HandleError`] when the store or the link failed in a way worth
    /// retrying; everything else in the message was applied and a retry
    /// finds it done. Bad input is never an error: it is in the report's
    /// `rejected`.
    pub async fn handle(&self, message: &[u8], now: Timestamp) -> Result<Report, HandleError> {
        let parsed = match DeviceMessage::parse(message) {
            Ok(m) => m,
            Err(e) => {
                return Ok(Report::rejected(
                    event_id_in(message, &e.field),
                    Rejection::Malformed(e),
                ));
            }
        };
        match parsed {
            DeviceMessage::PlateRead {
                lot,
                gate,
                device,
                received_at,
                read,
            } => {
                let id = Some(read.event_id.to_string());
                let (cfg, gate) = match self.camera(&lot, &gate, &device, id.clone(), now).await {
                    Ok(found) => found,
                    Err(step) => return step,
                };
                let input = plate_read::Input {
                    cfg: &cfg,
                    gate: &gate,
                    device: &device,
                    received_at,
                    backlog: false,
                    now,
                    flags: self.flags.flags_at(now).await,
                };
                plate_read::apply(&self.store, &self.link, &input, &read).await
            }
            DeviceMessage::Backlog {
                lot,
                gate,
                device,
                received_at,
                reads,
            } => {
                let (cfg, gate) = match self.camera(&lot, &gate, &device, None, now).await {
                    Ok(found) => found,
                    Err(step) => return step,
                };
                let input = plate_read::Input {
                    cfg: &cfg,
                    gate: &gate,
                    device: &device,
                    received_at,
                    backlog: true,
                    now,
                    flags: self.flags.flags_at(now).await,
                };
                let mut report = Report::default();
                let mut retry = None;
                let mut steps = futures::stream::iter(reads.into_iter().map(|r| {
                    let input = &input;
                    async move {
                        match r {
                            Ok(read) => {
                                plate_read::apply(&self.store, &self.link, input, &read).await
                            }
                            Err(e) => Ok(Report::rejected(
                                event_id_in(message, &e.field),
                                Rejection::Malformed(e),
                            )),
                        }
                    }
                }))
                .buffer_unordered(BACKLOG_CONCURRENCY);
                while let Some(step) = steps.next().await {
                    match step {
                        Ok(r) => report.absorb(r),
                        Err(e) => retry = Some(e),
                    }
                }
                match retry {
                    Some(e) => Err(e),
                    None => Ok(report),
                }
            }
            DeviceMessage::Bay {
                lot,
                bay,
                device,
                reading,
                received_at,
            } => {
                let id = Some(reading.event_id.to_string());
                let cfg = match self.lot(&lot, id.clone(), now).await {
                    Ok(cfg) => cfg,
                    Err(step) => return step,
                };
                let registered = cfg
                    .devices
                    .get(&device)
                    .is_some_and(|d| d.lot_id == lot && d.bay_id.as_ref() == Some(&bay));
                if !registered {
                    return Ok(Report::rejected(
                        id,
                        Rejection::NotRegistered {
                            device,
                            lot,
                            what: format!("bay {bay}"),
                        },
                    ));
                }
                bay_state::apply(&self.store, &cfg, &bay, &device, &reading, received_at, now).await
            }
            DeviceMessage::Presence(p) => presence::apply(&self.store, &p).await,
            DeviceMessage::Heartbeat {
                lot,
                device,
                received_at,
            } => presence::heartbeat(&self.store, &lot, &device, received_at).await,
        }
    }

    async fn lot(
        &self,
        lot: &LotId,
        event_id: Option<String>,
        now: Timestamp,
    ) -> Result<Arc<LoadedLot>, Step> {
        match self.lots.get(&self.store, lot, now).await {
            Ok(cfg) => Ok(cfg),
            Err(StoreError::NotFound { .. }) => Err(Ok(Report::rejected(
                event_id,
                Rejection::UnknownLot(lot.clone()),
            ))),
            Err(e) => Err(store_failure(event_id, e)),
        }
    }

    /// The lot and gate a camera speaks for, checked against the registry.
    async fn camera(
        &self,
        lot: &LotId,
        gate: &GateId,
        device: &DeviceId,
        event_id: Option<String>,
        now: Timestamp,
    ) -> Result<(Arc<LoadedLot>, Gate), Step> {
        let cfg = self.lot(lot, event_id.clone(), now).await?;
        let Some(g) = cfg.gates.get(gate).cloned() else {
            return Err(Ok(Report::rejected(
                event_id,
                Rejection::UnknownGate {
                    lot: lot.clone(),
                    gate: gate.clone(),
                },
            )));
        };
        let registered = cfg
            .devices
            .get(device)
            .is_some_and(|d| &d.lot_id == lot && d.gate_id.as_ref() == Some(gate));
        if !registered {
            return Err(Ok(Report::rejected(
                event_id,
                Rejection::NotRegistered {
                    device: device.clone(),
                    lot: lot.clone(),
                    what: format!("gate {gate}"),
                },
            )));
        }
        Ok((cfg, g))
    }
}

/// The event id of a message (or of read `i` of a backlog, when the field
/// path is `events[i]…`), when it can be read at all.
fn event_id_in(message: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(message).ok()?;
    let node = match field
        .strip_prefix("events[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
    {
        Some(i) => value.get("events")?.get(i)?,
        None => &value,
    };
    let id = EventId::parse(node.get("event_id")?.as_str()?).ok()?;
    Some(id.to_string())
}
