//! The HTTP APIs' Lambda edge: an API Gateway (HTTP API, payload 2.0)
//! request with the claims its JWT authorizer verified, handed to the
//! API router.
//!
//! Claims come only from the authorizer's part of the request context,
//! never from a header or the body; a request without them is anonymous
//! and every route but the open-data feed's answers it `401`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use lambda_http::request::RequestContext;
use lambda_http::{Error, Request, RequestExt};
use parking_api::{Api, Claims};
use parking_app::{DeviceLink, Store};
use tower::ServiceExt;

/// The claims API Gateway's JWT authorizer passed with the request.
pub fn claims_of(req: &Request) -> Option<Claims> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
            Claims::from_text(jwt.claims.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        }
        _ => None,
    }
}

/// Answers one request.
///
/// # Errors
///
/// None: every failure is a problem document.
pub async fn handle(app: &Router, mut req: Request) -> Result<http::Response<Body>, Infallible> {
    // Whatever was in the extensions before is not the authorizer's word.
    req.extensions_mut().remove::<Claims>();
    if let Some(claims) = claims_of(&req) {
        req.extensions_mut().insert(claims);
    }
    app.clone().oneshot(req.map(Body::new)).await
}

/// The API router over a store (the manual barrier open answers `503`
/// without a link to the gates).
pub fn api_router<S: Store + Clone + 'static>(store: S) -> Router {
    parking_api::router(Arc::new(
        Api::new(store, Arc::new(crate::SystemClock)).with_store_flags(),
    ))
}

/// The driver API's router, saving cards with the payment provider at
/// registration when there is one.
pub fn driver_router<S: Store + Clone + 'static>(
    store: S,
    cards: Option<Arc<dyn parking_app::settlement::CardSetup>>,
) -> Router {
    let mut api = Api::new(store, Arc::new(crate::SystemClock)).with_store_flags();
    api.cards = cards;
    parking_api::router(Arc::new(api))
}

/// The API router over a store, publishing gate commands through `link`.
pub fn api_router_with_link<S: Store + Clone + 'static, L: DeviceLink + 'static>(
    store: S,
    link: L,
) -> Router {
    let api = Api::new(store, Arc::new(crate::SystemClock))
        .with_store_flags()
        .with_link(Arc::new(link));
    parking_api::router(Arc::new(api))
}

/// The staff API's router: gate commands through `link`, the dead-letter
/// queues, and the queues (a webhook's replay).
pub fn staff_router<S, L, D, Q>(
    store: S,
    link: L,
    dead_letters: D,
    queues: Q,
    frames: crate::frame_links::S3FrameLinks,
) -> Router
where
    S: Store + Clone + 'static,
    L: DeviceLink + 'static,
    D: parking_app::usecases::dead_letters::DeadLetterQueues + 'static,
    Q: parking_app::outbox::Queues + 'static,
{
    let mut api = Api::new(store, Arc::new(crate::SystemClock))
        .with_store_flags()
        .with_link(Arc::new(link))
        .with_queues(Arc::new(queues))
        .with_frames(Arc::new(frames));
    api.dead_letters = Some(Arc::new(dead_letters));
    parking_api::router(Arc::new(api))
}

/// Which API a function serves: API Gateway sends it only its own routes,
/// and its role allows only what those routes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFunction {
    /// `/v1/me…`, `/v1/lots…`.
    Driver,
    /// `/v1/operator…`, `/v1/merchant…`, `/v1/kiosk…`: also publishes to
    /// the gates' command topics.
    Staff,
}

/// The composition of an API function: configuration read once, one SDK
/// configuration, the store with its connection warmed (and for the staff
/// API the link to the gates), then the router.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_api_function(kind: ApiFunction) -> Result<(), Error> {
    use crate::config::{
        DeadLetterConfig, DeviceConfig, EvidenceConfig, QueueConfig, StoreConfig, dead_letters,
        dynamo_store, iot_link, sdk_config, sqs_queues,
    };
    lambda_http::tracing::init_default_subscriber();
    let store_config = StoreConfig::from_env()?;
    let staff = match kind {
        ApiFunction::Staff => Some((
            DeviceConfig::from_env()?,
            DeadLetterConfig::from_env()?,
            QueueConfig::from_env()?,
            EvidenceConfig::from_env()?,
        )),
        ApiFunction::Driver => None,
    };
    let sdk = sdk_config().await;
    let store = dynamo_store(&sdk, &store_config);
    store.warm().await;
    let app = match staff {
        Some((devices, dlq, queues, evidence)) => staff_router(
            store,
            iot_link(&sdk, &devices),
            dead_letters(&sdk, &dlq),
            sqs_queues(&sdk, &queues),
            crate::frame_links::S3FrameLinks::new(&sdk, evidence.bucket)?,
        ),
        None => driver_router(store, card_setup(&sdk).await?),
    };
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        handle(app, req).await
    }))
    .await
}

