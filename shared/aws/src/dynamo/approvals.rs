//! Requests for a second operator: written once pending, then once
//! decided, each conditional on the state read.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::approvals::{Approval, ApprovalState, ApprovalStore};
use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body};

fn state_name(state: ApprovalState) -> &'static str {
    match state {
        ApprovalState::Pending => "pending",
        ApprovalState::Approved => "approved",
        ApprovalState::Rejected => "rejected",
    }
}

impl ApprovalStore for DynamoStore {
    async fn put_approval(
        &self,
        approval: &Approval,
        prior: Option<ApprovalState>,
    ) -> StoreResult<()> {
        let pending = (approval.state == ApprovalState::Pending).then_some(approval.requested_at);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(
                keys::approval(&approval.lot_id, &approval.id, pending).item(approval)?,
            ));
        let put = match prior {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(state) => put
                .condition_expression("#s = :prior")
                .expression_attribute_names("#s", "state")
                .expression_attribute_values(":prior", AttributeValue::S(state_name(state).into())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                if self
                    .approval(&approval.lot_id, &approval.id)
                    .await?
                    .as_ref()
                    == Some(approval)
                {
                    return Ok(());
                }
                Err(StoreError::Conflict(Refusal::ApprovalDecided))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }

    async fn approval(&self, lot: &LotId, id: &ActionId) -> StoreResult<Option<Approval>> {
        self.get_opt(&keys::approval(lot, id, None)).await
    }

    /// One page of the lot's sparse index of pending requests.
    async fn pending_approvals(
        &self,
        lot: &LotId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Approval>> {
        let from = after.map_or_else(|| "0".to_owned(), |a| format!("{a}\u{1}"));
        self.query_index_window(&keys::pending_approvals(lot), &from, "~", Some(limit))
            .await?
            .into_iter()
            .map(body)
            .collect()
    }
}
