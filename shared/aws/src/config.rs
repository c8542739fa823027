//! Configuration from the environment, read once at start-up.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PARKING_TABLE` | the DynamoDB table | required |
//! | `PARKING_EVENT_RETENTION_DAYS` | days a processed device event is remembered | 30 |
//! | `AWS_REGION` | the AWS region | from the SDK's usual chain |
//! | `AWS_ENDPOINT_URL` | a local AWS endpoint (e.g. `http://127.0.0.1:5000`) instead of AWS | unset |
//!
//! With `AWS_ENDPOINT_URL` set, set credentials too (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, any values for a local endpoint) and
//! `AWS_EC2_METADATA_DISABLED=true`, so the SDK does not look for instance
//! credentials.

use aws_config::{BehaviorVersion, SdkConfig};
use jiff::SignedDuration;
use parking_app::rules::DEFAULT_EVENT_RETENTION;

use crate::DynamoStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// The store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub table: String,
    pub event_retention: SignedDuration,
}

impl StoreConfig {
    pub fn from_env() -> Result<StoreConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<StoreConfig, ConfigError> {
        let table = get("PARKING_TABLE")
            .filter(|t| !t.trim().is_empty())
            .ok_or(ConfigError {
                variable: "PARKING_TABLE",
                problem: "must name the DynamoDB table".into(),
            })?;
        let event_retention = match get("PARKING_EVENT_RETENTION_DAYS") {
            None => DEFAULT_EVENT_RETENTION,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(days) if (1..=3650).contains(&days) => SignedDuration::from_hours(days * 24),
                _ => {
                    return Err(ConfigError {
                        variable: "PARKING_EVENT_RETENTION_DAYS",
                        problem: format!("expected a number of days from 1 to 3650, got {v:?}"),
                    });
                }
            },
        };
        Ok(StoreConfig {
            table,
            event_retention,
        })
    }
}

/// The SDK configuration, from the usual environment and profile chain.
/// Build it once and derive every client from it.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The DynamoDB store for these settings on a shared SDK configuration.
pub fn dynamo_store(sdk: &SdkConfig, config: &StoreConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table)
        .with_event_retention(config.event_retention)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<StoreConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        StoreConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn settings_are_typed_and_errors_name_the_variable() {
        let c = read(&[
            ("PARKING_TABLE", "t"),
            ("PARKING_EVENT_RETENTION_DAYS", "7"),
        ])
        .expect("config");
        assert_eq!(c.event_retention, SignedDuration::from_hours(168));
        assert_eq!(
            read(&[("PARKING_TABLE", "t")]).map(|c| c.event_retention),
            Ok(DEFAULT_EVENT_RETENTION)
        );
        assert_eq!(read(&[]).map_err(|e| e.variable), Err("PARKING_TABLE"));
        let e = read(&[
            ("PARKING_TABLE", "t"),
            ("PARKING_EVENT_RETENTION_DAYS", "forever"),
        ])
        .expect_err("bad days");
        assert_eq!(
            e.to_string(),
            "PARKING_EVENT_RETENTION_DAYS: expected a number of days from 1 to 3650, got \"forever\""
        );
    }
}
