//! Lots: their configuration (gates, devices, tariffs), their bays'
//! readings, their devices' presence, and how full each is.
//!
//! Protocol: a bay reading is kept only when it is newer than the stored
//! one ([`crate::rules::bay_reading_replaces`]), together with the event's
//! ledger entry and the lot's occupancy summary, in one atomic write, so
//! the summary ([`Occupancy`]) is exact whenever the bays are; an entry
//! reads the summary, never every bay. A lot is replaced only at its next
//! revision, with its audit entry. A presence event is kept unless the
//! device holds a newer one.

use std::future::Future;

use jiff::Timestamp;

use crate::ids::*;
use crate::model::*;
use crate::store::{StoreError, StoreResult};
use crate::timeline::Tariffs;

/// A lot as the device flows need it: read once and cached.
#[derive(Debug, Clone, PartialEq)]
pub struct LotConfig {
    pub lot: Lot,
    pub gates: Vec<Gate>,
    pub devices: Vec<Device>,
    /// Every tariff version the lot refers to.
    pub tariffs: Vec<TariffRecord>,
}

impl LotConfig {
    /// The lot's tariffs, compiled.
    ///
    /// # Errors
    ///
    /// A stored tariff that is missing or no longer compiles is corrupt.
    pub fn compiled(&self) -> StoreResult<Tariffs> {
        Tariffs::compile(&self.lot, &self.tariffs).map_err(|reason| StoreError::Corrupt {
            key: format!("tariffs of lot {}", self.lot.id),
            reason,
        })
    }

    /// The tariff version in force at `at`, as posted.
    pub fn record_at(&self, at: Timestamp) -> Option<&TariffRecord> {
        let id = self.lot.tariff_at(at);
        self.tariffs.iter().find(|r| &r.id == id)
    }
}

/// How full a lot is, as its entry gate needs it: kept exact by every bay
/// reading and every session change, read in one request of a few bytes a
/// bay (never the bays' own records) that does not grow with the lot's
/// history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Occupancy {
    /// Bays whose sensor is sure they are taken.
    pub occupied: u32,
    /// Bays whose sensor is sure they are free, in bay id order.
    pub free: Vec<BayId>,
    /// Sessions counted toward full: open, and not yet past the lot's
    /// counting time ([`crate::timeline::PlateTimeline::counted_sessions`]).
    pub open_sessions: u32,
    /// Reservations due at the time asked (within their window, early
    /// check-in included) whose car has not come in.
    pub held_reservations: u32,
}

/// A lot's live state, as its availability page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LotLive {
    pub occupancy: Occupancy,
    /// Every bay with a reading, in bay id order.
    pub bays: Vec<Bay>,
    /// The lot's devices, with their presence.
    pub devices: Vec<Device>,
}

/// The result of a presence event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceOutcome {
    Updated,
    /// The device already has a newer event.
    Stale,
}

/// Lots, their gates, devices and bays.
pub trait LotStore: Send + Sync {
    fn put_lot(&self, lot: &Lot) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_lot(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Lot>> + Send;
    /// Replaces a lot whose stored revision is `lot.revision - 1`, with
    /// its audit entry, in one step; refused with [`Refusal::StaleLot`](crate::store::Refusal::StaleLot)
    /// otherwise.
    fn update_lot(
        &self,
        lot: &Lot,
        audit: &AuditEntry,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every lot, in id order. One read of an index.
    fn lots(&self) -> impl Future<Output = StoreResult<Vec<Lot>>> + Send;
    fn put_gate(&self, gate: &Gate) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_gate(
        &self,
        lot_id: &LotId,
        gate_id: &GateId,
    ) -> impl Future<Output = StoreResult<Gate>> + Send;
    fn put_device(&self, device: &Device) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_device(&self, device_id: &DeviceId) -> impl Future<Output = StoreResult<Device>> + Send;
    /// Records a device's connection event unless it holds a newer one,
    /// with `outbox` (what the change asks the rest of the system to do:
    /// a `device.offline` webhook event) in the same write; a stale event
    /// writes neither.
    fn record_presence(
        &self,
        device_id: &DeviceId,
        presence: &Presence,
        outbox: &[crate::outbox::OutboxMessage],
    ) -> impl Future<Output = StoreResult<PresenceOutcome>> + Send;
    fn put_tariff(&self, tariff: &TariffRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The lot, its gates, devices and tariff. Callers cache it.
    fn lot_config(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<LotConfig>> + Send;
    /// Records a sensor reading unless the bay holds a newer one (see
    /// [`crate::rules::bay_reading_replaces`]).
    fn record_bay(
        &self,
        bay: &Bay,
        cause: Option<&EventRef>,
    ) -> impl Future<Output = StoreResult<BayOutcome>> + Send;
    /// One bay as its sensor last changed it (one strongly consistent
    /// read of a small item); `None` before its first reading.
    fn bay(
        &self,
        lot_id: &LotId,
        bay_id: &BayId,
    ) -> impl Future<Output = StoreResult<Option<Bay>>> + Send;
    /// Every bay of a lot, in bay id order.
    fn bays(&self, lot_id: &LotId) -> impl Future<Output = StoreResult<Vec<Bay>>> + Send;
    /// How full the lot is at `at` (reservations held by the lot's rules,
    /// [`crate::rules::held_at`]): one read of a few small items, whatever
    /// the number of bays.
    fn occupancy(
        &self,
        lot: &Lot,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<Occupancy>> + Send;
    /// The lot's live state at `at`: its occupancy, every bay and device.
    /// One read, growing with the lot's bays.
    fn lot_live(
        &self,
        lot: &Lot,
        at: Timestamp,
    ) -> impl Future<Output = StoreResult<LotLive>> + Send;
}
