//! A gate's offline allow-list: the cars it may let through on its own
//! when the cloud does not answer ([`crate::gate_device`]).
//!
//! The rule:
//! - **Who.** Plates that stayed at the lot in the last
//!   [`LOOKBACK_DAYS`] days on a registered driver's card, plates holding
//!   a reservation there, and plates with a pass for it. A car on the list is charged to its card
//!   when its backlog comes in, as if the cloud had answered; any other
//!   car is held. A card that failed strikes its plate off until a later
//!   stay is charged.
//! - **From the stream.** Each change of a stay, a reservation or a pass
//!   is a [`Mark`] ([`mark_of_session`], [`mark_of_reservation`],
//!   [`mark_of_pass`]); a batch of
//!   them is merged into the lot's stored marks ([`merge`],
//!   [`crate::allow_lists`]): one read and at most one conditional write a
//!   lot a batch, whatever the lot's history. Nothing reads past stays.
//! - **Bounded.** At most [`MAX_ENTRIES`] plates, the most recently seen
//!   first, so the list fits a device shadow's desired state (8 KB).
//! - **No plate text.** A plate is listed as a 12-hex-digit hash of the
//!   lot and its normalised form (`parking_core::Plate::key`); the gate
//!   hashes what its camera reads the same way ([`AllowList::allows`]).
//! - **Sent** to each gate device's shadow (`desired.allow`) through
//!   [`AllowListLink`]: after the marks are written, at once when a plate
//!   was struck off, and hourly to every gate whose shadow holds an older
//!   list; a new gate device is sent the lot's list when it is registered
//!   ([`welcome`]). A list carries the version of the marks it was made
//!   from; a shadow holding a newer one is left alone, and the shadow's
//!   own version guards each update.

use std::future::Future;

use jiff::Timestamp;
use parking_core::{Plate, SessionState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::allow_lists::{AllowListStore, LotAllowList};
pub use crate::allow_lists::{LOOKBACK_DAYS, MAX_ENTRIES, Mark};
use crate::ids::{DeviceId, LotId};
use crate::model::{Device, Pass, Reservation, ReservationState, Session};
use crate::outbox::SendError;
use crate::store::prelude::*;

/// How many times a merge reads again after another write came first.
const ATTEMPTS: u32 = 5;

/// A lot's allow-list, as a gate's shadow holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowList {
    pub lot_id: LotId,
    /// The plates' hashes, sorted.
    pub plates: Vec<String>,
    /// When it was made.
    pub made_at: Timestamp,
    /// The version of the lot's marks it was made from.
    #[serde(default)]
    pub version: u64,
}

