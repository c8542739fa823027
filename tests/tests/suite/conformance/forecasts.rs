//! Each lot's latest forecast: one per lot, replaced whole.

use super::*;
use parking_app::forecasts::{ForecastDay, LotForecast};

pub async fn a_lots_forecast_is_replaced_whole<S: ForecastStore>(store: &S) {
    let forecast = |made: &str, expected: f32| LotForecast {
        lot_id: id("lot-fc"),
        made_at: fx::at(made),
        time_zone: "Asia/Tokyo".into(),
        capacity: 40,
        history_days: 56,
        validation_mae: Some(1.5),
        days: vec![ForecastDay {
            date: jiff::civil::date(2026, 11, 24),
            expected: vec![expected; 96],
            low: vec![0.0; 96],
            high: vec![40.0; 96],
        }],
    };
    assert_eq!(store.lot_forecast(&id("lot-fc")).await.expect("none"), None);
    let first = forecast("2026-11-24T00:05:00+09:00", 12.5);
    store.put_forecast(&first).await.expect("first");
    let second = forecast("2026-11-25T00:05:00+09:00", 20.0);
    store.put_forecast(&second).await.expect("second");
    assert_eq!(
        store.lot_forecast(&id("lot-fc")).await.expect("read"),
        Some(second)
    );
    assert_eq!(
        store.lot_forecast(&id("lot-none")).await.expect("none"),
        None
    );
}
