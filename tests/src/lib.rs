//! Helpers shared by the cross-crate and end-to-end tests: a local AWS
//! endpoint, fresh tables, a request counter, a fault-injecting HTTP
//! client, and fixtures.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use parking_aws::DynamoStore;
use parking_aws::dynamo::table::TableDefinition;

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
/// SDK never looks for real ones, and short retry back-offs.
pub async fn local_sdk_config() -> SdkConfig {
    local_sdk_config_in("ap-northeast-1").await
}

/// The same, in another region: the local endpoint keeps each region's
/// tables apart and copies all of a region's tables for every
/// transaction, so a test that grows a large table runs in a region of
/// its own and slows no other test.
pub async fn local_sdk_config_in(region: &'static str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new(region))
        .credentials_provider(Credentials::new("test", "test", None, None, "local"))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
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

/// A fault the [`FaultyHttp`] client injects for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer as DynamoDB does when a concurrent transaction touched the
    /// same items: `TransactionCanceledException` with a
    /// `TransactionConflict` reason. Nothing reaches the store.
    TransactionConflict,
    /// Answer as DynamoDB does when the table is throttled inside a
    /// transaction: `TransactionCanceledException` with a `ThrottlingError`
    /// reason. Nothing reaches the store.
    TransactionThrottled,
    /// Answer 500 without sending the request.
    ServerError,
    /// Send the request (the store applies it), then answer 500: a write
    /// that committed but whose answer was lost.
    LostResponse,
    /// Answer as DynamoDB does when an item of the request is over its
    /// 400 KB limit: `ValidationException`. Nothing reaches the store.
    ItemTooLarge,
    /// Hold the request this long before sending it (a stalled
    /// connection): a client's attempt timeout gives up on it first.
    Stall(std::time::Duration),
}

/// What went over the wire: the operation and the request body.
#[derive(Debug, Clone)]
pub struct Sent {
    pub operation: String,
    pub body: String,
}

#[derive(Debug, Default)]
struct Plan {
    faults: HashMap<String, VecDeque<Fault>>,
    /// Answer queries of a secondary index with no items, as an index that
    /// has not caught up with the base table yet.
    lagging_index: bool,
    /// Added to every request's round trip.
    latency: std::time::Duration,
    sent: Vec<Sent>,
}

/// An HTTP client that wraps the real one and injects faults by operation
/// (`TransactWriteItems`, `Query`, …), recording every attempt it sees —
/// including the SDK's own retries.
#[derive(Debug, Clone)]
pub struct FaultyHttp {
    inner: SharedHttpClient,
    plan: Arc<Mutex<Plan>>,
}

impl FaultyHttp {
    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues faults for the next attempts of an operation.
    pub fn inject(&self, operation: &str, faults: &[Fault]) {
        self.plan()
            .faults
            .entry(operation.to_owned())
            .or_default()
            .extend(faults);
    }

    /// Adds `latency` to every request's round trip from now on.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.plan().latency = latency;
    }

    /// Makes secondary-index queries return nothing.
    pub fn lag_index(&self) {
        self.plan().lagging_index = true;
    }

    /// Every attempt since the last call.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut self.plan().sent)
    }
}

fn json_response(status: u16, body: &str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap_or_else(|_| panic!("status {status}")),
        SdkBody::from(body.to_owned()),
    );
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    r
}

