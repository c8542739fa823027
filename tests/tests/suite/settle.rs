//! Settling charges exactly once: concurrent deliveries, a provider that
//! charged but timed out, declines and cards that need authentication, on
//! the in-memory store and on DynamoDB (the local endpoint). The
//! development provider does not honour idempotency keys, so every
//! guarantee here is the store's claim on each attempt.

use jiff::{SignedDuration, Timestamp};
use parking_app::outbox::{PaymentKind, PaymentOrder};
use parking_app::settlement::{AttemptState, Claim};
use parking_app::usecases::settle::{SettleError, Settled, attempt_key, settle_charge};
use parking_app::*;
use parking_aws::DevProvider;
use parking_tests::fx::{at, id, yen};

fn now() -> Timestamp {
    at("2026-11-30T12:00:00+09:00")
}

async fn driver<S: Store>(store: &S, token: &str) {
    store
        .put_driver(&Driver {
            id: id("d-1"),
            name: "Aiko".into(),
            created_at: now(),
        })
        .await
        .expect("driver");
    store
        .add_payment_method(&PaymentMethod {
            id: id("pm-1"),
            driver_id: id("d-1"),
            brand: "visa".into(),
            last4: "4242".into(),
            token: PaymentToken::new(token),
        })
        .await
        .expect("card");
}

fn order(key: &str, kind: PaymentKind) -> PaymentOrder {
    PaymentOrder {
        idempotency_key: id(key),
        session_id: Some(id("s-1")),
        reservation_id: None,
        lot_id: id("shinjuku-west"),
        driver_id: id("d-1"),
        method_id: id("pm-1"),
        kind,
        amount: yen(1200),
        created_at: now(),
    }
}

/// Three deliveries at once; the provider charges on the first call and
/// its answer is lost. Nothing charges twice, and the next delivery after
/// the lease finds the charge by its key.
pub async fn three_deliveries_and_a_lost_answer_charge_once<S: Store + Clone + 'static>(store: S) {
    driver(&store, "pm_card_visa").await;
    let provider = DevProvider::default();
    provider.lose_answers(1);
    let o = order("s-1.1", PaymentKind::Charge);
    let runs = (0..3).map(|_| {
        let (store, provider, o) = (store.clone(), provider.clone(), o.clone());
        tokio::spawn(async move { settle_charge(&store, &provider, &o, 1, now()).await })
    });
    let mut answers = Vec::new();
    for r in runs {
        answers.push(r.await.expect("task").expect("settled"));
    }
    assert!(
        answers.iter().all(|a| matches!(a, Settled::Retry(_))),
        "{answers:?}"
    );
    assert_eq!(provider.charges().len(), 1, "one call reached the provider");
    // Redelivered within the lease: still in the first holder's hands.
    let a = settle_charge(
        &store,
        &provider,
        &o,
        1,
        now() + SignedDuration::from_secs(30),
    )
    .await
    .expect("settled");
    assert!(matches!(a, Settled::Retry(_)), "{a:?}");
    // After the lease: the charge is found by its key, not made again.
    let later = now() + SignedDuration::from_secs(90);
    let a = settle_charge(&store, &provider, &o, 1, later)
        .await
        .expect("settled");
    let charged = provider.charges();
    assert_eq!(charged.len(), 1);
    assert_eq!(a, Settled::Charged(charged[0].id.clone()));
    let again = settle_charge(&store, &provider, &o, 1, later)
        .await
        .expect("settled");
    assert_eq!(again, a);
    assert_eq!(provider.charges().len(), 1);
    assert_eq!(charged[0].amount, yen(1200));
}

