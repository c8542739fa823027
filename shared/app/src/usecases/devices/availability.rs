//! A lot's availability: what its sensors and gates say, and how many
//! cars it can still take.
//!
//! Bays that never reported, and bays whose sensor cannot tell, are
//! `unknown` and never recommended. `free_estimate` is the sensors' free
//! bays less those kept for due reservations; when more than the lot's
//! `degraded_unknown_share` of its bays are unknown (snow on the sensors),
//! it falls back to the gates' count — capacity less open sessions less
//! held reservations — and `degraded` is true.

use jiff::Timestamp;
use serde::Serialize;

use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    pub capacity: u32,
    pub occupied: u32,
    pub free: u32,
    pub unknown: u32,
    pub open_sessions: u32,
    pub held_reservations: u32,
    pub free_estimate: u32,
    pub degraded: bool,
    /// The lot's devices, and those of them offline.
    pub devices: u32,
    pub offline_devices: Vec<DeviceId>,
}

/// What a bay's sensor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BayView {
    Occupied,
    Free,
    Unknown,
}

pub fn bay_view(bay: &Bay) -> BayView {
    match bay.occupied {
        Some(true) => BayView::Occupied,
        Some(false) => BayView::Free,
        None => BayView::Unknown,
    }
}

/// Availability from a lot's live state. When too many sensors cannot
/// tell, the estimate comes from the gates' count of open sessions,
/// where the lot's `weather_fallback` flag is on (the default).
pub fn availability(lot: &Lot, live: &LotLive, flags: &crate::flags::FlagSet) -> Availability {
    let occ = &live.occupancy;
    let occupied = occ.occupied;
    let free = occ.free.len() as u32;
    let unknown = lot.capacity.saturating_sub(occupied + free);
    let degraded = lot.capacity > 0
        && f64::from(unknown) / f64::from(lot.capacity) > lot.settings.degraded_unknown_share;
    let fallback = flags.is_on(crate::flags::Flag::WeatherFallback, &lot.id, None);
    let free_estimate = if degraded && fallback {
        lot.capacity
            .saturating_sub(occ.open_sessions)
            .saturating_sub(occ.held_reservations)
    } else {
        free.saturating_sub(occ.held_reservations)
    };
    Availability {
        capacity: lot.capacity,
        occupied,
        free,
        unknown,
        open_sessions: occ.open_sessions,
        held_reservations: occ.held_reservations,
        free_estimate,
        degraded,
        devices: live.devices.len() as u32,
        offline_devices: live
            .devices
            .iter()
            .filter(|d| d.presence.is_some_and(|p| !p.connected))
            .map(|d| d.id.clone())
            .collect(),
    }
}

/// A lot's availability now.
///
/// # Errors
///
/// The store's.
pub async fn lot_availability<S: LotStore>(
    store: &S,
    lot: &Lot,
    at: Timestamp,
    flags: &crate::flags::FlagSet,
) -> Result<(Availability, Vec<Bay>), StoreError> {
    let live = store.lot_live(lot, at).await?;
    Ok((availability(lot, &live, flags), live.bays))
}
