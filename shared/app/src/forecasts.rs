//! Each lot's latest occupancy forecast: one item per lot, replaced whole.

use std::future::Future;

use crate::ids::*;
use crate::store::StoreResult;

/// Each lot's latest occupancy forecast: one item per lot.
pub trait ForecastStore: Send + Sync {
    /// Replaces the lot's forecast.
    fn put_forecast(
        &self,
        forecast: &crate::usecases::forecast::LotForecast,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The lot's latest forecast, if one was made.
    fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> impl Future<Output = StoreResult<Option<crate::usecases::forecast::LotForecast>>> + Send;
}
