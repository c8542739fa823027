//! A gate's backlog after an outage takes its own path: its IoT rule puts
//! it in a queue that its own function drains at a capped concurrency,
//! while the live reads go straight to the gate function. A 1,000-message
//! upload at a lot does not stand between that lot's live entries and
//! their barrier, and its writes spread over the plates' own items and
//! the lot's count shards.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use jiff::SignedDuration;
use parking_app::commands::Reason;
use parking_app::scenario::set_up;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::*;
use parking_aws::lambda::apply_queued;
use parking_aws::{MemoryLink, MemoryStore};
use parking_core::SessionState;

use crate::devices::{LOT, backlog, read, scenario, t};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The fleet: distinct plates of the same form.
fn plate(i: usize) -> String {
    const KANA: [&str; 8] = ["さ", "す", "せ", "そ", "た", "ち", "つ", "て"];
    format!(
        "足立 500 {} {:02}-{:02}",
        KANA[i % KANA.len()],
        10 + (i / KANA.len()) % 90,
        10 + i % 89
    )
}

#[test]
fn live_reads_and_backlogs_take_separate_paths() {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let r = &doc["Resources"];
    let sql = |rule: &str| {
        r[rule]["Properties"]["TopicRulePayload"]["Sql"]
            .as_str()
            .expect("sql")
            .to_owned()
    };
    let actions =
        |rule: &str| format!("{:?}", r[rule]["Properties"]["TopicRulePayload"]["Actions"]);
    // The live rule takes the gates' live reads only, to the gate function.
    assert!(sql("GateEventsRule").contains("FROM 'parking/+/gates/+/events'"));
    assert!(!sql("GateEventsRule").contains("backlog"));
    assert!(actions("GateEventsRule").contains("GateEventsFunction"));
    // Backlogs go to their queue, which their own function drains.
    assert!(sql("GateBacklogRule").contains("FROM 'parking/+/gates/+/backlog'"));
    let backlog_actions = actions("GateBacklogRule");
    assert!(backlog_actions.contains("Sqs") && backlog_actions.contains("GateBacklogQueue"));
    let source = &r["GateBacklogFunction"]["Properties"]["Events"]["Backlogs"];
    assert_eq!(source["Type"].as_str(), Some("SQS"));
    let props = &source["Properties"];
    assert!(format!("{:?}", props["Queue"]).contains("GateBacklogQueue"));
    assert_eq!(
        props["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    let concurrency = props["ScalingConfig"]["MaximumConcurrency"]
        .as_u64()
        .expect("a capped concurrency");
    assert!(concurrency <= 2, "{concurrency}");
    // The rule may send to the queue; the live function has no queue.
    let role = format!("{:?}", r["IotRuleErrorRole"]);
    assert!(role.contains("GateBacklogQueue"));
    assert!(r["GateEventsFunction"]["Properties"]["Events"].is_null());
}

fn queued(i: usize, body: &serde_json::Value) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m-{i}"));
    m.body = Some(body.to_string());
    m
}

#[tokio::test]
async fn a_thousand_message_backlog_does_not_delay_the_lots_live_entries() {
    let store = MemoryStore::default();
    set_up(&store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let lot_id: LotId = LOT.parse().expect("lot");
    let mut lot = store.get_lot(&lot_id).await.expect("lot");
    lot.capacity = 2_000;
    store.put_lot(&lot).await.expect("lot");
    let live = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);
    let drainer = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);

    // The gates were offline from 06:00 to 09:00: 500 cars came and went,
    // and each gate uploads its reads, one backlog message a read, at
    // 09:00. The rule puts them in the backlog queue.
    let upload = t("09:00:00");
    let mut queue: Vec<SqsMessage> = Vec::new();
    for car in 0..500 {
        let entry = t("06:00:00") + SignedDuration::from_secs(15 * car as i64);
        let exit = entry + SignedDuration::from_mins(45);
        for (gate, at) in [("g-in", entry), ("g-out", exit)] {
            let n = queue.len();
            let r = read(gate, &format!("b-{n}"), &plate(car), 0.97, at, None);
            queue.push(queued(n, &backlog(gate, vec![r], upload)));
        }
    }
    assert_eq!(queue.len(), 1_000);

    // While the upload waits in its queue, the lot's live entries are
    // answered at once, each with its usual requests.
    for i in 0..40 {
        let at = upload + SignedDuration::from_secs(15 * i);
        let m = read(
            "g-in",
            &format!("live-{i}"),
            &plate(1_000 + i as usize),
            0.97,
            at,
            None,
        );
        let before = store.requests();
        let report = live
            .handle(
                &serde_json::to_vec(&m).expect("json"),
                at + SignedDuration::from_secs(1),
            )
            .await
            .expect("handled");
        let used = store.requests().since(before);
        assert_eq!(report.commands.len(), 1, "entry {i} answered");
        assert_eq!(report.commands[0].1.reason, Reason::Welcome);
        // The plate, the lot's live state and the plate's unpaid stays
        // read together, the driver, the commit.
        assert!(used.total() <= 5, "entry {i}: {used:?}");
    }

    // The backlog function drains the queue ten messages a batch: nothing
    // is lost and nothing comes again.
    let clock = FixedClock(upload + SignedDuration::from_mins(20));
    for batch in queue.chunks(10) {
        let mut event = SqsEvent::default();
        event.records = batch.to_vec();
        let (response, lot) = apply_queued(&drainer, &clock, event).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(lot, Some(lot_id.clone()));
    }
    let sessions = store.lot_sessions(&lot_id).await.expect("sessions");
    let count = |state: SessionState| sessions.iter().filter(|s| s.state == state).count();

    assert_eq!(count(SessionState::Open), 40, "the live entries are in");
    assert_eq!(
        sessions.len() - count(SessionState::Open),
        500,
        "every backlog stay made"
    );
    assert!(
        sessions
            .iter()
            .filter(|s| s.state != SessionState::Open)
            .all(|s| s.exit_at.is_some() && s.fee.is_some()),
        "every backlog stay priced"
    );
    assert_eq!(
        store
            .occupancy(&lot, clock.0)
            .await
            .expect("occupancy")
            .open_sessions,
        40
    );
    // The gates were told nothing of the backlog: barriers move for live
    // reads only.
    assert_eq!(drainer.link.published().len(), 0);

    // Its writes spread: each car's reads go to its own plate's items,
    // and the lot's count to one of its shards by plate, none taking more
    // than twice its share.
    let mut shards: BTreeMap<u64, usize> = BTreeMap::new();
    for car in 0..500 {
        let p = parking_core::Plate::parse(&plate(car)).expect("plate");
        *shards
            .entry(parking_aws::dynamo::keys::plate_shard(&p))
            .or_default() += 1;
    }
    let shard_count = parking_aws::dynamo::keys::LIVE_SHARDS as usize;
    assert_eq!(shards.len(), shard_count);
    let busiest = shards.values().max().copied().unwrap_or_default();
    assert!(busiest <= 2 * 500 / shard_count, "{shards:?}");
}

