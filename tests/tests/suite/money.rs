//! Money that adds up: the stories a stay's balance must survive, each
//! told end to end through the device handler, the staff actions, the
//! retry sweep and settlement, with the development provider's own books
//! as the truth.

use jiff::SignedDuration;
use parking_app::outbox::{NotificationKind, OutboxMessage, PaymentKind, PaymentOrder};
use parking_app::settlement::{Cause, ProviderError};
use parking_app::usecases::adjust::{Decision, Staff, refund, resolve};
use parking_app::usecases::settle::{Settled, settle_order};
use parking_app::usecases::sweeps::payment_retries;
use parking_app::*;
use parking_aws::{DevProvider, Faulty, MemoryQueues};
use parking_core::SessionState;

use super::devices::{AIKO, DAISUKE, LOT, Lot, backlog, read, t};

fn orders(lot: &Lot) -> Vec<PaymentOrder> {
    lot.outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Payments(o) => Some(o),
            OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
        })
        .collect()
}

fn operator() -> Actor {
    Actor {
        role: "operator".into(),
        subject: "op-1".into(),
    }
}

fn lot_id() -> LotId {
    LOT.parse().expect("id")
}

async fn card(lot: &Lot, driver: &str, method: &str, token: &str) {
    lot.events
        .store
        .add_payment_method(&PaymentMethod {
            id: method.parse().expect("id"),
            driver_id: driver.parse().expect("id"),
            brand: "visa".into(),
            last4: "0341".into(),
            token: PaymentToken::new(token),
            customer: None,
        })
        .await
        .expect("card");
}

/// A stay from 09:00 to 10:30 (¥800 at the lot's tariff); its session.
async fn stay(lot: &Lot, plate: &str) -> SessionId {
    for (gate, event, at) in [("g-in", "in-1", "09:00:00"), ("g-out", "out-1", "10:30:00")] {
        let r = lot.send(&read(gate, event, plate, 0.97, t(at), None)).await;
        assert_eq!(r.applied, 1, "{r:?}");
    }
    let o = orders(lot).pop().expect("a charge");
    assert_eq!((o.kind, o.amount.minor), (PaymentKind::Charge, 800));
    o.session_id.expect("a stay")
}

async fn settle<P: parking_app::settlement::PaymentProvider>(
    lot: &Lot,
    provider: &P,
    order: &PaymentOrder,
    at: &str,
) -> Settled {
    settle_order(&lot.events.store, provider, order, t(at))
        .await
        .expect("settled")
}

/// Every order not settled yet, in the order queued.
async fn settle_new<P: parking_app::settlement::PaymentProvider>(
    lot: &Lot,
    provider: &P,
    seen: &mut usize,
    at: &str,
) -> Vec<Settled> {
    let all = orders(lot);
    let mut out = Vec::new();
    for o in &all[*seen..] {
        out.push(settle(lot, provider, o, at).await);
    }
    *seen = all.len();
    out
}

async fn session(lot: &Lot, id: &SessionId) -> Session {
    lot.events.store.get_session(id).await.expect("session")
}

fn staff(at: &str) -> Staff<'static> {
    let who: &'static Actor = Box::leak(Box::new(operator()));
    let lot: &'static LotId = Box::leak(Box::new(lot_id()));
    Staff {
        actor: who,
        lot_id: lot,
        now: t(at),
    }
}

fn amounts<T>(items: &[T], f: impl Fn(&T) -> i64) -> Vec<i64> {
    items.iter().map(f).collect()
}

