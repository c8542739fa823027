//! Each lot's latest occupancy forecast: one item per lot, replaced whole.

use std::future::Future;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::store::StoreResult;

/// Each lot's latest occupancy forecast: one item per lot.
pub trait ForecastStore: Send + Sync {
    /// Replaces the lot's forecast.
    fn put_forecast(&self, forecast: &LotForecast) -> impl Future<Output = StoreResult<()>> + Send;
    /// The lot's latest forecast, if one was made.
    fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Option<LotForecast>>> + Send;
}

/// A lot's stored forecast: today and tomorrow, per 15-minute slot, as
/// the scheduled function made it after the lot's local midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LotForecast {
    pub lot_id: LotId,
    pub made_at: Timestamp,
    pub time_zone: String,
    pub capacity: u32,
    /// Local days of stays it learned from.
    pub history_days: i32,
    /// Mean absolute error per slot on the validation days, in bays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_mae: Option<f64>,
    pub days: Vec<ForecastDay>,
}

/// One local day of a stored forecast: occupied bays per slot, rounded to
/// a tenth, with the interval around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastDay {
    pub date: Date,
    pub expected: Vec<f32>,
    pub low: Vec<f32>,
    pub high: Vec<f32>,
}
