//! The operators', shops' and kiosks' routes through the Lambda edge, and
//! the flows they change end to end: a tariff version, a monthly pass, a
//! shop's validation and a kiosk payment, each through the API, then the
//! gate's reads, then the charge that is queued (or the barrier command).

use std::sync::Arc;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use parking_api::{Api, Op};
use parking_app::commands::Reason;
use parking_app::outbox::{OutboxMessage, PaymentKind, PaymentOrder};
use parking_app::scenario::{Scenario, set_up};
use parking_app::*;
use parking_aws::MemoryLink;
use parking_core::{Discount, SessionState, Stay, Tariff};
use serde_json::{Value, json};

use super::api::{Answer, Call, Who, call};
use super::devices::{AIKO, BEN, CHIKA, DAISUKE, LOT, Lot, STRANGER, read, scenario, t};

const OP: Who = Who::Role("op-1", "operator", LOT);
const OP_B: Who = Who::Role("op-2", "operator", "shinjuku-east");
const SHOP: Who = Who::Role("shop-cafe", "merchant", LOT);
const SHOP_2: Who = Who::Role("shop-books", "merchant", LOT);
const SHOP_B: Who = Who::Role("shop-b", "merchant", "shinjuku-east");
const KIOSK: Who = Who::Role("kiosk-1", "kiosk", LOT);
const KIOSK_B: Who = Who::Role("kiosk-b", "kiosk", "shinjuku-east");

/// The API over the lot's store, at a time.
fn api(lot: &Lot, now: Timestamp) -> (Router, MemoryLink) {
    let link = MemoryLink::default();
    let api = Api::new(lot.events.store.clone(), Arc::new(FixedClock(now)))
        .with_link(Arc::new(link.clone()));
    (parking_api::router(Arc::new(api)), link)
}

pub(super) async fn at(lot: &Lot, now: Timestamp, c: Call) -> Answer {
    call(&api(lot, now).0, c).await
}

fn day_one_tariff() -> Tariff {
    let s = scenario();
    Tariff::compile(s.tariff).expect("tariff")
}

fn price(tariff: &Tariff, entry: Timestamp, exit: Timestamp, discount: Discount) -> i64 {
    tariff
        .quote(&Stay {
            entry,
            exit,
            discount,
        })
        .expect("quote")
        .total
}

/// The day-one tariff with every weekday daytime unit at 600 yen.
fn dearer_tariff() -> Value {
    let mut v = serde_json::to_value(scenario().tariff).expect("json");
    v["id"] = json!("shinjuku-west-2026-12");
    for b in v["bands"].as_array_mut().expect("bands") {
        if b["unit_price"] == json!(300) {
            b["unit_price"] = json!(600);
        }
    }
    v
}

/// The charges minus refunds queued for the session of a plate.
fn net_for(lot: &Lot, session: &SessionId) -> i64 {
    orders(lot)
        .iter()
        .filter(|o| o.is_for(session))
        .map(PaymentOrder::signed_minor)
        .sum()
}

fn orders(lot: &Lot) -> Vec<PaymentOrder> {
    lot.outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Payments(o) => Some(o),
            OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
        })
        .collect()
}

pub(super) async fn session_of(lot: &Lot, plate: &str) -> Session {
    let p = parking_core::Plate::parse(plate).expect("plate");
    lot.live_sessions()
        .await
        .into_iter()
        .rfind(|s| s.plate == p)
        .expect("a session of the plate")
}

pub(super) async fn enter(lot: &Lot, event: &str, plate: &str, when: Timestamp) {
    let r = lot
        .send(&read("g-in", event, plate, 0.97, when, None))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
}

pub(super) async fn leave(
    lot: &Lot,
    event: &str,
    plate: &str,
    when: Timestamp,
) -> parking_app::commands::GateCommand {
    let r = lot
        .send(&read("g-out", event, plate, 0.97, when, None))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    r.commands.last().expect("a command").1.clone()
}

#[tokio::test]
async fn a_price_suggestion_follows_occupancy_and_waits_for_an_operator() {
    let lot = Lot::new().await;
    // Ten days from Monday 30 November: the six bays full from 08:30 to
    // 21:45 on weekdays, empty at night and at weekends.
    let plates = [AIKO, BEN, CHIKA, STRANGER, DAISUKE, "品川 300 さ 12-35"];
    for day in 0..10i64 {
        let at = |hhmmss: &str| t(hhmmss) + SignedDuration::from_hours(24 * day);
        let weekday = t("12:00:00")
            .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").expect("zone"))
            .date()
            .checked_add(jiff::Span::new().days(day))
            .expect("date")
            .weekday()
            .to_monday_one_offset();
        if weekday >= 6 {
            continue;
        }
        for (i, plate) in plates.iter().enumerate() {
            enter(&lot, &format!("in-{day}-{i}"), plate, at("08:30:00")).await;
            leave(&lot, &format!("out-{day}-{i}"), plate, at("21:45:00")).await;
        }
    }
    let now = t("10:00:00") + SignedDuration::from_hours(24 * 10);
    let suggestion = format!("/v1/operator/lots/{LOT}/pricing/suggestion");
    let a = at(&lot, now, Call::new("GET", &suggestion, OP)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let s = a.json();
    let bands: Vec<(String, i64, i64)> = s["bands"]
        .as_array()
        .expect("bands")
        .iter()
        .map(|b| {
            (
                b["decision"].as_str().unwrap_or_default().to_owned(),
                b["current"].as_i64().unwrap_or_default(),
                b["proposed"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    // The full weekday day band up one step (¥30 an hour: ¥10 a 20-minute
    // unit); the empty night and weekend bands down the far step.
    assert_eq!(
        bands,
        vec![
            ("raise".into(), 300, 310),
            ("lower_far".into(), 100, 40),
            ("lower_far".into(), 400, 380),
        ],
        "{s:#}"
    );
    assert!(s["bands"][0]["occupancy"].as_f64().expect("measured") > 0.8);
    // Announced a week ahead, at a local midnight.
    assert_eq!(s["effective_from"], json!("2026-12-17T15:00:00Z"));
    assert_eq!(s["changes"], json!(true));

    // Nothing was applied: the lot still has its one version.
    let tariffs = format!("/v1/operator/lots/{LOT}/tariffs");
    let a = at(&lot, now, Call::new("GET", &tariffs, OP)).await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(1));
    // A shop cannot ask.
    let a = at(&lot, now, Call::new("GET", &suggestion, SHOP)).await;
    assert_eq!(a.status, 403, "{}", a.text);

    // The operator posts it; while it waits, no other is suggested.
    let a = at(
        &lot,
        now,
        Call::new("POST", &tariffs, OP).json(json!({
            "effective_from": s["effective_from"],
            "tariff": s["tariff"],
        })),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = at(&lot, now, Call::new("GET", &suggestion, OP)).await;
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(a.json()["code"], json!("version_scheduled"));
    // Once it is in force, the next is measured under it alone: a day
    // later nothing is known yet, and nothing moves.
    let later = t("10:00:00") + SignedDuration::from_hours(24 * 19);
    let a = at(&lot, later, Call::new("GET", &suggestion, OP)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["changes"], json!(false), "{}", a.text);
    assert_eq!(a.json()["bands"][0]["decision"], json!("too_little_data"));
}

#[tokio::test]
async fn a_stay_is_priced_by_the_tariff_version_in_force_at_its_entry() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    // At 09:30 the operator posts a dearer tariff from 10:00.
    let a = at(
        &lot,
        t("09:30:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/tariffs"), OP).json(json!({
            "effective_from": t("10:00:00").to_string(),
            "tariff": dearer_tariff(),
        })),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let new_id = a.json()["tariff_id"].as_str().expect("id").to_owned();
    enter(&lot, "in-2", DAISUKE, t("10:30:00")).await;
    leave(&lot, "out-1", AIKO, t("10:20:00")).await;
    leave(&lot, "out-2", DAISUKE, t("12:00:00")).await;

    let old = day_one_tariff();
    let new = Tariff::from_json(&dearer_tariff().to_string()).expect("tariff");
    let aiko = session_of(&lot, AIKO).await;
    let daisuke = session_of(&lot, DAISUKE).await;
    let before = price(&old, t("09:00:00"), t("10:20:00"), Discount::default());
    assert_ne!(
        before,
        price(&new, t("09:00:00"), t("10:20:00"), Discount::default())
    );
    // Through the gate to the queued charge.
    assert_eq!(net_for(&lot, &aiko.id), before);
    assert_eq!(
        aiko.tariff_id.as_ref().map(|i| i.to_string()),
        Some("shinjuku-west-2026-04".into())
    );
    let after = price(&new, t("10:30:00"), t("12:00:00"), Discount::default());
    assert_ne!(
        after,
        price(&old, t("10:30:00"), t("12:00:00"), Discount::default())
    );
    assert_eq!(net_for(&lot, &daisuke.id), after);
    assert_eq!(daisuke.tariff_id.map(|i| i.to_string()), Some(new_id));

    // The versions, and the refusals.
    let a = at(
        &lot,
        t("13:00:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/tariffs"), OP),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(2));
    let mut bad = dearer_tariff();
    bad["bands"][0]["unit_price"] = json!(-5);
    let a = at(
        &lot,
        t("13:00:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/tariffs"), OP)
            .json(json!({"effective_from": t("14:00:00").to_string(), "tariff": bad})),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(
        a.json()["errors"][0]["field"],
        "body.tariff.bands[0].unit_price"
    );
    let a = at(
        &lot,
        t("13:00:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/tariffs"), OP)
            .json(json!({"effective_from": t("12:59:00").to_string(), "tariff": dearer_tariff()})),
    )
    .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["errors"][0]["field"], "body.effective_from");
    let mut dollars = dearer_tariff();
    dollars["currency"] = json!("USD");
    let a = at(
        &lot,
        t("13:00:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/tariffs"), OP)
            .json(json!({"effective_from": t("14:00:00").to_string(), "tariff": dollars})),
    )
    .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["errors"][0]["field"], "body.tariff.currency");
}

