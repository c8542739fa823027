//! Each lot's latest forecast.

use parking_app::ids::*;
use parking_app::*;

use super::DynamoStore;
use super::keys::{self};

impl ForecastStore for DynamoStore {
    async fn put_forecast(
        &self,
        forecast: &parking_app::forecasts::LotForecast,
    ) -> StoreResult<()> {
        self.put_plain(&keys::forecast(&forecast.lot_id), forecast)
            .await
    }

    async fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> StoreResult<Option<parking_app::forecasts::LotForecast>> {
        self.get_opt(&keys::forecast(lot_id)).await
    }
}
