//! Plates proven before they are a driver's: a claim through the API, the
//! code its gate shows at the car's entry, the proof, and the claims that
//! go to support staff instead.

use std::sync::Arc;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use parking_api::Api;
use parking_app::outbox::OutboxMessage;
use parking_app::*;
use serde_json::{Value, json};

use super::api::{Answer, Call, Who, call};
use super::devices::{AIKO, Lot, STRANGER, read, t};

const NEWCOMER: Who = Who::Driver("d-new");
const OTHER: Who = Who::Driver("d-other");
const SUPPORT: Who = Who::Role("help-1", "support", "");
const OP: Who = Who::Role("op-1", "operator", super::devices::LOT);

fn api(lot: &Lot, now: Timestamp) -> Router {
    let api = Api::new(lot.events.store.clone(), Arc::new(FixedClock(now)));
    parking_api::router(Arc::new(api))
}

async fn at(lot: &Lot, now: Timestamp, c: Call) -> Answer {
    call(&api(lot, now), c).await
}

fn key(plate: &str) -> String {
    parking_core::Plate::parse(plate).expect("plate").key()
}

/// A driver with a profile, claiming `plate`.
async fn claim(lot: &Lot, who: Who, plate: &str, now: Timestamp) -> Answer {
    let a = at(
        lot,
        now,
        Call::new("PUT", "/v1/me", who.clone()).json(json!({"name": "Kei"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    at(
        lot,
        now,
        Call::new("POST", "/v1/me/vehicles", who).json(json!({"plate": plate})),
    )
    .await
}

/// Notifications queued for a driver.
fn notices_for(lot: &Lot, driver: &str) -> usize {
    lot.outbox()
        .into_iter()
        .filter(|m| matches!(m, OutboxMessage::Notifications(n) if n.driver_id.as_str() == driver))
        .count()
}

async fn enter(lot: &Lot, event: &str, plate: &str, when: Timestamp) -> commands::GateCommand {
    let r = lot
        .send(&read("g-in", event, plate, 0.97, when, None))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    r.commands.last().expect("a command").1.clone()
}

async fn leave(lot: &Lot, event: &str, plate: &str, when: Timestamp) {
    let r = lot
        .send(&read("g-out", event, plate, 0.97, when, None))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
}

fn sessions(a: &Answer) -> usize {
    a.json()["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_pending_plate_sees_nothing_until_the_code_at_its_gate_proves_it() {
    let lot = Lot::new().await;
    let a = claim(&lot, NEWCOMER, STRANGER, t("08:30:00")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["status"], "pending");

    // The car comes in: the gate shows a code; the claimant is told
    // nothing and sees no stay.
    let command = enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    let code = command
        .proof_code
        .as_ref()
        .map(|c| c.0.clone())
        .expect("the entry shows a code");
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let wire = serde_json::to_value(&command).expect("json");
    assert_eq!(wire["proof_code"], json!(code), "the gate receives it");
    assert!(!format!("{command:?}").contains(&code), "never printed");
    assert_eq!(notices_for(&lot, "d-new"), 0, "no location notice");
    let mine = at(
        &lot,
        t("09:01:00"),
        Call::new("GET", "/v1/me/sessions", NEWCOMER),
    )
    .await;
    assert_eq!((mine.status, sessions(&mine)), (200, 0), "{}", mine.text);

    // A wrong code, then the right one after the ten minutes: refused.
    let prove = |c: &str| {
        Call::new(
            "POST",
            format!("/v1/me/vehicles/{}/proof", key(STRANGER)),
            NEWCOMER,
        )
        .json(json!({"code": c}))
    };
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let a = at(&lot, t("09:02:00"), prove(wrong)).await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.json()["errors"][0]["field"], "body.code", "{}", a.text);
    let a = at(&lot, t("09:11:00"), prove(&code)).await;
    assert_eq!(a.status, 422, "expired: {}", a.text);
    // Another driver without a claim cannot use it.
    let a = at(
        &lot,
        t("09:03:00"),
        Call::new(
            "POST",
            format!("/v1/me/vehicles/{}/proof", key(STRANGER)),
            OTHER,
        )
        .json(json!({"code": code})),
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(
        lot.events
            .store
            .plate_owner(&parking_core::Plate::parse(STRANGER).expect("plate"))
            .await
            .expect("owner"),
        None
    );

    // The next entry shows a new code; typed in time, it proves the plate.
    leave(&lot, "out-1", STRANGER, t("10:00:00")).await;
    let command = enter(&lot, "in-2", STRANGER, t("11:00:00")).await;
    let code = command.proof_code.map(|c| c.0).expect("a new code");
    let a = at(&lot, t("11:04:00"), prove(&code)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["status"], "proven");
    let a = at(&lot, t("11:05:00"), prove(&code)).await;
    assert_eq!(
        (a.status, a.json()["status"].clone()),
        (200, json!("proven")),
        "a repeat succeeds"
    );
    let list = at(
        &lot,
        t("11:05:00"),
        Call::new("GET", "/v1/me/vehicles", NEWCOMER),
    )
    .await;
    assert_eq!(list.json()["items"][0]["status"], "proven", "{}", list.text);

    // Proven: the stay it was proven in is priced for the driver at its
    // exit, every later one is theirs, and they are told; the stay before
    // the claim's proof is never shown.
    leave(&lot, "out-2", STRANGER, t("12:00:00")).await;
    assert_eq!(notices_for(&lot, "d-new"), 1, "the exit notice");
    let command = enter(&lot, "in-3", STRANGER, t("13:00:00")).await;
    assert!(command.proof_code.is_none(), "a proven plate shows no code");
    assert_eq!(notices_for(&lot, "d-new"), 2, "the entry notice");
    let mine = at(
        &lot,
        t("13:01:00"),
        Call::new("GET", "/v1/me/sessions", NEWCOMER),
    )
    .await;
    let entries: Vec<Value> = mine.json()["items"]
        .as_array()
        .map(|v| v.iter().map(|s| s["entry_at"].clone()).collect())
        .unwrap_or_default();
    assert!(
        entries.contains(&json!(t("13:00:00").to_string()))
            && !entries.contains(&json!(t("09:00:00").to_string())),
        "{}",
        mine.text
    );
}

#[tokio::test]
async fn a_second_claimant_of_a_proven_plate_learns_nothing_and_support_decides() {
    let lot = Lot::new().await;
    // A claim of AIKO (proven by d-1) and of a plate nobody holds are
    // answered alike.
    let taken = claim(&lot, NEWCOMER, AIKO, t("08:30:00")).await;
    let free = claim(&lot, NEWCOMER, STRANGER, t("08:30:00")).await;
    assert_eq!((taken.status, free.status), (201, 201), "{}", taken.text);
    let shape = |a: &Answer| -> Vec<(String, Value)> {
        let v = a.json();
        let mut fields: Vec<(String, Value)> = v
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, _)| !k.starts_with("plate"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields
    };
    assert_eq!(shape(&taken), shape(&free));

    // The owner keeps the plate and is told of its entry; the claimant is
    // shown no code and nothing else.
    let command = enter(&lot, "in-1", AIKO, t("09:00:00")).await;
    assert!(command.proof_code.is_none());
    assert_eq!(notices_for(&lot, "d-1"), 1);
    assert_eq!(notices_for(&lot, "d-new"), 0);
    let a = at(
        &lot,
        t("09:01:00"),
        Call::new(
            "POST",
            format!("/v1/me/vehicles/{}/proof", key(AIKO)),
            NEWCOMER,
        )
        .json(json!({"code": "123456"})),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.text);
    let mine = at(
        &lot,
        t("09:01:00"),
        Call::new("GET", "/v1/me/sessions", NEWCOMER),
    )
    .await;
    assert_eq!(sessions(&mine), 0);
    let owner = at(
        &lot,
        t("09:01:00"),
        Call::new("GET", "/v1/me/sessions", Who::Driver("d-1")),
    )
    .await;
    assert_eq!(sessions(&owner), 1, "{}", owner.text);

    // Support sees the claim; an operator may not.
    let queue = at(
        &lot,
        t("09:05:00"),
        Call::new("GET", "/v1/support/plate-claims", SUPPORT),
    )
    .await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    let items = queue.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "only the claim in review: {}", queue.text);
    assert_eq!(items[0]["driver_id"], "d-new");
    assert_eq!(items[0]["plate"], key(AIKO));
    let a = at(
        &lot,
        t("09:05:00"),
        Call::new("GET", "/v1/support/plate-claims", OP),
    )
    .await;
    assert_eq!(a.status, 403);

    let decide = |d: &str| {
        Call::new("POST", format!("/v1/support/plate-claims/{}/decision", key(AIKO)), SUPPORT)
            .json(json!({"driver_id": "d-new", "decision": d, "note": "registration certificate checked"}))
    };
    let a = at(&lot, t("09:10:00"), decide("reject")).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = at(&lot, t("09:10:00"), decide("reject")).await;
    assert_eq!(a.status, 404, "decided once");
    let list = at(
        &lot,
        t("09:10:00"),
        Call::new("GET", "/v1/me/vehicles", NEWCOMER),
    )
    .await;
    let plates: Vec<Value> = list.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(plates.len(), 1, "only the other claim: {}", list.text);

    // Claimed again and approved: the plate moves.
    let again = claim(&lot, NEWCOMER, AIKO, t("09:20:00")).await;
    assert_eq!(again.json()["status"], "pending");
    let a = at(&lot, t("09:30:00"), decide("approve")).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let owner = lot
        .events
        .store
        .plate_owner(&parking_core::Plate::parse(AIKO).expect("plate"))
        .await
        .expect("owner")
        .expect("held");
    assert_eq!(owner.driver_id.as_str(), "d-new");
    let queue = at(
        &lot,
        t("09:31:00"),
        Call::new("GET", "/v1/support/plate-claims", SUPPORT),
    )
    .await;
    assert_eq!(sessions(&queue), 0, "{}", queue.text);

    // Both decisions are in the account trail, naming the claimant and
    // never the plate.
    let trail = lot
        .events
        .store
        .audit_trail(
            &parking_app::audit::account_trail(),
            t("00:00:00"),
            t("23:59:00") + SignedDuration::from_secs(1),
        )
        .await
        .expect("trail");
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["plate_claim.reject", "plate_claim.approve"]);
    let text = format!("{trail:?}");
    assert!(
        !text.contains(&key(AIKO)) && !text.contains("12-34"),
        "{text}"
    );
    assert!(
        trail
            .iter()
            .all(|e| e.target == "d-new" && e.actor.role == "support")
    );
}
