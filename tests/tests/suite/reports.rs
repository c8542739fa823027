//! What a lot's daily report and dashboard cost to read does not grow
//! with the lot's history: measured on DynamoDB on the local endpoint, on
//! day 10 and on day 60 of the same daily traffic, they make the same
//! requests and read the same units (counted by DynamoDB's rules from
//! the items answered, since the local endpoint reports a flat figure).

use jiff::{SignedDuration, Timestamp};
use parking_app::flags::FlagSet;
use parking_app::scenario::set_up;
use parking_app::usecases::cost::StoreUse;
use parking_app::usecases::dashboard::lot_dashboard;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::operator::daily_report;
use parking_app::*;
use parking_aws::{DynamoStore, MemoryLink};

use crate::devices::{AIKO, BEN, CHIKA, DAISUKE, LOT, STRANGER, read, scenario, t};

/// Each day's traffic: these plates enter and leave once each.
const DAILY: [&str; 4] = [AIKO, BEN, CHIKA, STRANGER];

/// What the report and the dashboard of `now`'s day cost, apart.
async fn cost_of_reading(store: &DynamoStore, now: Timestamp) -> (StoreUse, StoreUse, i64, u32) {
    let lot_id: LotId = LOT.parse().expect("id");
    let date = now
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").expect("zone"))
        .date();
    let before = store.consumed().expect("metered");
    let report = daily_report(store, &lot_id, date).await.expect("report");
    let after_report = store.consumed().expect("metered");
    lot_dashboard(store, &lot_id, now, &FlagSet::default())
        .await
        .expect("dashboard");
    let after_dashboard = store.consumed().expect("metered");
    (
        after_report.since(&before),
        after_dashboard.since(&after_report),
        report.revenue,
        report.exits,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reports_and_a_dashboards_reads_are_the_same_on_day_10_and_day_60() {
    let region = "eu-north-1";
    let sdk = parking_tests::local_sdk_config_in(region).await;
    let store = DynamoStore::metered(
        aws_sdk_dynamodb::config::Builder::from(&sdk),
        parking_tests::fresh_table_in(region).await,
    );
    let events = DeviceEvents::new(
        store.clone(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    set_up(&events.store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let day = SignedDuration::from_hours(24);
    let mut n = 0u32;
    let mut send = async |gate: &str, plate: &str, at: Timestamp| {
        n += 1;
        let m = read(gate, &format!("e-{n:05}"), plate, 0.97, at, None);
        let bytes = serde_json::to_vec(&m).expect("json");
        events
            .handle(&bytes, at + SignedDuration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("read {n}: {e}"));
    };
    let mut measured = Vec::new();
    for d in 0..60 {
        let morning = t("08:00:00") + day * d;
        for (i, plate) in DAILY.iter().enumerate() {
            let entry = morning + SignedDuration::from_mins(37 * i as i64);
            send("g-in", plate, entry).await;
            send("g-out", plate, entry + SignedDuration::from_mins(95)).await;
        }
        // A long stay, four days, ending on each measured day: its money
        // is that day's, whenever it entered.
        if d == 5 || d == 55 {
            send("g-in", DAISUKE, t("07:00:00") + day * d).await;
        }
        if d == 9 || d == 59 {
            send("g-out", DAISUKE, t("18:00:00") + day * d).await;
            measured.push(cost_of_reading(&store, t("22:00:00") + day * d).await);
        }
    }
    let [
        (report_10, board_10, revenue_10, exits_10),
        (report_60, board_60, revenue_60, exits_60),
    ] = measured[..]
    else {
        panic!("measured twice: {measured:?}");
    };
    eprintln!(
        "report: day 10 {} requests {:.1} units, day 60 {} requests {:.1} units; \
         dashboard: day 10 {} requests {:.1} units, day 60 {} requests {:.1} units",
        report_10.reads,
        report_10.read_units,
        report_60.reads,
        report_60.read_units,
        board_10.reads,
        board_10.read_units,
        board_60.reads,
        board_60.read_units
    );
    assert_eq!(exits_10, 5, "four visits and the long stay left");
    assert_eq!(
        (exits_60, revenue_60),
        (exits_10, revenue_10),
        "the same day"
    );
    for (what, a, b) in [
        ("report", report_10, report_60),
        ("dashboard", board_10, board_60),
    ] {
        assert_eq!(a.reads, b.reads, "{what}: requests on day 10 and day 60");
        assert_eq!(a.writes, 0, "{what} writes nothing");
        assert!(
            b.read_units <= a.read_units * 1.1,
            "{what}: read units {:.1} on day 10, {:.1} on day 60",
            a.read_units,
            b.read_units
        );
        assert!(a.read_units > 0.0, "{what} was measured");
    }
}
