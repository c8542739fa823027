//! Operator webhooks: a lot's subscriptions (an https address, the event
//! types it wants, a signing secret), the events they are told of, and how
//! each delivery is signed, retried and given up on. The store keeps a
//! lot's subscriptions as one item ([`LotHooks`], at most
//! [`MAX_SUBSCRIPTIONS`]), written conditionally on the version read.
//!
//! The protocol a receiver sees:
//!
//! - **The request.** `POST` of a JSON event `{"id", "type", "lot_id",
//!   "created_at", "data"}` ([`LotEvent`]). `Seamless-Webhook-Id` is the
//!   event's id, the same on every retry and replay: a receiver drops one
//!   it has handled. `Seamless-Signature` is `t=<unix seconds>,v1=<hex>`,
//!   the HMAC-SHA256 of `"{t}.{body}"` under the subscription's secret
//!   ([`sign`]); a receiver refuses a signature whose `t` is more than
//!   five minutes off ([`verify`]).
//! - **Retries.** A `2xx` answer is delivered. Anything else, or no answer
//!   within [`TIMEOUT_SECONDS`], is tried again after 1 minute, 5 minutes,
//!   30 minutes, 2, 6 and 12 hours ([`retry_after`]); after the seventh
//!   attempt the delivery is given up and kept among the subscription's
//!   missed events (the last [`MISSED_KEPT`]), which an operator can
//!   replay.
//! - **Switched off.** [`DISABLE_AFTER`] failed attempts in a row, with no
//!   `2xx` between them, switch the subscription off, with a notice in the
//!   lot's audit trail; nothing more is sent to it until an operator turns
//!   it on again.
//!
//! Events carry ids (session, device) and amounts, never a plate, a
//! driver or a card.

use std::fmt;
use std::future::Future;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::LotId;
use crate::store::StoreResult;

/// Subscriptions a lot may have.
pub const MAX_SUBSCRIPTIONS: usize = 10;
/// Given-up events kept per subscription for replay, newest last.
pub const MISSED_KEPT: usize = 20;
/// Failed attempts in a row that switch a subscription off.
pub const DISABLE_AFTER: u32 = 10;
/// How long a receiver has to answer.
pub const TIMEOUT_SECONDS: u64 = 10;
/// How far a signature's time may be from the receiver's clock.
pub const TOLERANCE: SignedDuration = SignedDuration::from_mins(5);
/// The pauses before the second, third, … attempt.
const RETRIES: [i64; 6] = [60, 300, 1_800, 7_200, 21_600, 43_200];

/// What a subscription may ask to be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A stay left and was priced (or needs a person to price it).
    #[serde(rename = "stay.closed")]
    StayClosed,
    /// A card payment failed for good: its retries ran out.
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    /// A car was turned away: the lot was full.
    #[serde(rename = "lot.full")]
    LotFull,
    /// A gate's or bay's device went offline: disconnected, or silent
    /// beyond its lot's timeout.
    #[serde(rename = "device.offline")]
    DeviceOffline,
    /// A cardholder disputed a charge for a stay: answer it before the
    /// bank's deadline.
    #[serde(rename = "dispute.opened")]
    DisputeOpened,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::StayClosed,
        EventType::PaymentFailed,
        EventType::LotFull,
        EventType::DeviceOffline,
        EventType::DisputeOpened,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventType::StayClosed => "stay.closed",
            EventType::PaymentFailed => "payment.failed",
            EventType::LotFull => "lot.full",
            EventType::DeviceOffline => "device.offline",
            EventType::DisputeOpened => "dispute.opened",
        }
    }

    /// Parses a name.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.name() == text)
    }
}

/// Something that happened at a lot, as subscribers are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotEvent {
    /// Derived from what happened, so the same event always has the same
    /// id (`stay.closed/{session}`).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub lot_id: LotId,
    pub created_at: Timestamp,
    pub data: serde_json::Value,
}

impl LotEvent {
    pub fn new(
        kind: EventType,
        lot_id: LotId,
        subject: &str,
        at: Timestamp,
        data: serde_json::Value,
    ) -> Self {
        LotEvent {
            id: format!("{}/{subject}", kind.name()),
            kind,
            lot_id,
            created_at: at,
            data,
        }
    }
}