/// A plate as an allow-list names it.
pub fn plate_key(lot: &LotId, plate: &Plate) -> String {
    let mut h = Sha256::new();
    h.update(lot.as_str().as_bytes());
    h.update([0]);
    h.update(plate.key().as_bytes());
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AllowList {
    /// Whether the camera's text is a plate on the list.
    pub fn allows(&self, text: &str) -> bool {
        Plate::parse(text)
            .ok()
            .filter(|p| !p.is_partial())
            .is_some_and(|p| {
                self.plates
                    .binary_search(&plate_key(&self.lot_id, &p))
                    .is_ok()
            })
    }

    /// The list the lot's marks make.
    pub fn of(marks: &LotAllowList, now: Timestamp) -> AllowList {
        AllowList {
            lot_id: marks.lot_id.clone(),
            plates: marks.plates(),
            made_at: now,
            version: marks.version,
        }
    }
}

/// What a change of a stay says about its plate: a stay on a registered
/// driver's card puts it on the list; a card that failed for it strikes
/// it off; any other stay says nothing. The mark's time is the change's
/// (`updated_at`): a payment that succeeds after a failure is later.
pub fn mark_of_session(s: &Session) -> Option<Mark> {
    if s.driver_id.is_none() || s.method_id.is_none() || !s.plate.is_readable() {
        return None;
    }
    let allowed = match s.state {
        SessionState::Open | SessionState::Closing | SessionState::Priced | SessionState::Paid => {
            true
        }
        SessionState::PaymentFailed => false,
        _ => return None,
    };
    Some(Mark {
        lot_id: s.lot_id.clone(),
        plate: plate_key(&s.lot_id, &s.plate),
        at: s.updated_at,
        allowed,
    })
}

/// What a pass says about its plate: on the list until the end of its
/// validity (a failed card does not strike a plate a pass covers), then
/// aging out as a stay would.
pub fn mark_of_pass(p: &Pass) -> Option<Mark> {
    p.plate.is_readable().then(|| Mark {
        lot_id: p.lot_id.clone(),
        plate: plate_key(&p.lot_id, &p.plate),
        at: p.valid_until,
        allowed: true,
    })
}

/// What a change of a reservation says about its plate, as of the change
/// (`at`, the stream record's time): an active one puts it on the list as
/// a stay would (its driver has a card on file, which a reservation
/// needs); a cancelled or used one says nothing.
pub fn mark_of_reservation(r: &Reservation, at: Timestamp) -> Option<Mark> {
    (r.state == ReservationState::Active && r.plate.is_readable()).then(|| Mark {
        lot_id: r.lot_id.clone(),
        plate: plate_key(&r.lot_id, &r.plate),
        at,
        allowed: true,
    })
}

/// What a device's shadow holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// Its desired list, if any.
    pub list: Option<AllowList>,
    /// The shadow document's own version (IoT Core's), if it exists.
    pub version: Option<u64>,
}

/// Where allow-lists go: each gate device's shadow.
pub trait AllowListLink: Send + Sync {
    /// What a device's shadow holds now.
    fn current(&self, device: &DeviceId) -> impl Future<Output = Result<Held, SendError>> + Send;
    /// Sets the device shadow's desired list if the shadow is still at
    /// `version` (`None`: there was none); `false` when it changed
    /// meanwhile.
    fn push(
        &self,
        device: &DeviceId,
        list: &AllowList,
        version: Option<u64>,
    ) -> impl Future<Output = Result<bool, SendError>> + Send;
}

/// Why a lot's lists could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Whether the lot's marks were written.
    pub written: bool,
    /// How many gate devices' shadows were sent the list.
    pub pushed: u32,
    /// How many gate devices could not be sent it (sent again by the next
    /// merge or refresh).
    pub unsent: u32,
}

