//! Transactions with named steps. Each item of a `TransactWriteItems` is
//! added under a [`Step`] name, and a cancelled transaction reports which
//! steps' conditions failed (with the item each found, where asked for),
//! never item positions.
//!
//! A transaction whose arguments pin the state it expects — one caused by
//! an event (with its processing time) or guarded by a session version —
//! carries a `ClientRequestToken` derived from the logical write
//! ([`parking_app::rules::write_token`]), so DynamoDB answers an SDK retry
//! of a write that already committed with success instead of applying it
//! again (for ten minutes). Writes that create what is absent (a
//! reservation, a registration) carry none of ours: the same arguments may
//! come again legitimately after a change (register, unregister, register),
//! and a derived token would make DynamoDB answer with the old success
//! without writing. The SDK gives those calls a random token, which its
//! own retries repeat. Every operation, past the window or for a retry by
//! its caller, compares what is stored with what it was writing.
//!
//! A cancellation caused by a conflicting concurrent transaction
//! (`TransactionConflict`) or by throttling is sent again, up to
//! [`MAX_ATTEMPTS`] attempts in all, with full-jitter exponential backoff
//! and no sleep after the last attempt; then the operation is
//! `Unavailable` (retryable by the caller).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use parking_app::{StoreError, StoreResult};

use super::errors::{build_error, from_sdk};
use super::keys::{Item, Keys};

/// How many times a transaction is sent when concurrent transactions keep
/// conflicting with it.
pub const MAX_ATTEMPTS: u32 = 4;
/// Cancellation reasons worth sending the transaction again for.
const RETRIED_REASONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];
const BASE_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(800);

/// The named parts of the store's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    /// The processed-event ledger item of the event that caused the write.
    Ledger,
    /// An archived stay of a plate's timeline.
    Stay,
    Lot,
    Session,
    Reservation,
    /// The reservation slot starting at this second.
    Slot(i64),
    Bay,
    /// Who holds a plate or a payment method.
    Owner,
    /// The driver's own copy of a plate, payment method or reservation.
    DriverEntry,
    /// The lot's copy of a reservation it holds.
    Held,
    /// A plate's timeline in a lot.
    Timeline,
    /// A shard of the lot's occupancy summary.
    Live,
    /// A message in the outbox.
    Outbox,
    /// A device, or its lot's copy.
    Device,
    /// An entry of a lot's audit trail.
    Audit,
    /// The feature flag document.
    Flags,
    /// A pass listed under its lot.
    Pass,
    /// A stay on an operator's unpaid register.
    Debt,
    /// A camera's track.
    Track,
    /// The timeline a track's reads left for another plate's.
    Released,
}

/// A transaction being built.
pub(crate) struct Txn<'a> {
    table: &'a str,
    token: Option<String>,
    items: Vec<(Step, TransactWriteItem)>,
}

/// Why a transaction did not commit.
pub(crate) struct Failed {
    /// The steps whose conditions failed, in the transaction's order.
    pub steps: Vec<Step>,
    /// What each failed step found, where the step asked for it.
    pub found: HashMap<Step, Item>,
}

impl Failed {
    pub fn has(&self, step: Step) -> bool {
        self.steps.contains(&step)
    }

    /// The first failed slot, if any.
    pub fn slot(&self) -> Option<i64> {
        self.steps.iter().find_map(|s| match s {
            Step::Slot(t) => Some(*t),
            _ => None,
        })
    }

    /// The item a failed step found (asked for with `found_on_failure`).
    pub fn found(&self, step: Step) -> Option<&Item> {
        self.found.get(&step)
    }
}

/// A condition with its attribute names and values.
#[derive(Default)]
pub(crate) struct Cond<'c> {
    pub expr: &'c str,
    pub names: &'c [(&'c str, &'c str)],
    pub values: Vec<(&'c str, AttributeValue)>,
    /// Return the item found when the condition fails.
    pub found_on_failure: bool,
}

impl<'c> Cond<'c> {
    pub fn new(expr: &'c str) -> Self {
        Cond {
            expr,
            ..Cond::default()
        }
    }

    pub fn names(mut self, names: &'c [(&'c str, &'c str)]) -> Self {
        self.names = names;
        self
    }

    pub fn value(mut self, name: &'c str, v: AttributeValue) -> Self {
        self.values.push((name, v));
        self
    }

    pub fn found_on_failure(mut self) -> Self {
        self.found_on_failure = true;
        self
    }
}

macro_rules! conditioned {
    ($builder:expr, $cond:expr) => {{
        let mut b = $builder;
        if let Some(c) = $cond {
            b = b.condition_expression(c.expr);
            for (k, v) in c.names {
                b = b.expression_attribute_names(*k, *v);
            }
            for (k, v) in c.values {
                b = b.expression_attribute_values(k, v);
            }
            if c.found_on_failure {
                b = b.return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            }
        }
        b
    }};
}

