//! Every key of the table, built here and nowhere else, beside the item
//! kind it belongs to; and the mapping of items to and from the model's
//! records (`serde_dynamo`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use parking_app::ids::*;
use parking_app::redact::without_quoted_values;
use parking_app::{StoreError, StoreResult};
use parking_core::Plate;
use parking_core::plate::{fingerprint, skeleton};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Attributes the table adds to a record's own: keys, the item kind, TTL,
/// the token of the write that consumed an event, and numeric copies used
/// by conditions.
pub(crate) const META: [&str; 14] = [
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "GSI3PK",
    "GSI3SK",
    "type",
    "expires_at",
    "write",
    "at_s",
    "presence_v",
    "presence_ms",
];

/// Primary and index keys of one item.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub pk: String,
    pub sk: String,
    pub gsi: Option<(String, String)>,
    /// The second and third listings (`GSI2`, `GSI3`), for the one item
    /// kind listed three ways: sessions by exit and awaiting review.
    pub gsi2: Option<(String, String)>,
    pub gsi3: Option<(String, String)>,
    pub kind: &'static str,
}

impl Keys {
    fn new(pk: impl Into<String>, sk: impl Into<String>, kind: &'static str) -> Self {
        Keys {
            pk: pk.into(),
            sk: sk.into(),
            gsi: None,
            gsi2: None,
            gsi3: None,
            kind,
        }
    }

    fn gsi(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi = Some((pk.into(), sk.into()));
        self
    }

    pub fn key(&self) -> Item {
        HashMap::from([
            ("PK".to_owned(), s(&self.pk)),
            ("SK".to_owned(), s(&self.sk)),
        ])
    }

    /// The item for a record: its own attributes plus the keys and kind.
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] for an item over DynamoDB's limit, before
    /// anything is sent: the service refuses one too, but some paths and
    /// local stand-ins do not, and no write may succeed in one place and
    /// fail in another.
    pub fn item<T: Serialize>(&self, body: &T) -> StoreResult<Item> {
        let mut item: Item = serde_dynamo::to_item(body)
            .map_err(|e| StoreError::invalid(format!("cannot store a {} item: {e}", self.kind)))?;
        item.insert("PK".into(), s(&self.pk));
        item.insert("SK".into(), s(&self.sk));
        item.insert("type".into(), s(self.kind));
        for (listing, [pk_name, sk_name]) in [
            (&self.gsi, ["GSI1PK", "GSI1SK"]),
            (&self.gsi2, ["GSI2PK", "GSI2SK"]),
            (&self.gsi3, ["GSI3PK", "GSI3SK"]),
        ] {
            if let Some((pk, sk)) = listing {
                item.insert(pk_name.into(), s(pk));
                item.insert(sk_name.into(), s(sk));
            }
        }
        let bytes = item_size(&item);
        if bytes > parking_app::ITEM_LIMIT_BYTES {
            return Err(StoreError::TooLarge {
                kind: self.kind.to_owned(),
                bytes,
                limit: parking_app::ITEM_LIMIT_BYTES,
            });
        }
        Ok(item)
    }

    /// The key as error text, with any plate replaced by its fingerprint.
    pub fn describe(&self) -> String {
        redact(&format!("{}/{}", self.pk, self.sk))
    }
}

/// An item's size as DynamoDB counts it: each attribute's name and value
/// in bytes (strings as UTF-8; a number about one byte per two digits,
/// plus one; a list or map three bytes plus one per element, with its
/// members' names and values).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(t) => t.len(),
        AttributeValue::N(t) => t.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|t| t.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A key's text with the plate part of `PLATE#…` and `OPEN#…` segments
