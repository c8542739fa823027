//! Reservations: never more per time slot than a lot's reservable
//! capacity.
//!
//! Protocol: a reservation takes every slot it spans, or none, in one
//! transaction guarded by each slot's count and by the lot's stored
//! capacity; cancelling frees exactly those slots; a no-show is ended once
//! with its fee queued in the same step.

use std::future::Future;

use jiff::Timestamp;

use crate::ids::*;
use crate::model::*;
use crate::outbox::OutboxMessage;
use crate::store::StoreResult;

/// Reservations, never more per time slot than a lot's reservable capacity.
pub trait ReservationStore: Send + Sync {
    /// Takes every slot the reservation spans, or none. `lot` is the lot as
    /// the caller read it: the write is refused with
    /// [`Refusal::LotChanged`](crate::store::Refusal::LotChanged) when the stored lot's reservable capacity or
    /// slot length differ, and with [`Refusal::SlotFull`](crate::store::Refusal::SlotFull) when a slot is
    /// full. `reservation.slot_minutes` must be the lot's.
    fn reserve(
        &self,
        reservation: &Reservation,
        lot: &Lot,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Cancels a reservation and frees exactly the slots it took; a
    /// cancelled one is returned as it is.
    fn cancel_reservation(
        &self,
        reservation_id: &ReservationId,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// Cancels a reservation like [`Self::cancel_reservation`] and, in the
    /// same atomic step, queues `fee` (a late cancellation's charge) in the
    /// outbox; one already cancelled is returned as it is and queues
    /// nothing.
    fn cancel_reservation_with_fee(
        &self,
        reservation_id: &ReservationId,
        fee: &crate::outbox::PaymentOrder,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    fn get_reservation(
        &self,
        reservation_id: &ReservationId,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// A driver's reservations, every state, in start order.
    fn driver_reservations(
        &self,
        driver_id: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<Reservation>>> + Send;
    /// A lot's reservations starting in `[from, to)`, every state, in
    /// start order. One query of an index.
    fn lot_reservations_starting(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<Reservation>>> + Send;
    /// Ends an active reservation as a no-show, frees its slots and, in
    /// the same atomic step, queues `outbox` (its fee, if any, and the
    /// driver's notification); the fee's amount is kept on the
    /// reservation. One that is not active any more is returned as it is,
    /// and queues nothing.
    fn mark_no_show(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
}
