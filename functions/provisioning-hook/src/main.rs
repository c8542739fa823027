//! `provisioning-hook`: AWS IoT fleet provisioning's pre-provisioning
//! hook. A device claiming its identity is admitted only if an operator
//! enrolled its serial number, and only as what was enrolled (its thing
//! name and its lot, gate or bay).
//!
//! Composition root only (`parking_aws::lambda::run_provisioning_hook`);
//! the behaviour is `parking_app::usecases::provisioning`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_provisioning_hook().await
}
