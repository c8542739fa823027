//! Payments, recorded once per idempotency key.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use parking_app::ids::IdempotencyKey;
use parking_app::rules;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body};

impl PaymentStore for DynamoStore {
    /// One conditional put; on a repeat the stored record comes back with
    /// the refusal, so there is no second read.
    async fn record_payment(&self, payment: &Payment) -> StoreResult<Payment> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys::payment_listed(payment).item(payment)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let first: Payment = match result {
            Ok(_) => return Ok(payment.clone()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(c) if c.item.is_some() => {
                        body(c.item.unwrap_or_default())?
                    }
                    _ => self.get_payment(&payment.idempotency_key).await?,
                }
            }
            Err(e) => return Err(from_sdk(e)),
        };
        if rules::same_payment(&first, payment) {
            Ok(first)
        } else {
            Err(Refusal::PaymentKeyReused {
                key: payment.idempotency_key.clone(),
            }
            .into())
        }
    }

    async fn get_payment(&self, key: &IdempotencyKey) -> StoreResult<Payment> {
        self.get_body(&keys::payment(key), || format!("payment {key}"))
            .await
    }
}
