//! What the scheduled functions read and write: windows of the lots'
//! indexes (no scan), and each lot's forecast.

use jiff::Timestamp;
use parking_app::outbox::OutboxMessage;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self, body};

/// A window of an index sorted by `{seconds:012}#…`: `[from, to)`.
fn window(from: Timestamp, to: Timestamp) -> (String, String) {
    (
        format!("{:012}", from.as_second().max(0)),
        // Every key of second `to - 1`, none of second `to`.
        format!("{:012}", to.as_second().max(0)),
    )
}

/// One item per lot, replaced by each scheduled run.
impl ForecastStore for DynamoStore {
    async fn put_forecast(
        &self,
        forecast: &parking_app::usecases::forecast::LotForecast,
    ) -> StoreResult<()> {
        self.put_plain(&keys::forecast(&forecast.lot_id), forecast)
            .await
    }

    async fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> StoreResult<Option<parking_app::usecases::forecast::LotForecast>> {
        self.get_opt(&keys::forecast(lot_id)).await
    }
}

impl SweepStore for DynamoStore {
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

    async fn lot_sessions_entered(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        let (a, b) = window(from, to);
        let v: Vec<Session> = self
            .query_index_window(&format!("LOT#{lot_id}#SESSIONS"), &a, &b, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|s| s.entry_at >= from && s.entry_at < to)
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

    /// One query of each shard of the outbox's listing, up to `before`.
    async fn outbox_stale(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let (_, to) = window(before, before);
        self.outbox_listed("0", &to, limit).await
    }
}
