//! `bay-events`: bay sensor readings (`parking/{lot}/bays/{bay}/state`), sent through Basic Ingest to their IoT rule and in batches from its queue: the lot's live availability.
//!
//! Composition root only: the queued device functions share their
//! composition (`parking_aws::lambda::run_queued_device_function`:
//! tracing, configuration, one SDK configuration, the clients, a warm
//! connection, the handler); the behaviour is
//! `parking_app::usecases::device_events`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_queued_device_function(parking_aws::lambda::Inbound::BasicIngest).await
}
