//! A Stripe-compatible payment provider: a small REST client over
//! `reqwest` (rustls, with the crypto provider the AWS SDK links), with
//! form-encoded requests, the `Idempotency-Key` header, and only the calls
//! settlement needs: customers, attaching a payment method, PaymentIntents
//! confirmed off-session, listing charges and refunds, refunds.
//!
//! Stripe answers an off-session charge that needs the cardholder with
//! `402 authentication_required`; some fakes answer `200` with the intent
//! in `requires_action`. Both mean [`ProviderError::AuthenticationRequired`].
//! Nothing the provider says about a request is copied into an error
//! (its messages may quote a payment method's id): errors carry the HTTP
//! status and Stripe's error type and code only.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use parking_app::settlement::*;
use parking_app::{DriverId, PaymentToken};
use parking_core::{Currency, Money};
use serde::Deserialize;

/// The provider's secret API key; never shown.
#[derive(Clone)]
pub struct StripeKey(String);

impl StripeKey {
    pub fn new(key: impl Into<String>) -> Self {
        StripeKey(key.into())
    }
}

impl fmt::Debug for StripeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StripeKey(<redacted>)")
    }
}

/// The API version requests are made at.
pub const API_VERSION: &str = "2024-06-20";
/// How long one call may take: well inside a settlement claim's lease.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The Stripe-compatible provider.
#[derive(Debug, Clone)]
pub struct StripeProvider {
    http: reqwest::Client,
    base: String,
    key: StripeKey,
}

/// An HTTP client on rustls with the crypto provider the AWS SDK links
/// (installed as the process's default), the system's roots, and the
/// call timeouts.
///
/// # Errors
///
/// When the client cannot be built (no TLS roots).
pub fn client() -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| format!("the payment provider's HTTP client: {}", e.without_url()))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: StripeError,
}

#[derive(Deserialize)]
struct StripeError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
}

#[derive(Deserialize)]
struct Object {
    id: String,
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
    #[serde(default)]
    last_payment_error: Option<StripeError>,
}

#[derive(Deserialize)]
struct SetupIntentObject {
    status: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    last_setup_error: Option<StripeError>,
}

