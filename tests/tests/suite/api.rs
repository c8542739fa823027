//! The HTTP APIs through the Lambda edge: each request is an API Gateway
//! (HTTP API, payload 2.0) event as the function receives it, built from
//! `events/api/`, handed to `parking_aws::http::handle` with the claims
//! its JWT authorizer would pass.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use parking_api::{Api, Op};
use parking_app::scenario::{Scenario, replay};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::*;
use parking_aws::{MemoryLink, MemoryStore};
use serde_json::{Value, json};

const NOW: &str = "2026-12-01T00:00:00Z";

fn fixture(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::read_to_string(format!("{root}/{path}")).expect("fixture")
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A caller: the claims API Gateway's authorizer would pass.
#[derive(Clone)]
pub enum Who {
    Anonymous,
    Driver(&'static str),
    /// A subject in one group, scoped to these lots (comma-separated) in
    /// that role.
    Role(&'static str, &'static str, &'static str),
    /// A subject in these groups (space-separated) with these
    /// `role:lot` scopes.
    Scoped(&'static str, &'static str, &'static str),
}

/// A request as the function receives it.
pub struct Call {
    method: &'static str,
    path: String,
    query: String,
    who: Who,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl Call {
    pub fn new(method: &'static str, path: impl Into<String>, who: Who) -> Self {
        let path = path.into();
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (path, String::new()),
        };
        Call {
            method,
            path,
            query,
            who,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn event(&self) -> lambda_http::Request {
        let mut e: Value =
            serde_json::from_str(&fixture("events/api/driver-get-profile.json")).expect("event");
        let route = format!("{} {}", self.method, self.path);
        e["routeKey"] = json!(route);
        e["requestContext"]["routeKey"] = json!(route);
        e["rawPath"] = json!(self.path);
        e["rawQueryString"] = json!(self.query);
        e["requestContext"]["http"]["method"] = json!(self.method);
        e["requestContext"]["http"]["path"] = json!(self.path);
        for (k, v) in &self.headers {
            e["headers"][k] = json!(v);
        }
        if let Some(b) = &self.body {
            e["body"] = json!(b);
        }
        let claims = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
        match &self.who {
            Who::Anonymous => {
                e["requestContext"]
                    .as_object_mut()
                    .expect("context")
                    .remove("authorizer");
            }
            Who::Driver(sub) => {
                claims["sub"] = json!(sub);
            }
            Who::Role(sub, role, lots) => {
                let scopes: Vec<String> = lots
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(|l| format!("{role}:{l}"))
                    .collect();
                claims["sub"] = json!(sub);
                claims["cognito:groups"] = json!(format!("[{role}]"));
                claims["custom:scopes"] = json!(scopes.join(" "));
            }
            Who::Scoped(sub, groups, scopes) => {
                claims["sub"] = json!(sub);
                claims["cognito:groups"] = json!(format!("[{groups}]"));
                claims["custom:scopes"] = json!(scopes);
            }
        }
        lambda_http::request::from_str(&e.to_string()).expect("an API Gateway event")
    }
}

/// An answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The problem document's code.
    pub fn code(&self) -> String {
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn call(app: &Router, c: Call) -> Answer {
    answer(app, c.event()).await
}

/// Runs a request through the Lambda edge and reads the answer.
async fn answer(app: &Router, req: lambda_http::Request) -> Answer {
    let response = parking_aws::http::handle(app, req)
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        content_type,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("time")
}

/// The day-one lot after its day, as the API sees it on the morning after.
async fn day_one() -> Router {
    let scenario = Scenario::parse(&fixture("fixtures/scenarios/day-one.json")).expect("scenario");
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    replay(
        &handler,
        &parking_aws::Faulty::new(parking_aws::DevProvider::default()),
        &scenario,
    )
    .await
    .expect("replay");
    app(handler.store, NOW)
}

fn app<S: Store + 'static>(store: S, now: &str) -> Router {
    parking_api::router(Arc::new(Api::new(store, Arc::new(FixedClock(at(now))))))
}

const D1: Who = Who::Driver("d-1");
const D2: Who = Who::Driver("d-2");
const NEW: Who = Who::Driver("d-9");

#[tokio::test]
async fn the_router_and_the_document_list_the_same_routes() {
    let added: BTreeSet<Op> = parking_api::routes::<MemoryStore>()
        .operations()
        .iter()
        .copied()
        .collect();
    let all: BTreeSet<Op> = Op::ALL.iter().copied().collect();
    assert_eq!(added, all, "every operation has a handler, and only those");
    let doc = parking_api::openapi::document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            documented.insert((
                method.to_uppercase(),
                path.clone(),
                op["operationId"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    let table: BTreeSet<_> = Op::ALL
        .iter()
        .map(|o| {
            let d = o.doc();
            (d.method.to_string(), d.path.to_owned(), d.id.to_owned())
        })
        .collect();
    assert_eq!(documented, table);
    // Every documented route is routed (none falls through to `no_route`).
    let app = day_one().await;
    for o in Op::ALL {
        let d = o.doc();
        let path = d
            .path
            .replace("{plate}", "x")
            .replace("{method_id}", "x")
            .replace("{lot_id}", "x")
            .replace("{reservation_id}", "x")
            .replace("{session_id}", "x");
        let a = call(
            &app,
            Call::new(leak(d.method.as_str()), path, Who::Anonymous),
        )
        .await;
        // Anyone may read the open-data feed: lot x is not published.
        let want = if d.role == parking_api::Role::Public {
            404
        } else {
            401
        };
        assert_eq!(a.status, want, "{} {} is routed", d.method, d.path);
        assert_ne!(a.code(), "no_route", "{} {} is routed", d.method, d.path);
    }
    // And what is not documented is not routed.
    let a = call(&app, Call::new("GET", "/v1/nothing", D1)).await;
    assert_eq!((a.status, a.code()), (404, "no_route".into()));
    let a = call(&app, Call::new("PATCH", "/v1/me", D1)).await;
    assert_eq!((a.status, a.code()), (405, "method_not_allowed".into()));
    // The committed document is the generated one.
    assert_eq!(
        fixture("shared/api/openapi.json"),
        parking_api::openapi::document_text(),
        "shared/api/openapi.json is stale: run `cargo run -p parkctl -- openapi > shared/api/openapi.json`"
    );
}

fn leak(s: &str) -> &'static str {
    match s {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        _ => "PATCH",
    }
}

#[tokio::test]
async fn sample_events_are_answered() {
    let app = day_one().await;
    let a = call_event(&app, "events/api/driver-get-profile.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["id"], "d-1");
    let a = call_event(&app, "events/api/anonymous-get-profile.json").await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated".into()));
    // The open-data feed needs no token; the day-one lot is not published.
    let a = call_event(&app, "events/api/public-parking-status.json").await;
    assert_eq!((a.status, a.code()), (404, "not_found".into()));
    let a = call_event(&app, "events/api/driver-add-vehicle.json").await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["plate_display"], "品川 300 さ 12-34");
    let a = call_event(&app, "events/api/driver-create-reservation.json").await;
    assert_eq!(a.status, 201, "{}", a.text);
    let again = call_event(&app, "events/api/driver-create-reservation.json").await;
    assert_eq!((again.status, again.json()), (201, a.json()));
    let a = call_event(&app, "events/api/driver-list-sessions.json").await;
    assert_eq!(a.status, 200);
    assert!(!a.json()["items"].as_array().expect("items").is_empty());
}

pub async fn call_event(app: &Router, path: &str) -> Answer {
    answer(
        app,
        lambda_http::request::from_str(&fixture(path)).expect("event"),
    )
    .await
}

#[tokio::test]
async fn profile_vehicles_and_payment_methods() {
    let app = day_one().await;
    let a = call(&app, Call::new("GET", "/v1/me", NEW)).await;
    assert_eq!((a.status, a.code()), (404, "not_found".into()));
    let a = call(
        &app,
        Call::new("PUT", "/v1/me", NEW).json(json!({"name": "Emi"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["name"], "Emi");
    let a = call(
        &app,
        Call::new("PUT", "/v1/me", NEW).json(json!({"name": ""})),
    )
    .await;
    assert_eq!((a.status, a.code()), (422, "validation_failed".into()));
    assert_eq!(a.json()["errors"][0]["field"], "body.name");

    // Vehicles: canonical form, idempotent, pending until proven; another
    // driver's plate is answered the same (the claim waits for staff).
    let add = |p: &str| Call::new("POST", "/v1/me/vehicles", NEW).json(json!({"plate": p}));
    let a = call(&app, add("品川３００さ１２－３５")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["plate"], "品川300さ1235");
    assert_eq!(a.json()["status"], "pending");
    assert_eq!(call(&app, add("品川 300 さ 12-35")).await.status, 201);
    let a = call(&app, add("品川 300 さ 12-34")).await;
    assert_eq!(
        (a.status, a.json()["status"].clone()),
        (201, json!("pending"))
    );
    let a = call(&app, add("not a plate at all!")).await;
    assert_eq!((a.status, a.code()), (422, "validation_failed".into()));
    assert_eq!(a.json()["errors"][0]["field"], "body.plate");
    let a = call(&app, Call::new("GET", "/v1/me/vehicles", NEW)).await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(2));
    // A plate the driver neither holds nor claims cannot be removed: it is
    // not found.
    let other = encode("品川300さ5555");
    let a = call(
        &app,
        Call::new("DELETE", format!("/v1/me/vehicles/{other}"), NEW),
    )
    .await;
    assert_eq!(a.status, 404);
    let mine = encode("品川300さ1235");
    let a = call(
        &app,
        Call::new("DELETE", format!("/v1/me/vehicles/{mine}"), NEW),
    )
    .await;
    assert_eq!(a.status, 204);
    let a = call(
        &app,
        Call::new("DELETE", format!("/v1/me/vehicles/{mine}"), NEW),
    )
    .await;
    assert_eq!(a.status, 404);

    // Payment methods: a token, never a card number.
    let card = |t: &str| {
        Call::new("POST", "/v1/me/payment-methods", NEW)
            .json(json!({"token": t, "brand": "visa", "last4": "4242"}))
    };
    let a = call(&app, card("4242 4242 4242 4242")).await;
    assert_eq!((a.status, a.code()), (422, "validation_failed".into()));
    assert_eq!(a.json()["errors"][0]["field"], "body.token");
    assert!(!a.text.contains("4242 4242"), "{}", a.text);
    let a = call(&app, card("pm_card_visa")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json()["id"].as_str().expect("id").to_owned();
    assert!(!a.text.contains("pm_card_visa"), "the token is never shown");
    let a = call(&app, Call::new("GET", "/v1/me/payment-methods", NEW)).await;
    assert_eq!(a.json()["items"][0]["last4"], "4242");
    let a = call(
        &app,
        Call::new("DELETE", "/v1/me/payment-methods/pm-1", NEW),
    )
    .await;
    assert_eq!(a.status, 404, "d-1's card is not found for d-9");
    let a = call(
        &app,
        Call::new("DELETE", format!("/v1/me/payment-methods/{id}"), NEW),
    )
    .await;
    assert_eq!(a.status, 204);
    let a = call(&app, Call::new("GET", "/v1/me/payment-methods", D1)).await;
    assert_eq!(a.json()["items"][0]["id"], "pm-1", "d-1 keeps theirs");
}

#[tokio::test]
async fn lots_quotes_and_availability() {
    let app = day_one().await;
    let a = call(&app, Call::new("GET", "/v1/lots", D1)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let lot = &a.json()["items"][0];
    assert_eq!(lot["id"], "shinjuku-west");
    assert_eq!(lot["availability"]["capacity"], 6);
    assert_eq!(lot["tariff"]["currency"], "JPY");
    let a = call(&app, Call::new("GET", "/v1/lots/shinjuku-west", D1)).await;
    assert_eq!(a.status, 200);
    let a = call(&app, Call::new("GET", "/v1/lots/nowhere", D1)).await;
    assert_eq!(a.status, 404);
    let q = "/v1/lots/shinjuku-west/quote?entry=2026-12-02T09:00:00%2B09:00&exit=2026-12-02T10:00:00%2B09:00";
    let a = call(&app, Call::new("GET", q, D1)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.json()["total"].as_i64().expect("total") > 0);
    let a = call(
        &app,
        Call::new("GET", "/v1/lots/shinjuku-west/quote?entry=yesterday", D1),
    )
    .await;
    assert_eq!((a.status, a.code()), (400, "invalid_query".into()));
    assert_eq!(a.json()["errors"][0]["field"], "query.entry");
    let back = "/v1/lots/shinjuku-west/quote?entry=2026-12-02T10:00:00Z&exit=2026-12-02T09:00:00Z";
    let a = call(&app, Call::new("GET", back, D1)).await;
    assert_eq!((a.status, a.code()), (422, "validation_failed".into()));
}

#[tokio::test]
async fn sessions_and_receipts_are_the_drivers_own() {
    let app = day_one().await;
    let a = call(&app, Call::new("GET", "/v1/me/sessions", D1)).await;
    assert_eq!(a.status, 200);
    let items = a.json()["items"].as_array().cloned().expect("items");
    let done = items
        .iter()
        .find(|s| s["fee"].is_object() && s["state"] != "open")
        .expect("a priced stay")
        .clone();
    let id = done["id"].as_str().expect("id");
    let a = call(&app, Call::new("GET", format!("/v1/me/sessions/{id}"), D1)).await;
    assert_eq!(a.json()["id"], id);
    let a = call(
        &app,
        Call::new("GET", format!("/v1/me/sessions/{id}/receipt"), D1),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.json();
    assert_eq!(r["amount"], done["fee"]["amount"]);
    assert_eq!(r["tax_lines"][0]["rate_bp"], 1000);
    let amount = r["amount"].as_i64().expect("amount");
    assert_eq!(
        r["tax_lines"][0]["tax"].as_i64(),
        Some(amount * 1000 / 11000)
    );
    let a = call(
        &app,
        Call::new("GET", format!("/v1/me/sessions/{id}/receipt.html"), D1),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("text/html"));
    assert!(a.text.contains("領収書"));
    // Another driver: the session, its receipt and its page are not found.
    for path in [
        format!("/v1/me/sessions/{id}"),
        format!("/v1/me/sessions/{id}/receipt"),
        format!("/v1/me/sessions/{id}/receipt.html"),
    ] {
        let a = call(&app, Call::new("GET", path, D2)).await;
        assert_eq!(a.status, 404, "{}", a.text);
        assert!(!a.text.contains(id));
    }
    // A cursor made for d-1's list is refused in d-2's.
    let add = Call::new("POST", "/v1/me/vehicles", D1).json(json!({"plate": "品川 300 さ 99-99"}));
    assert_eq!(call(&app, add).await.status, 201);
    let a = call(&app, Call::new("GET", "/v1/me/vehicles?limit=1", D1)).await;
    let cursor = a.json()["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let next = call(
        &app,
        Call::new("GET", format!("/v1/me/vehicles?cursor={cursor}"), D1),
    )
    .await;
    assert_eq!(next.json()["items"].as_array().map(Vec::len), Some(1));
    assert_ne!(next.json()["items"][0], a.json()["items"][0]);
    let a = call(
        &app,
        Call::new("GET", format!("/v1/me/vehicles?cursor={cursor}"), D2),
    )
    .await;
    assert_eq!((a.status, a.code()), (400, "invalid_cursor".into()));
}

#[tokio::test]
async fn requests_are_refused_clearly() {
    let app = day_one().await;
    let a = call(&app, Call::new("GET", "/v1/me", Who::Anonymous)).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated".into()));
    let op = Who::Role("op-1", "operator", "shinjuku-west");
    let a = call(&app, Call::new("GET", "/v1/me", op)).await;
    assert_eq!((a.status, a.code()), (403, "forbidden".into()));
    let put = || Call::new("PUT", "/v1/me", D1);
    let a = call(&app, put().raw("{\"name\":\"x\"}")).await;
    assert_eq!((a.status, a.code()), (415, "unsupported_media_type".into()));
    let a = call(&app, put().header("content-type", "text/plain").raw("{}")).await;
    assert_eq!(a.status, 415);
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(65 * 1024));
    let a = call(
        &app,
        put().header("content-type", "application/json").raw(big),
    )
    .await;
    assert_eq!((a.status, a.code()), (413, "payload_too_large".into()));
    let a = call(
        &app,
        put()
            .header("content-type", "application/json")
            .raw("{\"name\":"),
    )
    .await;
    assert_eq!((a.status, a.code()), (400, "malformed_json".into()));
    let a = call(&app, put().json(json!({"name": "x", "driver_id": "d-2"}))).await;
    assert_eq!((a.status, a.code()), (400, "invalid_body".into()));
    let a = call(&app, put().json(json!({"name": 7}))).await;
    assert_eq!((a.status, a.code()), (400, "invalid_body".into()));
    assert_eq!(a.json()["errors"][0]["field"], "body.name");
    let a = call(&app, Call::new("GET", "/v1/me/vehicles?limit=1000", D1)).await;
    assert_eq!((a.status, a.code()), (400, "invalid_query".into()));
    let a = call(&app, Call::new("GET", "/v1/me/vehicles?cursor=%%%", D1)).await;
    assert_eq!(a.status, 400);
}

fn reservation(lot: &str, plate: &str, start: &str, end: &str) -> Value {
    json!({"lot_id": lot, "plate": plate, "start": start, "end": end})
}

#[tokio::test]
async fn reservations_with_idempotency_keys() {
    let app = day_one().await;
    let body = reservation(
        "shinjuku-west",
        "品川 300 さ 12-34",
        "2026-12-02T10:00:00+09:00",
        "2026-12-02T12:00:00+09:00",
    );
    let create = |key: &str, body: Value| {
        Call::new("POST", "/v1/me/reservations", D1)
            .header("idempotency-key", key)
            .json(body)
    };
    let a = call(
        &app,
        Call::new("POST", "/v1/me/reservations", D1).json(body.clone()),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (400, "idempotency_key_required".into())
    );
    // The same key twice, at once: one reservation, the same body.
    let (a, b) = tokio::join!(
        call(&app, create("k-1", body.clone())),
        call(&app, create("k-1", body.clone()))
    );
    assert_eq!((a.status, b.status), (201, 201), "{} {}", a.text, b.text);
    assert_eq!(a.json(), b.json());
    let list = call(&app, Call::new("GET", "/v1/me/reservations", D1)).await;
    assert_eq!(list.json()["items"].as_array().map(Vec::len), Some(1));
    // The same key with another body.
    let mut other = body.clone();
    other["end"] = json!("2026-12-02T13:00:00+09:00");
    let c = call(&app, create("k-1", other)).await;
    assert_eq!((c.status, c.code()), (422, "validation_failed".into()));
    assert_eq!(c.json()["errors"][0]["field"], "header.Idempotency-Key");
    // Someone else's plate, a stay in the past, an unknown lot.
    let mut theirs = body.clone();
    theirs["plate"] = json!("品川 500 あ 77-01");
    assert_eq!(call(&app, create("k-2", theirs)).await.status, 422);
    let past = reservation(
        "shinjuku-west",
        "品川 300 さ 12-34",
        "2026-11-01T10:00:00Z",
        "2026-11-01T11:00:00Z",
    );
    assert_eq!(call(&app, create("k-3", past)).await.status, 422);
    let mut nowhere = body.clone();
    nowhere["lot_id"] = json!("nowhere");
    let n = call(&app, create("k-4", nowhere)).await;
    assert_eq!(n.json()["errors"][0]["field"], "body.lot_id");
    // Reading and cancelling: only the driver's own.
    let id = a.json()["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/me/reservations/{id}");
    assert_eq!(call(&app, Call::new("GET", &*path, D2)).await.status, 404);
    assert_eq!(
        call(&app, Call::new("DELETE", &*path, D2)).await.status,
        404
    );
    let r = call(&app, Call::new("GET", &*path, D1)).await;
    assert_eq!(r.json()["state"], "active");
    let r = call(&app, Call::new("DELETE", &*path, D1)).await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, json!("cancelled"))
    );
    // The same request again now answers with the reservation as it is.
    let again = call(&app, create("k-1", body)).await;
    assert_eq!(
        (again.status, again.json()["state"].clone()),
        (201, json!("cancelled"))
    );
}

/// Fifty drivers ask at once for the lot's last reservable bay.
async fn last_slot<S: Store + 'static>(store: S) {
    let mut lot = parking_tests::fx::lot("lot-last", 1);
    lot.settings = LotSettings::default();
    store.put_lot(&lot).await.expect("lot");
    let clock = FixedClock(at(NOW));
    for i in 0..50 {
        let d = DriverId::parse(&format!("d-{i}")).expect("id");
        usecases::account::save_profile(&store, &clock, &d, "Racer")
            .await
            .expect("profile");
        // Proven plates (a claim through the app waits for its proof).
        store
            .register_plate(&PlateRegistration {
                plate: parking_core::Plate::parse(&format!(
                    "品川 300 さ {:02}-{:02}",
                    i / 100 + 10,
                    i % 100
                ))
                .expect("plate"),
                driver_id: d.clone(),
                registered_at: at(NOW),
            })
            .await
            .expect("plate");
    }
    let app = app(store, NOW);
    let calls = (0..50).map(|i| {
        let app = app.clone();
        async move {
            let sub: &'static str = Box::leak(format!("d-{i}").into_boxed_str());
            let body = reservation(
                "lot-last",
                &format!("品川 300 さ {:02}-{:02}", i / 100 + 10, i % 100),
                "2026-12-02T10:00:00Z",
                "2026-12-02T11:00:00Z",
            );
            let c = Call::new("POST", "/v1/me/reservations", Who::Driver(sub))
                .header("idempotency-key", &format!("key-{i}"))
                .json(body);
            call(&app, c).await
        }
    });
    let answers = futures::future::join_all(calls).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let full = answers
        .iter()
        .filter(|a| a.status == 409 && a.code() == "slot_full")
        .count();
    assert_eq!(
        (created, full),
        (1, 49),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_requests_for_the_last_slot_make_one_reservation_memory() {
    last_slot(MemoryStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_requests_for_the_last_slot_make_one_reservation_dynamodb() {
    last_slot(parking_tests::fresh_dynamo_store(None).await).await;
}
