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
//! - **Pushed** to each gate device's shadow (`desired.allow`) through
//!   [`AllowListLink`] after the marks are written and only when the
//!   plates changed; a new gate device is sent the lot's list when it is
//!   registered ([`welcome`]). A list carries the version of the marks it
//!   was made from, and a shadow holding a newer one is left alone.

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
/// driver's card puts it on the list (at its exit, or its entry while it
/// lasts); a card that failed for it strikes it off; any other stay says
/// nothing.
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
        at: s.exit_at.unwrap_or(s.entry_at),
        allowed,
    })
}

/// What a pass says about its plate: on the list, ranked at the end of
/// its validity, so passes come first and one that ended ages out as a
/// stay would.
pub fn mark_of_pass(p: &Pass) -> Option<Mark> {
    p.plate.is_readable().then(|| Mark {
        lot_id: p.lot_id.clone(),
        plate: plate_key(&p.lot_id, &p.plate),
        at: p.valid_until,
        allowed: true,
    })
}

/// What a change of a reservation says about its plate: an active one
/// puts it on the list, ranked at its start; the others say nothing (the
/// mark ages out).
pub fn mark_of_reservation(r: &Reservation) -> Option<Mark> {
    (r.state == ReservationState::Active && r.plate.is_readable()).then(|| Mark {
        lot_id: r.lot_id.clone(),
        plate: plate_key(&r.lot_id, &r.plate),
        at: r.start,
        allowed: true,
    })
}

/// Where allow-lists go: each gate device's shadow.
pub trait AllowListLink: Send + Sync {
    /// The list a device's shadow holds now, if any.
    fn current(
        &self,
        device: &DeviceId,
    ) -> impl Future<Output = Result<Option<AllowList>, SendError>> + Send;
    /// Sets the device shadow's desired list.
    fn push(
        &self,
        device: &DeviceId,
        list: &AllowList,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Why a lot's lists could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] SendError),
}

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Whether the lot's marks were written.
    pub written: bool,
    /// How many gate devices' shadows were sent the list.
    pub pushed: u32,
}

/// Merges one lot's marks from a batch of changes into its stored marks,
/// forgets the expired ones, and, when the list's plates changed since
/// the gates were last sent it, sends each gate device the new list; then
/// writes the marks (one conditional write). Applying the same batch again
/// changes nothing; a list whose sending failed is sent when the batch
/// comes again, or by the next merge.
///
/// # Errors
///
/// The store's or the link's (the batch comes again; what was written is
/// found done), or `Conflict(Refusal::AllowListChanged)` when other writes
/// kept coming first.
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
    for attempt in 1..=ATTEMPTS {
        let mut list = store
            .allow_list(lot)
            .await?
            .unwrap_or_else(|| LotAllowList::new(lot.clone()));
        let mut changed = false;
        for m in marks.iter().filter(|m| &m.lot_id == lot) {
            changed |= list.apply(m);
        }
        changed |= list.trim(now);
        let digest = LotAllowList::digest(&list.plates());
        let unsent = list.sent.as_deref() != Some(digest.as_str());
        if !changed && !unsent {
            return Ok(merged);
        }
        list.version += 1;
        if unsent {
            // Sent before it is written, with the version it is written
            // at: a writer that comes second reads again and sends a
            // newer list, so a gate never ends on a list older than the
            // stored one. A failed send writes nothing; the batch comes
            // again.
            merged.pushed = push_to_gates(store, link, &AllowList::of(&list, now)).await?;
            list.sent = Some(digest);
        }
        match store.put_allow_list(&list).await {
            Ok(()) => {
                merged.written = true;
                return Ok(merged);
            }
            Err(StoreError::Conflict(Refusal::AllowListChanged { .. })) if attempt < ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(merged)
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
) -> Result<bool, AllowListError>
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
    send(link, &device.id, &AllowList::of(&marks, now)).await
}

/// Sends the list to each of the lot's gate devices; how many took it.
async fn push_to_gates<S: LotStore, L: AllowListLink>(
    store: &S,
    link: &L,
    list: &AllowList,
) -> Result<u32, AllowListError> {
    let config = store.lot_config(&list.lot_id).await?;
    let mut pushed = 0;
    for d in config.devices.iter().filter(|d| d.gate_id.is_some()) {
        if send(link, &d.id, list).await? {
            pushed += 1;
        }
    }
    Ok(pushed)
}

/// Sends a device the list unless its shadow holds it or a newer one.
async fn send<L: AllowListLink>(
    link: &L,
    device: &DeviceId,
    list: &AllowList,
) -> Result<bool, AllowListError> {
    let held = link.current(device).await?;
    if held.is_some_and(|h| h.version > list.version || h.plates == list.plates) {
        return Ok(false);
    }
    link.push(device, list).await?;
    Ok(true)
}