/// 1. A ¥800 charge is declined; a late exit read reprices the stay to
///    ¥500 and orders a ¥300 refund. The refund finds nothing collected and
///    moves nothing (it does not fail for good); the stay waits for its
///    retry, which charges ¥500, once.
#[tokio::test]
async fn a_decline_then_a_reprice_down_then_the_retry_charges_the_new_price() {
    let lot = Lot::new().await;
    card(&lot, "d-5", "pm-5", "pm_card_chargeCustomerFail").await;
    let provider = DevProvider::default();
    let id = stay(&lot, DAISUKE).await;
    let mut seen = 0;
    let first = settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    assert!(matches!(first[..], [Settled::Failed(_)]), "{first:?}");
    lot.send(&backlog(
        "g-out",
        vec![read("g-out", "out-0", DAISUKE, 0.95, t("10:05:00"), None)],
        t("11:00:00"),
    ))
    .await;
    assert_eq!(session(&lot, &id).await.fee.map(|f| f.minor), Some(500));
    let back = orders(&lot)
        .into_iter()
        .find(|o| o.kind == PaymentKind::Refund && o.is_for(&id))
        .expect("the repricing refund");
    assert_eq!(back.amount.minor, 300);
    let waits = settle(&lot, &provider, &back, "11:01:00").await;
    assert!(matches!(waits, Settled::Failed(_)), "{waits:?}");
    assert!(provider.charges().is_empty() && provider.refunds().is_empty());
    let s = session(&lot, &id).await;
    assert_eq!(s.state, SessionState::PaymentFailed);

    // The driver fixes the card; the retry an hour after the decline
    // charges what is owed now.
    card(&lot, "d-5", "pm-5", "pm_card_visa").await;
    let queues = MemoryQueues::default();
    let due = payment_retries(&lot.events.store, &queues, t("11:31:00"), 10)
        .await
        .expect("swept");
    assert_eq!(due.acted, 1);
    let retry = match queues.all().pop() {
        Some(OutboxMessage::Payments(o)) => o,
        other => panic!("{other:?}"),
    };
    let paid = settle(&lot, &provider, &retry, "11:32:00").await;
    assert!(matches!(paid, Settled::Charged(_)), "{paid:?}");
    assert_eq!(amounts(&provider.charges(), |c| c.amount.minor), vec![500]);
    assert!(provider.refunds().is_empty());
    let s = session(&lot, &id).await;
    assert_eq!((s.state, s.collected), (SessionState::Paid, 500));
    // Delivered again, the old prompts move nothing.
    for o in orders(&lot).iter().filter(|o| o.is_for(&id)) {
        assert_eq!(
            settle(&lot, &provider, o, "11:40:00").await,
            Settled::Balanced
        );
    }
    assert_eq!(provider.charges().len(), 1);
}

/// 2. The provider is down: the charge is tried until its message goes
///    to the dead-letter queue. Staff void the stay. The operator redrives
///    the message: nothing is owed, nothing is charged.
#[tokio::test]
async fn a_dead_lettered_charge_redriven_after_a_void_charges_nothing() {
    let lot = Lot::new().await;
    let provider = Faulty::new(DevProvider::default());
    let id = stay(&lot, AIKO).await;
    let charge = orders(&lot).pop().expect("the charge");
    provider.fail_next(100);
    for at in ["10:31:00", "10:36:00", "10:41:00", "10:46:00", "10:51:00"] {
        let r = settle(&lot, &provider, &charge, at).await;
        assert!(matches!(r, Settled::Retry(_)), "{r:?}");
    }
    // Dead-lettered. Staff void the stay; the void orders nothing, as
    // nothing was collected.
    resolve(
        &lot.events.store,
        staff("11:00:00"),
        &id,
        Decision::Void,
        "barrier fault",
    )
    .await
    .expect("voided");
    provider.fail_next(0);
    let redriven = settle(&lot, &provider, &charge, "12:00:00").await;
    assert_eq!(redriven, Settled::Balanced);
    assert!(provider.inner().charges().is_empty());
    assert!(provider.inner().refunds().is_empty());
    assert_eq!(session(&lot, &id).await.state, SessionState::Voided);
}

