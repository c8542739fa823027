//! `payments`: the payments FIFO queue's consumer. Each charge or refund
//! order is settled exactly once with the payment provider, and the
//! messages to deliver again are reported (`ReportBatchItemFailures`).
//!
//! Composition root only (`parking_aws::lambda::run_payments_function`);
//! the behaviour is `parking_app::usecases::settle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_payments_function().await
}
