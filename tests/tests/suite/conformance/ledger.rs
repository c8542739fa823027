//! The event ledger: an event is consumed once, forgotten at its expiry
//! second, and a repeated write is its caller's own success.

use super::*;

pub async fn the_ledger_forgets_at_the_expiry_second<S: Store>(store: &S) {
    let ping = fx::event("sensor-1", "hb-exp", "2026-11-24T09:00:00Z");
    store.record_event(&ping).await.expect("record");
    let at = |offset: SignedDuration| EventRef {
        processed_at: ping.processed_at + offset,
        ..ping.clone()
    };
    let last_second = at(DEFAULT_EVENT_RETENTION - SignedDuration::from_secs(1));
    let expiry = at(DEFAULT_EVENT_RETENTION);
    assert!(
        store
            .is_processed(&id("sensor-1"), &id("hb-exp"), last_second.processed_at)
            .await
            .expect("ledger")
    );
    assert_eq!(
        store.record_event(&last_second).await.expect("record"),
        Applied::Duplicate
    );
    assert!(
        !store
            .is_processed(&id("sensor-1"), &id("hb-exp"), expiry.processed_at)
            .await
            .expect("ledger")
    );
    assert_eq!(
        store.record_event(&expiry).await.expect("record"),
        Applied::Done,
        "forgotten from its expiry second on"
    );
}

pub async fn events_that_change_nothing_else_are_remembered_once<S: EventLedger>(store: &S) {
    // Events that change nothing else.
    let ping = fx::event("sensor-1", "hb-1", "2026-11-24T09:00:00Z");
    assert_eq!(
        store.record_event(&ping).await.expect("record"),
        Applied::Done
    );
    let ping_later = EventRef {
        processed_at: ping.processed_at + SignedDuration::from_secs(1),
        ..ping.clone()
    };
    assert_eq!(
        store.record_event(&ping_later).await.expect("record"),
        Applied::Duplicate
    );
}

pub async fn repeating_a_write_reports_the_callers_own_success<S: Store>(store: &S) {
    let lot = fx::lot("lot-g", 1);
    store.put_lot(&lot).await.expect("lot");
    let r = fx::reservation(
        "r-again",
        "lot-g",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    store.reserve(&r, &lot).await.expect("reserve");
    store
        .reserve(&r, &lot)
        .await
        .expect("the same reservation again");
    assert_eq!(
        parking_tests::slot_taken(store, &lot, fx::at("2026-11-24T10:15:00+09:00")).await,
        1,
        "taken once"
    );
    let mut other = r.clone();
    other.driver_id = id("d-2");
    assert_eq!(
        refusal(&store.reserve(&other, &lot).await),
        Some(&Refusal::ReservationExists {
            reservation_id: id("r-again")
        })
    );
    let cancelled = store.cancel_reservation(&r.id).await.expect("cancel");
    assert_eq!(
        store.cancel_reservation(&r.id).await.expect("cancel again"),
        cancelled
    );
    assert_eq!(
        parking_tests::slot_taken(store, &lot, fx::at("2026-11-24T10:15:00+09:00")).await,
        0,
        "freed once"
    );
    let bay = fx::bay("b-7", true, 0, 3, "2026-11-24T09:00:00Z");
    let e = fx::event("sensor-7", "seq-3", "2026-11-24T09:00:01Z");
    for _ in 0..2 {
        assert_eq!(
            store.record_bay(&bay, Some(&e)).await.expect("bay"),
            BayOutcome::Updated
        );
    }
    let plain = fx::bay("b-8", true, 0, 3, "2026-11-24T09:00:00Z");
    for _ in 0..2 {
        assert_eq!(
            store.record_bay(&plain, None).await.expect("bay"),
            BayOutcome::Updated
        );
    }
    let ping = fx::event("sensor-7", "hb", "2026-11-24T09:00:02Z");
    for _ in 0..2 {
        assert_eq!(
            store.record_event(&ping).await.expect("ping"),
            Applied::Done
        );
    }
}