/// The sample batch in `events/sqs-gate-backlog.json`, as the backlog
/// queue hands it to the function: both gates' backlogs applied, the
/// car's stay made from them, and nothing to deliver again.
#[tokio::test]
async fn the_sample_backlog_batch_makes_its_stays() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/sqs-gate-backlog.json"
    ))
    .expect("sample event");
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let store = MemoryStore::default();
    set_up(&store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);
    let clock = FixedClock(t("09:00:00") + SignedDuration::from_hours(24 * 4));
    let (response, lot) = apply_queued(&events, &clock, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(lot.map(|l| l.to_string()), Some(LOT.to_owned()));
    let sessions = store
        .lot_sessions(&LOT.parse().expect("lot"))
        .await
        .expect("sessions");
    // 練馬 in at 06:40 and out at 07:12 (read twice: one passage), priced;
    // the unreadable entry is a stay of its own for review; the doubtful
    // 横浜 exit is its own too, unverified.
    let nerima = parking_core::Plate::parse("練馬 500 な 88-88").expect("plate");
    let stay = sessions
        .iter()
        .find(|s| s.plate == nerima)
        .expect("練馬's stay");
    assert_eq!(stay.state, SessionState::Priced);
    assert_eq!(
        (stay.entry_at, stay.exit_at),
        (
            "2026-11-28T06:40:02+09:00".parse().expect("time"),
            Some("2026-11-28T07:12:40+09:00".parse().expect("time"))
        )
    );
    assert!(stay.fee.is_some_and(|f| f.minor > 0));
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert!(
        sessions
            .iter()
            .filter(|s| s.plate != nerima)
            .all(|s| s.flags.contains(&SessionFlag::PlateUnverified)),
        "{sessions:?}"
    );
    assert_eq!(events.link.published().len(), 0, "no barrier moves");
}

/// A queued message that is no backlog at all comes again (and then waits
/// in the dead-letter queue); a bad read among good ones is refused on
/// its own; the rest of the batch is applied.
#[tokio::test]
async fn a_message_that_is_no_backlog_is_kept_for_the_dead_letter_queue() {
    let store = MemoryStore::default();
    set_up(&store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);
    let upload = t("09:00:00");
    let good = backlog(
        "g-in",
        vec![
            read("g-in", "ok-1", &plate(1), 0.97, t("07:00:00"), None),
            serde_json::json!({"event_id": "bad-1", "type": "plate_read", "direction": "entry"}),
        ],
        upload,
    );
    let mut junk = SqsMessage::default();
    junk.message_id = Some("junk".into());
    junk.body = Some("not json".into());
    let unknown_gate = {
        let mut b = backlog(
            "g-in",
            vec![read("g-in", "ok-2", &plate(2), 0.97, t("07:10:00"), None)],
            upload,
        );
        b["topic"] = serde_json::json!(format!("parking/{LOT}/gates/g-nowhere/backlog"));
        b
    };
    let mut event = SqsEvent::default();
    event.records = vec![queued(1, &good), junk, queued(3, &unknown_gate)];
    let clock = FixedClock(upload + SignedDuration::from_mins(1));
    let (response, _) = apply_queued(&events, &clock, event).await;
    let again: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(again, ["junk".to_owned(), "m-3".to_owned()]);
    let sessions = store
        .lot_sessions(&LOT.parse().expect("lot"))
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1, "the good read of the first backlog");
}

/// The sample batch in `events/sqs-bay-readings.json`, as the bay
/// readings queue hands it to the function: a reading, its 15-minute
/// repeat and a change, with nothing to deliver again and the bay as the
/// last reading says.
#[tokio::test]
async fn the_sample_bay_batch_keeps_the_last_change() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/sqs-bay-readings.json"
    ))
    .expect("sample event");
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let store = MemoryStore::default();
    set_up(&store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);
    let clock = FixedClock(t("10:06:00"));
    let (response, lot) = apply_queued(&events, &clock, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(lot.map(|l| l.to_string()), Some(LOT.to_owned()));
    let bay = store
        .bay(&LOT.parse().expect("lot"), &"A-01".parse().expect("bay"))
        .await
        .expect("read")
        .expect("bay");
    assert_eq!((bay.occupied, bay.seq), (Some(false), 4413));
    // (That the repeat wrote nothing is shown against DynamoDB itself:
    // `dynamodb::an_unchanged_bay_reading_makes_no_dynamodb_write`.)
}
