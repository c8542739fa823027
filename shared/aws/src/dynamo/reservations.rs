//! Reservations and their time slots.

use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::outbox::OutboxMessage;
use parking_app::rules;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self, body, n, s};
use super::reads::*;
use super::txn::{Cond, Step, Txn};

/// Moves a reservation out of the state `from` (the transaction fails if
/// it is no longer in it) into the state `r` holds: its item and the
/// driver's copy, and the lot's copy (the held item) kept only while it
/// is active.
pub(crate) fn moved<'t>(
    txn: Txn<'t>,
    r: &Reservation,
    from: ReservationState,
) -> StoreResult<Txn<'t>> {
    let name = match from {
        ReservationState::Active => "active",
        ReservationState::Cancelled => "cancelled",
        ReservationState::CheckedIn => "checked_in",
        ReservationState::NoShow => "no_show",
    };
    let txn = txn
        .put(
            Step::Reservation,
            keys::reservation_listed(r).item(r)?,
            Some(
                Cond::new("#state = :from")
                    .names(&[("#state", "state")])
                    .value(":from", s(name)),
            ),
        )?
        .put(
            Step::DriverEntry,
            keys::driver_reservation(&r.driver_id, &r.id).item(r)?,
            None,
        )?;
    if r.state == ReservationState::Active {
        txn.put(Step::Held, held_item(r)?, None)
    } else {
        txn.delete(Step::Held, &keys::held(r), None)
    }
}

/// Takes (`delta` 1) or frees (`delta` -1) one reservation of a slot.
fn slot_step<'t>(
    txn: Txn<'t>,
    lot_id: &LotId,
    minutes: u32,
    start: i64,
    delta: i64,
    reservable: u32,
) -> StoreResult<Txn<'t>> {
    let cond = if delta > 0 {
        Cond::new("attribute_not_exists(reserved) OR reserved < :capacity")
            .value(":capacity", n(reservable))
    } else {
        Cond::new("reserved >= :one").value(":one", n(-delta))
    };
    txn.update(
        Step::Slot(start),
        &keys::slot(lot_id, minutes, start),
        "ADD reserved :delta SET #type = :type, #start = :start",
        &[("#type", "type"), ("#start", "start")],
        vec![
            (":delta", n(delta)),
            (":type", s("slot")),
            (":start", n(start)),
        ],
        Some(cond),
    )
}

/// The lot's copy of a reservation while it may still come in; the table's
/// TTL removes it a day after its end.
pub(crate) fn held_item(r: &Reservation) -> StoreResult<keys::Item> {
    let mut item = keys::held(r).item(r)?;
    item.insert("expires_at".into(), n(r.end.as_second() + 24 * 3600));
    Ok(item)
}

impl DynamoStore {
    /// One transaction: the reservation (if still active), the driver's
    /// copy, the lot's hold, every slot it took, and the fee's outbox item.
    async fn cancel(
        &self,
        reservation_id: &ReservationId,
        fee: Option<&parking_app::outbox::PaymentOrder>,
    ) -> StoreResult<Reservation> {
        let outbox: Vec<parking_app::outbox::OutboxMessage> = fee
            .cloned()
            .map(parking_app::outbox::OutboxMessage::Payments)
            .into_iter()
            .collect();
        self.end(reservation_id, &outbox, ReservationState::Cancelled)
            .await
    }

    /// Ends an active reservation (cancelled, or a no-show): one
    /// transaction as [`Self::cancel`]'s; one not active any more is
    /// returned as it is.
    pub(super) async fn end(
        &self,
        reservation_id: &ReservationId,
        outbox: &[parking_app::outbox::OutboxMessage],
        to: ReservationState,
    ) -> StoreResult<Reservation> {
        let mut r: Reservation = self
            .get_body(&keys::reservation(reservation_id), || {
                format!("reservation {reservation_id}")
            })
            .await?;
        if r.state != ReservationState::Active {
            return Ok(r);
        }
        let slots = rules::slots_of(&r)?;
        r.state = to;
        r.cancellation_fee = outbox.iter().find_map(|m| match m {
            parking_app::outbox::OutboxMessage::Payments(o) => Some(o.amount),
            parking_app::outbox::OutboxMessage::Notifications(_)
            | parking_app::outbox::OutboxMessage::Webhooks(_) => None,
        });
        let mut txn = moved(
            self.txn(Some(rules::write_token("cancel_reservation", &r))),
            &r,
            ReservationState::Active,
        )?;
        for slot in slots {
            txn = slot_step(txn, &r.lot_id, r.slot_minutes, slot, -1, 0)?;
        }
        for m in outbox {
            txn = txn.put(
                Step::Outbox,
                keys::outbox(&m.id(), m.created_at().as_second()).item(m)?,
                None,
            )?;
        }
        match txn.run(&self.client).await? {
            Ok(()) => Ok(r),
            Err(failed) if failed.has(Step::Reservation) => {
                // Ended meanwhile, by this caller's earlier attempt or
                // another: it is as it is now.
                self.get_body(&keys::reservation(reservation_id), || {
                    format!("reservation {reservation_id}")
                })
                .await
            }
            Err(failed) => Err(StoreError::Corrupt {
                key: keys::slot(&r.lot_id, r.slot_minutes, failed.slot().unwrap_or_default())
                    .describe(),
                reason: "the slot counts fewer reservations than hold it".into(),
            }),
        }
    }
}

