//! `forecasts`: run by an EventBridge Scheduler schedule every hour. Each
//! lot's occupancy forecast for today and tomorrow, trained on its last
//! eight weeks of stays once a day after its local midnight; a run that
//! finds a lot's forecast made today leaves it.
//!
//! Composition root only (`parking_aws::lambda::run_forecasts_function`);
//! the behaviour is `parking_app::usecases::forecast`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_forecasts_function().await
}