#[tokio::test]
async fn a_monthly_pass_covers_its_period_and_a_stay_past_it_pays_the_rest() {
    let lot = Lot::new().await;
    let pass = |plate: &str, until: Timestamp, key: &str| {
        Call::new("POST", format!("/v1/operator/lots/{LOT}/passes"), OP)
            .header("idempotency-key", key)
            .json(json!({
                "plate": plate,
                "valid_from": "2026-11-01T00:00:00+09:00",
                "valid_until": until.to_string(),
            }))
    };
    let a = at(&lot, t("08:30:00"), pass(DAISUKE, t("11:00:00"), "p-1")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let again = at(&lot, t("08:31:00"), pass(DAISUKE, t("11:00:00"), "p-1")).await;
    assert_eq!(
        again.json()["id"],
        a.json()["id"],
        "the same key is the same pass"
    );
    let a = at(&lot, t("08:30:00"), pass(AIKO, t("23:59:00"), "p-2")).await;
    assert_eq!(a.status, 201);
    let list = at(
        &lot,
        t("08:40:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/passes"), OP),
    )
    .await;
    assert_eq!(list.json()["items"].as_array().map(Vec::len), Some(2));

    enter(&lot, "in-1", DAISUKE, t("09:00:00")).await;
    enter(&lot, "in-2", AIKO, t("09:00:00")).await;
    let exit = leave(&lot, "out-1", DAISUKE, t("12:00:00")).await;
    let gone = leave(&lot, "out-2", AIKO, t("12:00:00")).await;

    let tariff = day_one_tariff();
    let daisuke = session_of(&lot, DAISUKE).await;
    let outside = price(&tariff, t("11:00:00"), t("12:00:00"), Discount::default());
    assert!(outside > 0);
    assert_eq!(daisuke.fee.map(|f| f.minor), Some(outside));
    assert_eq!(
        net_for(&lot, &daisuke.id),
        outside,
        "only the hour past the pass is charged"
    );
    assert_eq!(exit.reason, Reason::Charged);
    let aiko = session_of(&lot, AIKO).await;
    assert_eq!(aiko.fee.map(|f| f.minor), Some(0));
    assert_eq!(
        net_for(&lot, &aiko.id),
        0,
        "a stay inside the pass costs nothing"
    );
    assert_eq!(gone.reason, Reason::Free);

    let bad = at(
        &lot,
        t("13:00:00"),
        pass(BEN, "2026-10-01T00:00:00+09:00".parse().expect("t"), "p-3"),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["errors"][0]["field"], "body.valid_until");
}

#[tokio::test]
async fn a_shops_validation_takes_its_minutes_off_once_per_shop() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    let validate = |who: Who, body: Value| {
        Call::new("POST", format!("/v1/merchant/lots/{LOT}/validations"), who).json(body)
    };
    let a = at(
        &lot,
        t("10:00:00"),
        validate(SHOP, json!({"plate": AIKO, "minutes": 60})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["minutes"], 60);
    let again = at(
        &lot,
        t("10:01:00"),
        validate(SHOP, json!({"plate": AIKO, "minutes": 60})),
    )
    .await;
    assert_eq!(
        (again.status, again.code()),
        (409, "already_validated".into())
    );
    let other = at(
        &lot,
        t("10:02:00"),
        validate(SHOP_2, json!({"plate": AIKO, "amount": 100})),
    )
    .await;
    assert_eq!(other.status, 201, "another shop may validate too");
    let none = at(
        &lot,
        t("10:03:00"),
        validate(SHOP, json!({"plate": BEN, "minutes": 30})),
    )
    .await;
    assert_eq!(none.status, 404, "no open session for the plate");
    let both = at(
        &lot,
        t("10:03:00"),
        validate(SHOP, json!({"plate": AIKO, "minutes": 30, "amount": 100})),
    )
    .await;
    assert_eq!(both.status, 422);
    let b = at(
        &lot,
        t("10:03:00"),
        validate(SHOP_B, json!({"plate": AIKO, "minutes": 30})),
    )
    .await;
    assert_eq!(b.status, 403, "a shop of another lot");

    leave(&lot, "out-1", AIKO, t("11:30:00")).await;
    let aiko = session_of(&lot, AIKO).await;
    let tariff = day_one_tariff();
    let expected = price(
        &tariff,
        t("09:00:00"),
        t("11:30:00"),
        Discount {
            minutes: 60,
            amount: 100,
        },
    );
    assert!(expected < price(&tariff, t("09:00:00"), t("11:30:00"), Discount::default()));
    assert_eq!(net_for(&lot, &aiko.id), expected);
    assert_eq!(aiko.fee.map(|f| f.minor), Some(expected));
}

#[tokio::test]
async fn the_kiosk_finds_unpaid_stays_by_four_digits_takes_payment_and_lets_the_car_out() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    enter(&lot, "in-2", AIKO, t("09:05:00")).await;
    let find = |who: Who, digits: &str| {
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{LOT}/sessions?digits={digits}"),
            who,
        )
    };
    let a = at(&lot, t("10:00:00"), find(KIOSK, "1122")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let items = a.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    let tariff = day_one_tariff();
    let due = price(&tariff, t("09:00:00"), t("10:00:00"), Discount::default());
    assert_eq!(items[0]["due"]["amount"], due);
    assert_eq!(items[0]["plate_hint"], "横浜 … 11-22");
    let keys: Vec<String> = items[0]
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        ["due", "entry_at", "lot_id", "plate_hint", "session_id"],
        "nothing else is shown"
    );
    // A card holder pays by card, not at the kiosk.
    let a = at(&lot, t("10:00:00"), find(KIOSK, "1234")).await;
    assert_eq!(a.json()["items"], json!([]));
    let bad = at(&lot, t("10:00:00"), find(KIOSK, "12a4")).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_query".into()));
    // Every search by plate is in the audit trail with its purpose, and
    // never the digits searched for.
    let trail = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    let lookups: Vec<Value> = trail.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "kiosk.lookup")
        .cloned()
        .collect();
    assert_eq!(lookups.len(), 2, "two searches answered: {}", trail.text);
    assert_eq!(lookups[0]["subject"], "kiosk-1");
    let note = lookups[0]["note"].as_str().expect("note");
    assert!(note.contains("purpose: payment at the kiosk"), "{note}");
    for e in &lookups {
        for field in ["note", "target"] {
            let text = e[field].as_str().unwrap_or_default();
            assert!(!text.contains("1122") && !text.contains("11-22"), "{text}");
        }
    }

    let session = items[0]["session_id"].as_str().expect("id").to_owned();
    let pay = |amount: i64, key: &str| {
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{session}/payments"),
            KIOSK,
        )
        .header("idempotency-key", key)
        .json(json!({"plate": STRANGER, "amount": amount}))
    };
    let wrong = at(&lot, t("10:00:00"), pay(due + 1, "k-0")).await;
    assert_eq!(wrong.status, 422);
    // The four digits alone pay for no one: the whole plate is typed.
    let other_car = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{session}/payments"),
            KIOSK,
        )
        .header("idempotency-key", "k-x")
        .json(json!({"plate": "品川 300 さ 11-22", "amount": due})),
    )
    .await;
    assert_eq!(other_car.status, 422, "{}", other_car.text);
    assert!(other_car.text.contains("body.plate"), "{}", other_car.text);
    assert!(!other_car.text.contains("横浜"), "{}", other_car.text);
    let paid = at(&lot, t("10:00:00"), pay(due, "k-1")).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    assert_eq!(paid.json()["paid"]["amount"], due);
    let again = at(&lot, t("10:00:30"), pay(due, "k-1")).await;
    assert_eq!(again.status, 200, "the same payment again changes nothing");
    let after = at(&lot, t("10:01:00"), find(KIOSK, "1122")).await;
    assert_eq!(
        after.json()["items"],
        json!([]),
        "a paid stay is no longer listed"
    );
    let twice = at(&lot, t("10:02:00"), pay(due, "k-2")).await;
    assert_eq!(
        (twice.status, twice.code()),
        (409, "nothing_due".into()),
        "a second payment inside the window is refused"
    );
    let replay = at(&lot, t("10:05:00"), pay(due, "k-1")).await;
    assert_eq!(
        replay.json()["exit_by"],
        paid.json()["exit_by"],
        "the recorded payment"
    );

    // Out within the window (15 minutes): the gate opens for what was paid.
    let command = leave(&lot, "out-1", STRANGER, t("10:10:00")).await;
    assert_eq!(command.reason, Reason::PaidAtKiosk);
    let s = session_of(&lot, STRANGER).await;
    assert_eq!(s.fee.map(|f| f.minor), Some(due));
    assert_eq!(s.outstanding(), 0);
    assert!(
        orders(&lot).iter().all(|o| !o.is_for(&s.id)),
        "no card, no charge"
    );
    // Guessing the rest of a plate is cut short: three wrong plates for a
    // stay a day (the one above counts), then not even the right plate.
    let guess = |n: u32| {
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{session}/payments"),
            Who::Role("kiosk-2", "kiosk", LOT),
        )
        .header("idempotency-key", "g")
        .json(json!({"plate": format!("横浜 30{n} そ 11-22"), "amount": due}))
    };
    for n in 1..=2 {
        let a = at(&lot, t("10:20:00"), guess(n)).await;
        assert_eq!(a.status, 422, "{}", a.text);
    }
    let blocked = at(&lot, t("10:20:00"), guess(3)).await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (409, "too_many_tries".into()),
        "{}",
        blocked.text
    );
    let right_too = at(&lot, t("10:20:00"), pay(due, "k-1")).await;
    assert_eq!(
        right_too.code(),
        "too_many_tries",
        "even the right plate, today"
    );
}

#[tokio::test]
async fn a_car_that_paid_at_the_kiosk_and_lingered_pays_the_difference() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    let s = session_of(&lot, STRANGER).await;
    let tariff = day_one_tariff();
    let due = price(&tariff, t("09:00:00"), t("10:00:00"), Discount::default());
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{}/payments", s.id),
            KIOSK,
        )
        .header("idempotency-key", "k-1")
        .json(json!({"plate": STRANGER, "amount": due})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let command = leave(&lot, "out-1", STRANGER, t("11:00:00")).await;
    assert_eq!(command.reason, Reason::PayAtKiosk);
    let s = session_of(&lot, STRANGER).await;
    let full = price(&tariff, t("09:00:00"), t("11:00:00"), Discount::default());
    assert_eq!(s.outstanding(), full - due);
    assert_eq!(
        command.amount,
        Some(full - due),
        "the gate asks for what is still owed"
    );
}