const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]","CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity for one or more global secondary indexes"}]}"#;
const TOO_LARGE: &str = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#;
const SERVER_ERROR: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}"#;

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    plan: Arc<Mutex<Plan>>,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let (fault, lag, latency) = {
            let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
            plan.sent.push(Sent {
                operation: operation.clone(),
                body: body.clone(),
            });
            let fault = plan
                .faults
                .get_mut(&operation)
                .and_then(VecDeque::pop_front);
            let lag = plan.lagging_index && operation == "Query" && body.contains("IndexName");
            (fault, lag, plan.latency)
        };
        if !latency.is_zero() && !matches!(fault, Some(Fault::Stall(_))) {
            let sent = self.inner.call(request);
            return HttpConnectorFuture::new(async move {
                tokio::time::sleep(latency).await;
                sent.await
            });
        }
        if lag {
            return HttpConnectorFuture::ready(Ok(json_response(
                200,
                r#"{"Count":0,"Items":[],"ScannedCount":0}"#,
            )));
        }
        match fault {
            None => self.inner.call(request),
            Some(Fault::TransactionConflict) => {
                HttpConnectorFuture::ready(Ok(json_response(400, CONFLICT)))
            }
            Some(Fault::TransactionThrottled) => {
                HttpConnectorFuture::ready(Ok(json_response(400, THROTTLED)))
            }
            Some(Fault::ItemTooLarge) => {
                HttpConnectorFuture::ready(Ok(json_response(400, TOO_LARGE)))
            }
            Some(Fault::ServerError) => {
                HttpConnectorFuture::ready(Ok(json_response(500, SERVER_ERROR)))
            }
            Some(Fault::Stall(held)) => {
                let inner = self.inner.clone();
                HttpConnectorFuture::new(async move {
                    tokio::time::sleep(held + latency).await;
                    inner.call(request).await
                })
            }
            Some(Fault::LostResponse) => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    sent.await?;
                    Ok(json_response(500, SERVER_ERROR))
                })
            }
        }
    }
}

impl HttpClient for FaultyHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            plan: Arc::clone(&self.plan),
        })
    }
}

