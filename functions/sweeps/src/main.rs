//! `sweeps`: run by an EventBridge Scheduler schedule. Every sweep once,
//! each within its budget: no-shows, overstays, silent devices, payment
//! retries, and the outbox the stream did not deliver.
//!
//! Composition root only (`parking_aws::lambda::run_sweeps_function`); the
//! behaviour is `parking_app::usecases::sweeps`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_sweeps_function().await
}