/// A second lot in the same store, with its own devices.
async fn second_lot(lot: &Lot) {
    second_lot_with(lot, |_| {}).await;
}

/// [`second_lot`], its scenario changed first.
pub(super) async fn second_lot_with(lot: &Lot, change: impl FnOnce(&mut Scenario)) {
    another_lot(lot, "shinjuku-east", "east", change).await;
}

/// A lot like the day-one lot in the same store, named `id`, its devices'
/// ids starting with `devices-`, its scenario changed first.
pub(super) async fn another_lot(
    lot: &Lot,
    id: &str,
    devices: &str,
    change: impl FnOnce(&mut Scenario),
) {
    let text = include_str!("../../../fixtures/scenarios/day-one.json")
        .replace("shinjuku-west", id)
        .replace("\"cam-", &format!("\"{devices}-cam-"))
        .replace("\"sensor-", &format!("\"{devices}-sensor-"));
    let mut s = Scenario::parse(&text).expect("scenario");
    change(&mut s);
    s.messages.clear();
    s.drivers.clear();
    s.reservations.clear();
    set_up(&lot.events.store, &s, t("08:00:00"))
        .await
        .expect("set up");
}

pub(super) fn east_read(event: &str, plate: &str, when: Timestamp) -> Value {
    json!({
        "topic": "parking/shinjuku-east/gates/g-in/events",
        "clientid": "east-cam-in",
        "received_at": (when + SignedDuration::from_secs(1)).as_millisecond(),
        "event_id": event, "type": "plate_read", "direction": "entry", "plate": plate,
        "confidence": 0.97, "occurred_at": when.to_string(), "seq": 1
    })
}

/// Each kiosk is limited by the application itself, counted in the
/// store: ten lookups a minute, then 429 with the seconds left in the
/// minute as Retry-After; another kiosk is not held back; the next minute
/// it may look again.
#[tokio::test]
async fn a_kiosk_is_held_to_ten_lookups_a_minute() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    let find = |who: Who| {
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{LOT}/sessions?digits=1122"),
            who,
        )
    };
    for i in 0..10 {
        let a = at(&lot, t("10:00:05"), find(KIOSK)).await;
        assert_eq!(a.status, 200, "lookup {i}: {}", a.text);
    }
    let api = api(&lot, t("10:00:15")).0;
    let over = call(&api, find(KIOSK)).await;
    assert_eq!(
        (over.status, over.code()),
        (429, "rate_limited".into()),
        "{}",
        over.text
    );
    let retry = over
        .headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.clone());
    assert_eq!(retry.as_deref(), Some("45"), "the rest of the minute");
    let other = Who::Role("kiosk-2", "kiosk", LOT);
    assert_eq!(at(&lot, t("10:00:20"), find(other)).await.status, 200);
    assert_eq!(at(&lot, t("10:01:00"), find(KIOSK)).await.status, 200);
}

/// The same count in DynamoDB: an atomic counter per kiosk and minute.
#[tokio::test]
async fn a_kiosk_limit_is_counted_in_dynamodb() {
    use parking_app::rate_limits::{KIOSK_LOOKUPS, admit, used_up};
    let store = parking_tests::fresh_dynamo_store(None).await;
    assert!(
        !used_up(&store, "kiosk-1", KIOSK_LOOKUPS, t("10:00:01"))
            .await
            .expect("read")
    );
    for i in 0..10 {
        let r = admit(&store, "kiosk-1", KIOSK_LOOKUPS, t("10:00:05"))
            .await
            .expect("counted");
        assert_eq!(r, None, "lookup {i}");
    }
    assert!(
        used_up(&store, "kiosk-1", KIOSK_LOOKUPS, t("10:00:30"))
            .await
            .expect("read")
    );
    let over = admit(&store, "kiosk-1", KIOSK_LOOKUPS, t("10:00:50"))
        .await
        .expect("counted");
    assert_eq!(over, Some(jiff::SignedDuration::from_secs(10)));
    let next = admit(&store, "kiosk-1", KIOSK_LOOKUPS, t("10:01:00"))
        .await
        .expect("counted");
    assert_eq!(next, None, "a new minute");
}

#[tokio::test]
async fn a_kiosk_lookup_never_returns_another_lots_sessions() {
    let lot = Lot::new().await;
    second_lot(&lot).await;
    const TWIN: &str = "大阪 500 あ 11-22";
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    let r = lot.send(&east_read("e-1", TWIN, t("09:10:00"))).await;
    assert_eq!(r.applied, 1, "{r:?}");
    let r = lot.send(&east_read("e-2", STRANGER, t("09:20:00"))).await;
    assert_eq!(r.applied, 1, "{r:?}");

    let find = |who: Who, lot_id: &str| {
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{lot_id}/sessions?digits=1122"),
            who,
        )
    };
    let ids = |a: &Answer| -> Vec<(String, String)> {
        a.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    i["session_id"].as_str().expect("id").to_owned(),
                    i["plate_hint"].as_str().expect("plate hint").to_owned(),
                )
            })
            .collect()
    };
    let west = at(&lot, t("10:00:00"), find(KIOSK, LOT)).await;
    let east = at(&lot, t("10:00:00"), find(KIOSK_B, "shinjuku-east")).await;
    assert_eq!(west.status, 200);
    let west = ids(&west);
    let east = ids(&east);
    assert_eq!(west.len(), 1);
    assert_eq!(east.len(), 2);
    let stored = lot.events.store.clone();
    for (id, _) in &west {
        let s = stored
            .get_session(&id.parse().expect("id"))
            .await
            .expect("session");
        assert_eq!(s.lot_id.as_str(), LOT);
    }
    for (id, _) in &east {
        let s = stored
            .get_session(&id.parse().expect("id"))
            .await
            .expect("session");
        assert_eq!(s.lot_id.as_str(), "shinjuku-east");
    }
    // A kiosk of one lot asking for the other: refused, nothing shown.
    let cross = at(&lot, t("10:00:00"), find(KIOSK, "shinjuku-east")).await;
    assert_eq!(cross.status, 403);
    assert!(!cross.text.contains("11-22"));
    // Nor can it pay for the other lot's stay.
    let pay = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{}/payments", east[0].0),
            KIOSK,
        )
        .header("idempotency-key", "x")
        .json(json!({"plate": STRANGER, "amount": 100})),
    )
    .await;
    assert_eq!(
        pay.status, 404,
        "a session of another lot is not found in this one"
    );
}

/// Every staff route with a lot in its path, filled in for `lot`.
fn staff_calls(lot_id: &str, who: Who) -> Vec<(Op, Call)> {
    Op::ALL
        .iter()
        .filter(|op| {
            op.doc().path.contains("{lot_id}")
                && !matches!(
                    op.doc().role,
                    parking_api::Role::Driver | parking_api::Role::Public
                )
        })
        .map(|op| {
            let d = op.doc();
            let path = d
                .path
                .replace("{lot_id}", lot_id)
                .replace("{gate_id}", "g-in")
                .replace("{device_id}", "cam-in")
                .replace("{session_id}", "s-000000000000000000000000");
            let query = if d.query.iter().any(|p| p.name == "date") {
                "?date=2026-11-30"
            } else if d.query.iter().any(|p| p.name == "digits") {
                "?digits=1122"
            } else {
                ""
            };
            let method = match d.method.as_str() {
                "GET" => "GET",
                "POST" => "POST",
                "PUT" => "PUT",
                _ => "DELETE",
            };
            let mut c = Call::new(method, format!("{path}{query}"), who.clone())
                .header("idempotency-key", "k")
                .header("if-match", "\"0\"");
            if d.body.is_some() {
                c = c.json(json!({"note": "x"}));
            }
            (*op, c)
        })
        .collect()
}

#[tokio::test]
async fn operators_shops_and_kiosks_act_only_on_lots_in_their_scope() {
    let lot = Lot::new().await;
    second_lot(&lot).await;
    let stranger_ops = [
        OP_B,
        SHOP_B,
        KIOSK_B,
        Who::Role("op-9", "operator", ""),
        Who::Driver("d-1"),
    ];
    for who in stranger_ops {
        for (op, c) in staff_calls(LOT, who) {
            let a = at(&lot, t("10:00:00"), c).await;
            assert_eq!((op, a.status), (op, 403), "{}", a.text);
            assert!(!a.text.contains("Shinjuku West"));
        }
    }
    for (op, c) in staff_calls(LOT, Who::Anonymous) {
        let a = at(&lot, t("10:00:00"), c).await;
        assert_eq!((op, a.status), (op, 401));
    }
    // A role is not another role: an operator is not a kiosk, a shop not an operator.
    for (op, c) in staff_calls(LOT, SHOP) {
        if op != Op::MerchantValidate {
            let a = at(&lot, t("10:00:00"), c).await;
            assert_eq!((op, a.status), (op, 403));
        }
    }
    for (op, c) in staff_calls(LOT, OP) {
        if matches!(
            op,
            Op::MerchantValidate | Op::KioskFindSessions | Op::KioskPay
        ) {
            let a = at(&lot, t("10:00:00"), c).await;
            assert_eq!((op, a.status), (op, 403));
        }
    }
    // The lot list shows only the operator's lots.
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new("GET", "/v1/operator/lots", OP_B),
    )
    .await;
    let ids: Vec<&str> = a.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .map(|s| {
            if s == "shinjuku-east" {
                "shinjuku-east"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(ids, ["shinjuku-east"]);
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new("GET", "/v1/operator/lots", SHOP),
    )
    .await;
    assert_eq!(a.status, 403);
}

/// Scopes are per role: a caller who is a shop at this lot and an
/// operator at another is a shop here, refused every operator route
/// (and the kiosk's), and an operator there; the lot list shows only
/// the lots of the operator role.
#[tokio::test]
async fn a_shop_here_that_operates_another_lot_is_only_a_shop_here() {
    let lot = Lot::new().await;
    second_lot(&lot).await;
    let both = Who::Scoped(
        "shop-op",
        "merchant operator",
        "merchant:shinjuku-west operator:shinjuku-east",
    );
    let mut refused = 0;
    for (op, c) in staff_calls(LOT, both.clone()) {
        let a = at(&lot, t("10:00:00"), c).await;
        if op == Op::MerchantValidate {
            assert_ne!(a.status, 403, "a shop here: {}", a.text);
        } else {
            assert_eq!((op, a.status), (op, 403), "{}", a.text);
            assert!(!a.text.contains("Shinjuku West"));
            refused += 1;
        }
    }
    assert!(refused > 10, "every operator and kiosk route: {refused}");
    let there = at(
        &lot,
        t("10:00:00"),
        Call::new("GET", "/v1/operator/lots/shinjuku-east", both.clone()),
    )
    .await;
    assert_eq!(there.status, 200, "an operator there: {}", there.text);
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new("GET", "/v1/operator/lots", both.clone()),
    )
    .await;
    let ids: Vec<String> = a.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["shinjuku-east"]);
    // The scope counts only with its group: in no kiosk group, a kiosk
    // scope grants nothing.
    let no_group = Who::Scoped("k-9", "merchant", "kiosk:shinjuku-west");
    for (op, c) in staff_calls(LOT, no_group) {
        if matches!(op, Op::KioskFindSessions | Op::KioskPay) {
            let a = at(&lot, t("10:00:00"), c).await;
            assert_eq!((op, a.status), (op, 403));
        }
    }
}