impl ReservationStore for DynamoStore {
    async fn driver_reservations(&self, driver_id: &DriverId) -> StoreResult<Vec<Reservation>> {
        let mut v: Vec<Reservation> = self
            .query_bodies(keys::driver_reservations(driver_id))
            .await?;
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    /// One transaction: the stored lot still has the terms the caller read,
    /// the reservation is new, and every slot has room.
    async fn reserve(&self, reservation: &Reservation, lot: &Lot) -> StoreResult<()> {
        let slots = rules::reservation_slots(lot, reservation)?;
        let mut txn = self
            .txn(None)
            .check(
                Step::Lot,
                &keys::lot(&lot.id),
                Cond::new(
                    "attribute_exists(PK) AND reservable = :reservable AND slot_minutes = :slot",
                )
                .value(":reservable", n(lot.reservable))
                .value(":slot", n(lot.slot_minutes))
                .found_on_failure(),
            )?
            .put(
                Step::Reservation,
                keys::reservation_listed(reservation).item(reservation)?,
                Some(Cond::new("attribute_not_exists(PK)")),
            )?
            .put(
                Step::DriverEntry,
                keys::driver_reservation(&reservation.driver_id, &reservation.id)
                    .item(reservation)?,
                None,
            )?
            .put(Step::Held, held_item(reservation)?, None)?;
        for &slot in &slots {
            txn = slot_step(txn, &lot.id, lot.slot_minutes, slot, 1, lot.reservable)?;
        }
        let Err(failed) = txn.run(&self.client).await? else {
            return Ok(());
        };
        if failed.has(Step::Lot) {
            let exists = match failed.found(Step::Lot) {
                Some(_) => true,
                None => self.get(&keys::lot(&lot.id)).await?.is_some(),
            };
            return Err(if exists {
                Refusal::LotChanged {
                    lot_id: lot.id.clone(),
                }
                .into()
            } else {
                StoreError::not_found(format!("lot {}", lot.id))
            });
        }
        if failed.has(Step::Reservation) {
            let held: Option<Reservation> =
                self.get_opt(&keys::reservation(&reservation.id)).await?;
            return if held.as_ref() == Some(reservation) {
                Ok(())
            } else {
                Err(Refusal::ReservationExists {
                    reservation_id: reservation.id.clone(),
                }
                .into())
            };
        }
        Err(rules::slot_full(lot, failed.slot().unwrap_or_default()))
    }

    /// Frees the slots on the reservation's own grid.
    async fn cancel_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        self.cancel(reservation_id, None).await
    }

    async fn cancel_reservation_with_fee(
        &self,
        reservation_id: &ReservationId,
        fee: &parking_app::outbox::PaymentOrder,
    ) -> StoreResult<Reservation> {
        self.cancel(reservation_id, Some(fee)).await
    }

    async fn get_reservation(&self, reservation_id: &ReservationId) -> StoreResult<Reservation> {
        self.get_body(&keys::reservation(reservation_id), || {
            format!("reservation {reservation_id}")
        })
        .await
    }

    async fn lot_reservations_starting(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Reservation>> {
        let (a, b) = window(from, to);
        let v: Vec<Reservation> = self
            .query_index_window(&format!("LOT#{lot_id}#RES"), &a, &b, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|r| r.start >= from && r.start < to)
            .collect())
    }

    async fn mark_no_show(
        &self,
        reservation_id: &ReservationId,
        outbox: &[OutboxMessage],
    ) -> StoreResult<Reservation> {
        self.end(reservation_id, outbox, ReservationState::NoShow)
            .await
    }
}
