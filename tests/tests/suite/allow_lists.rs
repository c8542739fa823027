//! Gates' offline allow-lists, kept from the table's stream: the records
//! DynamoDB holds after real reads, delivered as the stream would, merged
//! lot by lot, sent to every gate's shadow, and bounded over months.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::SignedDuration;
use parking_app::allow_lists::{self, AllowListStore, LotAllowList, Mark};
use parking_app::usecases::allow_list::{self, plate_key};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::*;
use parking_aws::{DynamoStore, MemoryLink, MemoryStore, lambda};
use parking_tests::{RequestCounter, dynamo_client, fresh_table, stream_record as record};
use serde_json::{Value, json};

use crate::devices::{AIKO, BEN, DAISUKE, LOT, STRANGER, fx_id, read, scenario, t};

/// The stream records of the table's items of these kinds, as Lambda
/// delivers them (the sessions' and reservations' as modifications, the
/// rest as inserts), plus one that cannot be read.
async fn stream_of(client: &aws_sdk_dynamodb::Client, table: &str, kinds: &[&str]) -> StreamEvent {
    let items = client
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let mut records: Vec<Value> = Vec::new();
    for item in items {
        let kind = match item.get("type") {
            Some(AttributeValue::S(k)) if kinds.contains(&k.as_str()) => k.clone(),
            _ => continue,
        };
        let insert = kind == "lot_device";
        let keys: HashMap<String, AttributeValue> = item
            .iter()
            .filter(|(k, _)| *k == "PK" || *k == "SK")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        records.push(record(
            records.len(),
            if insert { "INSERT" } else { "MODIFY" },
            keys.into(),
            item.into(),
        ));
    }
    // A session item this code cannot read: logged and skipped.
    let broken: HashMap<String, AttributeValue> = HashMap::from([
        ("PK".to_owned(), AttributeValue::S("SESSION#s-x".into())),
        ("SK".to_owned(), AttributeValue::S("SESSION".into())),
        ("type".to_owned(), AttributeValue::S("session".into())),
        ("plate".to_owned(), AttributeValue::N("7".into())),
    ]);
    records.push(record(
        records.len(),
        "MODIFY",
        broken.clone().into(),
        broken.into(),
    ));
    serde_json::from_value(json!({ "Records": records })).expect("stream event")
}

type StreamEvent = aws_lambda_events::event::dynamodb::Event;

/// A plate nobody in the scenario has.
const OTHER: &str = "品川 330 す 10-01";

fn writes(ops: &[String]) -> Vec<String> {
    ops.iter()
        .filter(|o| !matches!(o.as_str(), "GetItem" | "Query" | "BatchGetItem" | "Scan"))
        .cloned()
        .collect()
}

