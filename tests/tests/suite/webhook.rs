//! The payment provider's webhooks: the signature is checked (right
//! secret, fresh time), each event is handled once, and what it says about
//! money reaches the stay's books.

use parking_app::outbox::{OutboxMessage, PaymentOrder};
use parking_app::usecases::adjust::{Staff, refund};
use parking_app::usecases::settle::{Settled, movement_key, settle_order};

/// The key of the plate's `n`-th movement, for the stay `id`.
async fn key_of(store: &impl Store, id: &SessionId, n: u32) -> IdempotencyKey {
    let s = store.get_session(id).await.expect("the stay");
    movement_key(&s.lot_id, &s.plate, n)
}
use parking_app::usecases::webhook::{Handled, WebhookError, WebhookSecret, handle, verify};
use parking_app::*;
use parking_aws::{DevProvider, MemoryQueues};
use serde_json::json;

use super::devices::{AIKO, LOT, Lot, read, t};

fn secret() -> WebhookSecret {
    WebhookSecret::new("whsec_test_secret")
}

fn signed(body: &[u8], secret: &WebhookSecret, at: i64) -> String {
    format!("t={at},v1={}", secret.sign(at, body))
}

fn event(id: &str, kind: &str, object: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "type": kind,
        "data": {"object": object}
    }))
    .expect("json")
}

#[test]
fn the_signature_is_checked() {
    let now = t("12:00:00");
    let body = event("evt_1", "payment_intent.succeeded", json!({"id": "pi_1"}));
    let good = signed(&body, &secret(), now.as_second());
    let e = verify(&body, Some(&good), &[secret()], now).expect("valid");
    assert_eq!(
        (e.id.as_str(), e.kind.as_str()),
        ("evt_1", "payment_intent.succeeded")
    );
    // During a rotation either secret is believed.
    let old = WebhookSecret::new("whsec_old");
    assert!(verify(&body, Some(&good), &[old.clone(), secret()], now).is_ok());
    // The wrong secret.
    let forged = signed(&body, &old, now.as_second());
    assert!(matches!(
        verify(&body, Some(&forged), &[secret()], now),
        Err(WebhookError::BadSignature)
    ));
    // A body changed after signing.
    let other = event("evt_1", "payment_intent.succeeded", json!({"id": "pi_2"}));
    assert!(matches!(
        verify(&other, Some(&good), &[secret()], now),
        Err(WebhookError::BadSignature)
    ));
    // A stale time: a delivery captured and replayed ten minutes later.
    let stale = signed(&body, &secret(), now.as_second() - 600);
    assert!(matches!(
        verify(&body, Some(&stale), &[secret()], now),
        Err(WebhookError::Stale { seconds: 600, .. })
    ));
    // No header, a malformed one.
    assert!(matches!(
        verify(&body, None, &[secret()], now),
        Err(WebhookError::MissingSignature)
    ));
    for bad in ["t=x,v1=00", "v1=00", "t=1", "t=1,v1=zz", "garbage"] {
        assert!(
            matches!(
                verify(&body, Some(bad), &[secret()], now),
                Err(WebhookError::MalformedSignature(_))
            ),
            "{bad}"
        );
    }
    // The error never shows the secret.
    assert!(!format!("{:?}", secret()).contains("whsec"));
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

/// A stay charged ¥800 and refunded ¥300 by staff; its id.
async fn refunded(lot: &Lot, provider: &DevProvider) -> SessionId {
    for (gate, event, at) in [("g-in", "in-1", "09:00:00"), ("g-out", "out-1", "10:30:00")] {
        lot.send(&read(gate, event, AIKO, 0.97, t(at), None)).await;
    }
    let charge = orders(lot).pop().expect("charge");
    settle_order(&lot.events.store, provider, &charge, t("10:31:00"))
        .await
        .expect("settled");
    let id = charge.session_id.clone().expect("stay");
    let operator = Actor {
        role: "operator".into(),
        subject: "op-1".into(),
    };
    let lot_id: LotId = LOT.parse().expect("id");
    refund(
        &lot.events.store,
        Staff {
            actor: &operator,
            lot_id: &lot_id,
            now: t("11:00:00"),
        },
        &id,
        300,
        "wrong tariff",
        "k-1",
    )
    .await
    .expect("refund");
    let back = orders(lot).pop().expect("refund order");
    let r = settle_order(&lot.events.store, provider, &back, t("11:01:00"))
        .await
        .expect("settled");
    assert!(matches!(r, Settled::Charged(_)), "{r:?}");
    id
}

/// The bank returns a refund the provider made: the stay's books collect
/// it again, the stay goes to review, and the prompt refunds again. The
/// same event delivered twice changes nothing more.
#[tokio::test]
async fn a_refund_the_bank_failed_is_made_again_once() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let queues = MemoryQueues::default();
    let id = refunded(&lot, &provider).await;
    let made = provider.refunds().pop().expect("the refund");
    let body = event(
        "evt_refund_failed",
        "refund.failed",
        json!({
            "id": made.id,
            "object": "refund",
            "status": "failed",
            "amount": 300,
            "metadata": {"attempt": key_of(&lot.events.store, &id, 2).await.to_string()}
        }),
    );
    let now = t("12:00:00");
    let header = signed(&body, &secret(), now.as_second());
    let e = verify(&body, Some(&header), &[secret()], now).expect("valid");
    let store = &lot.events.store;
    let h = handle(store, &queues, &provider, &e, now)
        .await
        .expect("handled");
    assert_eq!(h, Handled::Reversed(id.clone()));
    let s = store.get_session(&id).await.expect("session");
    assert_eq!(s.collected, 800, "the money is collected again");
    assert!(parking_app::usecases::operator::needs_review(&s), "{s:?}");
    let again = handle(store, &queues, &provider, &e, now)
        .await
        .expect("handled");
    assert_eq!(again, Handled::Duplicate);
    let prompts: Vec<PaymentOrder> = orders(&lot).into_iter().filter(|o| o.is_for(&id)).collect();
    let prompt = prompts.last().expect("a prompt");
    let r = settle_order(store, &provider, prompt, t("12:01:00"))
        .await
        .expect("settled");
    assert!(matches!(r, Settled::Charged(_)), "{r:?}");
    let amounts: Vec<i64> = provider.refunds().iter().map(|r| r.amount.minor).collect();
    assert_eq!(amounts, vec![300, 300]);
    let s = store.get_session(&id).await.expect("session");
    assert_eq!((s.collected, s.payment_failure), (500, None));
}

