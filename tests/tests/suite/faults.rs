//! The DynamoDB store under the failures real DynamoDB has and the local
//! endpoint does not: conflicting concurrent transactions, server errors,
//! and writes that committed but whose answer was lost. Faults are
//! injected below the SDK, so its own retries run as they would in AWS.

use parking_app::*;
use parking_aws::dynamo::txn::MAX_ATTEMPTS;
use parking_core::SessionState;
use parking_tests::fx;
use parking_tests::{Fault, faulty_dynamo_store, faulty_http};

const TWI: &str = "TransactWriteItems";

fn operations(sent: &[parking_tests::Sent]) -> Vec<&str> {
    sent.iter().map(|s| s.operation.as_str()).collect()
}

/// The `ClientRequestToken` of a sent transaction.
fn token(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("ClientRequestToken")?.as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_reported_as_done() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let s = fx::session("s-lost", "lot-f", "品川 300 さ 12-34");
    let e = fx::event("cam-1", "evt-lost", "2026-11-24T09:00:01+09:00");
    faults.take();
    faults.inject(TWI, &[Fault::LostResponse]);
    // The first attempt commits but its answer is lost; the SDK retries.
    // Real DynamoDB answers the retry from its token; the local endpoint
    // ignores tokens, so the store recognises its own ledger entry (the
    // failed condition returns it: no extra read).
    assert_eq!(
        store
            .commit_read(&fx::commit(1, &s, &e, 1))
            .await
            .expect("open"),
        Applied::Done,
        "not a duplicate of itself"
    );
    let sent = faults.take();
    assert_eq!(operations(&sent), [TWI, TWI]);
    let tokens: Vec<Option<String>> = sent.iter().map(|s| token(&s.body)).collect();
    assert!(
        tokens[0].is_some(),
        "a write caused by an event carries a token"
    );
    assert_eq!(tokens[0], tokens[1], "the retry repeats the token");
    assert_eq!(store.get_session(&s.id).await.expect("stored"), s);
    // Another write gets another token.
    let e2 = fx::event("cam-1", "evt-other", "2026-11-24T09:00:02+09:00");
    faults.take();
    store.record_event(&e2).await.expect("event");
    let other = faults.take();
    assert_eq!(operations(&other), [TWI]);
    assert!(token(&other[0].body).is_some());
    assert_ne!(token(&other[0].body), tokens[0]);

    // A change guarded by a version: the token again; past it, the ledger
    // entry the failed condition returns shows the write was its own.
    let closing = fx::next(&s, SessionState::Closing);
    let e3 = fx::event("cam-2", "evt-exit", "2026-11-24T10:00:02+09:00");
    faults.inject(TWI, &[Fault::LostResponse]);
    assert_eq!(
        store
            .commit_read(&fx::commit(2, &closing, &e3, 2))
            .await
            .expect("update"),
        Applied::Done,
        "not stale against itself"
    );
    let sent = faults.take();
    assert_eq!(operations(&sent), [TWI, TWI]);
    assert!(token(&sent[0].body).is_some());
    assert_eq!(store.get_session(&s.id).await.expect("stored"), closing);

    // A reservation carries no token of ours (the same one may come again
    // legitimately after a change): the SDK gives the call a random one,
    // which its retry repeats; past that, the store finds the reservation
    // and compares.
    let lot = fx::lot("lot-f", 1);
    store.put_lot(&lot).await.expect("lot");
    let r = fx::reservation(
        "r-lost",
        "lot-f",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    faults.take();
    faults.inject(TWI, &[Fault::LostResponse]);
    store
        .reserve(&r, &lot)
        .await
        .expect("not a conflict with itself");
    let sent = faults.take();
    assert_eq!(operations(&sent), [TWI, TWI, "GetItem"]);
    let first = token(&sent[0].body);
    assert!(first.is_some());
    assert_eq!(first, token(&sent[1].body), "the SDK's retry repeats it");
    // The same registration again after a release is a new write: it gets
    // a token of its own, so DynamoDB cannot answer it with the first
    // one's success.
    let reg = PlateRegistration {
        plate: fx::plate("品川 300 さ 12-34"),
        driver_id: fx::id("d-1"),
        registered_at: fx::at("2026-11-24T09:00:00+09:00"),
    };
    faults.take();
    store.register_plate(&reg).await.expect("register");
    store
        .unregister_plate(&reg.plate, &reg.driver_id)
        .await
        .expect("release");
    store.register_plate(&reg).await.expect("register again");
    let sent = faults.take();
    let registers: Vec<Option<String>> = [&sent[0], &sent[2]]
        .iter()
        .map(|s| token(&s.body))
        .collect();
    assert_eq!(operations(&sent), [TWI, TWI, TWI]);
    assert_ne!(registers[0], registers[1], "each call its own");
    assert_eq!(
        store.plate_owner(&reg.plate).await.expect("owner"),
        Some(reg.clone()),
        "registered again"
    );
    assert_eq!(
        parking_tests::slot_taken(&store, &lot, r.start).await,
        1,
        "taken once"
    );
}

#[tokio::test]
async fn throttled_transactions_are_retried_too() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let s = fx::session("s-slow", "lot-f", "品川 300 さ 12-34");
    faults.take();
    faults.inject(TWI, &[Fault::TransactionThrottled]);
    assert_eq!(
        store
            .commit_read(&fx::commit(
                1,
                &s,
                &fx::event("cam-1", s.id.as_str(), "2026-11-24T09:00:01+09:00"),
                1
            ))
            .await
            .expect("open"),
        Applied::Done
    );
    assert_eq!(operations(&faults.take()), [TWI, TWI]);
}