/// A registered driver's stay makes the lot's list in DynamoDB, every
/// gate's shadow gets it, a stranger is not on it, a gate registered
/// later is sent it, and the same batch again writes nothing.
#[tokio::test]
async fn allow_lists_follow_the_stream_through_dynamodb() {
    let counter = RequestCounter::default();
    let table = fresh_table().await;
    let client = dynamo_client(Some(counter.clone()), None).await;
    let store = DynamoStore::new(client.clone(), table.clone());
    parking_app::scenario::set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(store, MemoryLink::default(), SignedDuration::from_mins(1));
    for (id, plate, at) in [("in-1", AIKO, "09:00:00"), ("in-2", STRANGER, "09:05:00")] {
        let m = read("g-in", id, plate, 0.97, t(at), None);
        let r = events
            .handle(&serde_json::to_vec(&m).expect("json"), t(at))
            .await
            .expect("handled");
        assert_eq!(r.applied, 1);
    }
    // A stranger holds a pass: listed although no card is on file.
    use parking_app::usecases::adjust::{NewPass, Staff, issue_pass};
    let operator = Actor {
        role: "operator".into(),
        subject: "op-1".into(),
    };
    issue_pass(
        &events.store,
        Staff {
            actor: &operator,
            lot_id: &fx_id(LOT),
            now: t("09:06:00"),
        },
        &NewPass {
            plate: parking_core::Plate::parse(DAISUKE).expect("plate"),
            valid_from: t("00:00:00"),
            valid_until: t("00:00:00") + SignedDuration::from_hours(24 * 30),
        },
        "pass-1",
    )
    .await
    .expect("pass");
    let link = MemoryLink::default();
    let batch = stream_of(
        &client,
        &table,
        &["session", "reservation", "pass", "lot_device"],
    )
    .await;
    counter.take();
    let (answer, lot, pushed) =
        lambda::merge_allow_lists(&events.store, &link, batch.clone(), t("09:10:00")).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(lot, Some(fx_id(LOT)));
    assert_eq!(pushed, 0, "plates added wait for the hourly refresh");
    let ops = counter.take();
    assert_eq!(writes(&ops), ["PutItem"], "one write: the lot's marks");
    let refreshed = allow_list::refresh_all(&events.store, &link, t("10:00:00"))
        .await
        .expect("refreshed");
    assert_eq!(
        (refreshed.pushed, refreshed.unsent),
        (2, 0),
        "both gate devices; the sensors get none"
    );
    assert!(
        writes(&counter.take()).is_empty(),
        "a refresh writes nothing new"
    );
    for gate in ["cam-in", "cam-out"] {
        let list = link.shadow(&fx_id(gate)).expect("a list");
        assert!(list.allows(AIKO), "{gate}");
        assert!(list.allows(DAISUKE), "{gate}: a pass");
        assert!(!list.allows(STRANGER), "{gate}: no card, not listed");
    }

    // The same batch again (a retry): nothing written, nothing sent.
    let (answer, _, pushed) =
        lambda::merge_allow_lists(&events.store, &link, batch, t("09:11:00")).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(pushed, 0);
    assert!(writes(&counter.take()).is_empty());

    // A gate camera registered later gets the list with its registration.
    events
        .store
        .put_device(&Device {
            id: fx_id("cam-side"),
            lot_id: fx_id(LOT),
            kind: DeviceKind::Camera,
            gate_id: Some(fx_id("g-in")),
            bay_id: None,
            presence: None,
        })
        .await
        .expect("registered");
    let mut batch = stream_of(&client, &table, &["lot_device"]).await;
    batch
        .records
        .retain(|r| format!("{:?}", r.change.keys).contains("cam-side"));
    assert_eq!(batch.records.len(), 1);
    let (answer, _, pushed) =
        lambda::merge_allow_lists(&events.store, &link, batch, t("09:12:00")).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(pushed, 1);
    assert!(link.shadow(&fx_id("cam-side")).expect("sent").allows(AIKO));

    // Two batches of one lot at once, each reading and writing
    // conditionally: both marks are kept, whichever writes first (the
    // refusal of a stale write is shown below).
    let lot_id: LotId = fx_id(LOT);
    let mark = |p: &str| Mark {
        lot_id: lot_id.clone(),
        plate: plate_key(&lot_id, &parking_core::Plate::parse(p).expect("plate")),
        at: t("09:20:00"),
        allowed: true,
    };
    let (ben, other) = ([mark(BEN)], [mark(OTHER)]);
    let (a, b) = tokio::join!(
        allow_list::merge(&events.store, &link, &lot_id, &ben, t("09:20:00")),
        allow_list::merge(&events.store, &link, &lot_id, &other, t("09:20:00")),
    );
    a.expect("one");
    b.expect("the other");
    allow_list::refresh_all(&events.store, &link, t("10:20:00"))
        .await
        .expect("refreshed");
    let list = link.shadow(&fx_id("cam-in")).expect("a list");
    assert!(list.allows(AIKO) && list.allows(BEN) && list.allows(OTHER));

    // A write that names a version already written is refused, and the
    // very same write repeated is found done.
    let held = events
        .store
        .allow_list(&lot_id)
        .await
        .expect("read")
        .expect("a list");
    let mut stale = held.clone();
    stale.allowed.clear();
    assert!(matches!(
        events.store.put_allow_list(&stale).await,
        Err(StoreError::Conflict(Refusal::AllowListChanged { .. }))
    ));
    events
        .store
        .put_allow_list(&held)
        .await
        .expect("the same write again");
}

/// Plates added go to the gates with the hourly refresh; a gate whose
/// shadow could not be updated fails nothing and is sent its list by the
/// next refresh; once up to date, a refresh sends nothing. A card that
/// fails strikes its plate off every gate at once.
#[tokio::test]
async fn a_gate_that_missed_its_list_is_sent_it_later_and_a_failed_card_leaves_it_at_once() {
    let store = MemoryStore::default();
    parking_app::scenario::set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let link = MemoryLink::default();
    let lot_id: LotId = fx_id(LOT);
    let mark = |at: &str, allowed: bool| Mark {
        lot_id: lot_id.clone(),
        plate: plate_key(&lot_id, &parking_core::Plate::parse(AIKO).expect("plate")),
        at: t(at),
        allowed,
    };
    let merge = |m: Vec<Mark>, now: &str| {
        let (store, link, lot_id, now) = (&store, &link, &lot_id, t(now));
        async move {
            allow_list::merge(store, link, lot_id, &m, now)
                .await
                .expect("merged")
        }
    };
    let refresh = |now: &str| {
        let (store, link, now) = (&store, &link, t(now));
        async move {
            let m = allow_list::refresh_all(store, link, now)
                .await
                .expect("refreshed");
            (m.pushed, m.unsent)
        }
    };
    let added = merge(vec![mark("09:00:00", true)], "09:01:00").await;
    assert_eq!((added.written, added.pushed), (true, 0));
    link.fail_next(1);
    assert_eq!(refresh("10:00:00").await, (1, 1), "one gate missed it");
    assert_eq!(refresh("11:00:00").await, (1, 0), "sent the next hour");
    assert_eq!(refresh("12:00:00").await, (0, 0), "up to date");
    for gate in ["cam-in", "cam-out"] {
        assert!(
            link.shadow(&fx_id(gate)).expect("sent").allows(AIKO),
            "{gate}"
        );
    }
    let again = merge(vec![mark("09:00:00", true)], "12:03:00").await;
    assert_eq!((again.written, again.pushed, again.unsent), (false, 0, 0));

    let struck = merge(vec![mark("12:30:00", false)], "12:31:00").await;
    assert_eq!((struck.written, struck.pushed), (true, 2), "at once");
    for gate in ["cam-in", "cam-out"] {
        assert!(
            !link.shadow(&fx_id(gate)).expect("sent").allows(AIKO),
            "{gate}"
        );
    }
}