/// 3. The stay is repriced before its first charge is settled, and the
///    refund's message arrives before the charge's: whichever comes first
///    settles the balance, so ¥500 is charged once and nothing refunded.
#[tokio::test]
async fn a_refund_delivered_before_its_charge_settles_the_balance() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let id = stay(&lot, AIKO).await;
    lot.send(&backlog(
        "g-out",
        vec![read("g-out", "out-0", AIKO, 0.95, t("10:05:00"), None)],
        t("11:00:00"),
    ))
    .await;
    let mine: Vec<PaymentOrder> = orders(&lot).into_iter().filter(|o| o.is_for(&id)).collect();
    assert_eq!(
        amounts(&mine, PaymentOrder::signed_minor),
        vec![800, -300],
        "a charge, then a refund"
    );
    let first = settle(&lot, &provider, &mine[1], "11:01:00").await;
    assert!(matches!(first, Settled::Charged(_)), "{first:?}");
    let second = settle(&lot, &provider, &mine[0], "11:02:00").await;
    assert_eq!(second, Settled::Balanced);
    assert_eq!(amounts(&provider.charges(), |c| c.amount.minor), vec![500]);
    assert!(provider.refunds().is_empty());
    let s = session(&lot, &id).await;
    assert_eq!((s.state, s.collected), (SessionState::Paid, 500));
}

