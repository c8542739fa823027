//! The open-data feed: each published lot's live availability and the
//! rate in force now, for anyone (journey planners, city portals, signs
//! on the road). A lot is in it only where its operator turned
//! `settings.open_data` on; nothing in it names a car, a driver or a
//! device.
//!
//! - **Vacant** is the lot's `free_estimate`: the bays its sensors see
//!   free less those held for due reservations, or, where too many
//!   sensors cannot tell, the gates' count ([`super::super::availability`]).
//!   Occupied is the capacity less vacant, so the two always add up.
//! - **The rate** is the tariff version in force now and, in it, the band
//!   in force at this moment of the lot's wall clock and day type
//!   ([`parking_core::Rate`]), with the rolling 24-hour maximum where
//!   the tariff posts one.
//!
//! Reads per lot: its configuration and its live state (two); the list of
//! lots is one read of an index. The feed is served cacheable for
//! [`MAX_AGE_SECONDS`], so a burst of readers costs the store nothing
//! more.

use jiff::Timestamp;
use parking_core::Rate;
use parking_core::money::Currency;

use crate::ids::{LotId, TariffId};
use crate::model::Lot;
use crate::store::prelude::*;
use crate::usecases::availability::{Availability, lot_availability};

/// How long a reader may keep the feed: about the time a car takes to
/// pass a barrier and park.
pub const MAX_AGE_SECONDS: u32 = 30;

/// One published lot, now.
#[derive(Debug, Clone, PartialEq)]
pub struct LotStatus {
    pub lot: Lot,
    pub availability: Availability,
    /// The tariff version in force.
    pub tariff_id: TariffId,
    pub currency: Currency,
    pub rate: Rate,
    /// The band's name as posted, for a band rate.
    pub band_name: Option<String>,
    /// The most a stay pays in 24 hours, where the tariff says.
    pub day_max: Option<i64>,
    /// When this was read.
    pub at: Timestamp,
}

impl LotStatus {
    /// Bays a car arriving now may take.
    pub fn vacant(&self) -> u32 {
        self.availability.free_estimate.min(self.lot.capacity)
    }

    /// The rest of the lot.
    pub fn occupied(&self) -> u32 {
        self.lot.capacity - self.vacant()
    }
}

/// Every published lot, in id order.
///
/// # Errors
///
/// The store's. A lot whose tariff cannot be read is left out (and
/// logged), not the whole feed.
pub async fn published<S: LotStore>(
    store: &S,
    flags: &crate::flags::FlagSet,
    now: Timestamp,
) -> Result<Vec<LotStatus>, StoreError> {
    let mut out = Vec::new();
    for lot in store.lots().await? {
        if !lot.settings.open_data {
            continue;
        }
        let id = lot.id.clone();
        match status(store, lot, flags, now).await {
            Ok(s) => out.push(s),
            Err(StoreError::Corrupt { key, reason }) => {
                tracing::error!(lot = %id, %key, %reason, "a lot is left out of the open-data feed");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One lot, if it is published.
///
/// # Errors
///
/// `NotFound` for a lot that does not exist or is not published (the
/// same answer: the feed does not tell which lots exist); the store's.
pub async fn lot_status<S: LotStore>(
    store: &S,
    id: &LotId,
    flags: &crate::flags::FlagSet,
    now: Timestamp,
) -> Result<LotStatus, StoreError> {
    let lot = store.get_lot(id).await?;
    if !lot.settings.open_data {
        return Err(StoreError::not_found(format!("lot {id}")));
    }
    status(store, lot, flags, now).await
}

async fn status<S: LotStore>(
    store: &S,
    lot: Lot,
    flags: &crate::flags::FlagSet,
    now: Timestamp,
) -> Result<LotStatus, StoreError> {
    let (config, (availability, _)) = futures::try_join!(
        store.lot_config(&lot.id),
        lot_availability(store, &lot, now, flags)
    )?;
    let tariffs = config.compiled()?;
    let (tariff_id, tariff) = tariffs.at(&config.lot, now);
    let rate = tariff.rate_at(now);
    let band_name = match rate {
        Rate::Band { band, .. } => tariff.spec().bands.get(band).and_then(|b| b.name.clone()),
        _ => None,
    };
    Ok(LotStatus {
        tariff_id: tariff_id.clone(),
        currency: tariff.currency(),
        day_max: tariff.day_max(),
        rate,
        band_name,
        availability,
        lot,
        at: now,
    })
}
