//! The unpaid register across the lots of one operator, end to end: a
//! stay left owing at one lot is asked for at the plate's next entry at
//! another (held or let in, by the entering lot's policy), a kiosk there
//! takes the payment into the first lot's books, and the register is
//! clear everywhere after; staff see the stays of the lots in their
//! scope, and a lot of another operator sees nothing.

use jiff::{SignedDuration, Timestamp};
use parking_app::commands::{CommandKind, GateCommand, Reason};
use parking_app::outbox::{NotificationKind, OutboxMessage};
use parking_app::scenario::Scenario;
use parking_app::unpaid::UnpaidPolicy;
use parking_app::*;
use serde_json::{Value, json};

use super::api::{Call, Who};
use super::devices::{BEN, CHIKA, LOT, Lot, STRANGER, scenario, t};
use super::staff::{another_lot, at, enter, leave, second_lot_with, session_of};

const EAST: &str = "shinjuku-east";
const OPERATOR: &str = "tokyo-parks";
const OP_WEST: Who = Who::Role("op-1", "operator", LOT);
const OP_EAST: Who = Who::Role("op-2", "operator", EAST);
const KIOSK_EAST: Who = Who::Role("kiosk-b", "kiosk", EAST);

/// West (lets a car that owes in and asks) and east (holds it), both run
/// by one operator.
async fn two_lots() -> Lot {
    let mut west = scenario();
    west.lot.operator = Some(OPERATOR.parse().expect("operator"));
    let lot = Lot::with(west).await;
    second_lot_with(&lot, |s: &mut Scenario| {
        s.lot.operator = Some(OPERATOR.parse().expect("operator"));
        s.lot.unpaid_at_entry = UnpaidPolicy::Hold;
    })
    .await;
    lot
}

/// A read at one of the east lot's gates.
fn east(gate: &str, event: &str, plate: &str, when: Timestamp) -> Value {
    let (client, direction) = if gate == "g-in" {
        ("east-cam-in", "entry")
    } else {
        ("east-cam-out", "exit")
    };
    json!({
        "topic": format!("parking/{EAST}/gates/{gate}/events"),
        "clientid": client,
        "received_at": (when + SignedDuration::from_secs(1)).as_millisecond(),
        "event_id": event, "type": "plate_read", "direction": direction, "plate": plate,
        "confidence": 0.97, "occurred_at": when.to_string(), "seq": 1
    })
}

async fn east_command(
    lot: &Lot,
    gate: &str,
    event: &str,
    plate: &str,
    when: Timestamp,
) -> GateCommand {
    let r = lot.send(&east(gate, event, plate, when)).await;
    assert_eq!(r.applied, 1, "{r:?}");
    r.commands.last().expect("a command").1.clone()
}

