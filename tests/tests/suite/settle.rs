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
use parking_aws::{DevProvider, Faulty};
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
            customer: None,
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
        attempt: 1,
        now: false,
    }
}

/// Three deliveries at once; the provider charges on the first call and
/// its answer is lost. Nothing charges twice, and the next delivery after
/// the lease finds the charge by its key.
pub async fn three_deliveries_and_a_lost_answer_charge_once<S: Store + Clone + 'static>(store: S) {
    driver(&store, "pm_card_visa").await;
    let provider = Faulty::new(DevProvider::default());
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
    assert_eq!(
        provider.inner().charges().len(),
        1,
        "one charge reached the provider"
    );
    let charge_id = provider.inner().charges()[0].id.clone();
    // The first holder saw a timeout and gave the attempt up; a delivery
    // that came after it asked the provider and found the charge.
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Settled::Retry(_)) || a == &Settled::Charged(charge_id.clone())),
        "{answers:?}"
    );
    // The next delivery asks the provider what became of the intent, and
    // does not charge again.
    let later = now() + SignedDuration::from_secs(1);
    let a = settle_charge(&store, &provider, &o, 1, later)
        .await
        .expect("settled");
    let charged = provider.inner().charges();
    assert_eq!(charged.len(), 1);
    assert_eq!(a, Settled::Charged(charged[0].id.clone()));
    let again = settle_charge(&store, &provider, &o, 1, later)
        .await
        .expect("settled");
    assert_eq!(again, a);
    assert_eq!(provider.inner().charges().len(), 1);
    assert_eq!(charged[0].amount, yen(1200));
}

