//! The occupancy forecast: day-ahead forecasts beat the seasonal-naive
//! baseline (the same slot a week earlier) on the simulator's history;
//! the scheduled refresh stores each lot's, and the APIs serve it.

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use std::sync::Arc;

use parking_app::FixedClock;
use parking_app::scenario::Scenario;
use parking_app::simulator::world::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::forecast::{
    HISTORY_HEADER, backtest_history, lot_history, read_history, refresh_all,
};
use parking_aws::{MemoryLink, MemoryStore};
use parking_core::Calendar;
use parking_core::calendar::Country;

/// Smaller lots than the demo's, simulated through the device handler.
async fn simulated(cfg: &SimConfig) -> (MemoryStore, Vec<Scenario>) {
    let scenarios = generate(cfg).expect("generate");
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    crate::simulate::run_through(&handler, &scenarios, &parking_aws::DevProvider::default()).await;
    (handler.store, scenarios)
}

/// A smaller lot than the demo's, for six weeks from 30 November: the last
/// two weeks hold New Year's Day, a holiday on a Friday.
async fn simulated_history() -> String {
    let (store, scenarios) = simulated(&SimConfig {
        seed: 5,
        days: 42,
        capacity: 60,
        arrivals_per_day: 150,
        drivers: 120,
        ..SimConfig::default()
    })
    .await;
    let tz = TimeZone::get("Asia/Tokyo").expect("zone");
    let mut csv = HISTORY_HEADER.to_owned();
    for sc in &scenarios {
        let until = sc
            .messages
            .iter()
            .map(|m| m.received_at)
            .max()
            .expect("messages");
        for row in lot_history(&store, &sc.lot.id, sc.lot.capacity, until)
            .await
            .expect("history")
        {
            csv += &row.csv(&tz);
        }
    }
    csv
}

#[tokio::test]
async fn the_forecast_errs_at_most_four_fifths_of_last_week_on_the_simulators_history() {
    let csv = simulated_history().await;
    // Written and read back as `parkctl simulate --history` and
    // `parkctl forecast backtest --history` do.
    let history = read_history(csv.as_bytes()).expect("history");
    assert!(history.bad.is_empty(), "{:?}", history.bad);
    let tz = TimeZone::get("Asia/Tokyo").expect("zone");
    let calendar = Calendar::new(Some(Country::Jp), []);
    let (report, predictions) = backtest_history(&history.rows, &tz, &calendar, 14);
    let lot = &report.lots[0];
    assert_eq!(lot.skipped, None);
    assert!(lot.slots > 14 * 90, "{}", lot.slots);
    assert!(
        report.overall.model_mae <= 0.8 * report.overall.baseline_mae,
        "model MAE {:.2} vs baseline {:.2}",
        report.overall.model_mae,
        report.overall.baseline_mae
    );
    // Between P10 and P90: 69 % here, short of the four in five it holds
    // on the README's longer histories, for this fortnight is the year's
    // end and the first test days fit on only two weeks.
    assert!(
        (0.6..=0.9).contains(&report.overall.coverage),
        "P10–P90 held {}",
        report.overall.coverage
    );
    // A prediction for every slot of every test day, none before the
    // first test day's local midnight.
    assert_eq!(predictions.len(), 14 * 96);
    let first = predictions[0].slot_start.to_zoned(tz.clone());
    assert_eq!(first.date(), jiff::civil::date(2026, 12, 28));
    assert_eq!((first.hour(), first.minute()), (0, 0));
}

