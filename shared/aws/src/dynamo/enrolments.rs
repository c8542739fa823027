//! Devices enrolled for onboarding, one item per serial number.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
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

    async fn admit(
        &self,
        serial: &SerialNumber,
        admission: &Admission,
        previous: Option<&str>,
    ) -> StoreResult<()> {
        let Some(mut enrolment) = self.enrolment(serial).await? else {
            return Err(StoreError::not_found(format!("enrolment {serial}")));
        };
        enrolment.admitted = Some(admission.clone());
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(keys::enrolment(serial).item(&enrolment)?));
        // The item's body holds the admission; it is compared through the
        // certificate id kept beside it.
        let put = match previous {
            None => put.condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(admitted_cert)",
            ),
            Some(c) => put
                .condition_expression("admitted_cert = :prev")
                .expression_attribute_values(":prev", AttributeValue::S(c.to_owned())),
        }
        .item(
            "admitted_cert",
            AttributeValue::S(admission.certificate_id.clone()),
        );
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict(Refusal::AdmissionChanged {
                    serial: serial.clone(),
                }))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}