/// Sixty days of a busy lot: 300 card stays a day from 5,000 drivers, a
/// taxi in and out 40 times a day, one card in 30 failing. The list stays
/// at 400 plates, the stored marks under 20 KB, the taxi always on it,
/// and a merge reads and writes no more on day 60 than on day 10.
#[tokio::test]
async fn an_allow_list_stays_bounded_over_sixty_days_of_a_busy_lot() {
    let store = MemoryStore::default();
    parking_app::scenario::set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let link = MemoryLink::default();
    let lot_id: LotId = fx_id(LOT);
    let start = t("00:00:00");
    let mut seed: u64 = 0x5eed_1234;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let taxi = "7a7a7a7a7a7a".to_owned();
    let mut daily: Vec<(u64, f64, f64, usize)> = Vec::new();
    let mut largest = 0usize;
    for day in 0..60i64 {
        let before = store.store_use();
        let day_start = start + SignedDuration::from_hours(24 * day);
        let mut marks: Vec<Mark> = Vec::new();
        for i in 0..40 {
            marks.push(Mark {
                lot_id: lot_id.clone(),
                plate: taxi.clone(),
                at: day_start + SignedDuration::from_mins(30 * i + 20),
                allowed: true,
            });
        }
        for _ in 0..300 {
            let driver = next() % 5_000;
            marks.push(Mark {
                lot_id: lot_id.clone(),
                plate: format!("{driver:012x}"),
                at: day_start + SignedDuration::from_secs((next() % 86_400) as i64),
                allowed: next() % 30 != 0,
            });
        }
        marks.sort_by_key(|m| m.at);
        // The function's batches: here half an hour's changes each, 48 a
        // day (it waits at most five minutes; at that pace the test takes
        // too long unoptimised, and a write is still at most one a batch).
        for window in 0..48 {
            let end = day_start + SignedDuration::from_mins(30 * (window + 1));
            let batch: Vec<Mark> = marks
                .iter()
                .filter(|m| m.at < end && m.at >= end - SignedDuration::from_mins(30))
                .cloned()
                .collect();
            allow_list::merge(&store, &link, &lot_id, &batch, end)
                .await
                .expect("merged");
            if window % 2 == 1 {
                allow_list::refresh_all(&store, &link, end)
                    .await
                    .expect("refreshed");
            }
        }
        let held: LotAllowList = store
            .allow_list(&lot_id)
            .await
            .expect("read")
            .expect("a list");
        largest = largest.max(serde_json::to_vec(&held).expect("json").len());
        assert!(held.allowed.len() <= allow_lists::MAX_ALLOWED);
        assert!(held.struck.len() <= allow_lists::MAX_STRUCK);
        let plates = held.plates();
        assert!(plates.len() <= allow_lists::MAX_ENTRIES, "day {day}");
        if day >= 2 {
            assert_eq!(plates.len(), allow_lists::MAX_ENTRIES, "day {day}: full");
        }
        assert!(plates.contains(&taxi), "day {day}: the taxi");
        let used = store.store_use();
        daily.push((
            used.writes - before.writes,
            used.read_units - before.read_units,
            used.write_units - before.write_units,
            plates.len(),
        ));
    }
    let shadow = link.shadow(&fx_id("cam-in")).expect("a list");
    assert_eq!(shadow.plates.len(), allow_lists::MAX_ENTRIES);
    assert!(
        serde_json::to_vec(&json!({"state": {"desired": {"allow": shadow}}}))
            .expect("json")
            .len()
            < 8 * 1024,
        "a shadow's desired state is at most 8 KB"
    );
    assert!(largest < 20 * 1024, "the marks item: {largest} bytes");
    let (early, late) = (&daily[9], &daily[59]);
    eprintln!(
        "allow-list, day 10 / day 60: writes {} / {}, read units {:.0} / {:.0}, write units {:.0} / {:.0}; largest item {largest} bytes",
        early.0, late.0, early.1, late.1, early.2, late.2
    );
    assert!(late.0 <= 48, "at most one write a batch: {}", late.0);
    assert!(
        late.1 <= early.1 * 1.25 && late.2 <= early.2 * 1.25,
        "flat as history grows: {early:?} then {late:?}"
    );
}