/// 4. Charged ¥1,000, then ¥500 more, then voided: ¥1,500 comes back,
///    split across both charges, each refund within its charge. (Staff
///    close a stay no exit camera saw at ¥1,000; the real exit read at
///    12:00 then reprices it to ¥1,500, the day's cap; staff then void it.)
#[tokio::test]
async fn two_charges_then_a_void_refund_both() {
    use parking_app::usecases::adjust::close;

    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let r = lot
        .send(&read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    let id = lot.sessions().await.pop().expect("the stay").id;
    let mut seen = 0;
    close(
        &lot.events.store,
        staff("11:00:00"),
        &id,
        t("10:00:00"),
        Decision::Charge { amount: Some(1000) },
        "left while the exit camera was down",
    )
    .await
    .expect("closed");
    settle_new(&lot, &provider, &mut seen, "11:01:00").await;
    let r = lot
        .send(&read("g-out", "out-1", AIKO, 0.97, t("12:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    assert_eq!(session(&lot, &id).await.fee.map(|f| f.minor), Some(1500));
    settle_new(&lot, &provider, &mut seen, "12:01:00").await;
    resolve(
        &lot.events.store,
        staff("12:10:00"),
        &id,
        Decision::Void,
        "driver never parked",
    )
    .await
    .expect("voided");
    settle_new(&lot, &provider, &mut seen, "12:11:00").await;
    let charges = provider.charges();
    assert_eq!(amounts(&charges, |c| c.amount.minor), vec![1000, 500]);
    let refunds = provider.refunds();
    assert_eq!(
        amounts(&refunds, |r| r.amount.minor),
        vec![500, 1000],
        "the latest charge first, each within its charge"
    );
    let s = session(&lot, &id).await;
    assert_eq!((s.state, s.collected), (SessionState::Voided, 0));
    // The stay's books: each refund names the charge it took from.
    let timeline = lot
        .events
        .store
        .plate_view(&s.lot_id, &s.plate)
        .await
        .expect("view")
        .timeline
        .expect("timeline");
    let of: Vec<Option<String>> = timeline
        .settlements
        .iter()
        .filter(|r| r.kind == PaymentKind::Refund)
        .map(|r| r.refund_of.clone())
        .collect();
    assert_eq!(
        of,
        vec![Some(charges[1].id.clone()), Some(charges[0].id.clone())]
    );
}

/// 5. Staff refund ¥300 and the refund fails at the provider: it is
///    scheduled again, the stay goes to the review queue, and nothing is
///    counted as refunded. A goodwill refund of ¥200 then succeeds and
///    takes the ¥300 with it: ¥500 back, in one refund, and the failure
///    stays in the stay's books. A goodwill refund is bounded by what was
///    collected.
#[tokio::test]
async fn a_failed_refund_then_a_goodwill_refund_that_succeeds() {
    let lot = Lot::new().await;
    let provider = Faulty::new(DevProvider::default());
    let id = stay(&lot, AIKO).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    refund(
        &lot.events.store,
        staff("11:00:00"),
        &id,
        300,
        "wrong tariff",
        "k-1",
    )
    .await
    .expect("refund");
    provider.answer_next([ProviderError::Declined {
        code: "refund_failed".into(),
    }]);
    let failed = settle_new(&lot, &provider, &mut seen, "11:01:00").await;
    assert!(matches!(failed[..], [Settled::Failed(_)]), "{failed:?}");
    assert!(provider.inner().refunds().is_empty());
    let s = session(&lot, &id).await;
    assert_eq!(s.collected, 800, "nothing counted as refunded");
    assert!(s.payment_failure.is_some());
    let queue =
        parking_app::usecases::operator::review_queue(&lot.events.store, &lot_id(), None, 100)
            .await
            .expect("queue")
            .sessions;
    assert!(queue.iter().any(|q| q.id == id), "in review: {queue:?}");
    let report = parking_app::usecases::operator::daily_report(
        &lot.events.store,
        &lot_id(),
        "2026-11-30".parse().expect("date"),
    )
    .await
    .expect("report");
    assert_eq!(report.refunds, 0, "a failed refund is not counted");
    assert_eq!(report.refunds_failed, 300);

    // More than was collected cannot be given back.
    let too_much = refund(
        &lot.events.store,
        staff("11:10:00"),
        &id,
        600,
        "goodwill",
        "k-2",
    )
    .await;
    assert!(too_much.is_err(), "{too_much:?}");
    refund(
        &lot.events.store,
        staff("11:10:00"),
        &id,
        200,
        "goodwill",
        "k-3",
    )
    .await
    .expect("goodwill");
    let done = settle_new(&lot, &provider, &mut seen, "11:11:00").await;
    assert!(matches!(done[..], [Settled::Charged(_)]), "{done:?}");
    assert_eq!(
        amounts(&provider.inner().refunds(), |r| r.amount.minor),
        vec![500]
    );
    let s = session(&lot, &id).await;
    assert_eq!((s.collected, s.payment_failure.as_deref()), (300, None));
    let timeline = lot
        .events
        .store
        .plate_view(&s.lot_id, &s.plate)
        .await
        .expect("view")
        .timeline
        .expect("timeline");
    let failures: Vec<_> = timeline
        .settlements
        .iter()
        .filter(|r| r.kind == PaymentKind::Refund && r.charge_id.is_none())
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].cause, Some(Cause::Card));
    assert!(failures[0].retry_at.is_some());
    // The scheduled retry finds nothing left to do.
    let queues = MemoryQueues::default();
    payment_retries(&lot.events.store, &queues, t("12:01:00"), 10)
        .await
        .expect("swept");
    for m in queues.all() {
        if let OutboxMessage::Payments(o) = m {
            assert_eq!(
                settle(&lot, &provider, &o, "12:02:00").await,
                Settled::Balanced
            );
        }
    }
    assert_eq!(provider.inner().refunds().len(), 1);
}

/// 6. Our faults are not the driver's: a rotated key (401), a forbidden
///    account (403), a key reused with other parameters (400
///    `idempotency_error`) and a 500 the provider keeps under its key. None
///    makes the stay `payment_failed` or tells the driver about their
///    card; each is alarmed and goes to review, and is tried again after
///    the fix under a new key; the replayed 500 is looked up, then tried
///    under a new key at once.
#[tokio::test]
async fn our_faults_are_never_card_failures() {
    let lot = Lot::new().await;
    let provider = Faulty::new(DevProvider::default());
    let id = stay(&lot, AIKO).await;
    let charge = orders(&lot).pop().expect("the charge");
    let store = &lot.events.store;
    let queues = MemoryQueues::default();
    let mut at = t("10:31:00");
    for fault in [
        ProviderError::Configuration("HTTP 401 invalid_request_error/api_key_expired".into()),
        ProviderError::Configuration("HTTP 403 invalid_request_error/unknown".into()),
        ProviderError::Request("HTTP 400 idempotency_error/unknown".into()),
    ] {
        provider.answer_next([fault.clone()]);
        let r = settle_order(store, &provider, &charge, at)
            .await
            .expect("settled");
        assert_eq!(r, Settled::Failed(fault.to_string()));
        let s = session(&lot, &id).await;
        assert_ne!(s.state, SessionState::PaymentFailed, "{fault:?}");
        assert!(parking_app::usecases::operator::needs_review(&s), "{s:?}");
        at += SignedDuration::from_hours(30);
        payment_retries(store, &queues, at, 10)
            .await
            .expect("swept");
    }
    // A 500, kept under the key: the next delivery looks it up, finds no
    // charge, and charges under a new key.
    provider.answer_next([ProviderError::Failed("HTTP 500".into())]);
    let retry = match queues.all().pop() {
        Some(OutboxMessage::Payments(o)) => o,
        other => panic!("{other:?}"),
    };
    let first = settle_order(store, &provider, &retry, at)
        .await
        .expect("settled");
    assert!(matches!(first, Settled::Retry(_)), "{first:?}");
    let again = settle_order(store, &provider, &retry, at + SignedDuration::from_mins(5))
        .await
        .expect("settled");
    assert!(matches!(again, Settled::Charged(_)), "{again:?}");
    assert_eq!(
        amounts(&provider.inner().charges(), |c| c.amount.minor),
        vec![800]
    );
    let s = session(&lot, &id).await;
    assert_eq!((s.state, s.collected), (SessionState::Paid, 800));
    let told = lot.outbox().into_iter().any(|m| {
        matches!(m, OutboxMessage::Notifications(n) if matches!(n.kind, NotificationKind::PaymentFailed { .. }))
    });
    assert!(!told, "the driver was never told their card failed");
    let timeline = store
        .plate_view(&s.lot_id, &s.plate)
        .await
        .expect("view")
        .timeline
        .expect("timeline");
    let causes: Vec<Option<Cause>> = timeline.settlements.iter().map(|r| r.cause).collect();
    assert_eq!(
        causes,
        vec![
            Some(Cause::Configuration),
            Some(Cause::Configuration),
            Some(Cause::Request),
            Some(Cause::Transient),
            None
        ]
    );
    let keys: std::collections::BTreeSet<_> =
        timeline.settlements.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 5, "a new key each time");
}

/// 7. Staff set a ¥800 stay (charged) to ¥820: the ¥20 is below the
///    provider's smallest charge, so it is carried in the balance, not
///    failed, and the stay is paid. A goodwill refund of ¥100 later nets
///    it: ¥80 goes back.
#[tokio::test]
async fn a_delta_below_the_smallest_charge_is_carried() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let id = stay(&lot, AIKO).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    resolve(
        &lot.events.store,
        staff("10:40:00"),
        &id,
        Decision::Adjust { amount: 820 },
        "one more unit",
    )
    .await
    .expect("adjusted");
    let carried = settle_new(&lot, &provider, &mut seen, "10:41:00").await;
    assert_eq!(carried, vec![Settled::Balanced]);
    assert_eq!(provider.charges().len(), 1);
    let s = session(&lot, &id).await;
    assert_eq!(
        (s.state, s.collected, s.payment_failure.clone()),
        (SessionState::Paid, 800, None),
        "carried, not failed"
    );
    let report = parking_app::usecases::operator::daily_report(
        &lot.events.store,
        &lot_id(),
        "2026-11-30".parse().expect("date"),
    )
    .await
    .expect("report");
    assert_eq!(
        (report.card_charged, report.outstanding, report.card_failed),
        (800, 20, 0)
    );
    refund(
        &lot.events.store,
        staff("11:00:00"),
        &id,
        100,
        "goodwill",
        "k-1",
    )
    .await
    .expect("refund");
    settle_new(&lot, &provider, &mut seen, "11:01:00").await;
    assert_eq!(amounts(&provider.refunds(), |r| r.amount.minor), vec![80]);
    let s = session(&lot, &id).await;
    assert_eq!((s.state, s.collected), (SessionState::Paid, 720));
}

