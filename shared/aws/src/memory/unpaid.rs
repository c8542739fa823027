//! The in-memory twin: the unpaid register (written by timeline commits,
//! `history.rs`).

use parking_app::unpaid::{Debt, RegisterPage, UnpaidStore};

use super::*;

/// A register entry's place in the operator's listing.
fn cursor(d: &Debt) -> String {
    format!("{}#{}", d.digits(), d.session_id)
}

impl UnpaidStore for MemoryStore {
    async fn debts_of(
        &self,
        operator: &OperatorId,
        plate: &Plate,
        limit: usize,
    ) -> StoreResult<Vec<Debt>> {
        let found: Vec<Debt> = self
            .state()
            .debts
            .get(&(operator.clone(), plate.key()))
            .map(|debts| debts.values().take(limit).cloned().collect())
            .unwrap_or_default();
        self.read_units(query_units(found.iter().map(item_bytes).sum(), false));
        Ok(found)
    }

    async fn register(
        &self,
        operator: &OperatorId,
        digits: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<RegisterPage> {
        let mut all: Vec<(String, Debt)> = self
            .state()
            .debts
            .iter()
            .filter(|((o, _), _)| o == operator)
            .flat_map(|(_, debts)| debts.values())
            .filter(|d| digits.is_none_or(|x| d.digits() == x))
            .map(|d| (cursor(d), d.clone()))
            .filter(|(c, _)| after.is_none_or(|a| c.as_str() > a))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let more = all.len() > limit;
        all.truncate(limit);
        self.read_units(query_units(
            all.iter().map(|(_, d)| item_bytes(d)).sum(),
            false,
        ));
        Ok(RegisterPage {
            next: all.last().filter(|_| more).map(|(c, _)| c.clone()),
            debts: all.into_iter().map(|(_, d)| d).collect(),
        })
    }
}
