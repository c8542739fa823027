//! `gate-backlog`: the reads a gate uploads after an outage
//! (`parking/{lot}/gates/{gate}/backlog`), from their own queue: the IoT
//! rule puts each backlog in it, and this function drains it a batch at a
//! time with a capped concurrency, so an upload of hours of reads never
//! stands between a lot's live entries and their barrier. Messages to
//! deliver again are reported (`ReportBatchItemFailures`).
//!
//! Composition root only (`parking_aws::lambda::run_queued_device_function`);
//! the behaviour is `parking_app::usecases::device_events`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_queued_device_function(parking_aws::lambda::Inbound::Broker).await
}