/// After a decline, the driver adds a new card: the failed stay is paid
/// with it at once, not at its retry time.
#[tokio::test]
async fn a_new_card_pays_a_failed_stay_now() {
    let lot = Lot::new().await;
    card(&lot, "d-5", "pm-5", "pm_card_chargeCustomerFail").await;
    let provider = DevProvider::default();
    let id = stay(&lot, DAISUKE).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    assert_eq!(session(&lot, &id).await.state, SessionState::PaymentFailed);
    let driver: DriverId = "d-5".parse().expect("id");
    let added = parking_app::usecases::account::add_payment_method(
        &lot.events.store,
        Some(&provider),
        &driver,
        &parking_app::usecases::account::NewPaymentMethod {
            token: "pm_card_visa".into(),
            brand: "visa".into(),
            last4: "4242".into(),
        },
        t("10:40:00"),
    )
    .await
    .expect("card");
    let paid = settle_new(&lot, &provider, &mut seen, "10:41:00").await;
    assert!(matches!(paid[..], [Settled::Charged(_)]), "{paid:?}");
    assert_eq!(amounts(&provider.charges(), |c| c.amount.minor), vec![800]);
    let s = session(&lot, &id).await;
    assert_eq!(
        (s.state, s.method_id),
        (SessionState::Paid, Some(added.method.id.clone()))
    );
    // Saved with the provider at once (a setup intent), with the driver's
    // customer, and no confirmation was needed.
    assert!(added.method.customer.is_some() && added.client_secret.is_none());
    // Paying now again: nothing is owed.
    let again = parking_app::usecases::pay::pay_now(
        &lot.events.store,
        &driver,
        &id,
        &"pm-5".parse().expect("id"),
        "k-2",
        t("10:50:00"),
    )
    .await;
    assert!(
        matches!(
            again,
            Err(parking_app::usecases::adjust::ActionError::Conflict {
                code: "nothing_owed",
                ..
            })
        ),
        "{again:?}"
    );
}

