//! The unpaid register: a plate's debts with an operator read from their
//! own partition, the operator's register listed from the index (each
//! entry is written in a plate's timeline commit, `history.rs`).

use parking_app::StoreResult;
use parking_app::ids::OperatorId;
use parking_app::unpaid::{Debt, RegisterPage, UnpaidStore};
use parking_core::Plate;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body, s};

impl UnpaidStore for DynamoStore {
    async fn debts_of(
        &self,
        operator: &OperatorId,
        plate: &Plate,
        limit: usize,
    ) -> StoreResult<Vec<Debt>> {
        // Eventually consistent (half the units): a debt is written at
        // another lot's exit, not a second before this entry.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :debt)")
            .expression_attribute_values(":pk", s(keys::debts_pk(operator, plate)))
            .expression_attribute_values(":debt", s("DEBT#"))
            .set_limit(i32::try_from(limit).ok())
            .send()
            .await
            .map_err(from_sdk)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(body)
            .collect()
    }

    async fn register(
        &self,
        operator: &OperatorId,
        digits: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<RegisterPage> {
        let (low, high) = match digits {
            Some(d) => (format!("{d}#"), format!("{d}#~")),
            // A plate without digits is listed as `#…`.
            None => ("!".to_owned(), "~".to_owned()),
        };
        // From the page's last entry on (inclusive: it is skipped below).
        let from = after.filter(|a| *a > low.as_str()).unwrap_or(&low);
        let items = self
            .query_listing(
                "GSI1",
                &keys::register(operator),
                from,
                &high,
                Some(limit + 2),
            )
            .await?;
        let mut debts = Vec::new();
        for item in items {
            let d: Debt = body(item)?;
            let at = format!("{}#{}", d.digits(), d.session_id);
            if after.is_some_and(|a| at.as_str() <= a) {
                continue;
            }
            debts.push((at, d));
        }
        let more = debts.len() > limit;
        debts.truncate(limit);
        Ok(RegisterPage {
            next: debts.last().filter(|_| more).map(|(at, _)| at.clone()),
            debts: debts.into_iter().map(|(_, d)| d).collect(),
        })
    }
}
