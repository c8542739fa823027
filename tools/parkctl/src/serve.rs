//! `parkctl serve`: the HTTP APIs on 127.0.0.1, as the Lambda functions
//! run them, over the in-memory store (or DynamoDB), seeded with the
//! simulator's demo lot so there is something to look at.
//!
//! Deployed, API Gateway's JWT authorizer verifies the caller and passes
//! the claims. Here there is no authorizer: with `--dev-claims` the claims
//! are read from the `X-Dev-Claims` header (a JSON object, as in
//! `{"sub":"d-lot-1-1","cognito:groups":"driver"}`); without it every
//! request is anonymous and answered `401`. The Lambda functions have no
//! such header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp, ToSpan};
use parking_api::{Api, Claims};
use parking_app::Store;
use parking_app::simulator::run::run;
use parking_app::simulator::world::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::forecast::refresh_all;
use parking_aws::SystemClock;
use parking_aws::{MemoryLink, MemoryQueues, MemoryStore};

use crate::UsageError;

/// The development header carrying claims.
pub const DEV_CLAIMS_HEADER: &str = "x-dev-claims";

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StoreKind {
    Memory,
    Dynamodb,
}

#[derive(clap::Args)]
pub struct Args {
    /// Where to listen (a loopback address; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The store: in memory, or DynamoDB (configured from the environment,
    /// as the functions are; needs a parkctl built with --features dynamodb).
    #[arg(long, value_enum, default_value = "memory")]
    store: StoreKind,
    /// Read each request's claims from the X-Dev-Claims header. For
    /// development only: anyone may claim anything.
    #[arg(long)]
    dev_claims: bool,
    /// Do not seed the demo lot (in memory).
    #[arg(long, conflicts_with = "seed_demo")]
    empty: bool,
    /// Seed the demo lots into DynamoDB too (a real table is never seeded
    /// without it).
    #[arg(long)]
    seed_demo: bool,
    /// Seed of the demo lot's simulated days.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Demo lots to seed (`demo-1`, `demo-2`, …).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    lots: u32,
    /// Days of the demo lots to simulate, ending with today up to now.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=120))]
    days: u32,
    /// An OAuth 2.0 service (`/oauth2/authorize`, `/oauth2/token`, as
    /// Cognito's hosted UI) the dashboard signs staff in at, with PKCE,
    /// instead of a pasted token: served as `/sign-in.json`, its origin
    /// allowed in the page's `connect-src`.
    #[arg(long, value_name = "URL", value_parser = sign_in_base)]
    sign_in: Option<url::Url>,
    /// The OAuth client id the dashboard signs in as.
    #[arg(long, default_value = "parkctl-dashboard", requires = "sign_in")]
    sign_in_client: String,
}

/// A sign-in service's base address: `http` or `https`, with a host.
fn sign_in_base(text: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err("must be an http(s) address with a host".into());
    }
    Ok(u)
}

/// Puts the simulator's demo lots in the store: the last `days` days (in
/// the lot's time zone) up to now, as its devices reported them, so there
/// are drivers, closed stays with receipts, cars parked now, live
/// availability and a forecast.
pub(crate) async fn seed<S: Store>(
    store: S,
    seed: u64,
    lots: u32,
    days: u32,
) -> Result<S, UsageError> {
    let now = Timestamp::now();
    let first = now
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").map_err(|e| UsageError(e.to_string()))?)
        .date()
        .checked_sub(i64::from(days.saturating_sub(1)).days())
        .map_err(|e| UsageError(e.to_string()))?;
    let cfg = SimConfig {
        seed,
        lots,
        days,
        start: first,
        ..SimConfig::default()
    };
    let mut scenarios = generate(&cfg).map_err(UsageError)?;
    // What the devices have not said yet stays unsaid.
    for sc in &mut scenarios {
        sc.messages.retain(|m| m.received_at <= now);
    }
    let queues = MemoryQueues::default();
    let handler = DeviceEvents::new(store, MemoryLink::default(), SignedDuration::from_mins(1));
    let summary = run(
        &handler,
        &queues,
        &parking_aws::Faulty::new(parking_aws::DevProvider::default()),
        &scenarios,
        parking_app::usecases::cost::StoreUse::default,
        || queues.all(),
        |_| {},
    )
    .await
    .map_err(|e| UsageError(e.to_string()))?;
    refresh_all(&handler.store, now)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    let ids: Vec<String> = scenarios.iter().map(|s| s.lot.id.to_string()).collect();
    eprintln!(
        "parkctl: seeded lot(s) {} with {} stays from {first} to now",
        ids.join(", "),
        summary.entries,
    );
    Ok(handler.store)
}