/// A subscription's signing secret: shown once, when it is made; never
/// in `Debug` output or a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A new random secret: `whsec_` and 32 bytes from the operating
    /// system's generator, in hex.
    pub fn generate() -> Self {
        use rand::{RngCore, TryRngCore};
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.unwrap_err().fill_bytes(&mut bytes);
        Secret(format!("whsec_{}", hex::encode(bytes)))
    }

    pub fn from_text(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub at: Timestamp,
    /// The receiver's status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub error: String,
}

/// One subscription of a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    /// An `https` address on the public internet ([`check_url`]).
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: Secret,
    pub created_at: Timestamp,
    pub enabled: bool,
    /// When it was switched off after repeated failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<Timestamp>,
    /// Failed attempts since the last `2xx`.
    #[serde(default)]
    pub failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<Timestamp>,
    /// Events given up on, newest last, at most [`MISSED_KEPT`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed: Vec<LotEvent>,
}

impl Subscription {
    /// Whether it wants `event` now.
    pub fn wants(&self, event: EventType) -> bool {
        self.enabled && self.events.contains(&event)
    }
}

/// A lot's subscriptions, as one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotHooks {
    pub lot_id: LotId,
    /// 0 for none stored; each stored change adds one.
    pub version: u64,
    pub subscriptions: Vec<Subscription>,
}

impl LotHooks {
    pub fn new(lot_id: LotId) -> Self {
        LotHooks {
            lot_id,
            version: 0,
            subscriptions: Vec::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Subscription> {
        self.subscriptions.iter_mut().find(|s| s.id == id)
    }
}

/// One event for one subscription, as the webhooks queue carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub lot_id: LotId,
    pub subscription_id: String,
    pub event: LotEvent,
    /// 0 for the first delivery; a replay counts up, so the queue does
    /// not take it for a repeat.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replay: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the webhooks queue carries: an event, to be handed to each
/// subscription that wants it, or one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum HookMessage {
    Event(LotEvent),
    Delivery(Delivery),
}

impl HookMessage {
    pub fn event(&self) -> &LotEvent {
        match self {
            HookMessage::Event(e) => e,
            HookMessage::Delivery(d) => &d.event,
        }
    }

    /// Unique per message, stable across deliveries: the queue's
    /// deduplication id.
    pub fn id(&self) -> String {
        match self {
            HookMessage::Event(e) => format!("hook/{}", e.id),
            HookMessage::Delivery(d) if d.replay > 0 => {
                format!("hook/{}/{}/r{}", d.subscription_id, d.event.id, d.replay)
            }
            HookMessage::Delivery(d) => format!("hook/{}/{}", d.subscription_id, d.event.id),
        }
    }

