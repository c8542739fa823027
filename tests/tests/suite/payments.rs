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
        Err(ProviderError::Rejected(_))
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