async fn register(lot: &Lot, who: Who, lot_id: &str, now: Timestamp) -> Vec<Value> {
    let a = at(
        lot,
        now,
        Call::new("GET", format!("/v1/operator/lots/{lot_id}/unpaid"), who),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.json()["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn a_stay_left_unpaid_at_one_lot_is_asked_for_at_another_and_paid_there_clears_it_everywhere()
{
    let lot = two_lots().await;
    // No account: the exit holds the car to pay at the kiosk, and it goes
    // without paying (behind another car, or through the barrier).
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    let out = leave(&lot, "out-1", STRANGER, t("10:00:00")).await;
    assert_eq!(out.reason, Reason::PayAtKiosk);
    let due = out.amount.expect("the amount due");
    assert!(due > 0);
    let west_stay = session_of(&lot, STRANGER).await;

    // On the operator's register, for staff of the lot it was run up in
    // (here an operator of both lots, reading through east's path); staff
    // of east alone see the lots in their scope only.
    const OP_BOTH: Who = Who::Role("op-3", "operator", "shinjuku-west,shinjuku-east");
    for (who, lot_id) in [(OP_WEST, LOT), (OP_BOTH, EAST)] {
        let items = register(&lot, who, lot_id, t("10:05:00")).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["session_id"], west_stay.id.as_str());
        assert_eq!(items[0]["lot_id"], LOT);
        assert_eq!(items[0]["reason"], "kiosk_unpaid");
        assert_eq!(items[0]["amount"]["amount"], due);
    }
    assert_eq!(
        register(&lot, OP_EAST, EAST, t("10:05:00")).await,
        Vec::<Value>::new(),
        "west's stay is not east's staff's to see"
    );

    // East holds it: the gate shows what is owed, no stay opens.
    let held = east_command(&lot, "g-in", "e-1", STRANGER, t("11:00:00")).await;
    assert_eq!(held.command, CommandKind::Hold);
    assert_eq!(held.reason, Reason::Unpaid);
    assert_eq!(held.amount, Some(due));
    assert!(held.display.en.contains("unpaid"), "{}", held.display.en);
    let plate = parking_core::Plate::parse(STRANGER).expect("plate");
    let open_in_east = async || {
        lot.events
            .store
            .lot_sessions(&EAST.parse().expect("lot"))
            .await
            .expect("sessions")
            .iter()
            .any(|s| s.plate == plate && s.state == parking_core::SessionState::Open)
    };
    assert!(!open_in_east().await);

    // East's kiosk finds the west stay by the plate's four digits and
    // takes the payment.
    let found = at(
        &lot,
        t("11:02:00"),
        Call::new(
            "GET",
            format!("/v1/kiosk/lots/{EAST}/sessions?digits=1122"),
            KIOSK_EAST,
        ),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let items = found.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["lot_id"], LOT);
    assert_eq!(items[0]["due"]["amount"], due);
    let pay = || {
        Call::new(
            "POST",
            format!("/v1/kiosk/lots/{EAST}/sessions/{}/payments", west_stay.id),
            KIOSK_EAST,
        )
        .header("idempotency-key", "pay-1")
        .json(json!({"plate": STRANGER, "amount": due}))
    };
    let paid = at(&lot, t("11:03:00"), pay()).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    // The same payment again (its answer lost): answered as recorded, not
    // refused because the stay no longer owes.
    let again = at(&lot, t("11:03:30"), pay()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["paid"]["amount"], due);

    // Paid into the west lot's books, noted with the kiosk that took it.
    let stay = lot
        .events
        .store
        .get_session(&west_stay.id)
        .await
        .expect("stay");
    assert_eq!(stay.outstanding(), 0);
    let trail = at(
        &lot,
        t("11:04:00"),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            OP_WEST,
        ),
    )
    .await;
    let payment = trail.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["action"] == "session.kiosk_payment")
        .cloned()
        .expect("the payment in west's trail");
    assert_eq!(payment["amount"], due);
    assert_eq!(payment["subject"], "kiosk-b");

    // Clear everywhere: both lots' registers, and the next entry opens.
    for (who, lot_id) in [(OP_WEST, LOT), (OP_BOTH, EAST)] {
        assert_eq!(
            register(&lot, who, lot_id, t("11:04:00")).await,
            Vec::<Value>::new()
        );
    }
    let welcome = east_command(&lot, "g-in", "e-2", STRANGER, t("11:10:00")).await;
    assert_eq!(welcome.reason, Reason::Welcome);
    assert_eq!(welcome.amount, None);
    assert!(open_in_east().await);
}

