//! `notifications`: the notifications FIFO queue's consumer. Each message
//! is rendered in Japanese and English and published to the driver's topic
//! `parking/drivers/{driver_id}/notifications`; the ones to deliver again
//! are reported (`ReportBatchItemFailures`).
//!
//! Composition root only (`parking_aws::lambda::run_notifications_function`);
//! the behaviour is `parking_app::usecases::notify`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_notifications_function().await
}
