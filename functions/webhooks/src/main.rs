//! `webhooks`: the operator webhooks' FIFO queue consumer. An event is
//! handed to each subscription of its lot that wants it; a delivery is
//! signed and posted, tried again with the protocol's pauses, given up
//! and kept for replay, and a subscription that keeps failing is switched
//! off with a notice. The ones to deliver again are reported
//! (`ReportBatchItemFailures`).
//!
//! Composition root only (`parking_aws::lambda::run_webhooks_function`);
//! the behaviour is `parking_app::usecases::hook_delivery`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_webhooks_function().await
}
