//! What only the DynamoDB store can show: how many requests each
//! operation makes, and how unreadable items are reported.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::*;
use parking_core::SessionState;
use parking_tests::{RequestCounter, fresh_dynamo_store, fx};

#[tokio::test]
async fn hot_paths_make_one_request_each() {
    let counter = RequestCounter::default();
    let store = fresh_dynamo_store(Some(counter.clone())).await;
    let s = fx::session("s-1", "lot-a", "品川 300 さ 12-34");
    let entry = fx::event("cam-1", "evt-1", "2026-11-24T09:00:01+09:00");

    store.open_session(&s, Some(&entry)).await.expect("open");
    assert_eq!(
        counter.take(),
        ["TransactWriteItems"],
        "opening a session on entry"
    );

    store
        .open_session_for("lot-a", &s.plate)
        .await
        .expect("lookup");
    assert_eq!(counter.take(), ["GetItem"], "open-session lookup");

    store.plate_owner(&s.plate).await.expect("owner");
    assert_eq!(counter.take(), ["GetItem"], "plate-to-driver lookup");

    let closing = fx::next(&s, SessionState::Closing);
    let exit = fx::event("cam-2", "evt-2", "2026-11-24T11:00:00+09:00");
    store
        .update_session((SessionState::Open, 1), &closing, Some(&exit))
        .await
        .expect("close");
    assert_eq!(
        counter.take(),
        ["TransactWriteItems"],
        "a session change with its event"
    );

    let bay = Bay {
        lot_id: "lot-a".into(),
        id: "b-1".into(),
        occupied: true,
        seq: 1,
        reported_at: fx::at("2026-11-24T09:00:00Z"),
    };
    store
        .record_bay(
            &bay,
            Some(&fx::event("sensor-1", "1", "2026-11-24T09:00:00Z")),
        )
        .await
        .expect("bay");
    assert_eq!(
        counter.take(),
        ["TransactWriteItems"],
        "a bay reading with its event"
    );

    let lot = fx::lot("lot-a", 10);
    let r = fx::reservation(
        "r-1",
        "lot-a",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T11:00:00+09:00",
    );
    store.reserve(&r, &lot).await.expect("reserve");
    assert_eq!(
        counter.take(),
        ["TransactWriteItems"],
        "a reservation takes all its slots in one write"
    );

    // Every other operation, with the requests it makes.
    store.put_lot(&lot).await.expect("lot");
    assert_eq!(counter.take(), ["PutItem"], "put_lot");
    store.get_lot("lot-a").await.expect("lot");
    assert_eq!(counter.take(), ["GetItem"], "get_lot");
    store.get_session("s-1").await.expect("session");
    assert_eq!(counter.take(), ["GetItem"], "get_session");
    store.bays("lot-a").await.expect("bays");
    assert_eq!(counter.take(), ["Query"], "bays");
    store.slot_count(&lot, r.start).await.expect("count");
    assert_eq!(counter.take(), ["GetItem"], "slot_count");
    store.cancel_reservation("r-1", &lot).await.expect("cancel");
    assert_eq!(
        counter.take(),
        ["GetItem", "TransactWriteItems"],
        "cancel_reservation"
    );
    let registration = PlateRegistration {
        plate: s.plate.clone(),
        driver_id: "d-1".into(),
        registered_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.register_plate(&registration).await.expect("register");
    assert_eq!(counter.take(), ["PutItem"], "register_plate");
    store.driver_plates("d-1").await.expect("plates");
    assert_eq!(counter.take(), ["Query"], "driver_plates");
    let payment = Payment {
        idempotency_key: "k-1".into(),
        session_id: "s-1".into(),
        amount: 1500,
        currency: "JPY".into(),
        method_id: None,
        status: PaymentStatus::Succeeded,
        created_at: fx::at("2026-11-24T11:00:00+09:00"),
    };
    store.record_payment(&payment).await.expect("pay");
    store.record_payment(&payment).await.expect("pay again");
    // The second put fails its condition and returns the first record.
    assert_eq!(
        counter.take(),
        ["PutItem", "PutItem"],
        "record_payment twice"
    );
    store
        .record_event(&fx::event("cam-1", "hb", "2026-11-24T09:00:00Z"))
        .await
        .expect("event");
    assert_eq!(counter.take(), ["TransactWriteItems"], "record_event");
}

#[tokio::test]
async fn unreadable_items_are_typed_errors_naming_the_key() {
    let store = fresh_dynamo_store(None).await;
    let raw = |pairs: &[(&str, AttributeValue)]| -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let s = |v: &str| AttributeValue::S(v.into());
    let bad_session = raw(&[
        ("PK", s("SESSION#s-bad")),
        ("SK", s("SESSION")),
        ("id", s("s-bad")),
        ("state", s("teleported")),
    ]);
    let bad_bay = raw(&[
        ("PK", s("LOT#lot-x")),
        ("SK", s("BAY#b-9")),
        ("lot_id", s("lot-x")),
        ("id", s("b-9")),
        ("occupied", s("maybe")),
    ]);
    for item in [bad_session, bad_bay] {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .expect("raw put");
    }
    match store.get_session("s-bad").await {
        Err(StoreError::Corrupt { key, reason }) => {
            assert_eq!(key, "SESSION#s-bad/SESSION");
            assert!(!reason.is_empty());
        }
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
    match store.bays("lot-x").await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "LOT#lot-x/BAY#b-9"),
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
    let err = store.get_lot("lot-a").await.expect_err("unreachable");
    assert!(err.is_retryable(), "{err:?}");
}