/// replaced by the plate's fingerprint.
pub(crate) fn redact(key: &str) -> String {
    key.split('/')
        .map(|part| {
            let mut out = Vec::new();
            let mut plate_next = false;
            for piece in part.split('#') {
                if plate_next {
                    out.push(fingerprint(piece));
                } else {
                    out.push(piece.to_owned());
                }
                plate_next = piece == "PLATE" || piece == "OPEN";
            }
            out.join("#")
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a record back from an item, naming the (redacted) key when it is
/// bad.
pub(crate) fn body<T: DeserializeOwned>(mut item: Item) -> StoreResult<T> {
    let text = |k: &str, item: &Item| match item.get(k) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => "?".into(),
    };
    let key = redact(&format!("{}/{}", text("PK", &item), text("SK", &item)));
    for k in META {
        item.remove(k);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        reason: without_quoted_values(&e.to_string()),
    })
}

fn lot_pk(lot: &LotId) -> String {
    format!("LOT#{lot}")
}

fn driver_pk(driver: &DriverId) -> String {
    format!("DRIVER#{driver}")
}

pub(crate) fn lot(lot: &LotId) -> Keys {
    Keys::new(lot_pk(lot), "LOT", "lot")
}

/// A lot with its listing among all lots.
pub(crate) fn lot_listed(id: &LotId) -> Keys {
    lot(id).gsi("LOTS", id.as_str())
}

/// The index partition listing every lot.
pub(crate) const LOTS: &str = "LOTS";

pub(crate) fn gate(lot: &LotId, gate: &GateId) -> Keys {
    Keys::new(lot_pk(lot), format!("GATE#{gate}"), "gate")
}

pub(crate) fn bay(lot: &LotId, bay: &BayId) -> Keys {
    Keys::new(lot_pk(lot), format!("BAY#{bay}"), "bay")
}

/// The partition and sort-key prefix of a lot's bays.
pub(crate) fn bays_of(lot: &LotId) -> (String, &'static str) {
    (lot_pk(lot), "BAY#")
}

/// A reservation slot of `minutes` starting at `start` (epoch seconds):
/// each slot length is its own grid, so a lot that changes its slot
/// length never mixes the counts of two grids.
pub(crate) fn slot(lot: &LotId, minutes: u32, start: i64) -> Keys {
    Keys::new(
        lot_pk(lot),
        format!("SLOT#{minutes:04}#{start:012}"),
        "slot",
    )
}

pub(crate) fn device(device: &DeviceId) -> Keys {
    Keys::new(format!("DEVICE#{device}"), "DEVICE", "device")
}

pub(crate) fn ledger(device: &DeviceId, event: &EventId) -> Keys {
    Keys::new(
        format!("DEVICE#{device}"),
        format!("EVENT#{event}"),
        "event",
    )
}

pub(crate) fn driver(driver: &DriverId) -> Keys {
    Keys::new(driver_pk(driver), "DRIVER", "driver")
}

/// A driver's copy of a plate registration, for read-after-write listing.
pub(crate) fn driver_plate(driver: &DriverId, plate: &Plate) -> Keys {
    Keys::new(
        driver_pk(driver),
        format!("PLATE#{}", plate.key()),
        "driver_plate",
    )
}

pub(crate) fn driver_plates(driver: &DriverId) -> (String, &'static str) {
    (driver_pk(driver), "PLATE#")
}

pub(crate) fn payment_method(driver: &DriverId, method: &PaymentMethodId) -> Keys {
    Keys::new(driver_pk(driver), format!("PM#{method}"), "payment_method")
}

pub(crate) fn payment_methods(driver: &DriverId) -> (String, &'static str) {
    (driver_pk(driver), "PM#")
}

pub(crate) fn method_owner(method: &PaymentMethodId) -> Keys {
    Keys::new(format!("PM#{method}"), "OWNER", "payment_method_owner")
}

/// The registration of a plate: who holds it, listed under the plate's
/// OCR skeleton for matching doubtful reads.
pub(crate) fn plate(plate: &Plate) -> Keys {
    Keys::new(format!("PLATE#{}", plate.key()), "PLATE", "plate").gsi(
        like(&skeleton(&plate.key())),
        format!("REG#PLATE#{}", plate.key()),
    )
}

/// A plate's open claims; listed in the review queue while one waits for
/// staff, from the earliest such claim.
pub(crate) fn plate_claims(plate: &Plate, review_since: Option<jiff::Timestamp>) -> Keys {
    let k = Keys::new(format!("PLATE#{}", plate.key()), "CLAIMS", "plate_claims");
    match review_since {
        Some(at) => k.gsi(
            PLATE_REVIEWS,
            format!("{}#PLATE#{}", at.as_millisecond(), plate.key()),
        ),
        None => k,
    }
}

/// A camera's track: the reads of one car and the plate they agree on,
/// alone in its partition (every read of it writes it).
pub(crate) fn track(lot: &LotId, device: &DeviceId, track: &TrackId) -> Keys {
    Keys::new(format!("TRACK#{lot}#{device}#{track}"), "TRACK", "track")
}

/// A stay on an operator's unpaid register: under the plate with that
/// operator (an entry reads the plate's debts, one small partition),
/// listed under the operator by the plate's four digits and the session.
pub(crate) fn debt(
    operator: &OperatorId,
    plate: &Plate,
    session: &SessionId,
    digits: &str,
) -> Keys {
    Keys::new(debts_pk(operator, plate), format!("DEBT#{session}"), "debt")
        .gsi(register(operator), format!("{digits}#{session}"))
}

/// The partition of a plate's debts with an operator.
pub(crate) fn debts_pk(operator: &OperatorId, plate: &Plate) -> String {
    format!("UNPAID#{operator}#PLATE#{}", plate.key())
}

/// The index partition of an operator's unpaid register.
pub(crate) fn register(operator: &OperatorId) -> String {
    format!("UNPAID#{operator}")
}

/// The index partition of plates with a claim in review.
pub(crate) const PLATE_REVIEWS: &str = "PLATE_REVIEWS";

/// A driver's copy of one of their plate claims.
pub(crate) fn driver_claim(driver: &DriverId, plate: &Plate) -> Keys {
    Keys::new(
        driver_pk(driver),
        format!("CLAIM#{}", plate.key()),
        "driver_claim",
    )
}

pub(crate) fn driver_claims(driver: &DriverId) -> (String, &'static str) {
    (driver_pk(driver), "CLAIM#")
}

/// A request for a second operator's approval; listed in the lot's
/// index partition of pending requests while it is pending.
pub(crate) fn approval(lot: &LotId, id: &ActionId, pending_since: Option<jiff::Timestamp>) -> Keys {
    let k = Keys::new(format!("APPROVAL#{lot}"), format!("APR#{id}"), "approval");
    match pending_since {
        Some(at) => k.gsi(
            pending_approvals(lot),
            format!("{}#{id}", at.as_millisecond()),
        ),
        None => k,
    }
}

/// The index partition of a lot's pending requests.
pub(crate) fn pending_approvals(lot: &LotId) -> String {
    format!("LOT#{lot}#APPROVALS")
}

/// The index partition of plates that share an OCR skeleton.
pub(crate) fn like(skeleton: &str) -> String {
    format!("LIKE#{skeleton}")
}

/// A key that holds nothing, read to open the connection at start-up.
pub(crate) fn warm() -> Keys {
    Keys::new("WARM", "WARM", "warm")
}

/// A tariff as posted.
pub(crate) fn tariff(id: &TariffId) -> Keys {
    Keys::new(format!("TARIFF#{id}"), "TARIFF", "tariff")
}

/// The lot's copy of a device, read with the lot's configuration.
pub(crate) fn lot_device(lot: &LotId, device: &DeviceId) -> Keys {
    Keys::new(lot_pk(lot), format!("DEVICE#{device}"), "lot_device")
}

/// What the suite consumed for a lot on one of its local dates.
pub(crate) fn usage(lot: &LotId, date: jiff::civil::Date) -> Keys {
    Keys::new(lot_pk(lot), format!("~USAGE#{date}"), "usage")
}

/// A device enrolled for onboarding, by its serial number.
pub(crate) fn enrolment(serial: &SerialNumber) -> Keys {
    Keys::new(format!("SERIAL#{serial}"), "ENROLMENT", "enrolment")
}

/// The feature flag document, one for all lots.
pub(crate) fn flags() -> Keys {
    Keys::new("FLAGS", "FLAGS", "flags")
}

/// A caller's request count for an action in one window.
pub(crate) fn rate_window(key: &str, start: i64) -> Keys {
    Keys::new(format!("RATE#{key}"), format!("W#{start}"), "rate_window")
}

/// The lot's offline allow-list marks.
pub(crate) fn allow_list(lot: &LotId) -> Keys {
    // Outside the ranges the lot's configuration and live state are read
    // with, as the forecast is.
    Keys::new(lot_pk(lot), "~ALLOW", "allow_list")
}

/// The lot's webhook subscriptions (outside the configuration's range:
/// their secrets are read only to deliver).
pub(crate) fn lot_hooks(lot: &LotId) -> Keys {
    Keys::new(lot_pk(lot), "~HOOKS", "lot_hooks")
}

/// How far the lot's retention sweep got (outside the configuration and
/// live-state ranges, as the allow-list is).
pub(crate) fn retention_mark(lot: &LotId) -> Keys {
    Keys::new(lot_pk(lot), "~RETENTION", "retention_mark")
}

/// The lot's latest occupancy forecast.
pub(crate) fn forecast(lot: &LotId) -> Keys {
    // `~` sorts after every letter: outside the ranges the lot's
    // configuration and live state are read with.
    Keys::new(lot_pk(lot), "~FORECAST", "forecast")
}

/// How many shards a lot's occupancy summary is kept in: each bay's
/// reading and each plate's open sessions land in one, so concurrent
/// changes seldom meet on an item and each item stays small.
pub const LIVE_SHARDS: u64 = 16;

/// One shard of the lot's occupancy summary: the sets `free` and
/// `occupied` of its bays' ids, and `open_sessions`, the count of its
/// plates' sessions counted toward full.
pub(crate) fn live_shard(lot: &LotId, shard: u64) -> Keys {
    // After `LOT`: outside the range the lot's configuration is read with.
    Keys::new(lot_pk(lot), format!("{LIVE_PREFIX}{shard:02}"), "live")
}

/// The sort key prefix of the summary's shards.
pub(crate) const LIVE_PREFIX: &str = "LOT#LIVE#";

/// The summary shard a bay's readings are counted in.
pub(crate) fn live_of_bay(lot: &LotId, bay: &BayId) -> Keys {
    live_shard(lot, fnv(bay.as_str()) % LIVE_SHARDS)
}

/// The summary shard a plate's open sessions are counted in.
pub(crate) fn live_of_plate(lot: &LotId, plate: &Plate) -> Keys {
    live_shard(lot, plate_shard(plate))
}

/// Which of a lot's [`LIVE_SHARDS`] counts a plate's open sessions: a
/// stable hash of the plate, so a backlog's many plates spread over them.
pub fn plate_shard(plate: &Plate) -> u64 {
    fnv(&plate.key()) % LIVE_SHARDS
}

/// The sort keys a lot's occupancy at `at` is read between: the held
/// reservations that end from then on, the lot's own item, and the
/// summary's shards.
pub(crate) fn occupancy_range(at: jiff::Timestamp) -> (String, String) {
    (
        format!("HELD#{:012}", at.as_second().max(0)),
        format!("{LIVE_PREFIX}~"),
    )
}

/// The lot's copy of an active reservation, counted as held while it is
/// due; sorted by end so late ones are easy to tell.
pub(crate) fn held(r: &parking_app::Reservation) -> Keys {
    Keys::new(
        lot_pk(&r.lot_id),
        format!("HELD#{:012}#{}", r.end.as_second(), r.id),
        "held_reservation",
    )
}

/// The driver's copy of a reservation.
pub(crate) fn driver_reservation(driver: &DriverId, id: &ReservationId) -> Keys {
    Keys::new(driver_pk(driver), format!("RES#{id}"), "driver_reservation")
}

/// The driver's copy of a session, listed by entry time in a partition of
/// its own (the driver's main partition stays small).
pub(crate) fn driver_session(driver: &DriverId, session: &parking_app::Session) -> Keys {
    Keys::new(
        format!("{}#SESSIONS", driver_pk(driver)),
        format!("{:012}#{}", session.entry_at.as_second(), session.id),
        "driver_session",
    )
}

pub(crate) fn driver_sessions(driver: &DriverId) -> (String, &'static str) {
    (format!("{}#SESSIONS", driver_pk(driver)), "")
}

pub(crate) fn driver_reservations(driver: &DriverId) -> (String, &'static str) {
    (driver_pk(driver), "RES#")
}

/// A driver's whole partition: profile, plates, cards and reservations.
pub(crate) fn driver_all(driver: &DriverId) -> (String, &'static str) {
    (driver_pk(driver), "")
}

/// A plate's timeline in a lot; listed under its OCR skeleton while it
/// has an open session there.
pub(crate) fn timeline(lot: &LotId, plate: &Plate, open: bool) -> Keys {
    let k = Keys::new(timeline_pk(lot, plate), "TL", "timeline");
    if open {
        k.gsi(
            like(&skeleton(&plate.key())),
            format!("OPEN#{lot}#PLATE#{}", plate.key()),
        )
    } else {
        k
    }
}

/// How many index partitions list undelivered outbox messages. One index
/// partition takes about 1,000 writes a second, and every state change
/// that queues a message writes its listing and later removes it: one
/// shared partition would cap the whole system near 500 sessions a
/// second. Spread over this many, the ceiling is this many times higher.
pub(crate) const OUTBOX_SHARDS: u64 = 16;

/// The index partition that lists an outbox message: a stable hash of
/// its id picks the shard (FNV-1a; the same id is always listed in the
/// same place, so marking it delivered finds it).
pub(crate) fn outbox_shard(id: &str) -> String {
    format!("OUTBOX#{:02}", fnv(id) % OUTBOX_SHARDS)
}

/// A stable hash (FNV-1a) that picks a shard.
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Every shard of the outbox's listing.
pub(crate) fn outbox_shards() -> impl Iterator<Item = String> {
    (0..OUTBOX_SHARDS).map(|i| format!("OUTBOX#{i:02}"))
}

fn timeline_pk(lot: &LotId, plate: &Plate) -> String {
    format!("TL#{lot}#PLATE#{}", plate.key())
}

/// An archived stay of a plate's, beside its timeline's head, sorted by
/// when it begins (epoch milliseconds), then by its session.
pub(crate) fn stay(lot: &LotId, plate: &Plate, (from, id): &parking_app::history::StayKey) -> Keys {
    Keys::new(
        timeline_pk(lot, plate),
        format!("{}{id}", stay_sk(*from)),
        "stay",
    )
}

/// The sort keys of the stays that begin on `at`'s millisecond start with
/// this; `~` after it sorts after all of them.
pub(crate) fn stay_sk(at: jiff::Timestamp) -> String {
    format!("STAY#{:015}#", at.as_millisecond().max(0))
}

/// The partition of a plate's timeline and stays, and the sort keys that
/// bound its stays.
pub(crate) fn stays_of(lot: &LotId, plate: &Plate) -> (String, &'static str, &'static str) {
    (timeline_pk(lot, plate), "STAY#", "STAY#~")
}

/// An outbox message; listed under its shard of `OUTBOX#nn` until
/// delivered.
pub(crate) fn outbox(id: &str, created: i64) -> Keys {
    Keys::new(format!("OUTBOX#{id}"), "OUTBOX", "outbox")
        .gsi(outbox_shard(id), format!("{created:012}#{id}"))
}

/// An entry of a lot's audit trail, in time order.
pub(crate) fn audit(e: &parking_app::AuditEntry) -> Keys {
    Keys::new(
        audit_pk(&e.lot_id),
        format!("{:015}#{}", e.at.as_millisecond(), e.id),
        "audit",
    )
}

pub(crate) fn audit_pk(lot: &LotId) -> String {
    format!("{}#AUDIT", lot_pk(lot))
}

/// A pass, listed under its lot.
pub(crate) fn pass(lot: &LotId, id: &PassId) -> Keys {
    Keys::new(lot_pk(lot), format!("PASS#{id}"), "pass")
}

pub(crate) fn passes_of(lot: &LotId) -> (String, &'static str) {
    (lot_pk(lot), "PASS#")
}

/// A settlement attempt.
pub(crate) fn attempt(key: &IdempotencyKey) -> Keys {
    Keys::new(format!("ATTEMPT#{key}"), "ATTEMPT", "attempt")
}

/// A settlement attempt; a failed one to be tried again is listed under
/// `RETRY` by when.
pub(crate) fn attempt_listed(a: &parking_app::settlement::Attempt) -> Keys {
    let k = attempt(&a.key);
    match &a.state {
        parking_app::settlement::AttemptState::Failed {
            retry_at: Some(at), ..
        } => k.gsi("RETRY", format!("{:012}#{}", at.as_second(), a.key)),
        _ => k,
    }
}

pub(crate) fn reservation(id: &ReservationId) -> Keys {
    Keys::new(format!("RES#{id}"), "RES", "reservation")
}

/// A reservation with its listing by lot and start time.
pub(crate) fn reservation_listed(r: &parking_app::Reservation) -> Keys {
    reservation(&r.id).gsi(
        format!("LOT#{}#RES", r.lot_id),
        format!("{:012}#{}", r.start.as_second(), r.id),
    )
}

pub(crate) fn session(id: &SessionId) -> Keys {
    Keys::new(format!("SESSION#{id}"), "SESSION", "session")
}

/// A session with its listings: by lot and entry time (`GSI1`); once it
/// has left, by lot and exit time (`GSI2`); while it needs a person, in
/// its lot's review listing (`GSI3`, sparse: it leaves the listing with
/// the write that settles it).
pub(crate) fn session_listed(s: &parking_app::Session) -> Keys {
    let mut k = session(&s.id).gsi(
        lot_sessions(&s.lot_id),
        format!("{:012}#{}", s.entry_at.as_second(), s.id),
    );
    if let Some(exit) = s.exit_at {
        k.gsi2 = Some((
            lot_exits(&s.lot_id),
            format!("{:012}#{}", exit.as_second().max(0), s.id),
        ));
    }
    if parking_app::needs_review(s) {
        k.gsi3 = Some((lot_reviews(&s.lot_id), parking_app::entry_key(s)));
    }
    k
}

/// The lot's sessions by entry time (`GSI1`).
pub(crate) fn lot_sessions(lot: &LotId) -> String {
    format!("LOT#{lot}#SESSIONS")
}

/// The lot's sessions by exit time (`GSI2`).
pub(crate) fn lot_exits(lot: &LotId) -> String {
    format!("LOT#{lot}#LEFT")
}

/// The lot's sessions awaiting a person (`GSI3`).
pub(crate) fn lot_reviews(lot: &LotId) -> String {
    format!("LOT#{lot}#REVIEW")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_error_text_never_show_a_plate() {
        let p = Plate::parse("品川 300 さ 12-34").expect("plate");
        let lot = LotId::parse("lot-a").expect("id");
        for keys in [plate(&p), timeline(&lot, &p, true)] {
            let text = keys.describe();
            assert!(!text.contains("品川"), "{text}");
            assert!(text.contains(&fingerprint(&p.key())), "{text}");
        }
        assert_eq!(redact("LOT#lot-a/GATE#g-1"), "LOT#lot-a/GATE#g-1");
    }

    #[test]
    fn item_sizes_are_counted_by_dynamodbs_rules() {
        let item: Item = HashMap::from([
            ("PK".to_owned(), s("LOT#a")),
            ("n".to_owned(), n(12345)),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([("k".to_owned(), s("v"))])),
            ),
            ("l".to_owned(), AttributeValue::L(vec![s("ab"), s("c")])),
        ]);
        // PK: 2 + 5; n: 1 + 4; ok: 2 + 1; m: 1 + 3 + (1 + 1 + 1);
        // l: 1 + 3 + (1 + 2) + (1 + 1).
        assert_eq!(item_size(&item), 7 + 5 + 3 + 7 + 9);
        let big = lot(&LotId::parse("lot-a").expect("id"));
        let huge = serde_json::json!({ "name": "x".repeat(401 * 1024) });
        assert!(matches!(
            big.item(&huge),
            Err(StoreError::TooLarge { ref kind, .. }) if kind == "lot"
        ));
    }

    #[test]
    fn outbox_listings_spread_over_every_shard_and_stay_put() {
        let mut count = std::collections::BTreeMap::new();
        for i in 0..1600 {
            let id = format!("payments/s-{i:06}.1");
            let k = outbox(&id, 1).gsi.expect("listed");
            assert_eq!(k.0, outbox(&id, 99).gsi.expect("listed").0, "stable");
            *count.entry(k.0).or_insert(0) += 1;
        }
        let shards: Vec<String> = outbox_shards().collect();
        assert_eq!(count.keys().cloned().collect::<Vec<_>>(), shards);
        // 100 a shard on average; none holds more than twice its share.
        assert!(count.values().all(|&n| n < 200), "{count:?}");
    }

    #[test]
    fn decoding_errors_never_quote_a_stored_value() {
        // A plate's text where a number belongs: serde would quote it.
        let lot = LotId::parse("lot-a").expect("id");
        let mut item = bay(&lot, &BayId::parse("b-1").expect("id")).key();
        for (k, v) in [
            ("lot_id", s("lot-a")),
            ("id", s("b-1")),
            ("occupied", AttributeValue::Bool(true)),
            ("seq", s("x\"品川300さ1234")),
            ("reported_at", s("2026-11-24T09:00:00Z")),
        ] {
            item.insert(k.into(), v);
        }
        let shown = match body::<parking_app::Bay>(item) {
            Err(e) => format!("{e} {e:?}"),
            Ok(_) => "decoded".into(),
        };
        assert!(shown.contains("cannot be read"), "{shown}");
        assert!(
            !shown.contains("品川") && !shown.contains("1234"),
            "{shown}"
        );
    }
}