#[tokio::test]
async fn the_scheduled_refresh_stores_each_lots_forecast_and_the_apis_serve_the_next_day() {
    use crate::api::{Call, Who, call};
    let (store, scenarios) = simulated(&SimConfig {
        seed: 2,
        lots: 2,
        days: 8,
        capacity: 40,
        arrivals_per_day: 100,
        drivers: 80,
        calm: true,
        ..SimConfig::default()
    })
    .await;
    // 18:05 on the eighth day.
    let now: jiff::Timestamp = "2026-12-07T18:05:00+09:00".parse().expect("now");
    let app = |store: MemoryStore| {
        parking_api::router(Arc::new(parking_api::Api::new(
            store,
            Arc::new(FixedClock(now)),
        )))
    };
    let driver = Who::Driver("d-demo-1-1");
    let before = app(store.clone());
    let a = call(
        &before,
        Call::new("GET", "/v1/lots/demo-1/forecast", driver.clone()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["made_at"], serde_json::Value::Null);
    assert_eq!(a.json()["slots"].as_array().map(Vec::len), Some(0));

    let report = refresh_all(&store, now).await.expect("refresh");
    assert_eq!((report.made, report.failed.len()), (2, 0), "{report:?}");
    let again = refresh_all(&store, now).await.expect("refresh");
    assert_eq!((again.made, again.fresh), (0, 2), "made once a day");

    let app = app(store);
    let a = call(
        &app,
        Call::new("GET", "/v1/lots/demo-1/forecast", driver.clone()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let f = a.json();
    assert_eq!(f["capacity"], scenarios[0].lot.capacity);
    let slots = f["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 96, "the next 24 hours");
    assert_eq!(
        slots[0]["start"], "2026-12-07T09:00:00Z",
        "from 18:00 local"
    );
    for s in slots {
        let (occupied, low, high) = (
            s["occupied"].as_f64().expect("occupied"),
            s["low"].as_f64().expect("low"),
            s["high"].as_f64().expect("high"),
        );
        assert!(low <= occupied && occupied <= high, "{s}");
        let free = s["free"].as_f64().expect("free");
        assert_eq!(free, (40.0 - occupied).round().max(0.0), "{s}");
    }
    // Busier at noon on a working day than at 03:00.
    let at = |hhmm: &str| {
        slots
            .iter()
            .find(|s| s["start"].as_str().is_some_and(|t| t.contains(hhmm)))
            .and_then(|s| s["occupied"].as_f64())
            .expect("slot")
    };
    assert!(at("T03:00:00Z") > at("T18:00:00Z"), "noon JST vs 03:00 JST");

    // Operators read their own lots' forecasts only.
    let op = Who::Role("op-1", "operator", "demo-1");
    let a = call(
        &app,
        Call::new("GET", "/v1/operator/lots/demo-1/forecast", op.clone()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["slots"], f["slots"]);
    let a = call(
        &app,
        Call::new("GET", "/v1/operator/lots/demo-2/forecast", op),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.text);
    let a = call(&app, Call::new("GET", "/v1/lots/nowhere/forecast", driver)).await;
    assert_eq!(a.status, 404);
}

/// Real car parks: the UCI "Parking Birmingham" data set (readings every
/// half hour from 8:00 to 16:30 for eleven weeks, with gaps, duplicates,
/// negative and over-capacity counts). The model's error is below the
/// seasonal-naive baseline's over all lots, as the README reports.
#[test]
fn the_forecast_beats_last_week_on_the_birmingham_car_parks() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/occupancy/birmingham-2016.csv"
    );
    let file = std::fs::File::open(path).expect("the data set");
    let history = read_history(std::io::BufReader::new(file)).expect("a history");
    assert_eq!(history.rows.len(), 35_705);
    assert_eq!(history.bad.len(), 12, "the negative counts, each named");
    assert!(
        history
            .bad
            .iter()
            .all(|e| e.to_string().contains(": occupied: "))
    );
    let tz = TimeZone::get("Europe/London").expect("zone");
    let (report, predictions) = backtest_history(&history.rows, &tz, &Calendar::default(), 14);
    assert_eq!(report.overall.lots, 28, "two lots too short to test");
    assert!(
        report.overall.model_mae < report.overall.baseline_mae,
        "model {:.2} vs baseline {:.2}",
        report.overall.model_mae,
        report.overall.baseline_mae
    );
    // The README's figures, to the hundredth: at most four fifths of the
    // baseline's error, and four slots in five inside the P10–P90 band.
    let o = &report.overall;
    assert_eq!(
        (
            format!("{:.2}", o.model_mae),
            format!("{:.2}", o.baseline_mae),
            format!("{:.3}", o.coverage)
        ),
        ("34.39".into(), "61.01".into(), "0.851".into())
    );
    assert!(o.model_mae <= 0.8 * o.baseline_mae);
    // And on the slots with a reading in them alone: the feed is silent
    // at night, its last value held till morning, which flatters every
    // figure above.
    let r = &o.read;
    assert_eq!(
        (
            r.slots,
            format!("{:.2}", r.model_mae),
            format!("{:.2}", r.baseline_mae),
            format!("{:.3}", r.coverage)
        ),
        (6134, "53.23".into(), "70.15".into(), "0.803".into())
    );
    assert!(r.model_mae <= 0.8 * r.baseline_mae);
    assert_eq!(
        report
            .lots
            .iter()
            .filter(|l| l.skipped.is_none() && l.improvement > 0.0)
            .count(),
        28,
        "better than last week on every lot"
    );
    assert_eq!(predictions.len(), 28 * 14 * 96);
}
