//! Cost per session: what the cost accounting counts for one entry and one
//! exit is exactly the store requests the request-count tests assert
//! (`devices::store_requests_per_plate_read_stay_within_budget`: an entry
//! 3 reads and 1 write, an exit 2 reads and 1 write), with the capacity
//! units DynamoDB's rules give them: estimated by the in-memory twin, and
//! as DynamoDB reports them (`ReturnConsumedCapacity`) on the local
//! endpoint.

use jiff::SignedDuration;
use parking_app::scenario::set_up;
use parking_app::usecases::cost::{PriceTable, StoreUse};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::{DynamoStore, MemoryLink, MemoryStore};

use crate::devices::{AIKO, bay, read, scenario, t};

/// An entry and an exit of a registered car, with the lot configuration
/// warm, each measured by `usage`.
async fn entry_and_exit<S: parking_app::Store>(
    events: &DeviceEvents<S, MemoryLink>,
    usage: impl Fn() -> StoreUse,
) -> (StoreUse, StoreUse) {
    set_up(&events.store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let send = |m: serde_json::Value, at| {
        let bytes = serde_json::to_vec(&m).expect("json");
        async move { events.handle(&bytes, at).await.expect("handled") }
    };
    send(
        bay("A-01", "b-1", Some(false), 0.9, 1, t("08:59:30")),
        t("08:59:31"),
    )
    .await;
    let before = usage();
    send(
        read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None),
        t("09:00:01"),
    )
    .await;
    let entry = usage().since(&before);
    send(
        bay("A-02", "b-2", Some(false), 0.9, 1, t("10:59:30")),
        t("10:59:31"),
    )
    .await;
    let before = usage();
    send(
        read("g-out", "out-1", AIKO, 0.97, t("11:00:00"), None),
        t("11:00:01"),
    )
    .await;
    let exit = usage().since(&before);
    (entry, exit)
}

#[tokio::test]
async fn the_memory_twin_counts_an_entry_and_an_exit_as_the_store_count_tests_do() {
    let events = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    let (entry, exit) = entry_and_exit(&events, || events.store.store_use()).await;
    // The plate, the lot's state and the plate's unpaid stays (read
    // together), the driver; the commit.
    assert_eq!((entry.reads, entry.writes), (4, 1), "registered entry");
    assert_eq!((exit.reads, exit.writes), (2, 1), "registered exit");
    // Every read request costs at least a unit (a batch get of the
    // timeline and the registration two), every transactional write at
    // least two.
    assert!(entry.read_units >= 4.0, "{entry:?}");
    assert!(entry.write_units >= 2.0 * 4.0, "{entry:?}");
    assert!(exit.read_units >= 3.0, "{exit:?}");
    assert!(exit.write_units >= 2.0 * 3.0, "{exit:?}");
}

