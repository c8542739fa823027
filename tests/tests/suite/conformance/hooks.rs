//! Each lot's webhook subscriptions: one item, one version at a time; the
//! same write repeated (an answer lost) is done, a stale one refused.

use super::*;
use parking_app::hooks::{EventType, LotHooks, Secret, Subscription};

pub async fn a_lots_webhooks_change_one_version_at_a_time<S: HookStore>(store: &S) {
    let lot = lot_id("lot-hooks");
    assert_eq!(store.lot_hooks(&lot).await.expect("none"), None);
    let sub = Subscription {
        id: "wh-0123456789abcdef".into(),
        url: "https://ops.example.com/hooks".into(),
        events: vec![EventType::StayClosed],
        secret: Secret::from_text("whsec_conformance"),
        created_at: fx::at("2026-11-24T09:00:00+09:00"),
        enabled: true,
        disabled_at: None,
        failures: 0,
        last_failure: None,
        last_success_at: None,
        missed: Vec::new(),
    };
    let mut first = LotHooks::new(lot.clone());
    first.subscriptions.push(sub);
    first.version = 1;
    store.put_lot_hooks(&first).await.expect("first");
    // The same write again: done.
    store.put_lot_hooks(&first).await.expect("repeated");
    let mut second = first.clone();
    second.version = 2;
    second.subscriptions[0].failures = 3;
    store.put_lot_hooks(&second).await.expect("second");
    // A writer that read version 1 is refused.
    let mut stale = first.clone();
    stale.version = 2;
    stale.subscriptions[0].enabled = false;
    let r = store.put_lot_hooks(&stale).await;
    assert!(
        matches!(refusal(&r), Some(Refusal::HooksChanged { .. })),
        "{r:?}"
    );
    // A second first write is refused too.
    let mut again = LotHooks::new(lot.clone());
    again.version = 1;
    let r = store.put_lot_hooks(&again).await;
    assert!(
        matches!(refusal(&r), Some(Refusal::HooksChanged { .. })),
        "{r:?}"
    );
    assert_eq!(store.lot_hooks(&lot).await.expect("read"), Some(second));
    // The secret is in the item, never in its Debug text.
    let shown = format!("{:?}", store.lot_hooks(&lot).await.expect("read"));
    assert!(!shown.contains("whsec_conformance"), "{shown}");
}
