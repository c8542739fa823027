//! The outbox: a message written with a change is listed until it is
//! marked delivered, and marking it again changes nothing.

use super::*;
use parking_app::outbox::{OutboxMessage, PaymentKind, PaymentOrder};

pub async fn the_outbox_lists_a_message_until_it_is_delivered<S: Store>(store: &S) {
    let mut s = fx::session("s-out", "lot-o", "品川 300 さ 12-34");
    s.driver_id = Some(id("d-1"));
    let order = PaymentOrder {
        idempotency_key: id("charge-s-out-1"),
        session_id: Some(s.id.clone()),
        reservation_id: None,
        lot_id: id("lot-o"),
        driver_id: id("d-1"),
        method_id: id("pm-1"),
        kind: PaymentKind::Charge,
        amount: fx::yen(600),
        created_at: fx::at("2026-11-24T11:00:00+09:00"),
        attempt: 1,
        now: false,
    };
    let message = OutboxMessage::Payments(order);
    let e = fx::event("cam-2", "out-1", "2026-11-24T11:00:01+09:00");
    let mut c = commit(1, &s, &e, 1);
    c.outbox = vec![message.clone()];
    assert_eq!(store.commit_read(&c).await.expect("commit"), Applied::Done);
    let pending = store.outbox_pending(100).await.expect("pending");
    assert!(pending.contains(&message), "{pending:?}");
    let ids = vec![message.id()];
    assert_eq!(
        store.outbox_undelivered(&ids).await.expect("undelivered"),
        ids
    );
    store.outbox_delivered(&ids).await.expect("delivered");
    store.outbox_delivered(&ids).await.expect("delivered again");
    assert!(
        !store
            .outbox_pending(100)
            .await
            .expect("pending")
            .contains(&message)
    );
    assert_eq!(
        store.outbox_undelivered(&ids).await.expect("undelivered"),
        Vec::<String>::new()
    );
}
