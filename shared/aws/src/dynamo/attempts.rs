//! Settlement attempts: claimed with one conditional write, finished by
//! their holder only.

use jiff::Timestamp;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body, n, s};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use parking_app::ids::IdempotencyKey;
use parking_app::settlement::{Attempt, AttemptState, Claim};

/// An attempt's item; a claim's lease end is also kept in seconds, for
/// the claim's condition.
fn attempt_item(attempt: &Attempt) -> StoreResult<keys::Item> {
    let mut item = keys::attempt_listed(attempt).item(attempt)?;
    if let AttemptState::Claimed { until, .. } = &attempt.state {
        item.insert("until_s".into(), n(until.as_second()));
    }
    Ok(item)
}

/// The claim of `mine` on an attempt `held` whose lease ran out: the
/// movement stays the one `held` claimed.
fn taken_over(held: &Attempt, mine: &Attempt) -> Attempt {
    Attempt {
        state: mine.state.clone(),
        updated_at: mine.updated_at,
        ..held.clone()
    }
}

impl DynamoStore {
    /// Puts a claim: of a new attempt (`lease` `None`), or over the lease
    /// `(holder, until)` that ran out. `Some` is the attempt as it is
    /// when the condition failed.
    async fn put_attempt(
        &self,
        attempt: &Attempt,
        lease: Option<(u64, Timestamp)>,
    ) -> StoreResult<Option<Attempt>> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attempt_item(attempt)?))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match lease {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some((holder, until)) => put
                .condition_expression("#state = :claimed AND holder = :holder AND until_s = :until")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":claimed", s("claimed"))
                .expression_attribute_values(":holder", n(holder))
                .expression_attribute_values(":until", n(until.as_second())),
        };
        match put.send().await {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let held: Option<Attempt> = match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.map(body).transpose()?
                    }
                    _ => None,
                };
                match held {
                    Some(a) => Ok(Some(a)),
                    None => self
                        .get_body(&keys::attempt(&attempt.key), || {
                            format!("attempt {}", attempt.key)
                        })
                        .await
                        .map(Some),
                }
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}

impl parking_app::settlement::AttemptStore for DynamoStore {
    /// A conditional put of a new attempt; when one is there, and its
    /// holder's lease ran out, a second put takes that lease over on
    /// condition that it is still the lease that ran out, keeping the
    /// movement the earlier holder claimed. A failed condition returns the
    /// item, so there is no read.
    async fn claim_attempt(&self, attempt: &Attempt, now: Timestamp) -> StoreResult<Claim> {
        let held = match self.put_attempt(attempt, None).await? {
            None => return Ok(Claim::Claimed { taken_over: None }),
            Some(held) => held,
        };
        let (holder, until) = match held.state {
            AttemptState::Claimed { holder, until, .. } if until < now => (holder, until),
            AttemptState::Claimed { .. } => return Ok(Claim::Busy),
            _ => return Ok(Claim::Finished(held)),
        };
        let mine = taken_over(&held, attempt);
        Ok(
            match self.put_attempt(&mine, Some((holder, until))).await? {
                None => Claim::Claimed {
                    taken_over: Some(held),
                },
                Some(now_held) => match now_held.state {
                    AttemptState::Claimed { .. } => Claim::Busy,
                    _ => Claim::Finished(now_held),
                },
            },
        )
    }

    async fn due_retries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Attempt>> {
        let to = format!("{:012}~", now.as_second());
        self.query_index_window("RETRY", "0", &to, Some(limit))
            .await?
            .into_iter()
            .map(body)
            .collect()
    }

    /// A put of the failed attempt without its retry (so off the index),
    /// on condition that it is still the failed attempt it was.
    async fn clear_retry(&self, key: &IdempotencyKey) -> StoreResult<()> {
        let Some(mut a) = self.get_opt::<Attempt>(&keys::attempt(key)).await? else {
            return Ok(());
        };
        let AttemptState::Failed { retry_at, .. } = &mut a.state else {
            return Ok(());
        };
        if retry_at.take().is_none() {
            return Ok(());
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attempt_item(&a)?))
            .condition_expression("#state = :failed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":failed", s("failed"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    async fn attempt(&self, key: &IdempotencyKey) -> StoreResult<Option<Attempt>> {
        self.get_opt(&keys::attempt(key)).await
    }

    /// A read, then a put conditional on the holder; a holder that lost
    /// the attempt gets it as it is.
    async fn finish_attempt(
        &self,
        key: &IdempotencyKey,
        holder: u64,
        state: &AttemptState,
        now: Timestamp,
    ) -> StoreResult<Attempt> {
        let k = keys::attempt(key);
        let current: Attempt = self.get_body(&k, || format!("attempt {key}")).await?;
        if !matches!(current.state, AttemptState::Claimed { holder: h, .. } if h == holder) {
            return Ok(current);
        }
        let done = Attempt {
            state: state.clone(),
            updated_at: now,
            ..current
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attempt_item(&done)?))
            .condition_expression("#state = :claimed AND holder = :holder")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":holder", n(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(done),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                self.get_body(&k, || format!("attempt {key}")).await
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}
