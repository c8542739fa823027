//! `device-presence`: IoT Core's lifecycle events (`$aws/events/presence/…`), from their IoT rule: devices online and offline.
//!
//! Composition root only: the device functions share their composition
//! (`parking_aws::lambda::run_device_function`: tracing, configuration,
//! one SDK configuration, the clients, a warm connection, the handler);
//! the behaviour is `parking_app::usecases::device_events`. Each is its
//! own function for its own IoT rule, permissions and scaling.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_device_function().await
}