pub async fn declines_and_authentication_are_final_for_the_attempt<S: Store + Clone + 'static>(
    store: S,
) {
    driver(&store, "pm_card_chargeCustomerFail").await;
    let provider = Faulty::new(DevProvider::default());
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
    assert!(provider.inner().charges().is_empty());
    // A retry is a new attempt under a new key.
    assert_ne!(
        attempt_key(&o.idempotency_key, 1),
        attempt_key(&o.idempotency_key, 2)
    );
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
            customer: None,
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
    assert!(provider.inner().charges().is_empty(), "nothing was charged");
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
        kind: PaymentKind::Charge,
        amount: yen(500),
        refunds: None,
        order: None,
        state: AttemptState::Claimed {
            holder,
            until,
            stored: None,
        },
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
    // The takeover asks for another movement under the key; the key keeps
    // the movement the first holder claimed.
    let other = parking_app::settlement::Attempt {
        kind: PaymentKind::Refund,
        amount: yen(200),
        refunds: Some("pi_0".into()),
        ..attempt(2, later + SignedDuration::from_secs(60))
    };
    let taken = store.claim_attempt(&other, later).await.expect("claim");
    assert!(
        matches!(
            taken,
            Claim::Claimed {
                taken_over: Some(_)
            }
        ),
        "{taken:?}"
    );
    let held = store.attempt(&key).await.expect("read").expect("held");
    assert_eq!(
        (held.kind, held.amount, held.refunds.as_deref()),
        (PaymentKind::Charge, yen(500), None),
        "the movement under the key is the first holder's"
    );
    assert!(matches!(
        held.state,
        AttemptState::Claimed { holder: 2, .. }
    ));
    // The first holder lost it: its outcome is not recorded.
    let kept = store
        .finish_attempt(
            &key,
            1,
            &AttemptState::Failed {
                reason: "late".into(),
                cause: None,
                retry_at: None,
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
                moved: None,
            },
            later,
        )
        .await
        .expect("finish");
    assert_eq!(
        done.state,
        AttemptState::Succeeded {
            charge_id: "pi_1".into(),
            moved: None,
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
                OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
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
                customer: None,
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
            settle_order(&store, &provider, o, t("10:31:00"))
                .await
                .expect("settled");
            outcomes.push(
                settle_order(&store, &provider, o, t("10:32:00"))
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

        // The day's report separates what was charged from what failed.
        let report = parking_app::usecases::operator::daily_report(
            &store,
            &aiko.lot_id,
            "2026-11-30".parse().expect("date"),
        )
        .await
        .expect("report");
        assert_eq!(report.card_charged, aiko.amount.minor);
        assert_eq!(report.card_failed, daisuke.amount.minor);
        assert_eq!(
            report.revenue,
            report.card_charged + report.card_failed + report.outstanding + report.kiosk_revenue
        );

        // The driver fixes the card; the retry is a new attempt and pays.
        store
            .add_payment_method(&PaymentMethod {
                id: "pm-5".parse().expect("id"),
                driver_id: "d-5".parse().expect("id"),
                brand: "mastercard".into(),
                last4: "4444".into(),
                token: PaymentToken::new("pm_card_mastercard"),
                customer: None,
            })
            .await
            .expect("card");
        let retry = PaymentOrder {
            attempt: 2,
            ..daisuke.clone()
        };
        let again = settle_order(&store, &provider, &retry, t("18:00:00"))
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

    /// An operator's refund moves the money once, even when its answer is
    /// lost and the message comes again; a refund beyond what remains of
    /// the charge is refused at settlement whatever the provider allows.
    #[tokio::test]
    async fn an_operator_refund_moves_money_once_and_never_beyond_the_charge() {
        use parking_app::outbox::PaymentKind;
        use parking_app::usecases::adjust::{Staff, refund};
        use parking_aws::Faulty;

        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        stay(&lot, AIKO, 1).await;
        let provider = Faulty::new(DevProvider::default());
        let charge = charges(&lot).pop().expect("a charge");
        let paid = settle_order(&store, &provider, &charge, t("10:31:00"))
            .await
            .expect("settled");
        assert!(matches!(paid, Settled::Charged(_)), "{paid:?}");
        let session_id = charge.session_id.clone().expect("a stay");
        let operator = Actor {
            role: "operator".into(),
            subject: "op-1".into(),
        };
        let staff = Staff {
            actor: &operator,
            lot_id: &charge.lot_id,
            now: t("11:00:00"),
        };
        refund(&store, staff, &session_id, 300, "wrong tariff", "k-1")
            .await
            .expect("refund");
        let back = charges(&lot)
            .into_iter()
            .find(|o| o.kind == PaymentKind::Refund)
            .expect("a refund order");
        assert_eq!(back.amount.minor, 300);
        provider.lose_answers(1);
        let first = settle_order(&store, &provider, &back, t("11:01:00"))
            .await
            .expect("settled");
        assert!(matches!(first, Settled::Retry(_)), "{first:?}");
        let again = settle_order(&store, &provider, &back, t("11:02:00"))
            .await
            .expect("settled");
        let refunds = provider.inner().refunds();
        assert_eq!(refunds.len(), 1, "refunded once");
        assert_eq!(again, Settled::Charged(refunds[0].id.clone()));
        // An order is a prompt, not an amount: one asking for the whole
        // charge back moves nothing, the stay's balance being settled.
        let too_much = PaymentOrder {
            idempotency_key: "extra.1".parse().expect("key"),
            amount: charge.amount,
            ..back.clone()
        };
        let refused = settle_order(&store, &provider, &too_much, t("11:05:00"))
            .await
            .expect("settled");
        assert_eq!(refused, Settled::Balanced);
        assert_eq!(provider.inner().refunds().len(), 1);
        let s = store.get_session(&session_id).await.expect("session");
        assert_eq!(s.state, SessionState::Paid);
    }

    /// A superseded stay is netted (a lost-entry fee charged, then the entry
    /// turns up in a backlog and a new stay replaces it): only the
    /// difference moves, once, even when its
    /// answer is lost and the message comes twice; the stay's new charge is
    /// settled on its own.
    #[tokio::test]
    async fn a_superseded_stay_is_netted_into_its_successor() {
        use super::super::devices::backlog;
        use parking_app::outbox::PaymentKind;
        use parking_aws::Faulty;

        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        let provider = Faulty::new(DevProvider::default());
        lot.send(&read("g-out", "out-9", DAISUKE, 0.95, t("13:00:00"), None))
            .await;
        let lost_entry = charges(&lot).pop().expect("the lost-entry fee");
        assert_eq!(lost_entry.amount.minor, 3000);
        let paid = settle_order(&store, &provider, &lost_entry, t("13:01:00"))
            .await
            .expect("settled");
        assert!(matches!(paid, Settled::Charged(_)), "{paid:?}");
        lot.send(&backlog(
            "g-in",
            vec![read("g-in", "in-20", DAISUKE, 0.93, t("12:00:00"), None)],
            t("15:05:00"),
        ))
        .await;
        let after = charges(&lot);
        let refund = after
            .iter()
            .find(|o| o.kind == PaymentKind::Refund)
            .expect("the repricing refund")
            .clone();
        let again = after
            .iter()
            .find(|o| {
                o.kind == PaymentKind::Charge && o.idempotency_key != lost_entry.idempotency_key
            })
            .expect("the stay's own charge")
            .clone();
        assert_eq!((refund.amount.minor, again.amount.minor), (3000, 200));
        // The superseded stay's ¥3,000 moves to the stay that replaced it:
        // ¥2,800 comes back, and nothing is charged again.
        provider.lose_answers(1);
        let first = settle_order(&store, &provider, &refund, t("15:06:00"))
            .await
            .expect("settled");
        assert!(matches!(first, Settled::Retry(_)), "{first:?}");
        let found = settle_order(&store, &provider, &refund, t("15:07:00"))
            .await
            .expect("settled");
        assert!(matches!(found, Settled::Charged(_)), "{found:?}");
        for (o, at) in [(&refund, "15:08:00"), (&again, "15:09:00")] {
            let r = settle_order(&store, &provider, o, t(at))
                .await
                .expect("settled");
            assert_eq!(r, Settled::Balanced);
        }
        let refunds: Vec<i64> = provider
            .inner()
            .refunds()
            .iter()
            .map(|r| r.amount.minor)
            .collect();
        assert_eq!(refunds, vec![2800], "netted, and refunded once");
        let amounts: Vec<i64> = provider
            .inner()
            .charges()
            .iter()
            .map(|c| c.amount.minor)
            .collect();
        assert_eq!(amounts, vec![3000]);
        let live = lot.live_sessions().await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].state, SessionState::Paid);
    }

    /// One plate's money moves in sequence even while a late read moves
    /// it from one stay to another. A settler claims the plate's first
    /// movement for the lost-entry fee (¥3,000) and vanishes before the
    /// provider hears of it; the entry turns up and a new stay replaces the
    /// old one, owing ¥200. Its settler finds the plate's key held and
    /// waits (it never charges under a key of its own beside the other).
    /// After the lease, the key is taken over: nothing was moved under it,
    /// and the balance wants another movement, so the key is given up for
    /// good (never reused for ¥200) and the next key charges ¥200, once.
    #[tokio::test]
    async fn a_plate_moves_money_in_sequence_across_a_supersession() {
        use super::super::devices::backlog;
        use jiff::SignedDuration;
        use parking_app::outbox::PaymentKind;
        use parking_app::settlement::{Attempt, AttemptState, AttemptStore, Cause, Claim};
        use parking_app::usecases::settle::movement_key;

        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        let provider = DevProvider::default();
        lot.send(&read("g-out", "out-9", DAISUKE, 0.95, t("13:00:00"), None))
            .await;
        let lost_entry = charges(&lot).pop().expect("the lost-entry fee");
        let old = lost_entry.session_id.clone().expect("a stay");
        let stay = store.get_session(&old).await.expect("the stay");
        let first = movement_key(&stay.lot_id, &stay.plate, 1);
        let vanished = Attempt {
            key: first.clone(),
            order_key: first.clone(),
            kind: PaymentKind::Charge,
            amount: lost_entry.amount,
            refunds: None,
            order: Some(PaymentOrder {
                idempotency_key: first.clone(),
                created_at: t("15:04:00"),
                ..lost_entry.clone()
            }),
            state: AttemptState::Claimed {
                holder: 7,
                until: t("15:04:00") + SignedDuration::from_secs(300),
                stored: None,
            },
            updated_at: t("15:04:00"),
        };
        assert_eq!(
            store
                .claim_attempt(&vanished, t("15:04:00"))
                .await
                .expect("claimed"),
            Claim::Claimed { taken_over: None }
        );
        lot.send(&backlog(
            "g-in",
            vec![read("g-in", "in-20", DAISUKE, 0.93, t("12:00:00"), None)],
            t("15:05:00"),
        ))
        .await;
        let own = charges(&lot)
            .into_iter()
            .find(|o| o.kind == PaymentKind::Charge && o.session_id.as_ref() != Some(&old))
            .expect("the new stay's charge");
        let new = own.session_id.clone().expect("the new stay");
        let waits = settle_order(&store, &provider, &own, t("15:06:00"))
            .await
            .expect("settled");
        assert!(matches!(waits, Settled::Retry(_)), "{waits:?}");
        assert!(
            provider.charges().is_empty(),
            "nothing moved beside the held key"
        );

        let paid = settle_order(&store, &provider, &own, t("15:10:00"))
            .await
            .expect("settled");
        assert!(matches!(paid, Settled::Charged(_)), "{paid:?}");
        let amounts: Vec<i64> = provider.charges().iter().map(|c| c.amount.minor).collect();
        assert_eq!(amounts, vec![200], "the new stay's ¥200, once");
        let given_up = store.attempt(&first).await.expect("read").expect("kept");
        assert_eq!(
            (given_up.kind, given_up.amount.minor),
            (PaymentKind::Charge, 3000),
            "the key still stands for the movement first claimed"
        );
        assert!(
            matches!(
                given_up.state,
                AttemptState::Failed {
                    cause: Some(Cause::Transient),
                    ..
                }
            ),
            "{:?}",
            given_up.state
        );
        let second = movement_key(&stay.lot_id, &stay.plate, 2);
        let made = store.attempt(&second).await.expect("read").expect("made");
        assert_eq!((made.kind, made.amount.minor), (PaymentKind::Charge, 200));
        let s = store.get_session(&new).await.expect("the new stay");
        assert_eq!((s.state, s.collected), (SessionState::Paid, 200));
        // Settled again, nothing moves.
        let again = settle_order(&store, &provider, &own, t("15:20:00"))
            .await
            .expect("settled");
        assert_eq!(again, Settled::Balanced);
        assert_eq!(provider.charges().len(), 1);
    }

    /// A charge made whose answer was lost is looked for from its first
    /// claim, however often the claim changed hands since: a lookup that
    /// failed does not move the window on, and the charge is found, not
    /// made again.
    #[tokio::test]
    async fn a_lost_charge_is_looked_for_from_its_first_claim() {
        use jiff::SignedDuration;
        use parking_aws::Faulty;

        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        stay(&lot, AIKO, 1).await;
        let provider = Faulty::new(DevProvider::default());
        let charge = charges(&lot).pop().expect("a charge");
        provider.lose_answers(1);
        let lost = settle_order(&store, &provider, &charge, t("10:31:00"))
            .await
            .expect("settled");
        assert!(matches!(lost, Settled::Retry(_)), "{lost:?}");
        provider.fail_next(1);
        let failed = settle_order(&store, &provider, &charge, t("10:45:00"))
            .await
            .expect("settled");
        assert!(matches!(failed, Settled::Retry(_)), "{failed:?}");
        let found = settle_order(&store, &provider, &charge, t("11:30:00"))
            .await
            .expect("settled");
        assert!(matches!(found, Settled::Charged(_)), "{found:?}");
        assert_eq!(provider.inner().charges().len(), 1, "charged once");
        let from = t("10:31:00") - SignedDuration::from_secs(300);
        assert_eq!(provider.lookups(), vec![from, from]);
    }

    /// A declined stay that staff void before its retry is not charged by
    /// the retry.
    #[tokio::test]
    async fn a_retry_charges_nothing_once_nothing_is_owed() {
        use parking_app::usecases::adjust::{Decision, Staff, resolve};

        let lot = Lot::new().await;
        let store = lot.events.store.clone();
        store
            .add_payment_method(&PaymentMethod {
                id: "pm-5".parse().expect("id"),
                driver_id: "d-5".parse().expect("id"),
                brand: "visa".into(),
                last4: "0341".into(),
                token: PaymentToken::new("pm_card_chargeCustomerFail"),
                customer: None,
            })
            .await
            .expect("card");
        stay(&lot, DAISUKE, 1).await;
        let order = charges(&lot).pop().expect("a charge");
        let provider = DevProvider::default();
        let failed = settle_order(&store, &provider, &order, t("10:31:00"))
            .await
            .expect("settled");
        assert!(matches!(failed, Settled::Failed(_)), "{failed:?}");
        // The card is fixed, but staff void the stay first.
        store
            .add_payment_method(&PaymentMethod {
                id: "pm-5".parse().expect("id"),
                driver_id: "d-5".parse().expect("id"),
                brand: "visa".into(),
                last4: "4242".into(),
                token: PaymentToken::new("pm_card_visa"),
                customer: None,
            })
            .await
            .expect("card");
        let operator = Actor {
            role: "operator".into(),
            subject: "op-1".into(),
        };
        let session_id = order.session_id.clone().expect("a stay");
        resolve(
            &store,
            Staff {
                actor: &operator,
                lot_id: &order.lot_id,
                now: t("11:00:00"),
            },
            &session_id,
            Decision::Void,
            "driver never parked",
        )
        .await
        .expect("voided");
        let retry = PaymentOrder {
            attempt: 2,
            ..order.clone()
        };
        let r = settle_order(&store, &provider, &retry, t("11:31:00"))
            .await
            .expect("settled");
        assert_eq!(r, Settled::Balanced);
        assert!(provider.charges().is_empty());
        let s = store.get_session(&session_id).await.expect("session");
        assert_eq!(s.state, SessionState::Voided);
    }
}
