//! A gate's offline allow-list: the cars it may let through on its own
//! when the cloud does not answer ([`crate::gate_device`]).
//!
//! The rule:
//! - **Who.** Plates that stayed at the lot in the last
//!   [`LOOKBACK_DAYS`] days on a registered driver's card, and plates
//!   holding a reservation that starts in the next day. A car on the
//!   list is charged to its card when its backlog comes in, as if the
//!   cloud had answered; any other car is held.
//! - **Bounded.** At most [`MAX_ENTRIES`] plates, the most recently seen
//!   first, so the list fits a device shadow's desired state (8 KB).
//! - **No plate text.** A plate is listed as a 12-hex-digit hash of the
//!   lot and its normalised form (`parking_core::Plate::key`); the gate
//!   hashes what its camera reads the same way ([`AllowList::allows`]).
//! - **Pushed** to each gate device's shadow (`desired.allow`) through
//!   [`AllowListLink`], only when it changed.

use std::collections::BTreeSet;
use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use parking_core::Plate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{DeviceId, LotId};
use crate::model::{Reservation, ReservationState, Session};
use crate::outbox::SendError;
use crate::store::prelude::*;

/// How far back a stay puts its plate on the list.
pub const LOOKBACK_DAYS: i64 = 30;

/// The most plates a list holds.
pub const MAX_ENTRIES: usize = 400;

/// A lot's allow-list, as a gate's shadow holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowList {
    pub lot_id: LotId,
    /// The plates' hashes, sorted.
    pub plates: Vec<String>,
    /// When it was made.
    pub made_at: Timestamp,
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

    /// The list from a lot's recent stays and coming reservations: the
    /// most recently seen plates first, at most [`MAX_ENTRIES`].
    pub fn build(
        lot: &LotId,
        stays: &[Session],
        reservations: &[Reservation],
        now: Timestamp,
    ) -> AllowList {
        let mut seen: Vec<(Timestamp, &Plate)> = stays
            .iter()
            .filter(|s| s.driver_id.is_some() && s.method_id.is_some() && s.plate.is_readable())
            .map(|s| (s.exit_at.unwrap_or(s.entry_at), &s.plate))
            .chain(
                reservations
                    .iter()
                    .filter(|r| r.state == ReservationState::Active)
                    .map(|r| (r.start, &r.plate)),
            )
            .collect();
        seen.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut plates = BTreeSet::new();
        for (_, p) in seen {
            if plates.len() == MAX_ENTRIES {
                break;
            }
            plates.insert(plate_key(lot, p));
        }
        AllowList {
            lot_id: lot.clone(),
            plates: plates.into_iter().collect(),
            made_at: now,
        }
    }
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

/// Makes a lot's list and pushes it to each of its gate devices whose
/// shadow holds another; returns how many were pushed.
///
/// # Errors
///
/// The store's or the link's; devices pushed before stay pushed.
pub async fn refresh<S, L>(
    store: &S,
    link: &L,
    lot: &LotId,
    now: Timestamp,
) -> Result<u32, AllowListError>
where
    S: LotStore + SessionStore + ReservationStore,
    L: AllowListLink,
{
    let since = now
        .checked_sub(SignedDuration::from_hours(LOOKBACK_DAYS * 24))
        .unwrap_or(now);
    let until = now
        .checked_add(SignedDuration::from_hours(24))
        .unwrap_or(now);
    let stays = store.lot_sessions_since(lot, since).await?;
    let coming = store.lot_reservations_starting(lot, now, until).await?;
    let list = AllowList::build(lot, &stays, &coming, now);
    let config = store.lot_config(lot).await?;
    let mut pushed = 0;
    for d in config.devices.iter().filter(|d| d.gate_id.is_some()) {
        let same = link
            .current(&d.id)
            .await?
            .is_some_and(|c| c.plates == list.plates);
        if !same {
            link.push(&d.id, &list).await?;
            pushed += 1;
        }
    }
    Ok(pushed)
}