/// A stay whose card payment failed is paid at the kiosk: what the card
/// did not collect, after which its retry moves nothing.
#[tokio::test]
async fn the_kiosk_takes_a_failed_card_stay() {
    use parking_app::usecases::adjust::{kiosk_lookup, kiosk_pay};

    let lot = Lot::new().await;
    card(&lot, "d-5", "pm-5", "pm_card_chargeCustomerFail").await;
    let provider = DevProvider::default();
    let id = stay(&lot, DAISUKE).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    let kiosk = Actor {
        role: "kiosk".into(),
        subject: "kiosk-1".into(),
    };
    let found = kiosk_lookup(
        &lot.events.store,
        Staff {
            actor: &kiosk,
            lot_id: &lot_id(),
            now: t("10:45:00"),
        },
        "8888",
    )
    .await
    .expect("lookup");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].session_id.clone(), found[0].due.minor),
        (id.clone(), 800)
    );
    let lot_id = lot_id();
    kiosk_pay(
        &lot.events.store,
        Staff {
            actor: &kiosk,
            lot_id: &lot_id,
            now: t("10:46:00"),
        },
        &id,
        &parking_core::Plate::parse(DAISUKE).expect("plate"),
        800,
        "k-1",
    )
    .await
    .expect("paid");
    let queues = MemoryQueues::default();
    payment_retries(&lot.events.store, &queues, t("11:31:00"), 10)
        .await
        .expect("swept");
    for m in queues.all() {
        if let OutboxMessage::Payments(o) = m {
            assert_eq!(
                settle(&lot, &provider, &o, "11:32:00").await,
                Settled::Balanced
            );
        }
    }
    assert!(provider.charges().is_empty());
    assert_eq!(session(&lot, &id).await.payment_failure, None);
}