#[tokio::test]
async fn a_lot_that_lets_a_car_in_asks_at_the_gate_and_in_the_drivers_app() {
    let lot = two_lots().await;
    // Ben has an account but no card: east holds him at its exit to pay
    // at the kiosk, and he leaves without.
    let r = lot.send(&east("g-in", "e-1", BEN, t("09:00:00"))).await;
    assert_eq!(r.applied, 1, "{r:?}");
    let out = east_command(&lot, "g-out", "e-2", BEN, t("09:40:00")).await;
    assert_eq!(out.reason, Reason::PayAtKiosk);
    let due = out.amount.expect("due");

    // West lets him in and asks, at the gate and in the app.
    let r = lot
        .send(&super::devices::read(
            "g-in",
            "w-1",
            BEN,
            0.97,
            t("12:00:00"),
            None,
        ))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    let command = r.commands.last().expect("a command").1.clone();
    assert_eq!(command.command, CommandKind::Open);
    assert_eq!(command.reason, Reason::WelcomeUnpaid);
    assert_eq!(command.amount, Some(due));
    let asked: Vec<_> = lot
        .outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Notifications(n) => match n.kind {
                NotificationKind::Unpaid {
                    amount,
                    stays,
                    held,
                } => Some((n.driver_id.to_string(), amount.minor, stays, held)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![("d-2".to_owned(), due, 1, false)]);

    // A lot of another operator, in the same store, knows nothing of it:
    // its gate opens as for anyone, and its kiosk finds nothing.
    another_lot(&lot, "ginza", "ginza", |s: &mut Scenario| {
        s.lot.operator = Some("another-operator".parse().expect("operator"));
        s.lot.unpaid_at_entry = UnpaidPolicy::Hold;
    })
    .await;
    let mut elsewhere = east("g-in", "x-1", BEN, t("12:30:00"));
    elsewhere["topic"] = json!("parking/ginza/gates/g-in/events");
    elsewhere["clientid"] = json!("ginza-cam-in");
    let r = lot.send(&elsewhere).await;
    assert_eq!(
        r.commands.last().expect("a command").1.reason,
        Reason::Welcome
    );
    let found = at(
        &lot,
        t("12:31:00"),
        Call::new(
            "GET",
            "/v1/kiosk/lots/ginza/sessions?digits=7701",
            Who::Role("kiosk-g", "kiosk", "ginza"),
        ),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json()["items"], json!([]));
    let theirs = register(
        &lot,
        Who::Role("op-g", "operator", "ginza"),
        "ginza",
        t("12:31:00"),
    )
    .await;
    assert_eq!(theirs, Vec::<Value>::new());
}

#[tokio::test]
async fn a_doubtful_read_never_holds_a_car_for_a_debt() {
    let lot = two_lots().await;
    enter(&lot, "in-1", STRANGER, t("09:00:00")).await;
    leave(&lot, "out-1", STRANGER, t("10:00:00")).await;
    // East holds cars that owe, but not on a read below the lot's
    // confidence: the plate may be another car's.
    let mut doubtful = east("g-in", "e-1", STRANGER, t("11:00:00"));
    doubtful["confidence"] = json!(0.5);
    let r = lot.send(&doubtful).await;
    let command = r.commands.last().expect("a command").1.clone();
    assert_ne!(command.reason, Reason::Unpaid, "{command:?}");
    assert_eq!(command.amount, None);
}

/// A car the lot holds for a debt, with a reservation due: the
/// reservation is not used while it is held, and when its gate reports it
/// let the car in on its own after all, the stay is on the reservation.
#[tokio::test]
async fn a_car_held_for_a_debt_and_let_in_by_its_gate_keeps_its_reservation() {
    use parking_tests::fx;
    let mut west = scenario();
    west.lot.operator = Some(OPERATOR.parse().expect("operator"));
    west.lot.unpaid_at_entry = UnpaidPolicy::Hold;
    let lot = Lot::with(west).await;
    // Chika's card payment for a stay at east was given up (settlement's
    // story, told elsewhere): her plate is on the register.
    let mut earlier = fx::session("s-east-1", EAST, CHIKA);
    earlier.driver_id = Some(fx::id("d-3"));
    let mut commit = fx::commit(
        1,
        &earlier,
        &fx::event("east-cam-out", "x-9", "2026-11-29T20:00:00+09:00"),
        1,
    );
    commit.debts = vec![parking_app::unpaid::DebtChange::Owe(
        parking_app::unpaid::Debt {
            operator: fx::id(OPERATOR),
            plate: fx::plate(CHIKA),
            session_id: earlier.id.clone(),
            lot_id: fx::id(EAST),
            driver_id: Some(fx::id("d-3")),
            reason: parking_app::unpaid::DebtReason::CardFailed,
            amount: fx::yen(1500),
            entry_at: fx::at("2026-11-29T18:00:00+09:00"),
            exit_at: fx::at("2026-11-29T20:00:00+09:00"),
        },
    )];
    lot.events
        .store
        .commit_read(&commit)
        .await
        .expect("on the register");
    let reservation = || async {
        lot.events
            .store
            .get_reservation(&fx::id("r-3"))
            .await
            .expect("reservation")
            .state
    };

    // Held at her reservation's start: asked for the 1,500 yen, at the gate
    // and in her app, and the reservation is not used.
    let first = super::devices::read("g-in", "in-1", CHIKA, 0.97, t("10:00:00"), None);
    let r = lot.send(&first).await;
    let command = r.commands.last().expect("a command").1.clone();
    assert_eq!(
        (command.command, command.reason),
        (CommandKind::Hold, Reason::Unpaid)
    );
    assert_eq!(command.amount, Some(1500));
    assert_eq!(reservation().await, ReservationState::Active);
    let told: Vec<bool> = lot
        .outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Notifications(n) if n.driver_id.as_str() == "d-3" => match n.kind {
                NotificationKind::Unpaid { held, .. } => Some(held),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![true]);
    // Read again while she waits: not told again.
    lot.send(&super::devices::read(
        "g-in",
        "in-2",
        CHIKA,
        0.97,
        t("10:00:30"),
        None,
    ))
    .await;
    let unpaid_notices = lot
        .outbox()
        .into_iter()
        .filter(|m| matches!(m, OutboxMessage::Notifications(n) if matches!(n.kind, NotificationKind::Unpaid { .. })))
        .count();
    assert_eq!(unpaid_notices, 1);

    // The gate's backlog: it let her in on its own. The stay is hers, on
    // the reservation, and the reservation is used.
    let mut opened = first.clone();
    opened["decided_offline"] = "open".into();
    let r = lot
        .send(&super::devices::backlog(
            "g-in",
            vec![opened],
            t("10:05:00"),
        ))
        .await;
    assert_eq!((r.applied, r.duplicates), (1, 0), "{r:?}");
    let chika = fx::plate(CHIKA);
    let inside: Vec<Session> = lot
        .live_sessions()
        .await
        .into_iter()
        .filter(|s| s.plate == chika && s.state == parking_core::SessionState::Open)
        .collect();
    assert_eq!(inside.len(), 1, "{inside:?}");
    assert_eq!(
        inside[0].reservation_id.as_ref().map(|r| r.as_str()),
        Some("r-3")
    );
    assert_eq!(reservation().await, ReservationState::CheckedIn);
}
