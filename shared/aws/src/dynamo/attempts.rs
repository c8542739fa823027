//! Settlement attempts: claimed with one conditional write, finished by
//! their holder only.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use jiff::Timestamp;
use parking_app::ids::IdempotencyKey;
use parking_app::settlement::{Attempt, AttemptState, AttemptStore, Claim};
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body, n, s};

impl AttemptStore for DynamoStore {
    /// One conditional put: free, or claimed by a holder whose lease ran
    /// out (the old item comes back either way, so there is no read).
    async fn claim_attempt(&self, attempt: &Attempt, now: Timestamp) -> StoreResult<Claim> {
        let mut item = keys::attempt(&attempt.key).item(attempt)?;
        if let AttemptState::Claimed { until, .. } = &attempt.state {
            item.insert("until_s".into(), n(until.as_second()));
        }
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
            .set_item(Some(k.item(&done)?))
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
