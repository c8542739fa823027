//! Devices enrolled for onboarding, one item per serial number.

use aws_sdk_dynamodb::error::SdkError;
use parking_app::enrolments::{Admission, Enrolment, EnrolmentStore};
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys;

impl EnrolmentStore for DynamoStore {
    async fn enrol(&self, enrolment: &Enrolment) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys::enrolment(&enrolment.serial).item(enrolment)?))
            .condition_expression("attribute_not_exists(PK)");
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict(Refusal::SerialEnrolled {
                    serial: enrolment.serial.clone(),
                }))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    async fn enrolment(&self, serial: &SerialNumber) -> StoreResult<Option<Enrolment>> {
        self.get_opt(&keys::enrolment(serial)).await
    }

    async fn admit(&self, serial: &SerialNumber, admission: &Admission) -> StoreResult<()> {
        let Some(mut enrolment) = self.enrolment(serial).await? else {
            return Err(StoreError::not_found(format!("enrolment {serial}")));
        };
        enrolment.admitted = Some(admission.clone());
        self.put_plain(&keys::enrolment(serial), &enrolment).await
    }
}