#[tokio::test]
async fn a_lot_configuration_changes_only_at_the_revision_it_was_read() {
    let lot = Lot::new().await;
    let path = format!("/v1/operator/lots/{LOT}");
    let got = call(
        &api(&lot, t("09:00:00")).0,
        Call::new("GET", path.clone(), OP),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text);
    let body = got.json();
    assert_eq!(body["revision"], 0);
    let mut change = json!({
        "name": body["name"],
        "time_zone": body["time_zone"],
        "capacity": 8,
        "reservable": 3,
        "slot_minutes": 15,
        "settings": body["settings"],
    });
    change["settings"]["cancellation_free_minutes"] = json!(120);
    change["settings"]["cancellation_fee"] = json!(500);
    change["settings"]["plate_confidence_threshold"] = json!(0.85);
    change["settings"]["kiosk_exit_minutes"] = json!(20);
    let put = |etag: Option<&str>, body: Value| {
        let c = Call::new("PUT", path.clone(), OP).json(body);
        match etag {
            Some(e) => c.header("if-match", e),
            None => c,
        }
    };
    let a = at(&lot, t("09:01:00"), put(None, change.clone())).await;
    assert_eq!((a.status, a.code()), (428, "precondition_required".into()));
    let a = at(&lot, t("09:01:00"), put(None, json!({"surprise": 1}))).await;
    assert_eq!(a.status, 428, "the precondition is checked before the body");
    let a = at(
        &lot,
        t("09:01:00"),
        Call::new("GET", "/v1/operator/lots?limit=0", SHOP),
    )
    .await;
    assert_eq!(a.status, 403, "the role is checked before the query");
    let a = at(&lot, t("09:01:00"), put(Some("\"0\""), change.clone())).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["revision"], 1);
    assert_eq!(a.json()["settings"]["cancellation_fee"], 500);
    assert_eq!(a.json()["capacity"], 8);
    // A second writer that read revision 0 is refused.
    let a = at(&lot, t("09:02:00"), put(Some("\"0\""), change.clone())).await;
    assert_eq!((a.status, a.code()), (412, "precondition_failed".into()));
    let mut bad = change.clone();
    bad["reservable"] = json!(9);
    let a = at(&lot, t("09:02:00"), put(Some("\"1\""), bad)).await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["errors"][0]["field"], "body.reservable");
    let mut bad = change.clone();
    bad["settings"]["sensor_confidence_threshold"] = json!(1.5);
    let a = at(&lot, t("09:02:00"), put(Some("\"1\""), bad)).await;
    assert_eq!(
        a.json()["errors"][0]["field"],
        "body.settings.sensor_confidence_threshold"
    );
    let mut bad = change.clone();
    bad["settings"]["surprise"] = json!(1);
    let a = at(&lot, t("09:02:00"), put(Some("\"1\""), bad)).await;
    assert_eq!((a.status, a.code()), (400, "invalid_body".into()));
    // The device flows read the new configuration.
    let stored = lot
        .events
        .store
        .get_lot(&LOT.parse().expect("id"))
        .await
        .expect("lot");
    assert_eq!((stored.capacity, stored.revision), (8, 1));
    assert_eq!(stored.settings.kiosk_exit_minutes, 20);
}