/// Retries given up, the stay waits for a person; the driver fixes the
/// card and staff charge the stay: a new attempt, made at once.
#[tokio::test]
async fn staff_charge_a_stay_given_up() {
    let lot = Lot::new().await;
    card(&lot, "d-5", "pm-5", "pm_card_chargeCustomerFail").await;
    let provider = DevProvider::default();
    let id = stay(&lot, DAISUKE).await;
    let store = &lot.events.store;
    let queues = MemoryQueues::default();
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    let mut at = t("10:31:00");
    for _ in 0..4 {
        at += SignedDuration::from_hours(80);
        payment_retries(store, &queues, at, 10)
            .await
            .expect("swept");
        let Some(OutboxMessage::Payments(o)) = queues.all().pop() else {
            panic!("a retry");
        };
        settle_order(store, &provider, &o, at)
            .await
            .expect("settled");
    }
    let s = session(&lot, &id).await;
    assert_eq!(s.state, SessionState::NeedsReview);
    card(&lot, "d-5", "pm-5", "pm_card_visa").await;
    let later = at + SignedDuration::from_hours(1);
    resolve(
        store,
        Staff {
            actor: &operator(),
            lot_id: &lot_id(),
            now: later,
        },
        &id,
        Decision::Charge { amount: None },
        "driver called, card fixed",
    )
    .await
    .expect("charged");
    let prompt = orders(&lot).pop().expect("a prompt");
    assert!(prompt.now, "{prompt:?}");
    let r = settle_order(store, &provider, &prompt, later)
        .await
        .expect("settled");
    assert!(matches!(r, Settled::Charged(_)), "{r:?}");
    assert_eq!(amounts(&provider.charges(), |c| c.amount.minor), vec![800]);
    assert_eq!(session(&lot, &id).await.state, SessionState::Paid);
}

/// The reconciliation export lists the day's movements at the provider:
/// each with the provider's id, amount, stay and status, a failed refund
/// apart from the one made; CSV and JSON carry the same rows.
#[tokio::test]
async fn the_reconciliation_export_lists_each_movement() {
    use parking_app::usecases::reconciliation::{reconciliation, to_csv};

    let lot = Lot::new().await;
    let provider = Faulty::new(DevProvider::default());
    let id = stay(&lot, AIKO).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    refund(
        &lot.events.store,
        staff("11:00:00"),
        &id,
        300,
        "wrong tariff",
        "k-1",
    )
    .await
    .expect("refund");
    provider.answer_next([ProviderError::Declined {
        code: "refund_failed".into(),
    }]);
    settle_new(&lot, &provider, &mut seen, "11:01:00").await;
    refund(
        &lot.events.store,
        staff("11:10:00"),
        &id,
        100,
        "goodwill",
        "k-2",
    )
    .await
    .expect("refund");
    settle_new(&lot, &provider, &mut seen, "11:11:00").await;
    let rows = reconciliation(
        &lot.events.store,
        &lot_id(),
        "2026-11-30".parse().expect("date"),
    )
    .await
    .expect("rows");
    let summary: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.status, r.amount))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("charge", "settled", 800),
            ("refund", "failed", 300),
            ("refund", "settled", 400)
        ]
    );
    let charge = provider.inner().charges()[0].id.clone();
    assert_eq!(rows[0].provider_id.as_deref(), Some(charge.as_str()));
    assert_eq!(rows[0].target, id.to_string());
    assert!(rows[1].provider_id.is_none() && rows[1].failure.is_some());
    let csv = to_csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("at,kind,status,provider_id,amount"));
    assert!(lines[1].contains(&charge), "{csv}");
    // The daily report counts the refund made, and the failed one apart.
    let report = parking_app::usecases::operator::daily_report(
        &lot.events.store,
        &lot_id(),
        "2026-11-30".parse().expect("date"),
    )
    .await
    .expect("report");
    assert_eq!((report.refunds, report.refunds_failed), (400, 300));
    assert_eq!(
        report.revenue,
        report.card_charged + report.card_failed + report.outstanding + report.kiosk_revenue
    );
}

