//! A driver erases their account through the API: what goes, what the
//! lots keep, and when it is refused.

use std::sync::Arc;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use parking_api::Api;
use parking_app::*;
use parking_aws::DevProvider;
use serde_json::json;

use super::api::{Answer, Call, Who, call};
use super::devices::{CHIKA, DAISUKE, LOT, Lot, read, t};

const DAISUKE_ID: Who = Who::Driver("d-5");
const CHIKA_ID: Who = Who::Driver("d-3");
const OP: Who = Who::Role("op-1", "operator", LOT);

fn api(lot: &Lot, now: Timestamp, provider: &DevProvider) -> Router {
    let api = Api::new(lot.events.store.clone(), Arc::new(FixedClock(now)))
        .with_cards(Arc::new(provider.clone()));
    parking_api::router(Arc::new(api))
}

async fn at(lot: &Lot, now: Timestamp, provider: &DevProvider, c: Call) -> Answer {
    call(&api(lot, now, provider), c).await
}

fn plate(text: &str) -> parking_core::Plate {
    parking_core::Plate::parse(text).expect("plate")
}

#[tokio::test]
async fn an_erased_account_leaves_only_the_lots_records_of_its_stays() {
    let lot = Lot::new().await;
    let provider = DevProvider::default();
    let store = &lot.events.store;
    let card = store
        .payment_methods(&"d-5".parse().expect("id"))
        .await
        .expect("cards")
        .remove(0);
    store
        .set_payment_customer(&card.driver_id, &card.id, "cus_daisuke")
        .await
        .expect("customer");

    // Daisuke parks; while inside, the account cannot go.
    let r = lot
        .send(&read("g-in", "in-1", DAISUKE, 0.97, t("09:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    let a = at(
        &lot,
        t("09:30:00"),
        &provider,
        Call::new("DELETE", "/v1/me", DAISUKE_ID),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (409, "account_in_use".into()),
        "{}",
        a.text
    );
    let r = lot
        .send(&read("g-out", "out-1", DAISUKE, 0.97, t("10:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    // The charge has not been collected yet: it still owes.
    let a = at(
        &lot,
        t("10:05:00"),
        &provider,
        Call::new("DELETE", "/v1/me", DAISUKE_ID),
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.text);
    // Staff void the stay: nothing is owed.
    let stay = lot
        .sessions()
        .await
        .into_iter()
        .find(|s| s.plate == plate(DAISUKE))
        .expect("the stay");
    let a = at(
        &lot,
        t("10:10:00"),
        &provider,
        Call::new(
            "POST",
            format!("/v1/operator/lots/{LOT}/sessions/{}/resolution", stay.id),
            OP,
        )
        .json(json!({"action": "void", "note": "goodwill"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);

    let a = at(
        &lot,
        t("10:20:00"),
        &provider,
        Call::new("DELETE", "/v1/me", DAISUKE_ID),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.text);

    // Gone: the profile, the plate, the card here and at the provider,
    // the list of stays.
    let a = at(
        &lot,
        t("10:21:00"),
        &provider,
        Call::new("GET", "/v1/me", DAISUKE_ID),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(
        store.plate_owner(&plate(DAISUKE)).await.expect("owner"),
        None
    );
    assert!(
        store
            .payment_methods(&card.driver_id)
            .await
            .expect("cards")
            .is_empty()
    );
    assert_eq!(provider.forgotten(), ["cus_daisuke"]);
    let a = at(
        &lot,
        t("10:21:00"),
        &provider,
        Call::new("GET", "/v1/me/sessions", DAISUKE_ID),
    )
    .await;
    assert_eq!(
        a.json()["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        a.text
    );
    let a = at(
        &lot,
        t("10:21:00"),
        &provider,
        Call::new("DELETE", "/v1/me", DAISUKE_ID),
    )
    .await;
    assert_eq!(a.status, 404, "erased once");

    // Kept: the stay as the lot's record (its times and money), and the
    // erasure in the account trail under a pseudonym, never the id.
    let kept = store.get_session(&stay.id).await.expect("the stay stays");
    assert_eq!((kept.entry_at, kept.exit_at), (stay.entry_at, stay.exit_at));
    let trail = store
        .audit_trail(
            &parking_app::audit::account_trail(),
            t("00:00:00"),
            t("23:00:00") + SignedDuration::from_hours(1),
        )
        .await
        .expect("trail");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "account.erase");
    assert_eq!(
        trail[0].target,
        parking_app::usecases::erasure::pseudonym(&card.driver_id)
    );
    assert!(!format!("{trail:?}").contains("d-5"));

    // The plate is free: its next entry is a stranger's, charged to no one.
    let r = lot
        .send(&read("g-in", "in-2", DAISUKE, 0.97, t("11:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    let next = lot
        .sessions()
        .await
        .into_iter()
        .find(|s| s.plate == plate(DAISUKE) && s.entry_at == t("11:00:00"))
        .expect("the next stay");
    assert_eq!((next.driver_id, next.method_id), (None, None));

    // A driver with an active reservation is told to cancel it first.
    let a = at(
        &lot,
        t("09:00:00"),
        &provider,
        Call::new("DELETE", "/v1/me", CHIKA_ID),
    )
    .await;
    assert_eq!(
        (a.status, a.code()),
        (409, "account_in_use".into()),
        "{}",
        a.text
    );
    assert!(a.text.contains("reservation"));
    assert!(
        store
            .plate_owner(&plate(CHIKA))
            .await
            .expect("owner")
            .is_some()
    );
}