#[tokio::test]
async fn gates_devices_and_bays_are_configured_per_lot() {
    let lot = Lot::new().await;
    second_lot(&lot).await;
    let now = t("09:00:00");
    let a = at(
        &lot,
        now,
        Call::new("GET", format!("/v1/operator/lots/{LOT}/gates"), OP),
    )
    .await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(2));
    let a = at(
        &lot,
        now,
        Call::new("PUT", format!("/v1/operator/lots/{LOT}/gates/g-in-2"), OP)
            .json(json!({"direction": "entry", "camera_id": "cam-in-2"})),
    )
    .await;
    assert_eq!(a.status, 422, "the camera must exist first");
    assert_eq!(a.json()["errors"][0]["field"], "body.camera_id");
    let a = at(
        &lot,
        now,
        Call::new(
            "PUT",
            format!("/v1/operator/lots/{LOT}/devices/cam-in-2"),
            OP,
        )
        .json(json!({"kind": "camera", "gate_id": "g-in-2"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = at(
        &lot,
        now,
        Call::new("PUT", format!("/v1/operator/lots/{LOT}/gates/g-in-2"), OP)
            .json(json!({"direction": "entry", "camera_id": "cam-in-2"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    // Another lot's device cannot be taken over, nor its camera used.
    let a = at(
        &lot,
        now,
        Call::new(
            "PUT",
            format!("/v1/operator/lots/{LOT}/devices/east-cam-in"),
            OP,
        )
        .json(json!({"kind": "camera", "gate_id": "g-in"})),
    )
    .await;
    assert_eq!((a.status, a.code()), (409, "device_of_another_lot".into()));
    let a = at(
        &lot,
        now,
        Call::new("PUT", format!("/v1/operator/lots/{LOT}/gates/g-x"), OP)
            .json(json!({"direction": "exit", "camera_id": "east-cam-out"})),
    )
    .await;
    assert_eq!(a.status, 422);
    let a = at(
        &lot,
        now,
        Call::new(
            "PUT",
            format!("/v1/operator/lots/{LOT}/devices/sensor-Z"),
            OP,
        )
        .json(json!({"kind": "bay_sensor"})),
    )
    .await;
    assert_eq!(a.json()["errors"][0]["field"], "body.bay_id");
    let a = at(
        &lot,
        now,
        Call::new("GET", format!("/v1/operator/lots/{LOT}/devices"), OP),
    )
    .await;
    assert!(
        a.text.contains("cam-in-2") && !a.text.contains("east-cam"),
        "{}",
        a.text
    );
    lot.send(&super::devices::bay(
        "A-01",
        "b-1",
        Some(true),
        0.95,
        1,
        t("08:30:00"),
    ))
    .await;
    let a = at(
        &lot,
        now,
        Call::new("GET", format!("/v1/operator/lots/{LOT}/bays"), OP),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["items"][0]["state"], "occupied");
}

#[tokio::test]
async fn reviews_are_resolved_with_a_note_and_money_follows() {
    let lot = Lot::new().await;
    // Daisuke leaves with no entry seen: the lost-entry fee, for review.
    leave(&lot, "out-1", DAISUKE, t("09:00:00")).await;
    // Aiko parks and pays by card.
    enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    leave(&lot, "out-2", AIKO, t("10:30:00")).await;
    enter(&lot, "in-2", BEN, t("10:00:00")).await;

    let reviews = at(
        &lot,
        t("11:00:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/reviews"), OP),
    )
    .await;
    assert_eq!(reviews.status, 200);
    let items = reviews.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["state"], "entry_missing");
    let lost = items[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(net_for(&lot, &lost.parse().expect("id")), 3000);

    let resolve = |session: &str, body: Value| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{session}/resolution"),
            OP,
        )
        .json(body)
    };
    let a = at(
        &lot,
        t("11:05:00"),
        resolve(&lost, json!({"action": "adjust", "note": ""})),
    )
    .await;
    assert_eq!(a.status, 422);
    let a = at(
        &lot,
        t("11:05:00"),
        resolve(
            &lost,
            json!({"action": "adjust", "amount": 1200, "note": "entered 08:00 per camera footage"}),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["fee"]["amount"], 1200);
    assert_eq!(a.json()["resolution"], "adjusted");
    assert_eq!(a.json()["needs_review"], false);
    assert_eq!(
        net_for(&lot, &lost.parse().expect("id")),
        1200,
        "1800 refunded through the reconciliation"
    );
    let a = at(
        &lot,
        t("11:06:00"),
        resolve(&lost, json!({"action": "void", "note": "again"})),
    )
    .await;
    assert_eq!((a.status, a.code()), (409, "already_resolved".into()));
    let ben = session_of(&lot, BEN).await;
    let a = at(
        &lot,
        t("11:06:00"),
        resolve(ben.id.as_str(), json!({"action": "void", "note": "inside"})),
    )
    .await;
    assert_eq!((a.status, a.code()), (409, "session_open".into()));
    // A stay whose exit no camera saw is closed with the time the car
    // left; never a time to come.
    let a = at(
        &lot,
        t("11:06:00"),
        resolve(
            ben.id.as_str(),
            json!({"action": "void", "note": "inside", "exit_at": t("11:30:00").to_string()}),
        ),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert!(a.text.contains("exit_at"), "{}", a.text);
    let reviews = at(
        &lot,
        t("11:07:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/reviews"), OP),
    )
    .await;
    assert_eq!(reviews.json()["items"], json!([]));

    // A refund: never more than was collected; the same key once.
    let aiko = session_of(&lot, AIKO).await;
    let provider = parking_aws::DevProvider::default();
    for o in orders(&lot).iter().filter(|o| o.is_for(&aiko.id)) {
        parking_app::usecases::settle::settle_order(&lot.events.store, &provider, o, t("11:09:00"))
            .await
            .expect("settled");
    }
    let paid = net_for(&lot, &aiko.id);
    assert!(paid > 0);
    assert_eq!(session_of(&lot, AIKO).await.collected, paid);
    let refund = |amount: i64, key: &str| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{}/refunds", aiko.id),
            OP,
        )
        .header("idempotency-key", key)
        .json(json!({"amount": amount, "note": "barrier fault, customer waited"}))
    };
    let a = at(&lot, t("11:10:00"), refund(paid + 1, "r-0")).await;
    assert_eq!(a.status, 422);
    let a = at(&lot, t("11:10:00"), refund(100, "r-1")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["refunded"], 100);
    assert_eq!(a.json()["outstanding"], 0, "paid by card: nothing to pay");
    let a = at(&lot, t("11:11:00"), refund(100, "r-1")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        net_for(&lot, &aiko.id),
        paid - 100,
        "one refund for one key"
    );
    let refunds: Vec<PaymentOrder> = orders(&lot)
        .into_iter()
        .filter(|o| o.is_for(&aiko.id) && o.kind == PaymentKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 1);
    let a = at(&lot, t("11:12:00"), refund(paid, "r-2")).await;
    assert_eq!(a.status, 422, "only {} remains", paid - 100);

    // Everything is in the audit trail, with who and when.
    let a = at(
        &lot,
        t("12:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    let actions: Vec<(String, String)> = a.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("session.adjust".to_owned(), "op-1".to_owned()),
            // The provider's movements are in the lot's books too.
            ("payment.charge".to_owned(), "settlement".to_owned()),
            ("session.refund".to_owned(), "op-1".to_owned())
        ]
    );

    // The day's report counts a refund once the provider made it.
    for o in refunds.iter() {
        parking_app::usecases::settle::settle_order(&lot.events.store, &provider, o, t("11:20:00"))
            .await
            .expect("settled");
    }
    assert_eq!(provider.refunds().len(), 1);
    let a = at(
        &lot,
        t("23:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/reports/daily?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.json();
    assert_eq!(r["entries"], 2);
    assert_eq!(r["exits"], 2);
    let aiko = session_of(&lot, AIKO).await;
    assert_eq!(r["revenue"], 1200 + aiko.fee.map_or(0, |f| f.minor));
    assert_eq!(r["refunds"], 100);
    assert_eq!(r["needs_review"], 0);
    assert_eq!(r["occupancy_by_hour"].as_array().map(Vec::len), Some(24));
    assert_eq!(r["occupancy_by_hour"][9], 1);
    assert_eq!(r["occupancy_by_hour"][10], 2);
    assert_eq!(r["occupancy_by_hour"][22], 1, "Ben is still inside");
    let a = at(
        &lot,
        t("23:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/reports/daily?date=30-11-2026"),
            OP,
        ),
    )
    .await;
    assert_eq!((a.status, a.code()), (400, "invalid_query".into()));
    // A day outside the lot's records (before the seven years it keeps,
    // or after today) is refused, for every dated read.
    for (path, date) in [
        ("reports/daily", "0001-01-01"),
        ("reports/daily", "2026-12-01"),
        ("reports/reconciliation", "0001-01-01"),
        ("reports/reconciliation.csv", "2019-01-01"),
        ("audit", "9999-12-31"),
    ] {
        let a = at(
            &lot,
            t("23:00:00"),
            Call::new(
                "GET",
                format!("/v1/operator/lots/{LOT}/{path}?date={date}"),
                OP,
            ),
        )
        .await;
        assert_eq!(a.status, 422, "{path} {date}: {}", a.text);
        assert!(a.text.contains("query.date"), "{}", a.text);
    }
    // Ben's exit was never seen: staff close his stay with the time he
    // left, charged to it, and it leaves the count and the queue.
    let a = at(
        &lot,
        t("23:05:00"),
        resolve(
            ben.id.as_str(),
            json!({"action": "charge", "note": "left behind a van", "exit_at": t("22:50:00").to_string()}),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["state"], "priced");
    assert_eq!(a.json()["resolution"], "charged");
    assert!(
        a.json()["fee"]["amount"].as_i64().is_some_and(|f| f > 0),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn a_manual_open_is_audited_and_published_to_the_gate() {
    let lot = Lot::new().await;
    let (app, link) = api(&lot, t("09:00:00"));
    let open = |gate: &str, note: &str| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/gates/{gate}/open"),
            OP,
        )
        .json(json!({"note": note}))
    };
    let a = call(&app, open("g-out", "")).await;
    assert_eq!(a.status, 422);
    assert!(link.published().is_empty());
    let a = call(&app, open("g-nowhere", "stuck")).await;
    assert_eq!(a.status, 404);
    let a = call(&app, open("g-out", "delivery van, driver has no app")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json()["topic"],
        format!("parking/{LOT}/gates/g-out/commands")
    );
    let published = link.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].0,
        format!("parking/{LOT}/gates/g-out/commands")
    );
    assert_eq!(published[0].1.reason, Reason::Staff);
    assert_eq!(
        published[0].1.command,
        parking_app::commands::CommandKind::Open
    );
    let audit = call(
        &app,
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    assert_eq!(audit.json()["items"][0]["action"], "gate.open");
    assert_eq!(
        audit.json()["items"][0]["note"],
        "delivery van, driver has no app"
    );
    assert_eq!(audit.json()["items"][0]["target"], "g-out");
    // Without a link to the gates the route says so.
    let bare = parking_api::router(Arc::new(Api::new(
        lot.events.store.clone(),
        Arc::new(FixedClock(t("09:00:00"))),
    )));
    let a = call(&bare, open("g-out", "x")).await;
    assert_eq!(a.status, 503);
}

#[tokio::test]
async fn an_unresolved_session_is_in_no_state_to_charge_until_staff_decide() {
    let lot = Lot::new().await;
    enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    enter(&lot, "in-2", AIKO, t("11:00:00")).await;
    // The first stay's exit was never seen.
    let sessions = lot.live_sessions().await;
    let missing = sessions
        .iter()
        .find(|s| s.state == SessionState::ExitMissing)
        .expect("an exit-missing session");
    assert_eq!(net_for(&lot, &missing.id), 0);
    let a = at(
        &lot,
        t("12:00:00"),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{}/resolution", missing.id),
            OP,
        )
        .json(json!({"action": "charge", "note": "left at 10:00 per footage"})),
    )
    .await;
    assert_eq!(a.status, 422, "no priced fee: the amount is needed");
    assert_eq!(a.json()["errors"][0]["field"], "body.amount");
    let a = at(
        &lot,
        t("12:00:00"),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{}/resolution", missing.id),
            OP,
        )
        .json(json!({"action": "charge", "amount": 700, "note": "left at 10:00 per footage"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(net_for(&lot, &missing.id), 700);
    let a = at(
        &lot,
        t("12:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/sessions/{}", missing.id),
            OP,
        ),
    )
    .await;
    assert_eq!(a.json()["resolution"], "charged");
    assert_eq!(a.json()["state"], "priced");
}

#[tokio::test]
async fn a_late_cancellation_is_charged_under_the_lots_policy() {
    let lot = Lot::new().await;
    // The operator sets the policy: free until 60 minutes before, 500 after.
    let got = at(
        &lot,
        t("08:00:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}"), OP),
    )
    .await;
    let mut body = got.json();
    let revision = body["revision"].to_string();
    body["settings"]["cancellation_free_minutes"] = json!(60);
    body["settings"]["cancellation_fee"] = json!(500);
    let change = json!({
        "name": body["name"], "time_zone": body["time_zone"], "capacity": body["capacity"],
        "reservable": body["reservable"], "slot_minutes": body["slot_minutes"],
        "settings": body["settings"],
    });
    let a = at(
        &lot,
        t("08:00:00"),
        Call::new("PUT", format!("/v1/operator/lots/{LOT}"), OP)
            .header("if-match", &format!("\"{revision}\""))
            .json(change),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);

    // Aiko reserves 15:00 to 16:00 and cancels at 09:00: free.
    let made = at(
        &lot,
        t("08:30:00"),
        Call::new("POST", "/v1/me/reservations", Who::Driver("d-1"))
            .header("idempotency-key", "trip-1")
            .json(json!({"lot_id": LOT, "plate": AIKO,
                         "start": t("15:00:00").to_string(), "end": t("16:00:00").to_string()})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let early = made.json()["id"].as_str().expect("id").to_owned();
    let a = at(
        &lot,
        t("09:00:00"),
        Call::new(
            "DELETE",
            format!("/v1/me/reservations/{early}"),
            Who::Driver("d-1"),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["state"], "cancelled");
    assert_eq!(a.json()["cancellation_fee"], Value::Null);

    // Chika's 10:00 reservation, cancelled at 09:30: 500, queued as a charge.
    let a = at(
        &lot,
        t("09:30:00"),
        Call::new("DELETE", "/v1/me/reservations/r-3", Who::Driver("d-3")),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["cancellation_fee"]["amount"], 500);
    let again = at(
        &lot,
        t("09:31:00"),
        Call::new("DELETE", "/v1/me/reservations/r-3", Who::Driver("d-3")),
    )
    .await;
    assert_eq!(again.json()["cancellation_fee"]["amount"], 500);
    let fees: Vec<PaymentOrder> = orders(&lot)
        .into_iter()
        .filter(|o| o.reservation_id.is_some())
        .collect();
    assert_eq!(fees.len(), 1, "one charge however often it is cancelled");
    assert_eq!(
        fees[0].reservation_id.as_ref().map(|r| r.as_str()),
        Some("r-3")
    );
    assert_eq!(fees[0].session_id, None);
    assert_eq!(
        (fees[0].amount.minor, fees[0].method_id.as_str()),
        (500, "pm-3")
    );
    assert_eq!(fees[0].kind, PaymentKind::Charge);
    let got = at(
        &lot,
        t("09:32:00"),
        Call::new("GET", "/v1/me/reservations/r-3", Who::Driver("d-3")),
    )
    .await;
    assert_eq!(got.json()["cancellation_fee"]["amount"], 500);
}

/// The staff flows on a store: tariff versions (several tariffs read with
/// the lot), a stale configuration write, passes, the audit trail, the
/// kiosk's lookup by entry time and a late cancellation's fee, each
/// through the API and the device handler.
async fn staff_flows_on<S: Store + Clone + 'static>(store: S) {
    use parking_app::usecases::device_events::DeviceEvents;
    set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let events = DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO);
    let send = |m: Value| {
        let events = &events;
        async move {
            let at =
                Timestamp::from_millisecond(m["received_at"].as_i64().expect("ms")).expect("t");
            let r = events
                .handle(&serde_json::to_vec(&m).expect("json"), at)
                .await
                .expect("handled");
            assert_eq!(r.applied, 1, "{r:?}");
        }
    };
    let api_at = |now: Timestamp| {
        parking_api::router(Arc::new(
            Api::new(store.clone(), Arc::new(FixedClock(now)))
                .with_link(Arc::new(MemoryLink::default())),
        ))
    };
    let ask = |now: Timestamp, c: Call| {
        let app = api_at(now);
        async move { call(&app, c).await }
    };

    send(read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None)).await;
    send(read("g-in", "in-2", STRANGER, 0.97, t("09:10:00"), None)).await;
    let a = ask(
        t("09:30:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/tariffs"), OP)
            .json(json!({"effective_from": t("10:00:00").to_string(), "tariff": dearer_tariff()})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let stale = ask(
        t("09:31:00"),
        Call::new("PUT", format!("/v1/operator/lots/{LOT}"), OP)
            .header("if-match", "\"0\"")
            .json(json!({"name": "West", "time_zone": "Asia/Tokyo", "capacity": 6, "reservable": 2,
                         "slot_minutes": 15, "settings": serde_json::to_value(parking_api::dto::LotSettingsDto::from(LotSettings::default())).expect("json")})),
    )
    .await;
    assert_eq!(
        stale.status, 412,
        "the tariff version moved the revision on: {}",
        stale.text
    );
    send(read("g-in", "in-3", DAISUKE, 0.97, t("10:30:00"), None)).await;
    send(read("g-out", "out-1", AIKO, 0.97, t("10:20:00"), None)).await;
    send(read("g-out", "out-2", DAISUKE, 0.97, t("12:00:00"), None)).await;
    let old = day_one_tariff();
    let new = Tariff::from_json(&dearer_tariff().to_string()).expect("tariff");
    let charges: Vec<PaymentOrder> = store
        .outbox_pending(usize::MAX)
        .await
        .expect("outbox")
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Payments(o) => Some(o),
            OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
        })
        .collect();
    let by = |d: &str| -> i64 {
        charges
            .iter()
            .filter(|o| o.driver_id.as_str() == d)
            .map(PaymentOrder::signed_minor)
            .sum()
    };
    assert_eq!(
        by("d-1"),
        price(&old, t("09:00:00"), t("10:20:00"), Discount::default())
    );
    assert_eq!(
        by("d-5"),
        price(&new, t("10:30:00"), t("12:00:00"), Discount::default())
    );

    let a = ask(
        t("12:10:00"),
        Call::new("POST", format!("/v1/operator/lots/{LOT}/passes"), OP)
            .header("idempotency-key", "p-1")
            .json(
                json!({"plate": BEN, "valid_from": t("00:00:00").to_string(),
                         "valid_until": "2026-12-31T00:00:00+09:00"}),
            ),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = ask(
        t("12:11:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/passes"), OP),
    )
    .await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(1));

    let a = ask(
        t("12:12:00"),
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{LOT}/sessions?digits=1122"),
            KIOSK,
        ),
    )
    .await;
    assert_eq!(
        a.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.text
    );

    let a = ask(
        t("09:45:00"),
        Call::new("DELETE", "/v1/me/reservations/r-3", Who::Driver("d-3")),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json()["cancellation_fee"],
        Value::Null,
        "the lot charges nothing by default"
    );

    let a = ask(
        t("23:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    let actions: Vec<&str> = a.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .map(|s| {
            if s == "tariff.schedule" {
                "tariff.schedule"
            } else if s == "pass.issue" {
                "pass.issue"
            } else if s == "kiosk.lookup" {
                "kiosk.lookup"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(actions, ["tariff.schedule", "pass.issue", "kiosk.lookup"]);
    let a = ask(
        t("23:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-29"),
            OP,
        ),
    )
    .await;
    assert_eq!(a.json()["items"], json!([]), "another day's trail is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_flows_on_memory() {
    staff_flows_on(parking_aws::MemoryStore::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_flows_on_dynamodb() {
    staff_flows_on(parking_tests::fresh_dynamo_store(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_cancellation_fee_is_queued_with_the_cancellation_on_dynamodb() {
    let store = parking_tests::fresh_dynamo_store(None).await;
    set_up(&store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    let r: ReservationId = "r-3".parse().expect("id");
    let held = store.get_reservation(&r).await.expect("reservation");
    let lot = store.get_lot(&LOT.parse().expect("id")).await.expect("lot");
    let late = parking_app::Lot {
        settings: LotSettings {
            cancellation_fee: 500,
            ..lot.settings.clone()
        },
        ..lot
    };
    let method: PaymentMethodId = "pm-3".parse().expect("id");
    let fee = parking_app::usecases::reservations::cancellation_charge(
        &late,
        &held,
        Some(&method),
        parking_core::Currency::JPY,
        t("09:30:00"),
    )
    .expect("a late cancellation costs the fee");
    assert!(
        parking_app::usecases::reservations::cancellation_charge(
            &late,
            &held,
            Some(&method),
            parking_core::Currency::JPY,
            t("08:59:59"),
        )
        .is_none(),
        "free until an hour before"
    );
    let done = store
        .cancel_reservation_with_fee(&r, &fee)
        .await
        .expect("cancel");
    assert_eq!(done.cancellation_fee.map(|m| m.minor), Some(500));
    let again = store
        .cancel_reservation_with_fee(&r, &fee)
        .await
        .expect("again");
    assert_eq!(again.state, ReservationState::Cancelled);
    let queued: Vec<OutboxMessage> = store
        .outbox_pending(usize::MAX)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|m| matches!(m, OutboxMessage::Payments(o) if o.reservation_id.is_some()))
        .collect();
    assert_eq!(queued, vec![OutboxMessage::Payments(fee)]);
}

#[tokio::test]
async fn sample_staff_events_are_answered() {
    use super::api::call_event;
    let lot = Lot::new().await;
    enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    enter(&lot, "in-2", STRANGER, t("09:05:00")).await;
    let (app, link) = api(&lot, t("10:00:00"));
    let a = call_event(&app, "events/api/operator-get-lot.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["revision"], 0);
    let a = call_event(&app, "events/api/operator-put-lot.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["settings"]["cancellation_fee"], 500);
    let a = call_event(&app, "events/api/operator-put-lot.json").await;
    assert_eq!(a.status, 412, "the same If-Match again is stale");
    let a = call_event(&app, "events/api/operator-list-reviews.json").await;
    assert_eq!((a.status, a.json()["items"].clone()), (200, json!([])));
    let a = call_event(&app, "events/api/operator-open-barrier.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(link.published().len(), 1);
    let a = call_event(&app, "events/api/operator-other-lot.json").await;
    assert_eq!((a.status, a.code()), (403, "forbidden".into()));
    let a = call_event(&app, "events/api/merchant-validate.json").await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = call_event(&app, "events/api/kiosk-find-sessions.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["items"][0]["plate_hint"], "横浜 … 11-22");
}

#[tokio::test]
async fn staff_never_reach_another_lots_session_through_their_own_lots_path() {
    let lot = Lot::new().await;
    second_lot(&lot).await;
    let r = lot.send(&east_read("e-1", STRANGER, t("09:10:00"))).await;
    assert_eq!(r.applied, 1);
    let east = lot
        .events
        .store
        .lot_sessions(&"shinjuku-east".parse().expect("id"))
        .await
        .expect("sessions");
    let id = east[0].id.clone();
    let calls = [
        Call::new("GET", format!("/v1/operator/lots/{LOT}/sessions/{id}"), OP),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{id}/resolution"),
            OP,
        )
        .json(json!({"action": "void", "note": "not ours"})),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{id}/refunds"),
            OP,
        )
        .header("idempotency-key", "x")
        .json(json!({"amount": 100, "note": "not ours"})),
    ];
    for c in calls {
        let a = at(&lot, t("10:00:00"), c).await;
        assert_eq!(
            (a.status, a.code()),
            (404, "not_found".into()),
            "{}",
            a.text
        );
        assert!(!a.text.contains("11-22"));
    }
    let after = lot.events.store.get_session(&id).await.expect("session");
    assert_eq!(after, east[0], "nothing changed in the other lot");
}

#[tokio::test]
async fn staff_lists_page_with_cursors_and_answer_their_bodies() {
    let lot = Lot::new().await;
    for (i, plate) in [STRANGER, BEN, "大阪 500 あ 11-22"].iter().enumerate() {
        enter(&lot, &format!("in-{i}"), plate, t("09:00:00")).await;
    }
    // Same-second entries page in order without skipping.
    let first = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{LOT}/sessions?digits=1122&limit=1"),
            KIOSK,
        ),
    )
    .await;
    assert_eq!(first.status, 200);
    let cursor = first.json()["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{LOT}/sessions?digits=1122&limit=1&cursor={cursor}"),
            KIOSK,
        ),
    )
    .await;
    assert_eq!(second.status, 200);
    assert_ne!(
        first.json()["items"][0]["session_id"],
        second.json()["items"][0]["session_id"]
    );
    assert_eq!(second.json()["next_cursor"], Value::Null);
    let stolen = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/gates?cursor={cursor}"),
            OP,
        ),
    )
    .await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (400, "invalid_cursor".into())
    );

    let a = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "PUT",
            format!("/v1/operator/lots/{LOT}/devices/cam-in-2"),
            OP,
        )
        .json(json!({"kind": "camera", "gate_id": "g-in-2"})),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"id": "cam-in-2", "kind": "camera", "gate_id": "g-in-2", "bay_id": null, "connected": null, "seen_at": null})
    );
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new("PUT", format!("/v1/operator/lots/{LOT}/gates/g-in-2"), OP)
            .json(json!({"direction": "entry", "camera_id": "cam-in-2"})),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"id": "g-in-2", "direction": "entry", "camera_id": "cam-in-2"})
    );
    for path in ["gates", "devices", "passes", "bays", "tariffs"] {
        let a = at(
            &lot,
            t("10:00:00"),
            Call::new("GET", format!("/v1/operator/lots/{LOT}/{path}?limit=1"), OP),
        )
        .await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        assert!(a.json()["items"].is_array());
    }
    let v = at(
        &lot,
        t("10:00:00"),
        Call::new("POST", format!("/v1/merchant/lots/{LOT}/validations"), SHOP)
            .json(json!({"plate": BEN, "minutes": 60})),
    )
    .await;
    assert_eq!(v.status, 201);
    let tariff = day_one_tariff();
    assert_eq!(
        v.json()["fee_if_left_now"]["amount"],
        price(
            &tariff,
            t("09:00:00"),
            t("10:00:00"),
            Discount {
                minutes: 60,
                amount: 0
            }
        )
    );
}