/// A DynamoDB client on the local endpoint, counting its requests, with
/// faults injected by `faults`.
pub async fn dynamo_client(
    counter: Option<RequestCounter>,
    faults: Option<&FaultyHttp>,
) -> aws_sdk_dynamodb::Client {
    let sdk = local_sdk_config().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(c) = counter {
        config = config.interceptor(c);
    }
    if let Some(f) = faults {
        config = config.http_client(f.clone());
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A fault injector around the SDK's own HTTP client (plain HTTP: the
/// local endpoint is on the loopback address).
pub async fn faulty_http() -> FaultyHttp {
    FaultyHttp {
        inner: aws_smithy_http_client::Builder::new().build_http(),
        plan: Arc::default(),
    }
}

/// A new, empty table created from the SAM template's definition.
pub async fn fresh_table() -> String {
    fresh_table_in("ap-northeast-1").await
}

/// A new, empty table in a region of its own (see
/// [`local_sdk_config_in`]).
pub async fn fresh_table_in(region: &'static str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let client = aws_sdk_dynamodb::Client::new(&local_sdk_config_in(region).await);
    let name = format!(
        "parking-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let def = TableDefinition::from_template().unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = def.create(&client, &name).await {
        panic!("cannot create table {name} at {}: {e:?}", endpoint());
    }
    name
}

/// A store on a new, empty table.
pub async fn fresh_dynamo_store(counter: Option<RequestCounter>) -> DynamoStore {
    let table = fresh_table().await;
    DynamoStore::new(dynamo_client(counter, None).await, table)
}

/// A store on a new, empty table whose requests go through `faults`.
pub async fn faulty_dynamo_store(
    faults: &FaultyHttp,
    counter: Option<RequestCounter>,
) -> DynamoStore {
    let table = fresh_table().await;
    DynamoStore::new(dynamo_client(counter, Some(faults)).await, table)
}

/// Fixtures.
/// How many reservations hold the lot's slot that contains `at`, as a
/// driver can tell: the slot's free places are taken by probe
/// reservations until the store refuses one as full, and then given back.
///
/// # Panics
///
/// When the store fails otherwise.
pub async fn slot_taken<S: parking_app::ReservationStore>(
    store: &S,
    lot: &parking_app::Lot,
    at: jiff::Timestamp,
) -> u32 {
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let len = i64::from(lot.slot_minutes.max(1)) * 60;
    let start = at.as_second().div_euclid(len) * len;
    let ts = |s: i64| jiff::Timestamp::from_second(s).expect("a slot's time");
    let mut probes = Vec::new();
    while (probes.len() as u32) < lot.reservable {
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let mut r = fx::reservation(
            &format!("probe-{n}"),
            lot.id.as_str(),
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:15:00Z",
        );
        r.start = ts(start);
        r.end = ts(start + len);
        r.slot_minutes = lot.slot_minutes;
        match store.reserve(&r, lot).await {
            Ok(()) => probes.push(r.id),
            Err(parking_app::StoreError::Conflict(parking_app::Refusal::SlotFull { .. })) => break,
            Err(e) => panic!("probe reservation: {e}"),
        }
    }
    for id in &probes {
        store
            .cancel_reservation(id)
            .await
            .expect("a probe given back");
    }
    lot.reservable - probes.len() as u32
}

pub mod fx {
    use jiff::Timestamp;
    use parking_app::*;
    use parking_core::{Currency, Money, Plate, SessionState};

    pub fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub fn plate(s: &str) -> Plate {
        Plate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Any id type from its text.
    pub fn id<T: std::str::FromStr>(s: &str) -> T
    where
        T::Err: std::fmt::Display,
    {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub fn yen(minor: i64) -> Money {
        Money::new(minor, Currency::JPY)
    }

    pub fn lot(lot_id: &str, reservable: u32) -> Lot {
        Lot {
            id: id(lot_id),
            name: format!("Lot {lot_id}"),
            time_zone: "Asia/Tokyo".into(),
            tariff_id: id("shinjuku-west-2026-04"),
            capacity: 120,
            reservable,
            slot_minutes: 15,
            settings: Default::default(),
            revision: 0,
            tariff_schedule: Vec::new(),
            webhook_events: Vec::new(),
            operator: None,
        }
    }

    pub fn session(session_id: &str, lot: &str, plate_text: &str) -> Session {
        Session {
            id: id(session_id),
            lot_id: id(lot),
            plate: plate(plate_text),
            state: SessionState::Open,
            version: 1,
            entry_at: at("2026-11-24T09:00:00+09:00"),
            entry_gate: id("g-in-1"),
            exit_at: None,
            exit_gate: None,
            driver_id: None,
            reservation_id: None,
            fee: None,
            method_id: None,
            flags: Vec::new(),
            origin: None,
            frames: Vec::new(),
            replaced_by: None,
            tariff_id: None,
            resolution: None,
            refunded: 0,
            kiosk_paid: 0,
            payment_failure: None,
            collected: 0,
            updated_at: at("2026-11-24T09:00:00+09:00"),
        }
    }

    /// The session moved to `state` with the next version.
    /// A change to a plate's history as a read makes it: the head at
    /// `version` holding `session`, the session written with it, and the
    /// read's event; a first version opens the session in the lot's count.
    pub fn commit(
        version: u64,
        session: &Session,
        event: &EventRef,
        attempt: u64,
    ) -> TimelineCommit {
        let mut timeline = parking_app::timeline::PlateTimeline::new(
            session.lot_id.clone(),
            session.plate.clone(),
        );
        timeline.version = version;
        timeline.sessions = vec![session.clone()];
        TimelineCommit {
            timeline,
            changed: vec![session.clone()],
            outbox: Vec::new(),
            open_delta: i64::from(version == 1),
            check_in: None,
            check_in_undone: None,
            event: event.clone(),
            attempt,
            stays: Vec::new(),
            stays_gone: Vec::new(),
            audit: None,
            pass: None,
            debts: Vec::new(),
            track: None,
            released: None,
        }
    }

    pub fn next(s: &Session, state: SessionState) -> Session {
        Session {
            state,
            version: s.version + 1,
            ..s.clone()
        }
    }

    pub fn event(device: &str, event_id: &str, at_text: &str) -> EventRef {
        EventRef {
            device_id: id(device),
            event_id: id(event_id),
            processed_at: at(at_text),
        }
    }

    pub fn reservation(res_id: &str, lot: &str, start: &str, end: &str) -> Reservation {
        Reservation {
            id: id(res_id),
            lot_id: id(lot),
            driver_id: id("d-1"),
            plate: plate("品川 300 さ 12-34"),
            start: at(start),
            end: at(end),
            slot_minutes: 15,
            state: ReservationState::Active,
            cancellation_fee: None,
        }
    }

    pub fn bay(bay_id: &str, occupied: bool, boot: u64, seq: u64, at_text: &str) -> Bay {
        Bay {
            lot_id: id("lot-b"),
            id: id(bay_id),
            occupied: Some(occupied),
            boot,
            seq,
            reported_at: at(at_text),
            since: None,
        }
    }
}

/// The variable naming the local payment provider (localstripe) the test
/// command starts.
pub const STRIPE_VAR: &str = "PARKING_TEST_STRIPE";

/// The local payment provider, one test at a time: the guard holds it,
/// emptied, for the test.
pub mod stripe {
    use parking_aws::stripe::{StripeKey, StripeProvider};

    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// The local provider's address. Tests that need it fail with a clear
    /// message when it is not running: run them through `./scripts/test`.
    pub fn base() -> String {
        std::env::var(super::STRIPE_VAR).unwrap_or_else(|_| {
            panic!("{} is not set: run ./scripts/test, which starts a local payment provider (localstripe)", super::STRIPE_VAR)
        })
    }

    pub const KEY: &str = "sk_test_parking";

    fn http() -> reqwest::Client {
        parking_aws::stripe::client().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Holds the local provider, emptied, until the guard is dropped.
    pub async fn hold() -> tokio::sync::MutexGuard<'static, ()> {
        let guard = ONE_AT_A_TIME.lock().await;
        let emptied = http()
            .delete(format!("{}/_config/data", base()))
            .send()
            .await
            .map(|r| r.status().is_success());
        assert!(
            matches!(emptied, Ok(true)),
            "emptying localstripe: {emptied:?}"
        );
        guard
    }

    pub fn provider() -> StripeProvider {
        StripeProvider::new(&base(), StripeKey::new(KEY)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A call straight to the provider (listing what it holds, making a
    /// test card): the JSON it answers.
    pub async fn call(
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> serde_json::Value {
        let request = http()
            .request(method.clone(), format!("{}{path}", base()))
            .basic_auth(KEY, Some(""));
        let request = if method == reqwest::Method::GET {
            request.query(form)
        } else {
            request.form(form)
        };
        let body = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The charges that succeeded, as the provider lists them.
    pub async fn succeeded_charges() -> Vec<serde_json::Value> {
        let list = call(reqwest::Method::GET, "/v1/charges", &[("limit", "100")]).await;
        list["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c["status"] == "succeeded")
            .collect()
    }
}

/// A store on a new, empty table whose requests go through `faults`, with
/// the SDK's deadlines and retries as the functions configure them.
pub async fn deadline_dynamo_store(
    faults: &FaultyHttp,
    deadlines: &parking_aws::config::Deadlines,
) -> DynamoStore {
    let table = fresh_table().await;
    let sdk = local_sdk_config().await;
    let config = parking_aws::config::dynamo_builder(&sdk, deadlines).http_client(faults.clone());
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config.build()), table)
}

/// One DynamoDB stream record as Lambda delivers it: the `i`th of its
/// batch (its sequence number), `INSERT` or `MODIFY`, with the item's keys
/// and new image.
pub fn stream_record(
    i: usize,
    name: &str,
    keys: serde_dynamo::Item,
    image: serde_dynamo::Item,
) -> serde_json::Value {
    serde_json::json!({
        "eventID": format!("e-{i}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-northeast-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795826467.0,
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": format!("{:021}", i + 1),
            "SizeBytes": 100,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/t/stream/2026"
    })
}
