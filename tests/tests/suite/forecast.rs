//! The occupancy forecast: day-ahead forecasts beat the seasonal-naive
//! baseline (the same slot a week earlier) on the simulator's history.

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use parking_app::sim::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::forecast::{
    HISTORY_HEADER, backtest_history, lot_history, read_history,
};
use parking_app::usecases::simulate::run;
use parking_aws::{MemoryLink, MemoryQueues, MemoryStore};
use parking_core::Calendar;
use parking_core::calendar::Country;

/// A smaller lot than the demo's, for six weeks from 30 November: the last
/// two weeks hold New Year's Day, a holiday on a Friday.
async fn simulated_history() -> String {
    let cfg = SimConfig {
        seed: 5,
        days: 42,
        capacity: 60,
        arrivals_per_day: 150,
        drivers: 120,
        ..SimConfig::default()
    };
    let scenarios = generate(&cfg).expect("generate");
    let queues = MemoryQueues::default();
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    let provider = parking_aws::DevProvider::default();
    run(
        &handler,
        &queues,
        &provider,
        &scenarios,
        || 0,
        || queues.all(),
        |_| {},
    )
    .await
    .expect("simulation");
    let tz = TimeZone::get("Asia/Tokyo").expect("zone");
    let mut csv = HISTORY_HEADER.to_owned();
    for sc in &scenarios {
        let until = sc
            .messages
            .iter()
            .map(|m| m.received_at)
            .max()
            .expect("messages");
        for row in lot_history(&handler.store, &sc.lot.id, sc.lot.capacity, until)
            .await
            .expect("history")
        {
            csv += &row.csv(&tz);
        }
    }
    csv
}

#[tokio::test]
async fn the_forecast_beats_last_week_by_a_fifth_on_the_simulators_history() {
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
        report.overall.improvement >= 0.2,
        "model MAE {:.2} vs baseline {:.2}",
        report.overall.model_mae,
        report.overall.baseline_mae
    );
    // A prediction for every slot of every test day, none before the
    // first test day's local midnight.
    assert_eq!(predictions.len(), 14 * 96);
    let first = predictions[0].slot_start.to_zoned(tz.clone());
    assert_eq!(first.date(), jiff::civil::date(2026, 12, 28));
    assert_eq!((first.hour(), first.minute()), (0, 0));
}