#[tokio::test]
async fn what_is_priced_stays_priced_and_money_back_never_exceeds_money_in() {
    let lot = Lot::new().await;
    // A lost-entry fee keeps its amount when the lot's setting changes.
    leave(&lot, "out-1", DAISUKE, t("09:00:00")).await;
    let got = at(
        &lot,
        t("09:10:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}"), OP),
    )
    .await;
    let body = got.json();
    let mut settings = body["settings"].clone();
    settings["lost_entry_fee"] = json!(5000);
    let change = |slot: u32| {
        json!({"name": body["name"], "time_zone": body["time_zone"], "capacity": body["capacity"],
               "reservable": body["reservable"], "slot_minutes": slot, "settings": settings})
    };
    let a = at(
        &lot,
        t("09:11:00"),
        Call::new("PUT", format!("/v1/operator/lots/{LOT}"), OP)
            .header("if-match", "\"0\"")
            .json(change(30)),
    )
    .await;
    assert_eq!(
        a.status, 422,
        "the slot grid is fixed while the lot takes reservations"
    );
    assert_eq!(a.json()["errors"][0]["field"], "body.slot_minutes");
    let a = at(
        &lot,
        t("09:11:00"),
        Call::new("PUT", format!("/v1/operator/lots/{LOT}"), OP)
            .header("if-match", "\"0\"")
            .json(change(15)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    enter(&lot, "in-1", DAISUKE, t("10:00:00")).await;
    let lost = lot
        .live_sessions()
        .await
        .into_iter()
        .find(|s| s.state == SessionState::EntryMissing)
        .expect("the lost-entry stay");
    assert_eq!(lost.fee.map(|f| f.minor), Some(3000));
    assert_eq!(
        net_for(&lot, &lost.id),
        3000,
        "no second charge for the new setting"
    );

    // A kiosk-paid stay is refunded at most what was paid, over any keys.
    enter(&lot, "in-2", STRANGER, t("09:00:00")).await;
    let s = session_of(&lot, STRANGER).await;
    let due = price(
        &day_one_tariff(),
        t("09:00:00"),
        t("10:00:00"),
        Discount::default(),
    );
    let a = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{LOT}/sessions/{}/payments", s.id),
            KIOSK,
        )
        .header("idempotency-key", "k")
        .json(json!({"plate": STRANGER, "amount": due})),
    )
    .await;
    assert_eq!(a.status, 200);
    let refund = |key: &str| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{}/refunds", s.id),
            OP,
        )
        .header("idempotency-key", key)
        .json(json!({"amount": due, "note": "paid twice at the kiosk"}))
    };
    assert_eq!(at(&lot, t("10:05:00"), refund("r-1")).await.status, 200);
    let again = at(&lot, t("10:06:00"), refund("r-2")).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "nothing_to_refund".into())
    );

    // The same pass key with another plate never rewrites the first pass.
    let pass = |plate: &str| {
        Call::new("POST", format!("/v1/operator/lots/{LOT}/passes"), OP)
            .header("idempotency-key", "p-1")
            .json(json!({"plate": plate, "valid_from": t("00:00:00").to_string(), "valid_until": t("23:00:00").to_string()}))
    };
    let one = at(&lot, t("11:00:00"), pass(AIKO)).await;
    let two = at(&lot, t("11:00:00"), pass(BEN)).await;
    assert_ne!(one.json()["id"], two.json()["id"]);
    let list = at(
        &lot,
        t("11:01:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/passes"), OP),
    )
    .await;
    assert_eq!(
        list.json()["items"].as_array().map(Vec::len),
        Some(2),
        "both passes, each as issued"
    );
}

