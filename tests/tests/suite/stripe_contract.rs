//! The Stripe client against Stripe's published contract: every request
//! the adapter sends — each call it makes, through a recording server that
//! answers as Stripe would — is checked against the operations of Stripe's
//! OpenAPI document it uses (`fixtures/stripe/openapi-subset.json`, taken
//! from the public `stripe/openapi` repository): the operation exists,
//! every form field and query parameter is one the operation declares,
//! with the declared kind (a bracketed field is an object's or an array's),
//! the required ones are there, and every request pins the API version;
//! every request that moves money or creates something carries an
//! idempotency key.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use parking_app::settlement::*;
use parking_app::*;
use parking_aws::stripe::{API_VERSION, StripeKey, StripeProvider};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Vec<String>,
    form: Vec<String>,
    idempotency_key: bool,
    version: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn names(encoded: &str) -> Vec<String> {
    encoded
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| decode(p.split('=').next().unwrap_or("")))
        .collect()
}

/// What Stripe answers, enough for the client to go on.
fn answer(method: &Method, path: &str) -> Value {
    let intent = json!({"id": "pi_1", "object": "payment_intent", "status": "succeeded",
                        "amount": 800, "metadata": {"attempt": "s-1.m1"}});
    match (method.as_str(), path) {
        ("POST", "/v1/customers") => json!({"id": "cus_1", "object": "customer"}),
        ("POST", "/v1/setup_intents") => {
            json!({"id": "seti_1", "object": "setup_intent", "status": "succeeded"})
        }
        ("POST", p) if p.starts_with("/v1/payment_methods/") => {
            json!({"id": "pm_1", "object": "payment_method"})
        }
        ("POST", "/v1/payment_intents") => intent,
        ("GET", p) if p.starts_with("/v1/payment_intents/") => intent,
        ("GET", "/v1/charges") => json!({"object": "list", "has_more": false, "data": [
            {"id": "ch_1", "object": "charge", "status": "succeeded", "payment_intent": "pi_1"}]}),
        ("POST", "/v1/refunds") => json!({"id": "re_1", "object": "refund", "status": "succeeded",
                                          "amount": 300, "metadata": {"attempt": "s-1.m2"}}),
        ("GET", "/v1/refunds") => json!({"object": "list", "has_more": false, "data": [
            {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 300,
             "metadata": {"attempt": "s-1.m2"}}]}),
        _ => json!({"error": {"type": "invalid_request_error", "code": "resource_missing"}}),
    }
}

async fn record(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path().to_owned();
    log.lock().unwrap_or_else(|p| p.into_inner()).push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: names(uri.query().unwrap_or("")),
        form: names(std::str::from_utf8(&body).unwrap_or("")),
        idempotency_key: headers.contains_key("idempotency-key"),
        version: headers
            .get("stripe-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        answer(&method, &path).to_string(),
    )
        .into_response()
}

/// The operation of the document a request is for: its method and a
/// path template whose `{…}` segments match any one segment.
fn operation<'a>(ops: &'a BTreeMap<String, Value>, seen: &Seen) -> Option<(&'a str, &'a Value)> {
    ops.iter().find_map(|(name, op)| {
        let (method, template) = name.split_once(' ')?;
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = seen.path.split('/').collect();
        let fits = method == seen.method
            && t.len() == p.len()
            && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b);
        fits.then_some((name.as_str(), op))
    })
}

/// Whether a field as sent (`metadata[attempt]`, `expand[]`,
/// `created[gt]`, `amount`) fits what the document declares for its name.
fn fits(declared: &Value, sent: &str) -> bool {
    let kinds: Vec<&str> = match declared {
        Value::String(k) => vec![k.as_str()],
        Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    match sent.split_once('[') {
        None => kinds
            .iter()
            .any(|k| matches!(*k, "string" | "integer" | "boolean" | "number")),
        Some((_, "]")) => kinds.contains(&"array"),
        Some(_) => kinds.contains(&"object"),
    }
}

fn top(name: &str) -> &str {
    name.split('[').next().unwrap_or(name)
}

#[tokio::test]
async fn every_request_fits_stripes_published_contract() {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/stripe/openapi-subset.json"),
    )
    .expect("the OpenAPI subset");
    let doc: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        doc["source"]["repo"], "stripe/openapi",
        "taken from Stripe's published document"
    );
    let ops: BTreeMap<String, Value> = doc["operations"]
        .as_object()
        .expect("operations")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let log: Log = Arc::default();
    let app = axum::Router::new().fallback(record).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let p = StripeProvider::new(
        &format!("http://{addr}"),
        StripeKey::new("sk_test_contract"),
    )
    .expect("client");

    // Every call the adapter makes.
    let driver: DriverId = "d-1".parse().expect("id");
    let token = PaymentToken::new("pm_card_visa");
    let key: IdempotencyKey = "s-1.m1".parse().expect("key");
    let refund_key: IdempotencyKey = "s-1.m2".parse().expect("key");
    let yen = |n| parking_core::Money::new(n, parking_core::Currency::JPY);
    p.save_card(&driver, None, &token).await.expect("saved");
    p.setup_card(&SetupRequest {
        key: "setup-pm-1",
        driver: &driver,
        customer: None,
        token: &token,
    })
    .await
    .expect("set up");
    let charge = ChargeRequest {
        key: &key,
        token: &token,
        customer: Some("cus_1"),
        amount: yen(800),
    };
    p.charge(&charge).await.expect("charged");
    p.find_charge(&charge, jiff::Timestamp::UNIX_EPOCH)
        .await
        .expect("found");
    p.attempt_of("pi_1").await.expect("attempt");
    let refund = RefundRequest {
        key: &refund_key,
        charge_id: "pi_1",
        amount: yen(300),
    };
    p.refund(&refund).await.expect("refunded");
    p.find_refund(&refund).await.expect("found");

    let seen = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut covered = std::collections::BTreeSet::new();
    for s in &seen {
        let (name, op) = operation(&ops, s)
            .unwrap_or_else(|| panic!("{} {}: not in the document", s.method, s.path));
        covered.insert(name.to_owned());
        assert_eq!(
            s.version.as_deref(),
            Some(API_VERSION),
            "{name}: the API version"
        );
        let (sent, declared) = if s.method == "GET" {
            (&s.query, &op["query"])
        } else {
            (&s.form, &op["form"])
        };
        for field in sent {
            let d = declared
                .get(top(field))
                .unwrap_or_else(|| panic!("{name}: {field} is not a parameter of the operation"));
            assert!(fits(d, field), "{name}: {field} does not fit {d}");
        }
        for required in op["required"].as_array().into_iter().flatten() {
            let r = required.as_str().unwrap_or_default();
            assert!(
                sent.iter().any(|f| top(f) == r),
                "{name}: the required {r} is missing"
            );
        }
        if s.method == "POST" && !s.path.contains("/attach") {
            assert!(s.idempotency_key, "{name}: no Idempotency-Key");
        }
    }
    // Off-session charges and card setups never redirect (so no
    // `return_url` is needed).
    for path in ["/v1/payment_intents", "/v1/setup_intents"] {
        let sent = seen
            .iter()
            .find(|s| s.method == "POST" && s.path == path)
            .unwrap_or_else(|| panic!("{path} was called"));
        assert!(
            sent.form
                .iter()
                .any(|f| f == "automatic_payment_methods[allow_redirects]"),
            "{path}"
        );
        assert!(!sent.form.iter().any(|f| f == "return_url"), "{path}");
    }
    assert!(
        covered.len() >= 7,
        "every request shape was checked: {covered:?}"
    );
}
