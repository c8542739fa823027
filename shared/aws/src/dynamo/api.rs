//! What the APIs list: lots, a driver's reservations and sessions, and
//! the removal of a payment method.

use jiff::Timestamp;
use parking_app::ids::*;
use parking_app::*;
use parking_core::SessionState;

use super::DynamoStore;
use super::keys::{self, body, n, s};
use super::txn::{Cond, Step};

impl ApiStore for DynamoStore {
    /// One query of the index's `LOTS` partition.
    async fn lots(&self) -> StoreResult<Vec<Lot>> {
        let mut v: Vec<Lot> = self
            .query_index(keys::LOTS, None)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    /// One transaction: the owner item (only if it is this driver's) and
    /// the driver's copy.
    async fn remove_payment_method(
        &self,
        driver_id: &DriverId,
        method_id: &PaymentMethodId,
    ) -> StoreResult<()> {
        let txn = self
            .txn(None)
            .delete(
                Step::Owner,
                &keys::method_owner(method_id),
                Some(
                    Cond::new("attribute_not_exists(PK) OR driver_id = :driver")
                        .value(":driver", s(driver_id.as_str())),
                ),
            )?
            .delete(
                Step::DriverEntry,
                &keys::payment_method(driver_id, method_id),
                None,
            )?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::PaymentMethodOfAnother {
                method_id: method_id.clone(),
            }
            .into()),
        }
    }

    async fn driver_reservations(&self, driver_id: &DriverId) -> StoreResult<Vec<Reservation>> {
        let mut v: Vec<Reservation> = self
            .query_bodies(keys::driver_reservations(driver_id))
            .await?;
        v.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Ok(v)
    }

    async fn driver_sessions(&self, driver_id: &DriverId) -> StoreResult<Vec<Session>> {
        let v: Vec<Session> = self.query_bodies(keys::driver_sessions(driver_id)).await?;
        Ok(v.into_iter()
            .filter(|s| s.state != SessionState::Superseded)
            .collect())
    }

    /// One transaction: the lot, if still at the revision before, and its
    /// audit entry.
    async fn update_lot(&self, lot: &Lot, audit: &AuditEntry) -> StoreResult<()> {
        let prev = lot.revision.saturating_sub(1);
        let guard = if prev == 0 {
            Cond::new("attribute_exists(PK) AND (attribute_not_exists(#rev) OR #rev = :prev)")
        } else {
            Cond::new("attribute_exists(PK) AND #rev = :prev")
        }
        .names(&[("#rev", "revision")])
        .value(":prev", n(prev));
        let txn = self
            .txn(None)
            .put(Step::Lot, keys::lot_listed(&lot.id).item(lot)?, Some(guard))?
            .put(Step::Audit, keys::audit(audit).item(audit)?, None)?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::StaleLot {
                lot_id: lot.id.clone(),
                revision: prev,
            }
            .into()),
        }
    }

    /// One query of the lot's session listing, from `since`.
    async fn lot_sessions_since(
        &self,
        lot_id: &LotId,
        since: Timestamp,
    ) -> StoreResult<Vec<Session>> {
        let from = format!("{:012}", since.as_second().max(0));
        let mut v: Vec<Session> = self
            .query_index_from(&format!("LOT#{lot_id}#SESSIONS"), &from)
            .await?
            .into_iter()
            .map(body)
            .collect::<StoreResult<_>>()?;
        v.sort_by(|a, b| (a.entry_at, &a.id).cmp(&(b.entry_at, &b.id)));
        Ok(v)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.put_plain(&keys::audit(entry), entry).await
    }

    /// One query of the lot's audit partition.
    async fn audit_trail(
        &self,
        lot_id: &LotId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<AuditEntry>> {
        let lo = format!("{:015}", from.as_millisecond().max(0));
        let hi = format!("{:015}", (to.as_millisecond() - 1).max(0));
        let items = self
            .query_between(keys::audit_pk(lot_id), &lo, &format!("{hi}#~"))
            .await?;
        let v: Vec<AuditEntry> = items.into_iter().map(body).collect::<StoreResult<_>>()?;
        Ok(v.into_iter()
            .filter(|e| e.at >= from && e.at < to)
            .collect())
    }

    async fn passes(&self, lot_id: &LotId) -> StoreResult<Vec<Pass>> {
        self.query_bodies(keys::passes_of(lot_id)).await
    }
}

/// The flag document: one item, replaced under its revision.
impl FlagStore for DynamoStore {
    async fn flag_document(&self) -> StoreResult<Option<parking_app::flags::StoredFlags>> {
        self.get_opt(&keys::flags()).await
    }

    async fn put_flags(
        &self,
        flags: &parking_app::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let prev = flags.revision.saturating_sub(1);
        let guard = if prev == 0 {
            Cond::new("attribute_not_exists(PK)")
        } else {
            Cond::new("#rev = :prev")
                .names(&[("#rev", "revision")])
                .value(":prev", n(prev))
        };
        let txn = self
            .txn(None)
            .put(Step::Flags, keys::flags().item(flags)?, Some(guard))?
            .put(Step::Audit, keys::audit(audit).item(audit)?, None)?;
        match txn.run(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Refusal::StaleFlags { revision: prev }.into()),
        }
    }
}

/// A lot's usage by day: one item per day, its counters added to
/// atomically.
impl UsageStore for DynamoStore {
    async fn add_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
        usage: &parking_app::usecases::cost::Usage,
    ) -> StoreResult<()> {
        // Every counter of the usage, added as it is named.
        let counters: serde_json::Map<String, serde_json::Value> = match serde_json::to_value(usage)
        {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(StoreError::invalid("usage is not a record of counters")),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::usage(lot_id, date).key()));
        let mut parts = Vec::new();
        for (i, (name, value)) in counters.iter().enumerate() {
            parts.push(format!("#c{i} :v{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":v{i}"), n(value));
        }
        update
            .update_expression(format!("ADD {}", parts.join(", ")))
            .send()
            .await
            .map_err(super::errors::from_sdk)?;
        Ok(())
    }

    async fn lot_usage(
        &self,
        lot_id: &LotId,
        date: jiff::civil::Date,
    ) -> StoreResult<parking_app::usecases::cost::Usage> {
        // The item's counters are the usage's fields (its keys are left
        // aside); a counter never added is zero.
        Ok(self
            .get_opt(&keys::usage(lot_id, date))
            .await?
            .unwrap_or_default())
    }
}