/// A dispute flags its stay for review; a payment event about money that
/// is not ours is acknowledged and ignored; a settled intent's event
/// prompts its stay, which finds nothing more to move.
#[tokio::test]
async fn disputes_go_to_review_and_strangers_are_ignored() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let queues = MemoryQueues::default();
    let id = refunded(&lot, &provider).await;
    let charge = provider.charges().pop().expect("the charge");
    let store = &lot.events.store;
    let now = t("13:00:00");
    let read_event = |body: &[u8]| {
        let header = signed(body, &secret(), now.as_second());
        verify(body, Some(&header), &[secret()], now).expect("valid")
    };
    // Some subscription of the lot wants disputes.
    let lot_id = parking_app::LotId::parse(super::devices::LOT).expect("lot");
    let mut hooked = store.get_lot(&lot_id).await.expect("lot");
    hooked.webhook_events = vec![parking_app::hooks::EventType::DisputeOpened];
    store.put_lot(&hooked).await.expect("lot");
    let dispute = read_event(&event(
        "evt_dispute",
        "charge.dispute.created",
        json!({"id": "dp_1", "object": "dispute", "amount": 500, "payment_intent": charge.id}),
    ));
    let h = handle(store, &queues, &provider, &dispute, now)
        .await
        .expect("handled");
    assert_eq!(h, Handled::Disputed(id.clone()));
    let s = store.get_session(&id).await.expect("session");
    assert!(s.flags.contains(&SessionFlag::Disputed));
    assert!(parking_app::usecases::operator::needs_review(&s));
    // Told to the lot's subscribers in the same write: the stay and the
    // amount, no plate.
    let told: Vec<parking_app::hooks::LotEvent> = lot
        .outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Webhooks(h) => Some(h.event().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].id, "dispute.opened/dp_1");
    assert_eq!(
        told[0].data["session_id"],
        serde_json::json!(id.to_string())
    );
    assert_eq!(told[0].data["amount"]["amount"], serde_json::json!(500));

    let stranger = read_event(&event(
        "evt_other",
        "payment_intent.succeeded",
        json!({"id": "pi_other", "metadata": {}}),
    ));
    assert!(matches!(
        handle(store, &queues, &provider, &stranger, now)
            .await
            .expect("handled"),
        Handled::Ignored(_)
    ));
    let succeeded = read_event(&event(
        "evt_ok",
        "payment_intent.succeeded",
        json!({"id": charge.id, "metadata": {"attempt": key_of(store, &id, 1).await.to_string()}}),
    ));
    assert_eq!(
        handle(store, &queues, &provider, &succeeded, now)
            .await
            .expect("handled"),
        Handled::Prompted(id.clone())
    );
    let prompt = match queues.all().pop() {
        Some(OutboxMessage::Payments(o)) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        settle_order(store, &provider, &prompt, now)
            .await
            .expect("settled"),
        Settled::Balanced
    );
}
