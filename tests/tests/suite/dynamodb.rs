//! What only the DynamoDB store can show: how many requests each
//! operation makes (every one, on success, refusal and duplicate — the
//! table in the README), how unreadable items and failures are reported,
//! and what it does with states only a raw write can make.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::*;
use parking_tests::fx::{self, id};
use parking_tests::{RequestCounter, faulty_dynamo_store, faulty_http, fresh_dynamo_store};

const TWI: &str = "TransactWriteItems";

/// Runs an operation and checks the requests it made.
macro_rules! counts {
    ($counter:expr, $what:literal, $op:expr, [$($req:expr),*]) => {{
        let out = $op.await;
        let want: Vec<&str> = vec![$($req),*];
        assert_eq!($counter.take(), want, $what);
        out
    }};
}

#[tokio::test]
async fn every_operation_makes_the_requests_the_readme_lists() {
    let c = RequestCounter::default();
    let store = fresh_dynamo_store(Some(c.clone())).await;
    c.take();
    let lot = fx::lot("lot-a", 1);
    let s = fx::session("s-1", "lot-a", "品川 300 さ 12-34");
    let entry = fx::event("cam-1", "evt-1", "2026-11-24T09:00:01+09:00");
    let later = |e: &EventRef| EventRef {
        processed_at: e.processed_at + jiff::SignedDuration::from_secs(9),
        ..e.clone()
    };

    // Lots, gates, devices, bays.
    counts!(c, "put_lot", store.put_lot(&lot), ["PutItem"]).expect("lot");
    counts!(c, "get_lot", store.get_lot(&lot.id), ["GetItem"]).expect("lot");
    let gate = Gate {
        lot_id: id("lot-a"),
        id: id("g-in-1"),
        direction: GateDirection::Entry,
        camera_id: id("cam-1"),
    };
    counts!(c, "put_gate", store.put_gate(&gate), ["PutItem"]).expect("gate");
    counts!(
        c,
        "get_gate",
        store.get_gate(&gate.lot_id, &gate.id),
        ["GetItem"]
    )
    .expect("gate");
    let device = Device {
        id: id("cam-1"),
        lot_id: id("lot-a"),
        kind: DeviceKind::Camera,
        gate_id: Some(id("g-in-1")),
        bay_id: None,
        presence: None,
    };
    counts!(c, "put_device", store.put_device(&device), ["GetItem", TWI]).expect("device");
    counts!(c, "get_device", store.get_device(&device.id), ["GetItem"]).expect("device");
    let bay = fx::bay("b-1", true, 0, 2, "2026-11-24T09:00:00Z");
    let reading = fx::event("sensor-1", "r-2", "2026-11-24T09:00:01Z");
    counts!(
        c,
        "record_bay",
        store.record_bay(&bay, Some(&reading)),
        [TWI]
    )
    .expect("bay");
    counts!(
        c,
        "record_bay, duplicate",
        store.record_bay(&bay, Some(&later(&reading))),
        [TWI]
    )
    .expect("dup");
    counts!(
        c,
        "record_bay, retried",
        store.record_bay(&bay, Some(&reading)),
        [TWI]
    )
    .expect("retry");
    counts!(
        c,
        "record_bay, same reading again",
        store.record_bay(&bay, None),
        [TWI, "GetItem"]
    )
    .expect("again");
    counts!(
        c,
        "record_bay, stale",
        store.record_bay(&fx::bay("b-1", false, 0, 1, "2026-11-24T09:00:00Z"), None),
        [TWI, "GetItem"]
    )
    .expect("stale");
    counts!(c, "bays", store.bays(&lot.id), ["Query"]).expect("bays");
    counts!(
        c,
        "occupancy",
        store.occupancy(&lot, entry.processed_at),
        ["Query"]
    )
    .expect("occupancy");
    counts!(
        c,
        "lot_live",
        store.lot_live(&lot, entry.processed_at),
        ["Query"]
    )
    .expect("lot_live");

    // Drivers, plates, cards.
    let driver = Driver {
        id: id("d-1"),
        name: "Hanako".into(),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    counts!(c, "put_driver", store.put_driver(&driver), ["PutItem"]).expect("driver");
    counts!(c, "get_driver", store.get_driver(&driver.id), ["GetItem"]).expect("driver");
    let reg = PlateRegistration {
        plate: s.plate.clone(),
        driver_id: id("d-1"),
        registered_at: fx::at("2026-11-01T00:00:00Z"),
    };
    counts!(c, "register_plate", store.register_plate(&reg), [TWI]).expect("register");
    counts!(
        c,
        "register_plate, again",
        store.register_plate(&reg),
        [TWI]
    )
    .expect("again");
    let other = PlateRegistration {
        driver_id: id("d-2"),
        ..reg.clone()
    };
    counts!(
        c,
        "register_plate, refused",
        store.register_plate(&other),
        [TWI]
    )
    .expect_err("refused");
    counts!(c, "plate_owner", store.plate_owner(&s.plate), ["GetItem"]).expect("owner");
    counts!(
        c,
        "driver_plates",
        store.driver_plates(&id("d-1")),
        ["Query"]
    )
    .expect("plates");
    counts!(
        c,
        "unregister_plate, refused",
        store.unregister_plate(&s.plate, &id("d-2")),
        [TWI]
    )
    .expect_err("refused");
    counts!(
        c,
        "unregister_plate",
        store.unregister_plate(&s.plate, &id("d-1")),
        [TWI]
    )
    .expect("unregister");
    counts!(
        c,
        "unregister_plate, already released",
        store.unregister_plate(&s.plate, &id("d-1")),
        [TWI, "GetItem"]
    )
    .expect("released");
    let card = PaymentMethod {
        id: id("pm-1"),
        driver_id: id("d-1"),
        brand: "visa".into(),
        last4: "4242".into(),
        token: PaymentToken::new("tok_abc"),
        customer: None,
    };
    counts!(
        c,
        "add_payment_method",
        store.add_payment_method(&card),
        [TWI]
    )
    .expect("card");
    counts!(
        c,
        "add_payment_method, again",
        store.add_payment_method(&card),
        [TWI]
    )
    .expect("again");
    let stolen = PaymentMethod {
        driver_id: id("d-2"),
        ..card.clone()
    };
    counts!(
        c,
        "add_payment_method, refused",
        store.add_payment_method(&stolen),
        [TWI]
    )
    .expect_err("refused");
    counts!(
        c,
        "payment_methods",
        store.payment_methods(&id("d-1")),
        ["Query"]
    )
    .expect("cards");

    // Reservations.
    let r = fx::reservation(
        "r-1",
        "lot-a",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T11:00:00+09:00",
    );
    counts!(c, "reserve", store.reserve(&r, &lot), [TWI]).expect("reserve");
    counts!(
        c,
        "reserve, again",
        store.reserve(&r, &lot),
        [TWI, "GetItem"]
    )
    .expect("again");
    let r2 = fx::reservation(
        "r-2",
        "lot-a",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:15:00+09:00",
    );
    counts!(c, "reserve, full", store.reserve(&r2, &lot), [TWI]).expect_err("full");
    let stale_lot = Lot {
        reservable: 9,
        ..lot.clone()
    };
    counts!(
        c,
        "reserve, lot changed",
        store.reserve(&r2, &stale_lot),
        [TWI]
    )
    .expect_err("changed");
    let mut taken = r.clone();
    taken.driver_id = id("d-9");
    counts!(
        c,
        "reserve, id taken",
        store.reserve(&taken, &lot),
        [TWI, "GetItem"]
    )
    .expect_err("taken");
    let ghost = fx::lot("lot-ghost", 1);
    let r_ghost = fx::reservation(
        "r-g",
        "lot-ghost",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:15:00+09:00",
    );
    counts!(
        c,
        "reserve, unknown lot",
        store.reserve(&r_ghost, &ghost),
        [TWI, "GetItem"]
    )
    .expect_err("no lot");
    counts!(
        c,
        "reserve, no reservable bays",
        store.reserve(
            &r2,
            &Lot {
                reservable: 0,
                ..lot.clone()
            }
        ),
        []
    )
    .expect_err("zero");
    counts!(
        c,
        "get_reservation",
        store.get_reservation(&r.id),
        ["GetItem"]
    )
    .expect("get");
    counts!(
        c,
        "cancel_reservation",
        store.cancel_reservation(&r.id),
        ["GetItem", TWI]
    )
    .expect("cancel");
    counts!(
        c,
        "cancel_reservation, again",
        store.cancel_reservation(&r.id),
        ["GetItem"]
    )
    .expect("again");
    counts!(
        c,
        "cancel_reservation, unknown",
        store.cancel_reservation(&id("r-none")),
        ["GetItem"]
    )
    .expect_err("unknown");

    // A plate's history: the change every read, staff action and
    // settlement makes.
    let head = fx::session("s-c", "lot-a", "品川 300 さ 12-34");
    let read = fx::event("cam-1", "c-1", "2026-11-24T09:00:01+09:00");
    let change = fx::commit(1, &head, &read, 1);
    counts!(c, "commit_read", store.commit_read(&change), [TWI]).expect("commit");
    counts!(c, "commit_read, again", store.commit_read(&change), [TWI]).expect("again");
    let redelivered = fx::commit(2, &head, &later(&read), 2);
    counts!(
        c,
        "commit_read, duplicate event",
        store.commit_read(&redelivered),
        [TWI]
    )
    .expect("duplicate");
    let stale = fx::commit(
        1,
        &head,
        &fx::event("cam-1", "c-2", "2026-11-24T09:00:02+09:00"),
        3,
    );
    counts!(c, "commit_read, stale", store.commit_read(&stale), [TWI]).expect_err("stale");

    // The ledger.
    let hb = fx::event("cam-1", "hb", "2026-11-24T09:00:00Z");
    counts!(c, "record_event", store.record_event(&hb), [TWI]).expect("event");
    counts!(c, "record_event, retried", store.record_event(&hb), [TWI]).expect("retry");
    counts!(
        c,
        "record_event, duplicate",
        store.record_event(&later(&hb)),
        [TWI]
    )
    .expect("dup");
    counts!(
        c,
        "is_processed",
        store.is_processed(&hb.device_id, &hb.event_id, hb.processed_at),
        ["GetItem"]
    )
    .expect("ledger");
}

async fn raw_put(store: &parking_aws::DynamoStore, pairs: &[(&str, AttributeValue)]) {
    let item: HashMap<String, AttributeValue> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("raw put");
}

#[tokio::test]
async fn unreadable_items_are_typed_errors_naming_the_key_without_the_plate() {
    let store = fresh_dynamo_store(None).await;
    let s = |v: &str| AttributeValue::S(v.into());
    raw_put(
        &store,
        &[
            ("PK", s("SESSION#s-bad")),
            ("SK", s("SESSION")),
            ("id", s("s-bad")),
            ("state", s("teleported")),
        ],
    )
    .await;
    raw_put(
        &store,
        &[
            ("PK", s("LOT#lot-x")),
            ("SK", s("BAY#b-9")),
            ("lot_id", s("lot-x")),
            ("id", s("b-9")),
            ("occupied", s("maybe")),
        ],
    )
    .await;
    let plate = fx::plate("品川 300 さ 12-34");
    raw_put(
        &store,
        &[
            ("PK", s(&format!("PLATE#{}", plate.key()))),
            ("SK", s("PLATE")),
            ("driver_id", s("d-1")),
        ],
    )
    .await;
    match store.get_session(&id("s-bad")).await {
        Err(StoreError::Corrupt { key, reason }) => {
            assert_eq!(key, "SESSION#s-bad/SESSION");
            assert!(!reason.is_empty());
        }
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
    match store.bays(&id("lot-x")).await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "LOT#lot-x/BAY#b-9"),
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
    match store.plate_owner(&plate).await {
        Err(e @ StoreError::Corrupt { .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("品川"), "{shown}");
            assert!(shown.contains(&plate.fingerprint()), "{shown}");
        }
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_error() {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let store = parking_aws::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "none");
    let err = store.get_lot(&id("lot-a")).await.expect_err("unreachable");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_missing_table_or_an_invalid_item_is_never_retried() {
    let client = parking_tests::dynamo_client(None, None).await;
    let store = parking_aws::DynamoStore::new(client, "no-such-table");
    let err = store.get_lot(&id("lot-a")).await.expect_err("no table");
    assert!(matches!(err, StoreError::Rejected { .. }), "{err:?}");
    assert!(!err.is_retryable());

    assert!(err.is_fault(), "a device event that meets it is kept");

    // An item over DynamoDB's 400 KB limit is refused before it is sent
    // (the local endpoint would take some), by both stores alike; the
    // write is never retried, and an event that meets it is kept.
    let store = fresh_dynamo_store(None).await;
    let driver = Driver {
        id: id("d-big"),
        name: "x".repeat(500 * 1024),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    let err = store.put_driver(&driver).await.expect_err("too large");
    assert!(
        matches!(err, StoreError::TooLarge { ref kind, bytes, .. } if kind == "driver" && bytes > 500 * 1024),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.is_fault());
    let twin = parking_aws::MemoryStore::default();
    let err = twin.put_driver(&driver).await.expect_err("too large");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    // Just under the limit is stored.
    let fits = Driver {
        name: "x".repeat(390 * 1024),
        ..driver
    };
    store.put_driver(&fits).await.expect("under the limit");
}

/// On real DynamoDB a secondary index lags behind the base table. With
/// every index query answered empty, listings still see their writes: no
/// operation that must read its own writes reads the index.
#[tokio::test]
async fn listings_never_wait_for_the_secondary_index() {
    let faults = faulty_http().await;
    faults.lag_index();
    let store = faulty_dynamo_store(&faults, None).await;
    crate::conformance::a_plate_and_a_card_belong_to_one_driver(&store).await;
    crate::conformance::bay_readings_never_go_back_in_sequence(&store).await;
    assert!(
        faults.take().iter().all(|s| !s.body.contains("IndexName")),
        "an operation queried the index"
    );
}

/// A sensor's 15-minute repeat of its state (same state, same `since`)
/// is read, not written: the bay is read once and nothing is written; a
/// change is written as before.
#[tokio::test]
async fn an_unchanged_bay_reading_makes_no_dynamodb_write() {
    use crate::devices::{bay, scenario, t};
    use parking_app::usecases::device_events::DeviceEvents;
    let c = RequestCounter::default();
    let store = fresh_dynamo_store(Some(c.clone())).await;
    parking_app::scenario::set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(
        store,
        parking_aws::MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let send = |seq: u64, since: u64, occupied: bool, at: &str| {
        let mut m = bay("A-01", &format!("r-{seq}"), Some(occupied), 0.9, seq, t(at));
        m["since"] = since.into();
        let at = t(at) + jiff::SignedDuration::from_secs(1);
        let events = &events;
        async move {
            events
                .handle(&serde_json::to_vec(&m).expect("json"), at)
                .await
                .expect("handled")
        }
    };
    let writes = |ops: &[String]| -> Vec<String> {
        ops.iter()
            .filter(|o| !matches!(o.as_str(), "GetItem" | "Query" | "BatchGetItem"))
            .cloned()
            .collect()
    };
    let first = send(5, 5, true, "08:00:00").await;
    assert_eq!(first.applied, 1);
    assert!(writes(&c.take()).contains(&TWI.to_owned()));

    // Repeats within the sensor's presence refresh (half its 40-minute
    // timeout): one read each, no write.
    for (seq, at) in [(6, "08:10:00"), (7, "08:19:00")] {
        let r = send(seq, 5, true, at).await;
        assert_eq!((r.applied, r.duplicates), (0, 1), "seq {seq}");
        let ops = c.take();
        assert_eq!(writes(&ops), Vec::<String>::new(), "seq {seq}: {ops:?}");
    }
    let stored = events
        .store
        .bay(&id(crate::devices::LOT), &id("A-01"))
        .await
        .expect("read")
        .expect("bay");
    assert_eq!(
        (stored.occupied, stored.seq, stored.state_since()),
        (Some(true), 5, 5)
    );

    // A change is written.
    let change = send(8, 8, false, "08:40:00").await;
    assert_eq!(change.applied, 1);
    assert!(writes(&c.take()).contains(&TWI.to_owned()));
}
