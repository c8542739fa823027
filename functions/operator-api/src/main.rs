//! `operator-api`: the operators', shops' and pay kiosks' HTTP API
//! (`/v1/operator…`, `/v1/merchant…`, `/v1/kiosk…`) behind API Gateway and
//! its Cognito JWT authorizer; the manual barrier open publishes to the
//! gates' command topics.
//!
//! Composition root only (`parking_aws::http::run_api_function`); the
//! routes are `parking_api`, the behaviour `parking_app::usecases`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    parking_aws::http::run_api_function(parking_aws::http::ApiFunction::Staff).await
}
