//! The in-memory twin: each lot's latest forecast.

use super::*;

impl ForecastStore for MemoryStore {
    async fn put_forecast(
        &self,
        forecast: &parking_app::forecasts::LotForecast,
    ) -> StoreResult<()> {
        self.write();
        self.state()
            .forecasts
            .insert(forecast.lot_id.clone(), forecast.clone());
        Ok(())
    }

    async fn lot_forecast(
        &self,
        lot_id: &LotId,
    ) -> StoreResult<Option<parking_app::forecasts::LotForecast>> {
        self.read();
        Ok(self.state().forecasts.get(lot_id).cloned())
    }
}