/// Merges one lot's marks from a batch of changes into its stored marks
/// (one conditional write, read again when another came first) and
/// forgets the expired ones; then, when that struck a plate off the list
/// (a card failed), sends each gate device the list of the version
/// written at once. Plates added go out with the hourly refresh
/// ([`refresh_all`]), which sends every gate whose shadow holds an older
/// list, so a gate's shadow is written at most about once an hour, and a
/// gate that could not be sent its list is sent it then. A failed send
/// fails nothing. Applying the same batch again changes nothing.
///
/// # Errors
///
/// The store's (the batch comes again and finds what was written done),
/// or `Conflict(Refusal::AllowListChanged)` when other writes kept coming
/// first.
pub async fn merge<S, L>(
    store: &S,
    link: &L,
    lot: &LotId,
    marks: &[Mark],
    now: Timestamp,
) -> Result<Merged, AllowListError>
where
    S: LotStore + AllowListStore,
    L: AllowListLink,
{
    let mut merged = Merged::default();
    let mut attempt = 0;
    let list = loop {
        attempt += 1;
        let mut list = store
            .allow_list(lot)
            .await?
            .unwrap_or_else(|| LotAllowList::new(lot.clone()));
        let before = list.plates();
        let mut changed = false;
        for m in marks
            .iter()
            .filter(|m| &m.lot_id == lot && !LotAllowList::expired(m, now))
        {
            changed |= list.apply(m);
        }
        changed |= list.trim(now);
        if !changed {
            return Ok(merged);
        }
        list.version += 1;
        match store.put_allow_list(&list).await {
            Ok(()) => {
                merged.written = true;
                // A plate struck off goes to the gates at once; plates
                // added wait for the hourly refresh.
                if !before.iter().any(|p| list.struck.contains_key(p)) {
                    return Ok(merged);
                }
                break list;
            }
            Err(StoreError::Conflict(Refusal::AllowListChanged { .. })) if attempt < ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    };
    let sent = send_to_gates(store, link, &AllowList::of(&list, now)).await?;
    merged.pushed = sent.pushed;
    merged.unsent = sent.unsent;
    Ok(merged)
}

/// The hourly refresh of every lot's list: marks past the lookback
/// forgotten, and every gate whose shadow holds an older list (one that
/// missed a send, or was reset) sent the lot's list. One read a lot, and
/// one shadow read a gate.
///
/// # Errors
///
/// The store's, for the lot list; a lot that fails is logged and the
/// others are refreshed.
pub async fn refresh_all<S, L>(store: &S, link: &L, now: Timestamp) -> Result<Merged, StoreError>
where
    S: LotStore + AllowListStore,
    L: AllowListLink,
{
    let mut total = Merged::default();
    for lot in store.lots().await? {
        let refreshed = async {
            let m = merge(store, link, &lot.id, &[], now).await?;
            let sent = match store.allow_list(&lot.id).await? {
                Some(list) if m.pushed + m.unsent == 0 => {
                    send_to_gates(store, link, &AllowList::of(&list, now)).await?
                }
                _ => m,
            };
            Ok::<_, AllowListError>((m.written, sent))
        };
        match refreshed.await {
            Ok((written, sent)) => {
                total.written |= written;
                total.pushed += sent.pushed;
                total.unsent += sent.unsent;
            }
            Err(e) => tracing::error!(lot = %lot.id, error = %e, "allow-list not refreshed"),
        }
    }
    Ok(total)
}

/// Sends the list to each of the lot's gate devices whose shadow holds an
/// older one; a gate that cannot be sent it is logged and counted.
async fn send_to_gates<S: LotStore, L: AllowListLink>(
    store: &S,
    link: &L,
    list: &AllowList,
) -> Result<Merged, AllowListError> {
    let config = store.lot_config(&list.lot_id).await?;
    let mut sent = Merged::default();
    for d in config.devices.iter().filter(|d| d.gate_id.is_some()) {
        match send(link, &d.id, list).await {
            Ok(true) => sent.pushed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(device = %d.id, error = %e, "allow-list not sent; the hourly refresh sends it");
                sent.unsent += 1;
            }
        }
    }
    Ok(sent)
}

/// Sends a gate device that was just registered its lot's list; whether
/// it was sent (not for a sensor, or a lot with no marks yet).
///
/// # Errors
///
/// The store's or the link's.
pub async fn welcome<S, L>(
    store: &S,
    link: &L,
    device: &Device,
    now: Timestamp,
) -> Result<bool, WelcomeError>
where
    S: AllowListStore,
    L: AllowListLink,
{
    if device.gate_id.is_none() {
        return Ok(false);
    }
    let Some(marks) = store.allow_list(&device.lot_id).await? else {
        return Ok(false);
    };
    Ok(send(link, &device.id, &AllowList::of(&marks, now)).await?)
}

/// Why a new gate could not be sent its list.
#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] SendError),
}

/// Sends a device the list unless its shadow holds it or a newer one;
/// the shadow's version guards the write, so a newer list sent meanwhile
/// is never overwritten. Whether it was sent.
async fn send<L: AllowListLink>(
    link: &L,
    device: &DeviceId,
    list: &AllowList,
) -> Result<bool, SendError> {
    for _ in 0..ATTEMPTS {
        let held = link.current(device).await?;
        if held
            .list
            .is_some_and(|h| h.version >= list.version || h.plates == list.plates)
        {
            return Ok(false);
        }
        if link.push(device, list, held.version).await? {
            return Ok(true);
        }
    }
    Err(SendError {
        what: "updating a device shadow",
        source: "the shadow kept changing".into(),
    })
}
