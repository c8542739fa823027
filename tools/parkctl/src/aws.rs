//! The DynamoDB store for `replay` and `simulate`, configured from the
//! environment (see `parking_aws::config`).

use jiff::SignedDuration;
use parking_app::scenario::{ReplayOutput, Scenario, replay};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::DynamoStore;
use parking_aws::MemoryLink;
use parking_aws::config::{StoreConfig, dynamo_store, sdk_config};
use parking_aws::dynamo::table::TableDefinition;

use crate::UsageError;

/// The DynamoDB store; against a local endpoint (`AWS_ENDPOINT_URL`) its
/// table is created from the template's definition when it is missing.
pub async fn store() -> Result<DynamoStore, UsageError> {
    let config = StoreConfig::from_env().map_err(|e| UsageError(e.to_string()))?;
    let sdk = sdk_config().await;
    let store = dynamo_store(&sdk, &config);
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        let exists = store
            .client()
            .describe_table()
            .table_name(store.table())
            .send()
            .await
            .is_ok();
        if !exists {
            TableDefinition::from_template()
                .map_err(UsageError)?
                .create(store.client(), store.table())
                .await
                .map_err(|e| UsageError(format!("cannot create table {}: {e}", store.table())))?;
        }
    }
    Ok(store)
}

pub async fn replay_dynamodb(scenario: &Scenario) -> Result<ReplayOutput, UsageError> {
    let handler = DeviceEvents::new(
        store().await?,
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    replay(
        &handler,
        &parking_aws::Faulty::new(parking_aws::DevProvider::default()),
        scenario,
    )
    .await
    .map_err(|e| UsageError(e.to_string()))
}
