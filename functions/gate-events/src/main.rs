//! `gate-events`: live camera reads at the gates (`parking/{lot}/gates/{gate}/events`), from their IoT rule: sessions opened and closed, commands to the barrier. Backlogs take their own path (`gate-backlog`).
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
