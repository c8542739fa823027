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
