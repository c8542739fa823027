//! The in-memory twin: reservations and the slots they hold.

use super::*;

impl ReservationStore for MemoryStore {
    async fn reserve(&self, reservation: &Reservation, lot: &Lot) -> StoreResult<()> {
        let slots = rules::reservation_slots(lot, reservation)?;
        let mut s = self.state();
        let stored = found(s.lots.get(&lot.id), || format!("lot {}", lot.id))?;
        if !rules::same_reservation_terms(&stored, lot) {
            return Err(Refusal::LotChanged {
                lot_id: lot.id.clone(),
            }
            .into());
        }
        if let Some(held) = s.reservations.get(&reservation.id) {
            return if held == reservation {
                Ok(())
            } else {
                Err(Refusal::ReservationExists {
                    reservation_id: reservation.id.clone(),
                }
                .into())
            };
        }
        for &slot in &slots {
            let taken = s
                .slots
                .get(&(lot.id.clone(), lot.slot_minutes, slot))
                .copied()
                .unwrap_or(0);
            if taken >= lot.reservable {
                return Err(rules::slot_full(lot, slot));
            }
        }
        for slot in slots {
            *s.slots
                .entry((lot.id.clone(), lot.slot_minutes, slot))
                .or_default() += 1;
        }
        s.reservations
            .insert(reservation.id.clone(), reservation.clone());
        Ok(())
    }

    async fn cancel_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        self.cancel(reservation_id, None)
    }

    async fn cancel_reservation_with_fee(
        &self,
        reservation_id: &ReservationId,
        fee: &parking_app::outbox::PaymentOrder,
    ) -> StoreResult<Reservation> {
        self.cancel(reservation_id, Some(fee))
    }

    async fn get_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        found(self.state().reservations.get(reservation_id), || {
            format!("reservation {reservation_id}")
        })
    }

    async fn driver_reservations(&self, driver_id: &DriverId) -> StoreResult<Vec<Reservation>> {
        self.read();
        let state = self.state();
        let mut v: Vec<Reservation> = state
            .reservations
            .values()
            .filter(|r| {
                &r.driver_id == driver_id
                    && !state
                        .erased_copies
                        .contains(&(driver_id.clone(), format!("R#{}", r.id)))
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn lot_reservations_starting(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Reservation>> {
        self.read();
        let mut v: Vec<Reservation> = self
            .state()
            .reservations
            .values()
            .filter(|r| &r.lot_id == lot_id && r.start >= from && r.start < to)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn mark_no_show(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
    ) -> StoreResult<Reservation> {
        self.write();
        self.end(reservation_id, outbox, ReservationState::NoShow)
    }
}