/// An operator lists and redrives only their own lot's dead letters, never
/// sees a body, and the redrive is audited.
#[tokio::test]
async fn an_operator_lists_and_redrives_their_lots_dead_letters() {
    use parking_app::outbox::Queue;
    let lot = Lot::new().await;
    let now = t("12:00:00");
    let dlq = parking_aws::MemoryDeadLetters::default();
    let order = |lot_id: &str| {
        format!(
            r#"{{"idempotency_key":"s-9.1","session_id":"s-9","lot_id":"{lot_id}","driver_id":"d-1","method_id":"pm-1","kind":"charge","amount":{{"minor":800,"currency":"JPY"}},"created_at":"2026-11-30T01:00:00Z"}}"#
        )
    };
    dlq.push(Queue::Payments, "m-a", Some("s-9"), &order(LOT));
    dlq.push(Queue::Payments, "m-b", Some("s-8"), &order("shinjuku-east"));
    dlq.push(Queue::Payments, "m-x", Some("poison"), "{not json");
    let mut api = Api::new(lot.events.store.clone(), Arc::new(FixedClock(now)));
    api.dead_letters = Some(Arc::new(dlq.clone()));
    let router = parking_api::router(Arc::new(api));
    let path = format!("/v1/operator/lots/{LOT}/dead-letters");

    let listed = call(
        &router,
        Call::new("GET", format!("{path}?queue=payments"), OP),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["id"], "m-a");
    assert_eq!(items[0]["kind"], "charge");
    assert!(!listed.text.contains("pm-1"), "no body: {}", listed.text);
    let theirs = call(
        &router,
        Call::new(
            "GET",
            "/v1/operator/lots/shinjuku-east/dead-letters?queue=payments",
            OP,
        ),
    )
    .await;
    assert_eq!(theirs.status, 403, "{}", theirs.text);
    let bad = call(
        &router,
        Call::new("GET", format!("{path}?queue=orders"), OP),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(
        bad.json()["errors"][0]["field"],
        "query.queue",
        "{}",
        bad.text
    );

    let no_note = call(
        &router,
        Call::new("POST", format!("{path}/redrive"), OP)
            .json(json!({"queue": "payments", "note": ""})),
    )
    .await;
    assert_eq!(no_note.status, 422, "{}", no_note.text);
    let sent = call(
        &router,
        Call::new("POST", format!("{path}/redrive"), OP)
            .json(json!({"queue": "payments", "note": "card provider was down"})),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(sent.json()["items"][0]["id"], "m-a");
    let back = dlq.sent_back();
    assert_eq!(back.len(), 1);
    assert!(back[0].1.contains(LOT));
    // The other lot's and the unreadable one stay for their people.
    assert_eq!(
        parking_app::usecases::dead_letters::list(&dlq, Queue::Payments, None, 100)
            .await
            .expect("list")
            .len(),
        2
    );
    let audit = lot
        .events
        .store
        .audit_trail(&LOT.parse().expect("lot"), t("00:00:00"), t("23:59:59"))
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "dead_letters.redrive" && e.note == "card provider was down"),
        "{audit:?}"
    );

    // Without the queues, the routes say so.
    let bare = parking_api::router(Arc::new(Api::new(
        lot.events.store.clone(),
        Arc::new(FixedClock(now)),
    )));
    let down = call(
        &bare,
        Call::new("GET", format!("{path}?queue=payments"), OP),
    )
    .await;
    assert_eq!(down.status, 503, "{}", down.text);
}