#[tokio::test]
async fn conflicting_transactions_are_retried_then_succeed() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let s = fx::session("s-busy", "lot-f", "品川 300 さ 12-34");
    faults.take();
    faults.inject(
        TWI,
        &[Fault::TransactionConflict, Fault::TransactionConflict],
    );
    assert_eq!(
        store
            .commit_read(&fx::commit(
                1,
                &s,
                &fx::event("cam-1", s.id.as_str(), "2026-11-24T09:00:01+09:00"),
                1
            ))
            .await
            .expect("open"),
        Applied::Done
    );
    assert_eq!(operations(&faults.take()), [TWI, TWI, TWI]);
    assert_eq!(store.get_session(&s.id).await.expect("stored"), s);
}

#[tokio::test]
async fn transactions_that_keep_conflicting_give_up_retryably() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let s = fx::session("s-jam", "lot-f", "品川 300 さ 12-34");
    faults.take();
    faults.inject(TWI, &[Fault::TransactionConflict; 10]);
    let err = store
        .commit_read(&fx::commit(
            1,
            &s,
            &fx::event("cam-1", s.id.as_str(), "2026-11-24T09:00:01+09:00"),
            1,
        ))
        .await
        .expect_err("gave up");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    let attempts = usize::try_from(MAX_ATTEMPTS).expect("attempts");
    assert_eq!(operations(&faults.take()), vec![TWI; attempts]);
    assert!(matches!(
        store.get_session(&s.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn server_errors_are_retried_by_the_sdk_and_then_reported_retryable() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let s = fx::session("s-500", "lot-f", "品川 300 さ 12-34");
    faults.take();
    faults.inject(TWI, &[Fault::ServerError, Fault::ServerError]);
    assert_eq!(
        store
            .commit_read(&fx::commit(
                1,
                &s,
                &fx::event("cam-1", s.id.as_str(), "2026-11-24T09:00:01+09:00"),
                1
            ))
            .await
            .expect("third time"),
        Applied::Done
    );
    assert_eq!(operations(&faults.take()), [TWI, TWI, TWI]);

    faults.inject("GetItem", &[Fault::ServerError; 3]);
    let err = store.get_session(&s.id).await.expect_err("three 500s");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert_eq!(operations(&faults.take()), ["GetItem"; 3]);
}

/// A plate read through the handler on DynamoDB whose commit answer is
/// lost, or whose commit meets a conflicting transaction: applied once,
/// reported as applied, never as a duplicate of itself.
#[tokio::test]
async fn a_plate_read_whose_commit_was_lost_or_conflicted_is_applied_once() {
    use crate::devices::{AIKO, LOT, STRANGER, fx_id, read, scenario, t};
    use parking_app::scenario::set_up;
    use parking_app::usecases::device_events::DeviceEvents;
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        parking_aws::MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    set_up(&events.store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let send = |m: serde_json::Value| {
        let events = &events;
        async move {
            let bytes = serde_json::to_vec(&m).expect("json");
            events.handle(&bytes, t("09:00:01")).await.expect("handled")
        }
    };
    faults.take();
    faults.inject(TWI, &[Fault::LostResponse]);
    let r = send(read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None)).await;
    assert_eq!(
        (r.applied, r.duplicates),
        (1, 0),
        "its own write, not a duplicate"
    );
    faults.inject(TWI, &[Fault::TransactionConflict]);
    let r = send(read("g-in", "in-2", STRANGER, 0.97, t("09:00:00"), None)).await;
    assert_eq!(r.applied, 1, "a conflict is retried");
    let sessions = events
        .store
        .lot_sessions(&fx_id(LOT))
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(events.link.published().len(), 2);
}

/// DynamoDB refuses a write with an item over its limit: the device
/// message fails (so Lambda retries it and then keeps it in the
/// dead-letter queue) instead of reporting the read rejected and dropping
/// it; the rest of its batch is applied, and delivering it again applies
/// the read that failed and nothing twice.
#[tokio::test]
async fn a_write_refused_as_too_large_fails_the_message_and_loses_nothing() {
    use crate::devices::{AIKO, BEN, DAISUKE, backlog, read, scenario, t};
    use parking_app::scenario::set_up;
    use parking_app::usecases::device_events::DeviceEvents;
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        parking_aws::MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    set_up(&events.store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let message = backlog(
        "g-in",
        vec![
            read("g-in", "b-1", BEN, 0.97, t("09:00:00"), None),
            read("g-in", "b-2", AIKO, 0.97, t("09:01:00"), None),
            read("g-in", "b-3", DAISUKE, 0.97, t("09:02:00"), None),
        ],
        t("10:00:00"),
    );
    let bytes = serde_json::to_vec(&message).expect("json");
    faults.inject(TWI, &[Fault::ItemTooLarge]);
    let err = events
        .handle(&bytes, t("10:00:00"))
        .await
        .expect_err("the message fails");
    let text = err.to_string();
    assert!(text.contains("over the store's item limit"), "{text}");
    assert!(!text.contains("品川") && !text.contains("12-34"), "{text}");
    let open = |events: &DeviceEvents<parking_aws::DynamoStore, _>| {
        let store = events.store.clone();
        async move {
            store
                .lot_sessions(&crate::devices::fx_id(crate::devices::LOT))
                .await
                .expect("sessions")
                .len()
        }
    };
    assert_eq!(open(&events).await, 2, "the rest of the batch is applied");
    // Lambda's retry: the one that failed is applied, the others are
    // duplicates.
    let r = events.handle(&bytes, t("10:00:05")).await.expect("handled");
    assert_eq!((r.applied, r.duplicates), (1, 2));
    assert_eq!(open(&events).await, 3);
}

/// The gate's latency budget on DynamoDB with 20 ms a request and one
/// request stalling for 3 s: the stalled request is given up on after its
/// attempt deadline and tried again within the same invocation, and every
/// read gets its gate command back from the invocation itself (no Lambda
/// retry a minute later, when the read is no longer live). The handler's
/// times are printed as p50/p99; they are figures, not assertions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_costs_the_gate_one_attempt_not_the_invocation() {
    use crate::devices::{AIKO, read, scenario, t};
    use jiff::SignedDuration;
    use parking_app::scenario::set_up;
    use parking_app::usecases::device_events::DeviceEvents;
    use std::time::{Duration, Instant};

    let faults = faulty_http().await;
    // The deployed gate function cuts an attempt at 300 ms; a loaded test
    // machine's local endpoint can be slower than DynamoDB, so here a
    // second.
    let deadlines = parking_aws::config::Deadlines {
        attempt: Duration::from_millis(1000),
        operation: Duration::from_millis(5000),
    };
    let store = parking_tests::deadline_dynamo_store(&faults, &deadlines).await;
    let events = DeviceEvents::new(
        store,
        parking_aws::MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    set_up(&events.store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    faults.set_latency(Duration::from_millis(20));
    let mut took: Vec<Duration> = Vec::new();
    let mut stalled = Vec::new();
    for day in 0..10i32 {
        for (gate, hhmmss) in [("g-in", "09:00:00"), ("g-out", "10:00:00")] {
            let at = t(hhmmss) + SignedDuration::from_hours(24) * day;
            let message = read(gate, &format!("{gate}-{day}"), AIKO, 0.97, at, None);
            let received = at + SignedDuration::from_secs(1);
            let stall = day == 5 && gate == "g-in";
            faults.take();
            if stall {
                faults.inject("BatchGetItem", &[Fault::Stall(Duration::from_secs(3))]);
            }
            let bytes = serde_json::to_vec(&message).expect("json");
            let started = Instant::now();
            let r = events.handle(&bytes, received).await.expect("handled");
            took.push(started.elapsed());
            assert_eq!(r.applied, 1, "{gate} day {day}: {r:?}");
            assert_eq!(r.commands.len(), 1, "the command, from the invocation");
            if stall {
                stalled = faults.take();
            }
        }
    }
    let gets = stalled
        .iter()
        .filter(|s| s.operation == "BatchGetItem")
        .count();
    assert_eq!(gets, 2, "the stalled request given up on and sent again");
    assert_eq!(events.link.published().len(), 20);
    took.sort();
    let pick = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    println!(
        "gate reads on DynamoDB, 20 ms a request, one stalled 3 s: p50 {:?}, p99 {:?}, max {:?}",
        pick(0.5),
        pick(0.99),
        took.last().copied().unwrap_or_default()
    );
}