/// Reads the development header (or a bearer token that is a JSON object
/// of claims, as the dashboard page sends) into claims; drops anything
/// else that claims to be claims.
async fn dev_claims(mut req: Request, next: Next) -> Response {
    req.extensions_mut().remove::<Claims>();
    let claims = {
        let headers = req.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        text(DEV_CLAIMS_HEADER)
            .or_else(|| text(http::header::AUTHORIZATION.as_str())?.strip_prefix("Bearer "))
            .and_then(Claims::from_json)
    };
    if let Some(c) = claims {
        req.extensions_mut().insert(c);
    }
    next.run(req).await
}

/// The gates of `parkctl serve`: there are none, so a command (an
/// operator's manual barrier open) is printed to stderr instead.
struct PrintedLink;

impl parking_app::DeviceLink for PrintedLink {
    async fn publish(
        &self,
        topic: &str,
        command: &parking_app::commands::GateCommand,
    ) -> Result<(), parking_app::SendError> {
        eprintln!(
            "parkctl: {topic}: {:?} ({:?})",
            command.command, command.reason
        );
        Ok(())
    }
}

/// The dead-letter queues of `parkctl serve`: in memory, with one demo
/// lot charge that gave up, to list and redrive.
fn demo_dead_letters() -> parking_aws::MemoryDeadLetters {
    let dlq = parking_aws::MemoryDeadLetters::default();
    dlq.push(
        parking_app::outbox::Queue::Payments,
        "dlq-demo-1",
        Some("s-demo"),
        r#"{"idempotency_key":"s-demo.1","session_id":"s-demo","lot_id":"demo-1","driver_id":"d-demo-1-11","method_id":"pm-demo-1-11","kind":"charge","amount":{"minor":800,"currency":"JPY"},"created_at":"2026-11-28T00:00:00Z"}"#,
    );
    dlq
}

/// The operator's dashboard page, as deployed to the static site, with
/// its sign-in service if any (`sign-in.json`).
fn dashboard(sign_in: Option<&parking_api::web::SignIn>) -> Router {
    const PAGE: &str = include_str!("../../../web/dashboard/index.html");
    const SCRIPT: &str = include_str!("../../../web/dashboard/dashboard.js");
    const STYLE: &str = include_str!("../../../web/dashboard/dashboard.css");
    let origin = sign_in
        .and_then(|s| url::Url::parse(&s.token_url).ok())
        .map(|u| u.origin().ascii_serialization());
    let csp = parking_api::web::content_security_policy(origin.as_deref());
    let headers: Arc<Vec<(&'static str, String)>> = Arc::new(
        parking_api::web::HEADERS
            .iter()
            .map(|(name, value)| match *name {
                "content-security-policy" => (*name, csp.clone()),
                _ => (*name, (*value).to_owned()),
            })
            .collect(),
    );
    let file = |body: String, kind: &'static str| {
        let headers = headers.clone();
        axum::routing::get(move || async move {
            let mut r = ([(http::header::CONTENT_TYPE, kind)], body).into_response();
            for (name, value) in headers.iter() {
                if let Ok(v) = http::HeaderValue::from_str(value) {
                    r.headers_mut()
                        .insert(http::HeaderName::from_static(name), v);
                }
            }
            r
        })
    };
    let mut router = Router::new()
        .route("/", file(PAGE.to_owned(), "text/html; charset=utf-8"))
        .route(
            "/dashboard.js",
            file(SCRIPT.to_owned(), "text/javascript; charset=utf-8"),
        )
        .route(
            "/dashboard.css",
            file(STYLE.to_owned(), "text/css; charset=utf-8"),
        );
    if let Some(s) = sign_in
        && let Ok(json) = serde_json::to_string(s)
    {
        router = router.route("/sign-in.json", file(json, "application/json"));
    }
    router
}