    /// Delivered in order within: a lot's events; a subscription's
    /// deliveries (one that keeps failing holds back only its own).
    pub fn group(&self) -> String {
        match self {
            HookMessage::Event(e) => e.lot_id.to_string(),
            HookMessage::Delivery(d) => format!("{}/{}", d.lot_id, d.subscription_id),
        }
    }
}

/// The pause after the `attempt`-th attempt failed (1 for the first),
/// or `None` when it was the last.
pub fn retry_after(attempt: u32) -> Option<SignedDuration> {
    let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
    RETRIES.get(i).map(|s| SignedDuration::from_secs(*s))
}

/// Attempts before a delivery is given up.
pub const ATTEMPTS: u32 = RETRIES.len() as u32 + 1;

fn mac(secret: &Secret, t: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

/// The `Seamless-Signature` header for `body` sent at `at`.
pub fn sign(secret: &Secret, at: Timestamp, body: &[u8]) -> String {
    let t = at.as_second();
    let v1 = mac(secret, t, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={t},v1={v1}")
}

/// Whether `header` signs `body` under `secret`, at a time within
/// [`TOLERANCE`] of `now` (compared in constant time).
pub fn verify(secret: &Secret, header: &str, body: &[u8], now: Timestamp) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let fresh = Timestamp::from_second(t).is_ok_and(|at| now.duration_since(at).abs() <= TOLERANCE);
    fresh
        && sigs
            .iter()
            .any(|sig| mac(secret, t, body).is_some_and(|m| m.verify_slice(sig).is_ok()))
}

/// A lot's subscriptions, as a store keeps them.
pub trait HookStore: Send + Sync {
    /// The lot's subscriptions, if it ever had any.
    fn lot_hooks(&self, lot: &LotId) -> impl Future<Output = StoreResult<Option<LotHooks>>> + Send;
    /// Writes them if the stored version is still the one before
    /// `hooks.version` (none stored for version 1).
    ///
    /// # Errors
    ///
    /// `Conflict(Refusal::HooksChanged)` when another write came first:
    /// read again and apply again.
    fn put_lot_hooks(&self, hooks: &LotHooks) -> impl Future<Output = StoreResult<()>> + Send;
}

/// What a receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Its HTTP status.
    Status(u16),
    /// No answer: why (refused, timed out, TLS), in words.
    Unreachable(String),
}

/// Sends webhook requests.
pub trait HookClient: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`, within
    /// [`TIMEOUT_SECONDS`].
    fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> impl Future<Output = Answer> + Send;
}

/// Checks a subscription's address: `https`, to a host by name or a
/// public IP address (never the loopback, a private network or the
/// link-local metadata address). The HTTP client checks the addresses a
/// name resolves to again when it sends.
///
/// # Errors
///
/// A sentence saying what is wrong.
pub fn check_url(text: &str) -> Result<(), String> {
    let u = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if u.scheme() != "https" {
        return Err("must be an https address".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    match u.host() {
        None => Err("must name a host".into()),
        Some(url::Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
        {
            Err("must not be this machine".into())
        }
        Some(url::Host::Domain(_)) => Ok(()),
        Some(url::Host::Ipv4(ip)) if public(std::net::IpAddr::V4(ip)) => Ok(()),
        Some(url::Host::Ipv6(ip)) if public(std::net::IpAddr::V6(ip)) => Ok(()),
        Some(_) => Err("must not be a loopback, private or link-local address".into()),
    }
}

/// Whether an address is on the public internet: not the loopback, a
/// private or shared network, link-local (the instance metadata
/// service), multicast, or unspecified.
pub fn public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v) => {
            let [a, b, ..] = v.octets();
            !(v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_multicast()
                || v.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v) => {
            if let Some(v4) = v.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let seg = v.segments();
            // An IPv4 address inside: NAT64 (64:ff9b::/96), 6to4
            // (2002::/16), or IPv4-compatible (::a.b.c.d).
            let o = v.octets();
            let inner = |i: usize| std::net::Ipv4Addr::new(o[i], o[i + 1], o[i + 2], o[i + 3]);
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                return public(IpAddr::V4(inner(12)));
            }
            if seg[0] == 0x2002 {
                return public(IpAddr::V4(inner(2)));
            }
            if seg[..6] == [0, 0, 0, 0, 0, 0] {
                return public(IpAddr::V4(inner(12)));
            }
            let first = seg[0];
            !(v.is_loopback()
                || v.is_unspecified()
                || v.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("a time")
    }

    #[test]
    fn a_signature_verifies_only_its_body_secret_and_time() {
        let secret = Secret::from_text("whsec_test");
        let body = br#"{"id":"stay.closed/s-1"}"#;
        let header = sign(&secret, at(0), body);
        assert!(verify(&secret, &header, body, at(10)));
        assert!(!verify(
            &secret,
            &header,
            br#"{"id":"stay.closed/s-2"}"#,
            at(10)
        ));
        assert!(!verify(
            &Secret::from_text("whsec_other"),
            &header,
            body,
            at(10)
        ));
        // Replayed more than five minutes later.
        assert!(!verify(&secret, &header, body, at(301)));
        assert!(!verify(&secret, "t=1800000000", body, at(0)));
        assert!(!verify(&secret, "v1=00", body, at(0)));
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }

    #[test]
    fn retries_back_off_then_stop() {
        let pauses: Vec<i64> = (1..=ATTEMPTS)
            .map_while(retry_after)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(pauses, vec![60, 300, 1_800, 7_200, 21_600, 43_200]);
        assert_eq!(retry_after(ATTEMPTS), None);
        assert_eq!(retry_after(0), None);
    }

    #[test]
    fn addresses_are_https_to_the_public_internet() {
        assert!(check_url("https://ops.example.com/hooks").is_ok());
        assert!(check_url("https://203.0.114.7/hooks").is_ok());
        for bad in [
            "http://ops.example.com/hooks",
            "ftp://ops.example.com",
            "not a url",
            "https://localhost/hooks",
            "https://127.0.0.1/hooks",
            "https://10.1.2.3/hooks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hooks",
            "https://[fd00::1]/hooks",
            "https://[64:ff9b::a00:1]/hooks",
            "https://[2002:a00:1::]/hooks",
            "https://198.18.0.1/hooks",
            "https://240.0.0.1/hooks",
            "https://user:pw@ops.example.com/hooks",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
