//! The Stripe-compatible adapter against localstripe, and the payments
//! consumer end to end: SQS (moto), DynamoDB (moto) and localstripe.
//!
//! localstripe ignores idempotency keys, lets refunds exceed their charge
//! and answers an off-session charge that needs authentication with 200
//! `requires_action`: every guarantee checked here is ours.

use jiff::{SignedDuration, Timestamp};
use parking_app::settlement::*;
use parking_app::*;
use parking_core::{Currency, Money};
use parking_tests::stripe;

fn key(k: &str) -> IdempotencyKey {
    k.parse().expect("key")
}

fn yen(n: i64) -> Money {
    Money::new(n, Currency::JPY)
}

#[tokio::test]
async fn the_adapter_charges_declines_and_asks_for_authentication_on_localstripe() {
    let _held = stripe::hold().await;
    let p = stripe::provider();
    let driver: DriverId = "d-1".parse().expect("id");
    let visa = PaymentToken::new("pm_card_visa");
    let customer = p.save_card(&driver, None, &visa).await.expect("saved");
    assert!(customer.starts_with("cus_"), "{customer}");
    let since = Timestamp::now() - SignedDuration::from_mins(5);
    let k1 = key("s-1.1.a1");
    let request = ChargeRequest {
        key: &k1,
        token: &visa,
        customer: Some(&customer),
        amount: yen(1200),
    };
    let charged = p.charge(&request).await.expect("charged");
    assert_eq!(charged.amount, yen(1200));
    assert!(charged.id.starts_with("pi_"), "{}", charged.id);
    // Found again by its key, and only by its key.
    assert_eq!(
        p.find_charge(&request, since).await.expect("found"),
        Some(charged.clone())
    );
    let k2 = key("s-1.1.a2");
    let other = ChargeRequest {
        key: &k2,
        ..request.clone()
    };
    assert_eq!(p.find_charge(&other, since).await.expect("looked"), None);
    let listed = stripe::succeeded_charges().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["amount"], 1200);
    assert_eq!(listed[0]["currency"], "jpy");

    // Below the smallest charge: refused here, never sent.
    let tiny = ChargeRequest {
        amount: yen(30),
        ..request.clone()
    };
    assert!(matches!(
        p.charge(&tiny).await,
        Err(ProviderError::Request(_))
    ));

    // A declining card.
    let failing = PaymentToken::new("pm_card_chargeCustomerFail");
    let k3 = key("s-2.1.a1");
    let declined = p
        .charge(&ChargeRequest {
            key: &k3,
            token: &failing,
            customer: None,
            amount: yen(800),
        })
        .await;
    assert_eq!(
        declined,
        Err(ProviderError::Declined {
            code: "card_declined".into()
        })
    );

    // A card that needs the cardholder: localstripe answers 200
    // `requires_action` where Stripe answers 402; both mean the same.
    let made = stripe::call(
        reqwest::Method::POST,
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", "4000002500003155"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    )
    .await;
    let three_ds = PaymentToken::new(made["id"].as_str().expect("a payment method"));
    let k4 = key("s-3.1.a1");
    let needs = p
        .charge(&ChargeRequest {
            key: &k4,
            token: &three_ds,
            customer: None,
            amount: yen(800),
        })
        .await;
    assert_eq!(needs, Err(ProviderError::AuthenticationRequired));
    assert_eq!(stripe::succeeded_charges().await.len(), 1);

    // Refunds: found by key; and localstripe refunds beyond the charge,
    // which is why the limit is kept on our side.
    let r1 = key("s-1.2.a1");
    let refund = RefundRequest {
        key: &r1,
        charge_id: &charged.id,
        amount: yen(500),
    };
    let made = p.refund(&refund).await.expect("refunded");
    assert_eq!(made.amount, yen(500));
    assert_eq!(p.find_refund(&refund).await.expect("found"), Some(made));
    let r2 = key("s-1.3.a1");
    let beyond = p
        .refund(&RefundRequest {
            key: &r2,
            charge_id: &charged.id,
            amount: yen(5000),
        })
        .await;
    assert!(
        beyond.is_ok(),
        "localstripe lets a refund exceed its charge: {beyond:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_retryable_and_says_nothing_of_the_card() {
    let p = parking_aws::stripe::StripeProvider::new(
        "http://127.0.0.1:9",
        parking_aws::stripe::StripeKey::new("sk_test_x"),
    )
    .expect("client");
    let token = PaymentToken::new("pm_secret_token_123");
    let k = key("s-9.1.a1");
    let e = p
        .charge(&ChargeRequest {
            key: &k,
            token: &token,
            customer: Some("cus_1"),
            amount: yen(500),
        })
        .await
        .expect_err("no provider there");
    assert!(e.is_retryable(), "{e:?}");
    let e = p
        .save_card(&"d-1".parse().expect("id"), Some("cus_1"), &token)
        .await
        .expect_err("no provider there");
    assert!(!e.to_string().contains("pm_secret"), "{e}");
    assert!(!format!("{e:?}").contains("pm_secret"), "{e:?}");
}

mod end_to_end {
    use std::collections::HashMap;
    use std::sync::Arc;

    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
    use jiff::{SignedDuration, Timestamp};
    use parking_app::outbox::{NotificationKind, OutboxMessage, PaymentKind, PaymentOrder};
    use parking_app::scenario::set_up;
    use parking_app::settlement::AttemptStore;
    use parking_app::usecases::dead_letters;
    use parking_app::usecases::device_events::DeviceEvents;
    use parking_app::usecases::outbox::drain;
    use parking_app::*;
    use parking_aws::lambda::{SqsRedelivery, settle_payments};
    use parking_aws::sqs::SqsQueues;
    use parking_aws::{DynamoStore, Faulty, MemoryLink};
    use parking_core::SessionState;
    use parking_tests::stripe;

    use super::super::devices::{AIKO, DAISUKE, read, scenario};

    async fn fifo(sqs: &aws_sdk_sqs::Client, name: &str, dlq: Option<&str>) -> (String, String) {
        let mut create = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::VisibilityTimeout, "1");
        if let Some(arn) = dlq {
            create = create.attributes(
                QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"2"}}"#),
            );
        }
        let url = create.send().await.expect("queue").queue_url.expect("url");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("arn");
        (url, arn)
    }

    fn record(
        id: &str,
        receipt: Option<String>,
        body: String,
        attributes: HashMap<String, String>,
    ) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.receipt_handle = receipt;
        m.body = Some(body);
        m.attributes = attributes;
        m
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    async fn session(store: &DynamoStore, o: &PaymentOrder) -> Session {
        store
            .get_session(o.session_id.as_ref().expect("a stay"))
            .await
            .expect("session")
    }

    /// Each charge delivered three times at once with the provider's first
    /// answer lost: one charge at the provider. Then the payments queue on
    /// SQS with a poison message: only it is reported, the others settle,
    /// and it ends in the dead-letter queue after its retries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn charges_settle_once_and_a_poison_message_ends_in_the_dead_letter_queue() {
        let _held = stripe::hold().await;
        // localstripe dates its charges by the real clock, so the stays do too.
        let now = Timestamp::now();
        let hours = |h: i64| now - SignedDuration::from_hours(h);
        let events = DeviceEvents::new(
            parking_tests::fresh_dynamo_store(None).await,
            MemoryLink::default(),
            SignedDuration::ZERO,
        );
        let store = events.store.clone();
        set_up(&store, &scenario(), hours(6)).await.expect("set up");
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
        for (n, plate) in [AIKO, DAISUKE].into_iter().enumerate() {
            for (gate, at) in [("g-in", hours(3)), ("g-out", hours(1))] {
                let m = read(gate, &format!("{gate}-{n}"), plate, 0.97, at, None);
                let report = events
                    .handle(&serde_json::to_vec(&m).expect("json"), at)
                    .await
                    .expect("handled");
                assert_eq!(report.applied, 1, "{report:?}");
            }
        }
        let orders: Vec<PaymentOrder> = store
            .outbox_pending(100)
            .await
            .expect("outbox")
            .into_iter()
            .filter_map(|m| match m {
                OutboxMessage::Payments(o) => Some(o),
                OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
            })
            .collect();
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert!(orders.iter().all(|o| o.kind == PaymentKind::Charge));

        let sqs = aws_sdk_sqs::Client::new(&parking_tests::local_sdk_config().await);
        let tag = std::process::id();
        let (_, dlq_arn) = fifo(&sqs, &format!("payments-dlq-{tag}.fifo"), None).await;
        let dlq_url = sqs
            .get_queue_url()
            .queue_name(format!("payments-dlq-{tag}.fifo"))
            .send()
            .await
            .expect("dlq")
            .queue_url
            .expect("url");
        let (queue_url, _) = fifo(&sqs, &format!("payments-{tag}.fifo"), Some(&dlq_arn)).await;
        let (notes_url, _) = fifo(&sqs, &format!("notifications-{tag}.fifo"), None).await;
        let redelivery = SqsRedelivery {
            client: sqs.clone(),
            queue_url: queue_url.clone(),
        };

        // Three deliveries of the batch at once; the first charge's answer
        // is lost after the provider charged.
        let provider = Arc::new(Faulty::new(stripe::provider()));
        provider.lose_answers(1);
        let store = Arc::new(store);
        let batch: Vec<SqsMessage> = orders
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let m = OutboxMessage::Payments(o.clone());
                let attributes = HashMap::from([
                    ("MessageGroupId".to_owned(), m.group()),
                    ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
                ]);
                record(&format!("m-{i}"), None, m.body(), attributes)
            })
            .collect();
        let runs: Vec<_> = (0..3)
            .map(|_| {
                let (store, provider, redelivery) =
                    (store.clone(), provider.clone(), redelivery.clone());
                let e = event(batch.clone());
                tokio::spawn(async move {
                    settle_payments(&*store, &*provider, &redelivery, 0, e, Timestamp::now()).await
                })
            })
            .collect();
        for r in runs {
            r.await.expect("task");
        }
        let charged = stripe::succeeded_charges().await;
        assert_eq!(charged.len(), 1, "one charge at the provider: {charged:?}");
        let aiko = orders
            .iter()
            .find(|o| o.driver_id.as_str() == "d-1")
            .expect("aiko");
        let daisuke = orders
            .iter()
            .find(|o| o.driver_id.as_str() == "d-5")
            .expect("daisuke");
        assert_eq!(charged[0]["amount"], aiko.amount.minor);

        // The payments queue on SQS: the outbox forwarded, and a poison
        // message among them.
        let queues = SqsQueues::new(sqs.clone(), queue_url.clone(), notes_url.clone());
        drain(&*store, &queues).await.expect("forwarded");
        let poison = r#"{"idempotency_key":42}"#;
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(poison)
            .message_group_id("poison")
            .message_deduplication_id("poison-1")
            .send()
            .await
            .expect("sent");
        let mut reports = Vec::new();
        let mut dead = Vec::new();
        for _ in 0..30 {
            let got = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                let d = sqs
                    .receive_message()
                    .queue_url(&dlq_url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .expect("receive dlq");
                dead.extend(d.messages.unwrap_or_default());
                if !dead.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
                continue;
            }
            let records: Vec<SqsMessage> = messages
                .iter()
                .map(|m| {
                    let attributes = m
                        .attributes
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v))
                        .collect();
                    record(
                        m.message_id.as_deref().unwrap_or_default(),
                        m.receipt_handle.clone(),
                        m.body.clone().unwrap_or_default(),
                        attributes,
                    )
                })
                .collect();
            let response = settle_payments(
                &*store,
                &*provider,
                &redelivery,
                0,
                event(records),
                Timestamp::now(),
            )
            .await;
            let failed: Vec<String> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect();
            // As Lambda does: what was not reported is deleted.
            for m in &messages {
                if !failed.contains(&m.message_id.clone().unwrap_or_default()) {
                    sqs.delete_message()
                        .queue_url(&queue_url)
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .send()
                        .await
                        .expect("delete");
                }
            }
            let bodies: Vec<String> = messages
                .iter()
                .filter(|m| failed.contains(&m.message_id.clone().unwrap_or_default()))
                .map(|m| m.body.clone().unwrap_or_default())
                .collect();
            reports.push((messages.len(), bodies));
        }
        assert!(
            reports
                .first()
                .is_some_and(|(n, failed)| *n == 3 && failed == &vec![poison.to_owned()]),
            "the first batch reports exactly the poison message: {reports:?}"
        );
        assert!(
            reports
                .iter()
                .all(|(_, failed)| failed.iter().all(|b| b == poison)),
            "{reports:?}"
        );
        assert_eq!(
            dead.len(),
            1,
            "the poison message is in the dead-letter queue"
        );
        assert_eq!(dead[0].body.as_deref(), Some(poison));
        assert_eq!(
            stripe::succeeded_charges().await.len(),
            1,
            "still one charge"
        );
        // Listed (never its body), then sent back to its queue, with nothing
        // lost on the way: it leaves the dead-letter queue only once back.
        sqs.change_message_visibility()
            .queue_url(&dlq_url)
            .receipt_handle(dead[0].receipt_handle.clone().unwrap_or_default())
            .visibility_timeout(0)
            .send()
            .await
            .expect("released");
        let letters = parking_aws::sqs::SqsDeadLetters::new(
            sqs.clone(),
            (queue_url.clone(), dlq_url.clone()),
            (notes_url.clone(), notes_url.clone()),
        );
        let queue = parking_app::outbox::Queue::Payments;
        let listed = dead_letters::list(&letters, queue, None, 100)
            .await
            .expect("listed");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].kind, "unreadable");
        assert!(listed[0].received >= 3, "{listed:?}");
        let mine: LotId = "shinjuku-west".parse().expect("lot");
        let theirs = dead_letters::redrive(&letters, queue, Some(&mine), 100)
            .await
            .expect("redrive");
        assert!(theirs.is_empty(), "an unreadable message has no lot");
        let back = dead_letters::redrive(&letters, queue, None, 100)
            .await
            .expect("redrive");
        assert_eq!(back.len(), 1);
        let again = sqs
            .receive_message()
            .queue_url(&queue_url)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].body.as_deref(), Some(poison));
        assert!(
            dead_letters::list(&letters, queue, None, 100)
                .await
                .expect("listed")
                .is_empty()
        );
        assert_eq!(session(&store, aiko).await.state, SessionState::Paid);
        // One payment record: the attempt succeeded once, and the stay's
        // timeline holds one settlement of the order.
        let aiko_id = aiko.session_id.clone().expect("a stay");
        let stay = store.get_session(&aiko_id).await.expect("the stay");
        let key = parking_app::usecases::settle::movement_key(&stay.lot_id, &stay.plate, 1);
        let attempt = store
            .attempt(&key)
            .await
            .expect("read")
            .expect("the attempt");
        assert_eq!(
            attempt.state,
            parking_app::settlement::AttemptState::Succeeded {
                charge_id: charged[0]["payment_intent"]
                    .as_str()
                    .expect("the charge's intent")
                    .to_owned(),
                moved: Some(aiko.amount),
            }
        );
        let aiko_session = session(&store, aiko).await;
        let timeline = store
            .plate_view(&aiko_session.lot_id, &aiko_session.plate)
            .await
            .expect("timeline")
            .timeline
            .expect("a timeline");
        let records: Vec<_> = timeline
            .settlements
            .iter()
            .filter(|r| r.session_id == aiko_id)
            .collect();
        assert_eq!(records.len(), 1, "{records:?}");
        let failed = session(&store, daisuke).await;
        assert_eq!(failed.state, SessionState::PaymentFailed);
        assert_eq!(
            failed.payment_failure.as_deref(),
            Some("the card was declined (card_declined)")
        );
        // The failure's notification went out through the outbox.
        let mut told = 0;
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&notes_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive notifications")
                .messages
                .unwrap_or_default();
            if got.is_empty() {
                break;
            }
            for m in &got {
                let n: parking_app::outbox::Notification =
                    serde_json::from_str(m.body.as_deref().unwrap_or_default())
                        .expect("a notification");
                if matches!(n.kind, NotificationKind::PaymentFailed { .. }) {
                    told += 1;
                }
                sqs.delete_message()
                    .queue_url(&notes_url)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        assert_eq!(told, 1, "the driver is told once");
    }
}