/// The router `parkctl serve` runs: the API, the OpenAPI document at
/// `/openapi.json`, the dashboard page at `/`, and with `dev_claims` the
/// development header.
pub fn app<S: Store + Clone + 'static>(
    store: S,
    dev: bool,
    sign_in: Option<&parking_api::web::SignIn>,
) -> Router {
    let mut api = Api::new(store, Arc::new(SystemClock))
        .with_store_flags()
        .with_link(Arc::new(PrintedLink))
        // Queued here and not delivered: `parkctl serve` sends no webhooks.
        .with_queues(Arc::new(MemoryQueues::default()));
    api.dead_letters = Some(Arc::new(demo_dead_letters()));
    let api = parking_api::router(Arc::new(api));
    let doc = Router::new().route(
        "/openapi.json",
        axum::routing::get(|| async {
            (
                [(http::header::CONTENT_TYPE, "application/json")],
                parking_api::openapi::document_text(),
            )
                .into_response()
        }),
    );
    let app = doc.merge(dashboard(sign_in)).merge(api);
    if dev {
        app.layer(middleware::from_fn(dev_claims))
    } else {
        app
    }
}

async fn serve<S: Store + Clone + 'static>(
    store: S,
    args: &Args,
    seeded: bool,
) -> Result<(), UsageError> {
    if !args.addr.ip().is_loopback() {
        return Err(UsageError(format!(
            "--addr {}: parkctl serve listens on loopback only",
            args.addr
        )));
    }
    let store = if seeded {
        seed(store, args.seed, args.lots, args.days).await?
    } else {
        store
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {}: {e}", args.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| UsageError(e.to_string()))?;
    eprintln!(
        "parkctl: serving on http://{addr} (claims: {})",
        if args.dev_claims {
            "X-Dev-Claims header"
        } else {
            "none: every call is 401"
        }
    );
    // A line on stdout a script can wait for.
    println!("http://{addr}");
    // Only this machine's own names, on any port (a forwarded or proxied
    // port too): a page elsewhere that resolves its own name to 127.0.0.1
    // (DNS rebinding) sends that name, and is refused.
    let hosts: Arc<Vec<String>> = Arc::new(
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| (*h).to_owned())
            .chain([match addr.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            }])
            .collect(),
    );
    let sign_in = args
        .sign_in
        .as_ref()
        .map(|u| parking_api::web::SignIn::at(u.as_str(), &args.sign_in_client));
    let app = app(store, args.dev_claims, sign_in.as_ref())
        .layer(middleware::from_fn_with_state(hosts, only_hosts));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| UsageError(e.to_string()))
}

/// Refuses a request whose `Host` is not one of this server's names
/// (`421 Misdirected Request`).
async fn only_hosts(
    axum::extract::State(hosts): axum::extract::State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    // The name without its port (`[::1]:8080`, `localhost:80`, `localhost`).
    let name = host.as_deref().map(|h| match h.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !name.ends_with(':') =>
        {
            name
        }
        _ => h,
    });
    if name.is_some_and(|h| hosts.iter().any(|k| k == h)) {
        next.run(request).await
    } else {
        (
            http::StatusCode::MISDIRECTED_REQUEST,
            "parkctl serve answers only to its own address (the Host header names another)\n",
        )
            .into_response()
    }
}

pub fn run_cli(args: &Args) -> Result<(), UsageError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        match args.store {
            StoreKind::Memory => serve(MemoryStore::default(), args, !args.empty).await,
            StoreKind::Dynamodb => serve_dynamodb(args).await,
        }
    })
}

#[cfg(feature = "dynamodb")]
async fn serve_dynamodb(args: &Args) -> Result<(), UsageError> {
    serve(crate::aws::store().await?, args, args.seed_demo).await
}

#[cfg(not(feature = "dynamodb"))]
async fn serve_dynamodb(_: &Args) -> Result<(), UsageError> {
    Err(UsageError(
        "--store dynamodb: this parkctl was built without DynamoDB; build it with --features dynamodb".into(),
    ))
}