pub async fn declines_and_authentication_are_final_for_the_attempt<S: Store + Clone + 'static>(
    store: S,
) {
    driver(&store, "pm_card_chargeCustomerFail").await;
    let provider = DevProvider::default();
    let o = order("s-1.1", PaymentKind::Charge);
    let a = settle_charge(&store, &provider, &o, 1, now())
        .await
        .expect("settled");
    assert_eq!(
        a,
        Settled::Failed("the card was declined (card_declined)".into())
    );
    let again = settle_charge(&store, &provider, &o, 1, now())
        .await
        .expect("settled");
    assert_eq!(again, a, "a declined attempt is never sent again");
    assert!(provider.charges().is_empty());
    // A retry is a new attempt under a new key.
    assert_ne!(attempt_key(&o, 1), attempt_key(&o, 2));
    let a2 = settle_charge(&store, &provider, &o, 2, now())
        .await
        .expect("settled");
    assert!(matches!(a2, Settled::Failed(_)));

    store
        .add_payment_method(&PaymentMethod {
            id: id("pm-2"),
            driver_id: id("d-1"),
            brand: "visa".into(),
            last4: "3184".into(),
            token: PaymentToken::new("pm_card_authenticationRequired"),
        })
        .await
        .expect("card");
    let needs_auth = PaymentOrder {
        method_id: id("pm-2"),
        ..order("s-2.1", PaymentKind::Charge)
    };
    let a = settle_charge(&store, &provider, &needs_auth, 1, now())
        .await
        .expect("settled");
    assert_eq!(
        a,
        Settled::Failed("the card needs the cardholder to authenticate".into())
    );
    let removed = PaymentOrder {
        method_id: id("pm-gone"),
        ..order("s-4.1", PaymentKind::Charge)
    };
    let a = settle_charge(&store, &provider, &removed, 1, now())
        .await
        .expect("settled");
    assert_eq!(a, Settled::Failed("the card was removed".into()));
    assert!(provider.charges().is_empty(), "nothing was charged");
    // A provider failure before charging leaves the attempt to be tried again.
    provider.fail_next(1);
    let flaky = order("s-3.1", PaymentKind::Charge);
    let a = settle_charge(&store, &provider, &flaky, 1, now())
        .await
        .expect("settled");
    assert!(matches!(a, Settled::Retry(_)), "{a:?}");
    driver(&store, "pm_card_visa").await;
    let a = settle_charge(
        &store,
        &provider,
        &flaky,
        1,
        now() + SignedDuration::from_secs(61),
    )
    .await
    .expect("settled");
    assert!(
        matches!(a, Settled::Charged(_)),
        "tried again after the lease: {a:?}"
    );
    let refund = order("s-1.2", PaymentKind::Refund);
    assert!(matches!(
        settle_charge(&store, &provider, &refund, 1, now()).await,
        Err(SettleError::NotACharge(_))
    ));
}

pub async fn a_claim_is_held_until_its_lease_runs_out<S: Store>(store: S) {
    let key: IdempotencyKey = id("s-9.1.a1");
    let attempt = |holder: u64, until: Timestamp| parking_app::settlement::Attempt {
        key: key.clone(),
        order_key: id("s-9.1"),
        amount: yen(500),
        state: AttemptState::Claimed { holder, until },
        updated_at: now(),
    };
    let lease = now() + SignedDuration::from_secs(60);
    assert_eq!(
        store
            .claim_attempt(&attempt(1, lease), now())
            .await
            .expect("claim"),
        Claim::Claimed { taken_over: None }
    );
    assert_eq!(
        store
            .claim_attempt(&attempt(2, lease), now())
            .await
            .expect("claim"),
        Claim::Busy
    );
    let later = now() + SignedDuration::from_secs(61);
    let taken = store
        .claim_attempt(&attempt(2, later + SignedDuration::from_secs(60)), later)
        .await
        .expect("claim");
    assert!(
        matches!(
            taken,
            Claim::Claimed {
                taken_over: Some(_)
            }
        ),
        "{taken:?}"
    );
    // The first holder lost it: its outcome is not recorded.
    let kept = store
        .finish_attempt(
            &key,
            1,
            &AttemptState::Failed {
                reason: "late".into(),
            },
            later,
        )
        .await
        .expect("finish");
    assert!(matches!(
        kept.state,
        AttemptState::Claimed { holder: 2, .. }
    ));
    let done = store
        .finish_attempt(
            &key,
            2,
            &AttemptState::Succeeded {
                charge_id: "pi_1".into(),
            },
            later,
        )
        .await
        .expect("finish");
    assert_eq!(
        done.state,
        AttemptState::Succeeded {
            charge_id: "pi_1".into()
        }
    );
    assert_eq!(
        store
            .claim_attempt(&attempt(3, lease), later)
            .await
            .expect("claim"),
        Claim::Finished(done)
    );
}

macro_rules! both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name(parking_aws::MemoryStore::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                super::$name(parking_tests::fresh_dynamo_store(None).await).await;
            }
        }
    )*};
}

both!(
    three_deliveries_and_a_lost_answer_charge_once,
    declines_and_authentication_are_final_for_the_attempt,
    a_claim_is_held_until_its_lease_runs_out
);