/// The payment provider for saving cards at registration, when it is
/// configured (`PARKING_STRIPE_SECRET_ID`); without it, a card is saved
/// with the provider at its first charge.
///
/// # Errors
///
/// The provider is configured but its secret cannot be read.
#[cfg(feature = "stripe")]
async fn card_setup(
    sdk: &aws_config::SdkConfig,
) -> Result<Option<Arc<dyn parking_app::settlement::CardSetup>>, Error> {
    match crate::config::ProviderConfig::from_env() {
        Ok(config) => {
            let provider = crate::config::stripe_provider(sdk, &config).await?;
            Ok(Some(Arc::new(provider)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "no payment provider: cards are saved at their first charge");
            Ok(None)
        }
    }
}

#[cfg(not(feature = "stripe"))]
async fn card_setup(
    _sdk: &aws_config::SdkConfig,
) -> Result<Option<Arc<dyn parking_app::settlement::CardSetup>>, Error> {
    Ok(None)
}

/// The payment provider's webhook: the body and its `Stripe-Signature`
/// header checked against the signing secrets, the event handled once.
/// `200` once handled (or seen before, or not ours); `400` for a delivery
/// not believed (the provider does not send it again); `500` when our
/// side failed (the provider sends it again).
#[cfg(feature = "stripe")]
pub async fn webhook_response<S, Q, P>(
    store: &S,
    queues: &Q,
    provider: &P,
    secrets: &[parking_app::usecases::webhook::WebhookSecret],
    req: &Request,
    now: jiff::Timestamp,
) -> http::Response<String>
where
    S: Store,
    Q: parking_app::outbox::Queues,
    P: parking_app::settlement::PaymentProvider,
{
    use parking_app::usecases::webhook::{handle, verify};
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let answer = |status: u16, body: serde_json::Value| {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap_or_else(|_| http::Response::new(String::new()))
    };
    let event = match verify(req.body().as_ref(), header, secrets, now) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook delivery was refused");
            return answer(400, serde_json::json!({"error": e.to_string()}));
        }
    };
    match handle(store, queues, provider, &event, now).await {
        Ok(handled) => answer(
            200,
            serde_json::json!({"event": event.id, "handled": format!("{handled:?}")}),
        ),
        Err(e) if e.is_ours() => {
            tracing::error!(error = %e, event = %event.id, "a webhook event could not be handled");
            answer(500, serde_json::json!({"error": "try again"}))
        }
        Err(e) => answer(400, serde_json::json!({"error": e.to_string()})),
    }
}

/// The webhook function's composition: configuration and secrets read
/// once, one SDK configuration, the store warmed, the queues and the
/// provider, then the handler.
///
/// # Errors
///
/// Configuration, or the runtime's.
#[cfg(feature = "stripe")]
pub async fn run_webhook_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{
        PaymentsConfig, QueueConfig, StoreConfig, WebhookConfig, dynamo_store, sdk_config,
        sqs_queues, stripe_provider, webhook_secrets,
    };
    use parking_app::Clock;
    lambda_http::tracing::init_default_subscriber();
    let store_config = StoreConfig::from_env()?;
    let payments = PaymentsConfig::from_env()?;
    let queue_config = QueueConfig::from_env()?;
    let hooks = WebhookConfig::from_env()?;
    let sdk = sdk_config().await;
    let store = dynamo_store(&sdk, &store_config);
    store.warm().await;
    let provider = stripe_provider(&sdk, &payments.provider).await?;
    let secrets = webhook_secrets(&sdk, &hooks).await?;
    let queues = sqs_queues(&sdk, &queue_config);
    let (store, provider, secrets, queues) = (&store, &provider, &secrets, &queues);
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        let now = SystemClock.now();
        Ok::<_, Infallible>(webhook_response(store, queues, provider, secrets, &req, now).await)
    }))
    .await
}
