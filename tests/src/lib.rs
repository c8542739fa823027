//! Helpers shared by the cross-crate and end-to-end tests: a local AWS
//! endpoint, fresh tables, a request counter, and fixtures.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use jiff::Timestamp;
use parking_app::*;
use parking_aws::DynamoStore;
use parking_aws::dynamo::table::TableDefinition;
use parking_core::{Plate, SessionState};

/// The variable naming the local AWS endpoint (moto server) the test
/// command starts.
pub const ENDPOINT_VAR: &str = "PARKING_TEST_AWS_ENDPOINT";

/// The local AWS endpoint. Tests that need it fail with a clear message
/// when it is not running: run them through `./scripts/test`.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VAR} is not set: run ./scripts/test, which starts a local AWS endpoint (moto server)")
    })
}

/// SDK configuration for the local endpoint, with dummy credentials so the
/// SDK never looks for real ones.
pub async fn local_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("ap-northeast-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "local"))
        .load()
        .await
}

/// Counts the DynamoDB requests a client sends, by operation name.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<Vec<String>>>);

impl RequestCounter {
    /// The operations sent since the last call, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("?".to_owned(), |m| m.name().to_owned());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(name);
        Ok(())
    }
}

/// A DynamoDB client on the local endpoint, counting its requests.
pub async fn dynamo_client(counter: Option<RequestCounter>) -> aws_sdk_dynamodb::Client {
    let sdk = local_sdk_config().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(c) = counter {
        config = config.interceptor(c);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A store on a new, empty table created from the SAM template's definition.
pub async fn fresh_dynamo_store(counter: Option<RequestCounter>) -> DynamoStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let client = dynamo_client(counter.clone()).await;
    let name = format!(
        "parking-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let def = TableDefinition::from_template().unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = def.create(&client, &name).await {
        panic!("cannot create table {name} at {}: {e:?}", endpoint());
    }
    if let Some(c) = counter {
        c.take();
    }
    DynamoStore::new(client, name)
}

/// Fixtures.
pub mod fx {
    use super::*;

    pub fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub fn plate(s: &str) -> Plate {
        Plate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub fn lot(id: &str, reservable: u32) -> Lot {
        Lot {
            id: id.into(),
            name: format!("Lot {id}"),
            time_zone: "Asia/Tokyo".into(),
            tariff_id: "shinjuku-west-2026-04".into(),
            capacity: 120,
            reservable,
            slot_minutes: 15,
        }
    }

    pub fn session(id: &str, lot: &str, plate_text: &str) -> Session {
        Session {
            id: id.into(),
            lot_id: lot.into(),
            plate: plate(plate_text),
            state: SessionState::Open,
            version: 1,
            entry_at: at("2026-11-24T09:00:00+09:00"),
            entry_gate: "g-in-1".into(),
            exit_at: None,
            exit_gate: None,
            driver_id: None,
            reservation_id: None,
            amount: None,
            currency: None,
            updated_at: at("2026-11-24T09:00:00+09:00"),
        }
    }

    /// The session moved to `state` with the next version.
    pub fn next(s: &Session, state: SessionState) -> Session {
        Session {
            state,
            version: s.version + 1,
            ..s.clone()
        }
    }

    pub fn event(device: &str, id: &str, at_text: &str) -> EventRef {
        EventRef {
            device_id: device.into(),
            event_id: id.into(),
            processed_at: at(at_text),
        }
    }

    pub fn reservation(id: &str, lot: &str, start: &str, end: &str) -> Reservation {
        Reservation {
            id: id.into(),
            lot_id: lot.into(),
            driver_id: "d-1".into(),
            plate: plate("品川 300 さ 12-34"),
            start: at(start),
            end: at(end),
            state: ReservationState::Active,
        }
    }
}
