//! The reconciliation export: a lot's day of money at the provider, one
//! row per charge and refund made or failed, from the lot's books (the
//! `payment.*` entries settlement writes in the audit trail with each
//! movement), for matching against the provider's own report.
//!
//! Each row: when it was recorded, the kind (`charge`, `refund`, `fee`,
//! `refund_reversed`), the provider's id (for a made movement), the
//! amount, the stay (or the reservation, for a fee) and its status:
//! `settled`, `failed`, or `reversed` (a refund the bank returned). A
//! failed row has no provider id. CSV and JSON carry the same rows.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::ids::*;
use crate::store::prelude::*;
use crate::usecases::adjust::ActionError;

/// One movement in the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconRow {
    pub at: Timestamp,
    pub kind: String,
    pub status: &'static str,
    /// The provider's charge (`pi_…`) or refund (`re_…`) id.
    pub provider_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    /// The stay, or for a fee, its reservation.
    pub target: String,
    /// Why it failed.
    pub failure: Option<String>,
}

/// A lot's day of movements, in the order recorded.
///
/// # Errors
///
/// `NotFound("lot")`, or the store's.
pub async fn reconciliation<S: Store>(
    store: &S,
    lot_id: &LotId,
    date: Date,
) -> Result<Vec<ReconRow>, ActionError> {
    let config = match store.lot_config(lot_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
        Err(e) => return Err(e.into()),
    };
    let tz = TimeZone::get(&config.lot.time_zone).unwrap_or(TimeZone::UTC);
    let start = date
        .to_zoned(tz)
        .map_err(|e| ActionError::invalid("date", e.to_string()))?;
    let end = start
        .checked_add(jiff::Span::new().days(1))
        .map_err(|e| ActionError::invalid("date", e.to_string()))?;
    let currency = config.compiled()?.base().currency().code().to_owned();
    let mut rows = Vec::new();
    for e in store
        .audit_trail(lot_id, start.timestamp(), end.timestamp())
        .await?
    {
        let Some(kind) = e.action.strip_prefix("payment.") else {
            continue;
        };
        let (kind, status) = match kind.strip_suffix("_failed") {
            Some(k) => (k, "failed"),
            None if kind == "refund_reversed" => (kind, "reversed"),
            None => (kind, "settled"),
        };
        let failed = status == "failed";
        rows.push(ReconRow {
            at: e.at,
            kind: kind.to_owned(),
            status,
            provider_id: (!failed).then(|| e.note.clone()),
            amount: e.amount.unwrap_or(0),
            currency: currency.clone(),
            target: e.target.clone(),
            failure: failed.then(|| e.note.clone()),
        });
    }
    Ok(rows)
}

/// The rows as CSV, with a header line.
pub fn to_csv(rows: &[ReconRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "at",
        "kind",
        "status",
        "provider_id",
        "amount",
        "currency",
        "target",
        "failure",
    ]);
    for r in rows {
        let _ = w.write_record([
            r.at.to_string(),
            r.kind.clone(),
            r.status.to_owned(),
            r.provider_id.clone().unwrap_or_default(),
            r.amount.to_string(),
            r.currency.clone(),
            r.target.clone(),
            r.failure.clone().unwrap_or_default(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
