//! What a lot's day consumed: every addition counts, in its own lot and
//! day only.

use super::*;
use parking_app::usage::Usage;

pub async fn a_lots_usage_adds_up_by_day<S: UsageStore>(store: &S) {
    let day = jiff::civil::date(2026, 11, 24);
    let next = jiff::civil::date(2026, 11, 25);
    let one = Usage {
        dynamodb_read_requests: 3,
        dynamodb_write_requests: 1,
        dynamodb_read_units: 4.5,
        dynamodb_write_units: 6.0,
        lambda_invocations: 1,
        ..Usage::default()
    };
    assert_eq!(
        store.lot_usage(&id("lot-us"), day).await.expect("none"),
        Usage::default()
    );
    for _ in 0..3 {
        store
            .add_usage(&id("lot-us"), day, &one)
            .await
            .expect("added");
    }
    store
        .add_usage(&id("lot-us"), next, &one)
        .await
        .expect("added");
    store
        .add_usage(&id("lot-other"), day, &one)
        .await
        .expect("added");
    let sum = store.lot_usage(&id("lot-us"), day).await.expect("day");
    assert_eq!(sum.dynamodb_read_requests, 9);
    assert_eq!(sum.lambda_invocations, 3);
    assert!((sum.dynamodb_write_units - 18.0).abs() < 1e-9, "{sum:?}");
    assert_eq!(
        store
            .lot_usage(&id("lot-us"), next)
            .await
            .expect("next")
            .lambda_invocations,
        1
    );
}
