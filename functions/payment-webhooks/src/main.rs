//! `payment-webhooks`: the payment provider's webhook endpoint
//! (`POST /v1/webhooks/stripe`), outside the JWT authorizer: a delivery
//! is believed by its signature.
//!
//! Composition root only (`parking_aws::http::run_webhook_function`:
//! tracing, configuration and secrets read once, one SDK configuration,
//! the store warmed, the queues and the provider); the behaviour is
//! `parking_app::usecases::webhook`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    parking_aws::http::run_webhook_function().await
}