impl<'a> Txn<'a> {
    /// A transaction, with the request token of the logical write where
    /// its arguments pin the state it expects.
    pub fn new(table: &'a str, token: Option<String>) -> Self {
        Txn {
            table,
            token,
            items: Vec::new(),
        }
    }

    pub fn put(mut self, step: Step, item: Item, cond: Option<Cond<'_>>) -> StoreResult<Self> {
        let b = conditioned!(
            Put::builder().table_name(self.table).set_item(Some(item)),
            cond
        );
        let put = b.build().map_err(build_error)?;
        self.items
            .push((step, TransactWriteItem::builder().put(put).build()));
        Ok(self)
    }

    pub fn delete(mut self, step: Step, keys: &Keys, cond: Option<Cond<'_>>) -> StoreResult<Self> {
        let b = conditioned!(
            Delete::builder()
                .table_name(self.table)
                .set_key(Some(keys.key())),
            cond
        );
        let delete = b.build().map_err(build_error)?;
        self.items
            .push((step, TransactWriteItem::builder().delete(delete).build()));
        Ok(self)
    }

    pub fn check(mut self, step: Step, keys: &Keys, cond: Cond<'_>) -> StoreResult<Self> {
        let b = conditioned!(
            ConditionCheck::builder()
                .table_name(self.table)
                .set_key(Some(keys.key())),
            Some(cond)
        );
        let check = b.build().map_err(build_error)?;
        self.items.push((
            step,
            TransactWriteItem::builder().condition_check(check).build(),
        ));
        Ok(self)
    }

    pub fn update(
        mut self,
        step: Step,
        keys: &Keys,
        expression: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        cond: Option<Cond<'_>>,
    ) -> StoreResult<Self> {
        let mut b = Update::builder()
            .table_name(self.table)
            .set_key(Some(keys.key()))
            .update_expression(expression);
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(k, v);
        }
        let b = conditioned!(b, cond);
        let update = b.build().map_err(build_error)?;
        self.items
            .push((step, TransactWriteItem::builder().update(update).build()));
        Ok(self)
    }

    /// Sends the transaction, retrying conflicts with concurrent writers.
    /// `Ok(Err(failed))` names the steps whose conditions failed.
    pub async fn run(self, client: &Client) -> StoreResult<Result<(), Failed>> {
        let (steps, items): (Vec<Step>, Vec<TransactWriteItem>) = self.items.into_iter().unzip();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .set_client_request_token(self.token.clone())
                .send()
                .await;
            let cancelled = match result {
                Ok(_) => return Ok(Ok(())),
                Err(e) => {
                    let is_cancel = matches!(
                        &e,
                        SdkError::ServiceError(ctx) if ctx.err().is_transaction_canceled_exception()
                    );
                    if !is_cancel {
                        return Err(from_sdk(e));
                    }
                    match e.into_service_error() {
                        TransactWriteItemsError::TransactionCanceledException(c) => c,
                        other => {
                            return Err(StoreError::Rejected {
                                source: Box::new(other),
                            });
                        }
                    }
                }
            };
            let reasons = cancelled.cancellation_reasons();
            let mut failed = Failed {
                steps: Vec::new(),
                found: HashMap::new(),
            };
            for (step, reason) in steps.iter().zip(reasons) {
                if reason.code() == Some("ConditionalCheckFailed") {
                    failed.steps.push(*step);
                    if let Some(item) = reason.item() {
                        failed.found.insert(*step, item.clone());
                    }
                }
            }
            if !failed.steps.is_empty() {
                return Ok(Err(failed));
            }
            // Conflicts with concurrent writers and throttling pass; a
            // validation error or an oversized item collection does not.
            let conflict = reasons.is_empty()
                || reasons
                    .iter()
                    .any(|r| r.code().is_some_and(|c| RETRIED_REASONS.contains(&c)));
            if reasons.iter().any(|r| {
                r.code() == Some("ValidationError")
                    && r.message().is_some_and(|m| m.contains("Item size"))
            }) {
                return Err(super::errors::too_large("item"));
            }
            if !conflict {
                return Err(StoreError::Rejected {
                    source: Box::new(cancelled),
                });
            }
            if attempt >= MAX_ATTEMPTS {
                return Err(StoreError::Unavailable {
                    source: format!(
                        "the transaction was cancelled by conflicting writes or throttling {attempt} times"
                    )
                    .into(),
                });
            }
            tokio::time::sleep(full_jitter(attempt)).await;
        }
    }
}

/// A random pause between zero and the exponential backoff for `attempt`.
fn full_jitter(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.max(1))
}