/// A refund of ¥10,000 or more issues a qualified return invoice with the
/// receipt; a smaller one does not.
#[tokio::test]
async fn a_large_refund_issues_a_return_invoice() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let id = stay(&lot, AIKO).await;
    let mut seen = 0;
    settle_new(&lot, &provider, &mut seen, "10:31:00").await;
    resolve(
        &lot.events.store,
        staff("10:40:00"),
        &id,
        Decision::Adjust { amount: 12_000 },
        "overnight event rate",
    )
    .await
    .expect("adjusted");
    settle_new(&lot, &provider, &mut seen, "10:41:00").await;
    for (amount, key, at) in [(500, "k-1", "11:00:00"), (10_000, "k-2", "11:10:00")] {
        refund(
            &lot.events.store,
            staff(at),
            &id,
            amount,
            "event cancelled",
            key,
        )
        .await
        .expect("refund");
        settle_new(&lot, &provider, &mut seen, at).await;
    }
    assert_eq!(
        amounts(&provider.refunds(), |r| r.amount.minor),
        vec![500, 10_000]
    );
    let driver: DriverId = "d-1".parse().expect("id");
    let r = parking_app::usecases::trips::receipt(&lot.events.store, &driver, &id)
        .await
        .expect("receipt");
    assert_eq!(r.returns.len(), 1, "{:?}", r.returns);
    let v = &r.returns[0];
    assert_eq!(v.amount, 10_000);
    assert_eq!(v.number, provider.refunds()[1].id);
    assert_eq!(
        (v.refund_date.as_str(), v.original_date.as_str()),
        ("2026-11-30", "2026-11-30")
    );
    assert_eq!(v.tax_lines.len(), 1);
    assert_eq!((v.tax_lines[0].rate_bp, v.tax_lines[0].tax), (1000, 909));
}

/// A card is saved with the provider when it is added: one its bank wants
/// confirmed answers the secret the app confirms it with (and pays
/// nothing until then); one its bank refuses is refused, and not kept.
#[tokio::test]
async fn cards_are_set_up_at_registration() {
    use parking_app::usecases::account::{AccountError, NewPaymentMethod, add_payment_method};

    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let driver: DriverId = "d-1".parse().expect("id");
    let card = |token: &str| NewPaymentMethod {
        token: token.into(),
        brand: "visa".into(),
        last4: "3184".into(),
    };
    let store = &lot.events.store;
    let confirm = add_payment_method(
        store,
        Some(&provider),
        &driver,
        &card("pm_card_authenticationRequired"),
        t("09:00:00"),
    )
    .await
    .expect("added");
    assert!(confirm.client_secret.is_some(), "{confirm:?}");
    assert!(
        !format!("{confirm:?}").contains("secret_dev"),
        "the secret is never shown"
    );
    let refused = add_payment_method(
        store,
        Some(&provider),
        &driver,
        &card("pm_card_chargeDeclined"),
        t("09:01:00"),
    )
    .await;
    assert!(
        matches!(refused, Err(AccountError::CardRefused(_))),
        "{refused:?}"
    );
    let kept = store.payment_methods(&driver).await.expect("methods");
    assert!(
        kept.iter()
            .all(|m| m.token.expose() != "pm_card_chargeDeclined")
    );
    // The customer is the driver's one customer, made once.
    let customers: std::collections::BTreeSet<_> =
        kept.iter().filter_map(|m| m.customer.clone()).collect();
    assert_eq!(customers.len(), 1, "{customers:?}");
}