mod flow {
    use super::super::devices::{AIKO, DAISUKE, Lot, read, t};
    use parking_app::outbox::{NotificationKind, OutboxMessage, PaymentOrder};
    use parking_app::usecases::settle::{Settled, settle_order};
    use parking_app::*;
    use parking_aws::DevProvider;
    use parking_core::SessionState;

    fn charges(lot: &Lot) -> Vec<PaymentOrder> {
        lot.outbox()
            .into_iter()
            .filter_map(|m| match m {
                OutboxMessage::Payments(o) => Some(o),
                OutboxMessage::Notifications(_) => None,
            })
            .collect()
    }

    async fn stay(lot: &Lot, plate: &str, n: u32) {
        for (gate, at) in [("g-in", "09:00:00"), ("g-out", "10:30:00")] {
            let r = lot
                .send(&read(
                    gate,
                    &format!("{gate}-{n}"),
                    plate,
                    0.97,
                    t(at),
                    None,
                ))
                .await;
            assert_eq!(r.applied, 1, "{r:?}");
        }
    }

    #[tokio::test]
    async fn a_settled_charge_makes_the_session_paid_and_a_decline_payment_failed() {
        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        store
            .add_payment_method(&PaymentMethod {
                id: "pm-5".parse().expect("id"),
                driver_id: "d-5".parse().expect("id"),
                brand: "mastercard".into(),
                last4: "0341".into(),
                token: PaymentToken::new("pm_card_chargeCustomerFail"),
            })
            .await
            .expect("card");
        stay(&lot, AIKO, 1).await;
        stay(&lot, DAISUKE, 2).await;
        let provider = DevProvider::default();
        let orders = charges(&lot);
        assert_eq!(orders.len(), 2);
        let mut outcomes = Vec::new();
        for o in &orders {
            // Delivered twice: settled once.
            settle_order(&store, &provider, o, 1, t("10:31:00"))
                .await
                .expect("settled");
            outcomes.push(
                settle_order(&store, &provider, o, 1, t("10:32:00"))
                    .await
                    .expect("settled"),
            );
        }
        assert_eq!(provider.charges().len(), 1, "one card charged, once");
        let session = |o: &PaymentOrder| {
            let store = store.clone();
            let id = o.session_id.clone().expect("a stay's order");
            async move { store.get_session(&id).await.expect("session") }
        };
        let aiko = orders
            .iter()
            .find(|o| o.driver_id.as_str() == "d-1")
            .expect("aiko");
        let daisuke = orders
            .iter()
            .find(|o| o.driver_id.as_str() == "d-5")
            .expect("daisuke");
        assert_eq!(session(aiko).await.state, SessionState::Paid);
        let failed = session(daisuke).await;
        assert_eq!(failed.state, SessionState::PaymentFailed);
        assert_eq!(
            failed.payment_failure.as_deref(),
            Some("the card was declined (card_declined)")
        );
        assert!(outcomes.iter().any(|o| matches!(o, Settled::Failed(_))));
        let told: Vec<OutboxMessage> = lot
            .outbox()
            .into_iter()
            .filter(|m| matches!(m, OutboxMessage::Notifications(n) if matches!(n.kind, NotificationKind::PaymentFailed { .. })))
            .collect();
        assert_eq!(told.len(), 1, "the driver is told once");
        assert_eq!(
            charges(&lot).len(),
            2,
            "recording an outcome orders nothing"
        );

        // The driver fixes the card; the retry is a new attempt and pays.
        store
            .add_payment_method(&PaymentMethod {
                id: "pm-5".parse().expect("id"),
                driver_id: "d-5".parse().expect("id"),
                brand: "mastercard".into(),
                last4: "4444".into(),
                token: PaymentToken::new("pm_card_mastercard"),
            })
            .await
            .expect("card");
        let again = settle_order(&store, &provider, daisuke, 2, t("18:00:00"))
            .await
            .expect("settled");
        assert!(matches!(again, Settled::Charged(_)), "{again:?}");
        let paid = session(daisuke).await;
        assert_eq!(
            (paid.state, paid.payment_failure),
            (SessionState::Paid, None)
        );
        assert_eq!(provider.charges().len(), 2);
        // A later read of the plate reconciles its timeline again: the
        // stay stays paid, and nothing more is ordered.
        let r = lot
            .send(&read("g-in", "g-in-3", DAISUKE, 0.97, t("13:00:00"), None))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
        assert_eq!(session(daisuke).await.state, SessionState::Paid);
        assert_eq!(charges(&lot).len(), 2);
    }
}
