//! `driver-api`: the driver app's HTTP API (`/v1/me…`, `/v1/lots…`) behind
//! API Gateway and its Cognito JWT authorizer.
//!
//! Composition root only (`parking_aws::http::run_api_function`: tracing,
//! configuration, one SDK configuration, the store with a warm
//! connection, the router); the routes are `parking_api`, the behaviour
//! `parking_app::usecases`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    parking_aws::http::run_api_function(parking_aws::http::ApiFunction::Driver).await
}