/// Onboarding by claim: an operator enrols a serial for a gate; the
/// pre-provisioning hook admits that serial only, as what was enrolled,
/// and puts the device in the lot's registry; a serial nobody enrolled,
/// or one whose device is in service, is refused; a serial is enrolled
/// once, and an operator of another lot cannot enrol in this one.
#[tokio::test]
async fn a_device_is_admitted_only_as_what_an_operator_enrolled() {
    use parking_app::usecases::provisioning::{HookRequest, admit};
    let lot = Lot::new().await;
    let now = t("09:00:00");
    let path = format!("/v1/operator/lots/{LOT}/enrolments");
    let enrol = |who: Who, body: Value| Call::new("POST", path.clone(), who).json(body);
    let body = json!({"serial": "SN-0042", "kind": "camera", "gate_id": "g-in"});
    let a = at(&lot, now, enrol(OP, body.clone())).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let thing = format!("{LOT}-cam-g-in-SN-0042");
    assert_eq!(a.json()["thing_name"], json!(thing));
    assert_eq!(a.json()["admitted"], json!(false));
    let a = at(&lot, now, enrol(OP, body)).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (409, json!("serial_enrolled"))
    );
    let a = at(
        &lot,
        now,
        enrol(
            OP,
            json!({"serial": "SN-0043", "kind": "camera", "gate_id": "no-such-gate"}),
        ),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.text);
    let a = at(
        &lot,
        now,
        enrol(
            OP,
            json!({"serial": "SN-0044", "kind": "camera", "gate_id": "g-in", "thing_name": "a:b"}),
        ),
    )
    .await;
    assert_eq!(a.status, 422, "a ':' in a thing name: {}", a.text);
    let a = at(
        &lot,
        now,
        enrol(
            OP_B,
            json!({"serial": "SN-0045", "kind": "camera", "gate_id": "g-in"}),
        ),
    )
    .await;
    assert_eq!(a.status, 403);
    // A thing name that is a device of another place is refused.
    let a = at(
        &lot,
        now,
        enrol(OP, json!({"serial": "SN-0046", "kind": "camera", "gate_id": "g-in", "thing_name": "cam-out"})),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (409, json!("thing_taken")),
        "{}",
        a.text
    );

    let store = &lot.events.store;
    let claim = |serial: &str, cert: &str| -> HookRequest {
        serde_json::from_value(json!({
            "claimCertificateId": "claim-cert",
            "certificateId": cert,
            "certificatePem": "-----BEGIN CERTIFICATE-----",
            "templateArn": "arn:aws:iot:ap-northeast-1:123456789012:provisioningtemplate/seamless-parking-dev-gates",
            "clientId": format!("claim-{serial}"),
            "parameters": {"SerialNumber": serial, "Lot": "another-lot", "Gate": "g-out"}
        }))
        .expect("hook request")
    };
    let (answer, refused) = admit(store, &claim("SN-9999", "c-0"), now)
        .await
        .expect("hook");
    assert!(
        !answer.allow && refused.is_some(),
        "a serial nobody enrolled"
    );
    let (answer, refused) = admit(store, &claim("SN-0042", "c-1"), now)
        .await
        .expect("hook");
    assert!(answer.allow, "{refused:?}");
    // What the device claimed (another lot, another gate) does not count.
    assert_eq!(answer.overrides["ThingName"], thing);
    assert_eq!(answer.overrides["Lot"], LOT);
    assert_eq!(answer.overrides["Gate"], "g-in");
    let device = store
        .get_device(&thing.parse().expect("id"))
        .await
        .expect("registered");
    assert_eq!(device.kind, DeviceKind::Camera);
    assert_eq!(device.gate_id.as_ref().map(GateId::as_str), Some("g-in"));
    // A retry before the device is heard is admitted again; once it is in
    // service, a second claim with its serial is refused.
    let (retry, _) = admit(store, &claim("SN-0042", "c-2"), now)
        .await
        .expect("hook");
    assert!(retry.allow);
    // Of two claims at once, one is admitted: the admission is written only
    // over the one the claim read.
    let raced = store
        .admit(
            &"SN-0042".parse().expect("serial"),
            &parking_app::enrolments::Admission {
                certificate_id: "c-late".into(),
                at: now,
            },
            Some("c-1"),
        )
        .await;
    assert!(
        matches!(
            raced,
            Err(StoreError::Conflict(Refusal::AdmissionChanged { .. }))
        ),
        "{raced:?}"
    );
    store
        .record_presence(
            &device.id,
            &Presence {
                connected: true,
                at: now,
                version: 1,
            },
            &[],
        )
        .await
        .expect("presence");
    let (clone, refused) = admit(store, &claim("SN-0042", "c-3"), now)
        .await
        .expect("hook");
    assert!(!clone.allow, "a cloned serial");
    assert!(refused.is_some_and(|r| r.to_string().contains("in service")));
    // A request that is not a hook request is refused, not an error.
    let junk =
        parking_aws::lambda::provisioning_hook(store, &FixedClock(now), &json!({"hello": 1}))
            .await
            .expect("answered");
    assert_eq!(junk, json!({"allowProvisioning": false}));
}

#[tokio::test]
async fn a_charge_above_the_lots_limit_waits_for_a_second_operator() {
    let lot = Lot::new().await;
    // Daisuke leaves with no entry seen: a stay for review.
    leave(&lot, "out-1", DAISUKE, t("09:00:00")).await;
    let session = session_of(&lot, DAISUKE).await.id;
    let before = net_for(&lot, &session);
    const OP_2: Who = Who::Role("op-2", "operator", LOT);
    let resolve = |who: Who, amount: i64| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{session}/resolution"),
            who,
        )
        .json(json!({"action": "charge", "amount": amount, "note": "car damaged the barrier"}))
    };
    // 50,000 yen is above the default limit of 10,000: not applied.
    let a = at(&lot, t("10:00:00"), resolve(OP, 50_000)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(a.json()["state"], "pending");
    assert_eq!(a.json()["requested_by"], "op-1");
    let id = a.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(net_for(&lot, &session), before, "nothing charged yet");
    let again = at(&lot, t("10:01:00"), resolve(OP, 50_000)).await;
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (202, json!(id)),
        "asked again: the same request"
    );

    let list = at(
        &lot,
        t("10:02:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/approvals"), OP_2),
    )
    .await;
    assert_eq!(
        list.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        list.text
    );

    let decide = |who: Who, decision: &str| {
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/approvals/{id}"),
            who,
        )
        .json(json!({"decision": decision, "note": "checked the footage"}))
    };
    // The operator who asked cannot approve; an operator of another lot
    // cannot see it.
    let a = at(&lot, t("10:05:00"), decide(OP, "approve")).await;
    assert_eq!(
        (a.status, a.code()),
        (409, "same_operator".into()),
        "{}",
        a.text
    );
    let a = at(&lot, t("10:05:00"), decide(OP_B, "approve")).await;
    assert_eq!(a.status, 403);
    assert_eq!(net_for(&lot, &session), before);

    let a = at(&lot, t("10:10:00"), decide(OP_2, "approve")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["approval"]["state"], "approved");
    assert_eq!(a.json()["approval"]["decided_by"], "op-2");
    assert_eq!(a.json()["session"]["fee"]["amount"], 50_000);
    assert_eq!(net_for(&lot, &session), 50_000);
    let a = at(&lot, t("10:11:00"), decide(OP_2, "approve")).await;
    assert_eq!(a.status, 200, "the same decision again: {}", a.text);
    assert_eq!(net_for(&lot, &session), 50_000, "applied once");
    let a = at(&lot, t("10:11:00"), decide(OP_2, "reject")).await;
    assert_eq!((a.status, a.code()), (409, "already_decided".into()));
    let list = at(
        &lot,
        t("10:12:00"),
        Call::new("GET", format!("/v1/operator/lots/{LOT}/approvals"), OP),
    )
    .await;
    assert_eq!(list.json()["items"].as_array().map(Vec::len), Some(0));

    // The audit trail shows who asked, who approved, and the charge.
    let audit = at(
        &lot,
        t("10:15:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP,
        ),
    )
    .await;
    let entries: Vec<(String, String)> = audit.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["target"] == json!(session.to_string()))
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("session.approval.requested", "op-1"),
        ("session.approval.approved", "op-2"),
        ("session.charge", "op-1"),
    ] {
        assert!(
            entries.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?}: {}",
            audit.text
        );
    }

    // At or under the limit, a charge is applied at once.
    leave(&lot, "out-2", AIKO, t("11:00:00")).await;
    let aiko = session_of(&lot, AIKO).await.id;
    let a = at(
        &lot,
        t("11:05:00"),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{aiko}/resolution"),
            OP,
        )
        .json(json!({"action": "charge", "amount": 10_000, "note": "lost ticket equivalent"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[tokio::test]
async fn each_shop_is_held_to_the_lots_limits_per_validation_and_per_day() {
    let lot = Lot::new().await;
    let store = &lot.events.store;
    let mut config = store.get_lot(&LOT.parse().expect("id")).await.expect("lot");
    config.settings.shop_validations_per_day = 2;
    store.put_lot(&config).await.expect("lot");
    for (i, plate) in [AIKO, BEN, DAISUKE].iter().enumerate() {
        enter(&lot, &format!("in-{i}"), plate, t("09:00:00")).await;
    }
    let validate = |plate: &str, body: Value| {
        let mut body = body;
        body["plate"] = json!(plate);
        Call::new("POST", format!("/v1/merchant/lots/{LOT}/validations"), SHOP).json(body)
    };
    // Per validation: 240 minutes and 3,000 yen at most by default.
    let a = at(&lot, t("10:00:00"), validate(AIKO, json!({"minutes": 241}))).await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.json()["errors"][0]["field"], "body.minutes");
    let a = at(&lot, t("10:00:00"), validate(AIKO, json!({"amount": 3001}))).await;
    assert_eq!(a.json()["errors"][0]["field"], "body.amount", "{}", a.text);
    // Per day: two validations, then none until the next day.
    let a = at(&lot, t("10:01:00"), validate(AIKO, json!({"minutes": 240}))).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = at(&lot, t("10:02:00"), validate(BEN, json!({"amount": 3000}))).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = at(
        &lot,
        t("10:03:00"),
        validate(DAISUKE, json!({"minutes": 30})),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (409, "daily_limit".into()),
        "{}",
        a.text
    );
    // Another shop is not held to this one's count.
    let other = Call::new(
        "POST",
        format!("/v1/merchant/lots/{LOT}/validations"),
        SHOP_2,
    )
    .json(json!({"plate": DAISUKE, "minutes": 30}));
    assert_eq!(at(&lot, t("10:04:00"), other).await.status, 201);
    // The next day the shop may validate again.
    let next_day = t("10:03:00") + SignedDuration::from_hours(24);
    let a = at(&lot, next_day, validate(DAISUKE, json!({"minutes": 30}))).await;
    assert_eq!(a.status, 201, "{}", a.text);
}

#[tokio::test]
async fn closing_a_stay_at_a_chosen_time_above_the_limit_waits_too() {
    let lot = Lot::new().await;
    let store = &lot.events.store;
    let mut config = store.get_lot(&LOT.parse().expect("id")).await.expect("lot");
    config.settings.approval_limit = 100;
    store.put_lot(&config).await.expect("lot");
    enter(&lot, "in-1", BEN, t("09:00:00")).await;
    let stay = session_of(&lot, BEN).await.id;
    // Closed at 20:00 the tariff prices it above 100 yen: the operator
    // chose that amount by choosing the time.
    let a = at(
        &lot,
        t("21:00:00"),
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{stay}/resolution"),
            OP,
        )
        .json(json!({"action": "charge", "exit_at": t("20:00:00").to_string(), "note": "exit camera down"})),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert!(
        a.json()["amount"].as_i64().is_some_and(|n| n > 100),
        "{}",
        a.text
    );
    assert_eq!(
        session_of(&lot, BEN).await.state,
        SessionState::Open,
        "not applied yet"
    );
}