#[derive(Deserialize)]
struct ChargeObject {
    status: String,
    #[serde(default)]
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct RefundObject {
    id: String,
    amount: i64,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

/// What a call that reached the provider got back.
enum Answer {
    Ok(Vec<u8>),
    Refused(reqwest::StatusCode, Option<StripeError>),
}

impl StripeProvider {
    /// A client for the API at `base` (`https://api.stripe.com`, or a
    /// local fake).
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(base: &str, key: StripeKey) -> Result<Self, String> {
        Ok(StripeProvider {
            http: client()?,
            base: base.trim_end_matches('/').to_owned(),
            key,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.key.0)
            .header("Stripe-Version", API_VERSION);
        if method == reqwest::Method::GET {
            request = request.query(form);
        } else {
            request = request.form(form);
        }
        if let Some(k) = idempotency_key {
            request = request.header("Idempotency-Key", k);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                ProviderError::Unavailable("could not connect".into())
            } else {
                // Sent, or perhaps sent: whether it acted is unknown.
                ProviderError::Timeout
            }
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|_| ProviderError::Timeout)?;
        if status.is_success() {
            return Ok(Answer::Ok(body.to_vec()));
        }
        // 5xx: Stripe may have acted, and keeps the answer under the key.
        if status.is_server_error() {
            return Err(ProviderError::Failed(format!("HTTP {}", status.as_u16())));
        }
        // 409: the same key is still being worked on (a retry overtook
        // the first request); 429: throttled. Neither acted.
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::CONFLICT
        {
            return Err(ProviderError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        Ok(Answer::Refused(status, error))
    }

    fn parse<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, ProviderError> {
        serde_json::from_slice(body).map_err(|e| {
            // serde's words may quote the provider's values: kept out.
            ProviderError::Unavailable(format!(
                "unreadable {what} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
        what: &str,
    ) -> Result<T, ProviderError> {
        match self.call(method, path, form, idempotency_key).await? {
            Answer::Ok(body) => Self::parse(&body, what),
            Answer::Refused(status, error) => Err(refusal(status, error.as_ref())),
        }
    }

    async fn intent(&self, id: &str) -> Result<Intent, ProviderError> {
        let path = format!("/v1/payment_intents/{id}");
        self.send(reqwest::Method::GET, &path, &[], None, "payment intent")
            .await
    }
}

/// A refused request: a 402 (or a `card_error`) is the card's answer; a
/// 401 or 403 is our credentials'; anything else (400, 404, an
/// `idempotency_error`) is our request's.
fn refusal(status: reqwest::StatusCode, error: Option<&StripeError>) -> ProviderError {
    let code = error.and_then(|e| e.code.clone());
    let kind = error.and_then(|e| e.kind.as_deref());
    let words = || {
        format!(
            "HTTP {} {}/{}",
            status.as_u16(),
            kind.unwrap_or("error"),
            code.as_deref().unwrap_or("unknown")
        )
    };
    match (status.as_u16(), code.as_deref(), kind) {
        (_, Some("authentication_required"), _) => ProviderError::AuthenticationRequired,
        (401 | 403, _, _) => ProviderError::Configuration(words()),
        (402, _, _) | (_, _, Some("card_error")) => ProviderError::Declined {
            code: error
                .and_then(|e| e.decline_code.clone().or(e.code.clone()))
                .unwrap_or_else(|| "card_declined".into()),
        },
        _ => ProviderError::Request(words()),
    }
}

/// What an intent's state says about a charge.
fn charged(intent: Intent, currency: Currency) -> Result<ProviderCharge, ProviderError> {
    match intent.status.as_str() {
        "succeeded" => Ok(ProviderCharge {
            id: intent.id,
            amount: Money::new(intent.amount, currency),
        }),
        // Stripe answers 402 for this off-session; some fakes answer 200.
        "requires_action" => Err(ProviderError::AuthenticationRequired),
        "requires_payment_method" => {
            let e = intent.last_payment_error;
            match e.as_ref().and_then(|e| e.code.as_deref()) {
                Some("authentication_required") => Err(ProviderError::AuthenticationRequired),
                _ => Err(ProviderError::Declined {
                    code: e
                        .and_then(|e| e.decline_code.or(e.code))
                        .unwrap_or_else(|| "card_declined".into()),
                }),
            }
        }
        // Still at it: the answer comes later, by looking it up.
        "processing" => Err(ProviderError::Unavailable(
            "the charge is processing".into(),
        )),
        other => Err(ProviderError::Request(format!(
            "the payment intent is {other}"
        ))),
    }
}

fn currency_code(c: Currency) -> String {
    c.code().to_ascii_lowercase()
}

impl PaymentProvider for StripeProvider {
    /// `DELETE /v1/customers/{id}`: the customer and its payment methods
    /// go; a customer Stripe no longer has (404) is forgotten already.
    async fn forget_customer(&self, customer: &str) -> Result<(), ProviderError> {
        let path = format!("/v1/customers/{customer}");
        match self.call(reqwest::Method::DELETE, &path, &[], None).await? {
            Answer::Ok(_) => Ok(()),
            Answer::Refused(status, _) if status == reqwest::StatusCode::NOT_FOUND => Ok(()),
            Answer::Refused(status, error) => Err(refusal(status, error.as_ref())),
        }
    }

    async fn save_card(
        &self,
        driver: &DriverId,
        customer: Option<&str>,
        token: &PaymentToken,
    ) -> Result<String, ProviderError> {
        let customer = match customer {
            Some(c) => c.to_owned(),
            None => {
                let key = format!("customer-{driver}");
                let made: Object = self
                    .send(
                        reqwest::Method::POST,
                        "/v1/customers",
                        &[("metadata[driver_id]", driver.to_string())],
                        Some(&key),
                        "customer",
                    )
                    .await?;
                made.id
            }
        };
        let path = format!("/v1/payment_methods/{}/attach", token.expose());
        let _: Object = self
            .send(
                reqwest::Method::POST,
                &path,
                &[("customer", customer.clone())],
                None,
                "payment method",
            )
            .await?;
        Ok(customer)
    }

    async fn setup_card(&self, request: &SetupRequest<'_>) -> Result<SetupOutcome, ProviderError> {
        let customer = match request.customer {
            Some(c) => c.to_owned(),
            None => {
                let key = format!("customer-{}", request.driver);
                let made: Object = self
                    .send(
                        reqwest::Method::POST,
                        "/v1/customers",
                        &[("metadata[driver_id]", request.driver.to_string())],
                        Some(&key),
                        "customer",
                    )
                    .await?;
                made.id
            }
        };
        let form = [
            ("customer", customer.clone()),
            ("payment_method", request.token.expose().to_owned()),
            ("confirm", "true".to_owned()),
            ("usage", "off_session".to_owned()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
            (
                "automatic_payment_methods[allow_redirects]",
                "never".to_owned(),
            ),
            // The app's SDK handles 3-D Secure: no redirect, no return_url.
            ("use_stripe_sdk", "true".to_owned()),
            ("metadata[driver_id]", request.driver.to_string()),
        ];
        let setup: SetupIntentObject = self
            .send(
                reqwest::Method::POST,
                "/v1/setup_intents",
                &form,
                Some(request.key),
                "setup intent",
            )
            .await?;
        match setup.status.as_str() {
            "succeeded" | "processing" => Ok(SetupOutcome {
                customer,
                client_secret: None,
            }),
            "requires_action" | "requires_confirmation" => Ok(SetupOutcome {
                customer,
                client_secret: setup.client_secret,
            }),
            _ => Err(ProviderError::Declined {
                code: setup
                    .last_setup_error
                    .and_then(|e| e.decline_code.or(e.code))
                    .unwrap_or_else(|| "card_declined".into()),
            }),
        }
    }

    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ProviderCharge, ProviderError> {
        let currency = request.amount.currency;
        let least = minimum_charge(currency);
        if request.amount.minor < least {
            return Err(ProviderError::Request(format!(
                "{} is below the smallest charge ({})",
                request.amount,
                Money::new(least, currency)
            )));
        }
        let mut form = vec![
            ("amount", request.amount.minor.to_string()),
            ("currency", currency_code(currency)),
            ("payment_method", request.token.expose().to_owned()),
            ("confirm", "true".into()),
            ("off_session", "true".into()),
            // The saved card, never a redirect: an intent that may take
            // redirecting methods wants a `return_url`, which an
            // off-session charge has not.
            ("automatic_payment_methods[enabled]", "true".into()),
            ("automatic_payment_methods[allow_redirects]", "never".into()),
            ("metadata[attempt]", request.key.to_string()),
        ];
        if let Some(c) = request.customer {
            form.push(("customer", c.to_owned()));
        }
        match self
            .call(
                reqwest::Method::POST,
                "/v1/payment_intents",
                &form,
                Some(request.key.as_str()),
            )
            .await?
        {
            Answer::Ok(body) => charged(Self::parse(&body, "payment intent")?, currency),
            Answer::Refused(status, error) => Err(refusal(status, error.as_ref())),
        }
    }

    async fn find_charge(
        &self,
        request: &ChargeRequest<'_>,
        since: Timestamp,
    ) -> Result<Option<ProviderCharge>, ProviderError> {
        let Some(customer) = request.customer else {
            return Ok(None);
        };
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("customer", customer.to_owned()),
                ("created[gt]", (since.as_second() - 1).to_string()),
                ("limit", "100".into()),
            ];
            if let Some(a) = &after {
                query.push(("starting_after", a.clone()));
            }
            let page: Page<serde_json::Value> = self
                .send(reqwest::Method::GET, "/v1/charges", &query, None, "charges")
                .await?;
            for raw in &page.data {
                let Ok(c) = serde_json::from_value::<ChargeObject>(raw.clone()) else {
                    continue;
                };
                let Some(pi) = c.payment_intent.filter(|_| c.status == "succeeded") else {
                    continue;
                };
                let intent = self.intent(&pi).await?;
                if intent.metadata.get("attempt").map(String::as_str) == Some(request.key.as_str())
                {
                    return charged(intent, request.amount.currency).map(Some);
                }
            }
            after = page
                .data
                .last()
                .and_then(|c| c.get("id"))
                .and_then(|id| id.as_str())
                .map(str::to_owned);
            if !page.has_more || after.is_none() {
                return Ok(None);
            }
        }
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<ProviderRefund, ProviderError> {
        let form = [
            ("payment_intent", request.charge_id.to_owned()),
            ("amount", request.amount.minor.to_string()),
            ("metadata[attempt]", request.key.to_string()),
        ];
        let r: RefundObject = self
            .send(
                reqwest::Method::POST,
                "/v1/refunds",
                &form,
                Some(request.key.as_str()),
                "refund",
            )
            .await?;
        match r.status.as_deref() {
            // The card cannot take it back (closed, expired): the card's.
            Some("failed" | "canceled") => Err(ProviderError::Declined {
                code: "refund_failed".into(),
            }),
            _ => Ok(ProviderRefund {
                id: r.id,
                amount: Money::new(r.amount, request.amount.currency),
            }),
        }
    }

    async fn attempt_of(
        &self,
        charge_id: &str,
    ) -> Result<Option<parking_app::IdempotencyKey>, ProviderError> {
        let intent = self.intent(charge_id).await?;
        Ok(intent
            .metadata
            .get("attempt")
            .and_then(|k| parking_app::IdempotencyKey::parse(k).ok()))
    }

    async fn find_refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> Result<Option<ProviderRefund>, ProviderError> {
        let query = [
            ("payment_intent", request.charge_id.to_owned()),
            ("limit", "100".to_owned()),
        ];
        let page: Page<RefundObject> = self
            .send(reqwest::Method::GET, "/v1/refunds", &query, None, "refunds")
            .await?;
        Ok(page
            .data
            .into_iter()
            .find(|r| r.metadata.get("attempt").map(String::as_str) == Some(request.key.as_str()))
            .map(|r| ProviderRefund {
                id: r.id,
                amount: Money::new(r.amount, request.amount.currency),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> Option<StripeError> {
        serde_json::from_str::<ErrorBody>(body)
            .ok()
            .map(|b| b.error)
    }

    /// Stripe's answer to an off-session charge that needs the cardholder
    /// (`402`, code `authentication_required`), and to a decline.
    #[test]
    fn a_402_is_the_cards_answer() {
        let auth = error(
            r#"{"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required","message":"Your card was declined. This transaction requires authentication.","payment_intent":{"id":"pi_1","status":"requires_payment_method"}}}"#,
        );
        assert_eq!(
            refusal(reqwest::StatusCode::PAYMENT_REQUIRED, auth.as_ref()),
            ProviderError::AuthenticationRequired
        );
        let declined = error(
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#,
        );
        assert_eq!(
            refusal(reqwest::StatusCode::PAYMENT_REQUIRED, declined.as_ref()),
            ProviderError::Declined {
                code: "insufficient_funds".into()
            }
        );
        // A refused request never carries the provider's message, which
        // may quote a payment method.
        let missing = error(
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod: 'pm_secret'"}}"#,
        );
        let e = refusal(reqwest::StatusCode::BAD_REQUEST, missing.as_ref());
        assert_eq!(
            e,
            ProviderError::Request("HTTP 400 invalid_request_error/resource_missing".into())
        );
    }

    /// A 200 whose intent wants action (a lenient fake's answer) means the
    /// same as Stripe's 402.
    #[test]
    fn an_intent_that_wants_action_needs_the_cardholder() {
        let intent = |status: &str, last: Option<&str>| Intent {
            id: "pi_1".into(),
            status: status.into(),
            amount: 1200,
            metadata: Default::default(),
            last_payment_error: last.map(|code| StripeError {
                kind: None,
                code: Some(code.into()),
                decline_code: None,
            }),
        };
        assert_eq!(
            charged(intent("requires_action", None), Currency::JPY),
            Err(ProviderError::AuthenticationRequired)
        );
        assert_eq!(
            charged(
                intent("requires_payment_method", Some("authentication_required")),
                Currency::JPY
            ),
            Err(ProviderError::AuthenticationRequired)
        );
        assert_eq!(
            charged(
                intent("requires_payment_method", Some("card_declined")),
                Currency::JPY
            ),
            Err(ProviderError::Declined {
                code: "card_declined".into()
            })
        );
        assert!(
            charged(intent("processing", None), Currency::JPY).is_err_and(|e| e.is_retryable())
        );
        assert_eq!(
            charged(intent("succeeded", None), Currency::JPY),
            Ok(ProviderCharge {
                id: "pi_1".into(),
                amount: Money::new(1200, Currency::JPY)
            })
        );
    }

    #[test]
    fn the_key_is_never_shown() {
        let k = StripeKey::new("sk_live_secret");
        assert!(!format!("{k:?}").contains("secret"));
    }
}
