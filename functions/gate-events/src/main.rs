//! `gate-events`: camera reads at the gates (`parking/{lot}/gates/{gate}/events` and `…/backlog`), from their IoT rule: sessions opened and closed, commands to the barrier.
//!
//! Composition root only: tracing, configuration, one SDK configuration,
//! the clients, a warm connection, then the handler; the behaviour is
//! `parking_app::usecases::device_events`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::config::{DeviceConfig, StoreConfig, dynamo_store, iot_link, sdk_config};
use parking_aws::{SystemClock, lambda};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store_config = StoreConfig::from_env()?;
    let device_config = DeviceConfig::from_env()?;
    let sdk = sdk_config().await;
    let store = dynamo_store(&sdk, &store_config);
    store.warm().await;
    let events = DeviceEvents::new(
        store,
        iot_link(&sdk, &device_config),
        device_config.lot_cache,
    );
    let events = &events;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        lambda::device_message(events, &SystemClock, &event.payload).await
    }))
    .await
}