#[tokio::test]
async fn dynamodb_reports_the_units_of_the_same_requests() {
    let sdk = parking_tests::local_sdk_config().await;
    let store = DynamoStore::metered(
        aws_sdk_dynamodb::config::Builder::from(&sdk),
        parking_tests::fresh_table().await,
    );
    let events = DeviceEvents::new(
        store.clone(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    let (entry, exit) =
        entry_and_exit(&events, || store.consumed().expect("a metered store")).await;
    // The plate, the lot's state and the plate's unpaid stays (read
    // together), the driver; the commit.
    assert_eq!((entry.reads, entry.writes), (4, 1), "registered entry");
    assert_eq!((exit.reads, exit.writes), (2, 1), "registered exit");
    // The local endpoint reports the reads' consumed capacity; it reports
    // none for TransactWriteItems (DynamoDB does), which the meter then
    // counts by DynamoDB's rules from the items sent: at least two units
    // an item.
    assert!(entry.read_units >= 3.0, "{entry:?}");
    assert!(exit.read_units >= 2.0, "{exit:?}");
    assert!(entry.write_units >= 2.0 * 4.0, "{entry:?}");
    assert!(exit.write_units >= 2.0 * 3.0, "{exit:?}");
}

/// A warm device function adds its lots' usage to their days at most once
/// a minute; each hour goes to the lot's local date.
#[tokio::test]
async fn a_warm_function_records_its_lots_usage_at_most_once_a_minute_on_dynamodb() {
    use parking_app::usecases::cost::{Usage, UsageBuffer};
    use parking_app::{LotId, UsageStore};

    let store = parking_tests::fresh_dynamo_store(None).await;
    set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let lot: LotId = crate::devices::LOT.parse().expect("lot");
    let one = Usage {
        dynamodb_read_requests: 3,
        dynamodb_write_requests: 1,
        dynamodb_read_units: 4.5,
        dynamodb_write_units: 6.0,
        iot_inbound_messages: 1,
        iot_outbound_messages: 1,
        lambda_invocations: 1,
        lambda_gb_seconds: 0.0125,
        ..Usage::default()
    };
    let buffer = UsageBuffer::new(SignedDuration::from_secs(60));
    buffer.add(&lot, t("23:30:00"), &one);
    assert_eq!(
        buffer
            .flush_if_due(&store, t("23:30:01"))
            .await
            .expect("flush"),
        1
    );
    buffer.add(&lot, t("23:30:10"), &one);
    assert_eq!(
        buffer
            .flush_if_due(&store, t("23:30:20"))
            .await
            .expect("flush"),
        0,
        "not a minute yet"
    );
    assert_eq!(
        buffer
            .flush_if_due(&store, t("23:31:05"))
            .await
            .expect("flush"),
        1
    );
    // 23:30 in Tokyo is 14:30 UTC: the lot's 30 November.
    let day = store
        .lot_usage(&lot, jiff::civil::date(2026, 11, 30))
        .await
        .expect("usage");
    assert_eq!(day, one.plus(&one));
    let none = store
        .lot_usage(&lot, jiff::civil::date(2026, 12, 1))
        .await
        .expect("usage");
    assert_eq!(none, Usage::default());
}

/// The simulator records each lot's device and stream usage by day, and
/// the lot's daily report prices it.
#[tokio::test]
async fn the_daily_report_prices_the_lots_recorded_usage() {
    use parking_app::simulator::world::{SimConfig, generate};
    use parking_app::usecases::operator::daily_report;

    let scenarios = generate(&SimConfig {
        lots: 2,
        ..SimConfig::default()
    })
    .expect("generate");
    let events = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    let summary =
        crate::simulate::run_through(&events, &scenarios, &parking_aws::DevProvider::default())
            .await;
    let mut messages = 0;
    for sc in &scenarios {
        for day in [
            jiff::civil::date(2026, 11, 30),
            jiff::civil::date(2026, 12, 1),
        ] {
            let r = daily_report(&events.store, &sc.lot.id, day)
                .await
                .expect("report");
            // Bay readings come through Basic Ingest; the rest through the
            // broker.
            messages += r.cost.usage.iot_inbound_messages + r.cost.usage.iot_ingest_messages;
            if day.day() == 30 {
                assert!(r.cost.total.total > 0.0, "{:?}", r.cost);
                assert_eq!(r.cost.prices_date, summary.cost.prices_date);
                assert!(
                    (r.cost.per_1000_sessions.total * f64::from(r.entries) / 1000.0
                        - r.cost.total.total)
                        .abs()
                        < 1e-9
                );
            }
        }
    }
    assert_eq!(messages, summary.messages, "every message is some lot's");
    let usage = &summary.cost.usage;
    assert_eq!(
        usage.iot_inbound_messages + usage.iot_ingest_messages,
        summary.messages
    );
    assert!(
        usage.iot_ingest_messages > 0,
        "bay readings through Basic Ingest"
    );
    assert!(summary.cost.per_1000_sessions.total > 0.0);
}

/// An entry at a 2,000-bay lot reads the lot's occupancy summary, not its
/// bays: under 10 read units (as DynamoDB's rules charge them, reported by
/// the local endpoint) and still 3 reads and 1 write, where reading every
/// bay would cost tens of units.
#[tokio::test]
async fn an_entry_at_a_2000_bay_lot_reads_under_10_units_in_5_requests() {
    use futures::StreamExt;
    use parking_app::{Bay, LotStore};

    let sdk = parking_tests::local_sdk_config().await;
    let store = DynamoStore::metered(
        aws_sdk_dynamodb::config::Builder::from(&sdk),
        parking_tests::fresh_table().await,
    );
    let events = DeviceEvents::new(
        store.clone(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let lot_id = crate::devices::LOT.parse().expect("lot");
    let mut lot = store.get_lot(&lot_id).await.expect("lot");
    lot.capacity = 2_000;
    store.put_lot(&lot).await.expect("a lot of 2,000 bays");
    // Every bay reports: 1,200 free, 800 taken.
    let readings = futures::stream::iter(0..2_000u32)
        .map(|i| {
            let bay = Bay {
                lot_id: lot.id.clone(),
                id: format!("L{}-{:04}", i / 500 + 1, i)
                    .parse()
                    .expect("bay id"),
                occupied: Some(i % 5 < 2),
                boot: 0,
                seq: 1,
                reported_at: t("08:30:00"),
                since: None,
            };
            let store = store.clone();
            async move { store.record_bay(&bay, None).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(readings.iter().all(Result::is_ok), "every reading kept");
    // The lot's configuration, warm, as a running function has it.
    let warm =
        serde_json::to_vec(&bay("A-01", "b-1", Some(false), 0.9, 1, t("08:59:30"))).expect("json");
    events.handle(&warm, t("08:59:31")).await.expect("handled");

    let before = store.consumed().expect("a metered store");
    let entry =
        serde_json::to_vec(&read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None)).expect("json");
    events.handle(&entry, t("09:00:01")).await.expect("handled");
    let used = store.consumed().expect("a metered store").since(&before);
    assert!(used.reads + used.writes <= 5, "{used:?}");
    assert!(used.read_units < 10.0, "{used:?}");

    // What the gate was spared: every bay and device, read in one go.
    let before = store.consumed().expect("a metered store");
    let live = store.lot_live(&lot, t("09:00:02")).await.expect("live");
    let all = store.consumed().expect("a metered store").since(&before);
    // The lot's own bay A-01 reported too.
    assert_eq!(live.bays.len(), 2_001);
    assert_eq!(live.occupancy.free.len(), 1_201);
    assert_eq!(live.occupancy.occupied, 800);
    assert!(
        all.read_units > 4.0 * used.read_units,
        "{all:?} against {used:?}"
    );
    println!("entry: {used:?}; every bay: {all:?}");
}

/// The sensors' price (`parkctl simulate --bays`): on change with a
/// 15-minute repeat, through Basic Ingest and batches, a lot's sensors
/// cost a small fraction of reporting every minute, within USD 20 a
/// month for 2,000 bays (here 200 bays, scaled: each bay costs the same),
/// and only changes are written.
#[tokio::test]
async fn sensors_reporting_on_change_stay_within_budget() {
    use parking_app::simulator::sensors::{SensorLoad, price_sensors};
    use parking_app::simulator::world::{SimConfig, generate};
    let cfg = SimConfig {
        capacity: 200,
        arrivals_per_day: 1,
        drivers: 1,
        calm: true,
        ..SimConfig::default()
    };
    let mut lot = generate(&cfg).expect("world").pop().expect("lot");
    lot.messages.clear();
    let start = t("00:00:00");
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    parking_app::scenario::set_up(&handler.store, &lot, start)
        .await
        .expect("set up");
    let load = SensorLoad {
        lot: lot.lot.id.clone(),
        bays: lot.bays.clone(),
        changes_per_bay_day: 20.0,
        repeat: SignedDuration::from_mins(15),
        sample: 10,
        start,
        seed: 7,
        batch: 100,
        window: SignedDuration::from_secs(10),
    };
    let prices = PriceTable::builtin().expect("prices");
    let [minute, change] = price_sensors(&handler, &load, prices, || handler.store.store_use())
        .await
        .expect("priced");
    // Every reading of every minute is written; on change, the first
    // reading and each change are, never a repeat (96 a bay a day).
    assert_eq!(minute.written, minute.readings);
    let repeats = 200 * 96;
    let changes = change.readings - repeats - 200;
    assert_eq!(change.written, changes + 200, "{change:?}");
    assert!(
        (change.readings as f64 / 200.0 - 116.0).abs() < 5.0,
        "{change:?}"
    );
    let per_2000 = change.per_lot_month.total * 10.0;
    assert!(per_2000 <= 20.0, "USD {per_2000:.2} a month for 2,000 bays");
    assert!(
        change.per_lot_month.total * 10.0 < minute.per_lot_month.total,
        "on change {:.2}, every minute {:.2}",
        change.per_lot_month.total,
        minute.per_lot_month.total
    );
    assert_eq!(change.usage.iot_inbound_messages, 0, "no messaging charge");
}
