//! Settlement attempts: claimed with one conditional write, finished by
//! their holder only.

use jiff::Timestamp;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body, n, s};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
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

impl parking_app::settlement::AttemptStore for DynamoStore {
    /// One conditional put: free, or claimed by a holder whose lease ran
    /// out (the old item comes back either way, so there is no read).
    async fn claim_attempt(&self, attempt: &Attempt, now: Timestamp) -> StoreResult<Claim> {
        let item = attempt_item(attempt)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(PK) OR (#state = :claimed AND until_s < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(now.as_second()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Claim::Claimed {
                taken_over: out.attributes.map(body).transpose()?,
            }),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let held: Option<Attempt> = match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.map(body).transpose()?
                    }
                    _ => None,
                };
                let held = match held {
                    Some(a) => a,
                    None => {
                        self.get_body(&keys::attempt(&attempt.key), || {
                            format!("attempt {}", attempt.key)
                        })
                        .await?
                    }
                };
                Ok(match held.state {
                    AttemptState::Claimed { .. } => Claim::Busy,
                    _ => Claim::Finished(held),
                })
            }
            Err(e) => Err(from_sdk(e)),
        }
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
