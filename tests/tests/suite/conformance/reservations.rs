//! Reservations: never more per slot than the lot's reservable
//! capacity, whatever the caller's copy of the lot or the concurrency.

use super::*;

pub async fn reservations_never_oversell<S: Store>(store: &S) {
    let lot = fx::lot("lot-res", 2);
    store.put_lot(&lot).await.expect("lot");
    let r1 = fx::reservation(
        "r1",
        "lot-res",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    let r2 = fx::reservation(
        "r2",
        "lot-res",
        "2026-11-24T10:15:00+09:00",
        "2026-11-24T10:45:00+09:00",
    );
    let r3 = fx::reservation(
        "r3",
        "lot-res",
        "2026-11-24T10:20:00+09:00",
        "2026-11-24T10:40:00+09:00",
    );
    store.reserve(&r1, &lot).await.expect("r1");
    store.reserve(&r2, &lot).await.expect("r2");
    let r = store.reserve(&r3, &lot).await;
    assert_eq!(
        refusal(&r),
        Some(&Refusal::SlotFull {
            lot_id: id("lot-res"),
            slot_start: fx::at("2026-11-24T10:15:00+09:00")
        })
    );
    let count = |t: &str| parking_tests::slot_taken(store, &lot, fx::at(t));
    assert_eq!(count("2026-11-24T10:00:00+09:00").await, 1);
    assert_eq!(count("2026-11-24T10:15:00+09:00").await, 2);
    // r3 wanted 10:15 and 10:30; it took neither.
    assert_eq!(count("2026-11-24T10:30:00+09:00").await, 1);
    assert!(matches!(
        store.get_reservation(&id("r3")).await,
        Err(StoreError::NotFound { .. })
    ));

    let cancelled = store.cancel_reservation(&id("r1")).await.expect("cancel");
    assert_eq!(cancelled.state, ReservationState::Cancelled);
    assert_eq!(
        store.get_reservation(&id("r1")).await.expect("r1").state,
        ReservationState::Cancelled
    );
    assert_eq!(count("2026-11-24T10:15:00+09:00").await, 1);
    store.reserve(&r3, &lot).await.expect("r3 fits now");
    assert!(matches!(
        store.cancel_reservation(&id("r-none")).await,
        Err(StoreError::NotFound { .. })
    ));

    let long = fx::reservation(
        "r-long",
        "lot-res",
        "2026-11-24T00:00:00+09:00",
        "2026-11-26T00:00:00+09:00",
    );
    assert!(matches!(
        store.reserve(&long, &lot).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn reservations_follow_the_stored_lot<S: Store>(store: &S) {
    // A caller holding an old copy of the lot must not oversell after an
    // operator lowered its reservable capacity.
    let cached = fx::lot("lot-cap", 3);
    store.put_lot(&cached).await.expect("lot");
    let lowered = Lot {
        reservable: 1,
        ..cached.clone()
    };
    store.put_lot(&lowered).await.expect("lowered");
    let slot = |i: usize| {
        fx::reservation(
            &format!("r-cap-{i}"),
            "lot-cap",
            "2026-11-24T18:00:00+09:00",
            "2026-11-24T18:15:00+09:00",
        )
    };
    store.reserve(&slot(0), &lowered).await.expect("first");
    assert_eq!(
        refusal(&store.reserve(&slot(1), &cached).await),
        Some(&Refusal::LotChanged {
            lot_id: id("lot-cap")
        })
    );
    assert_eq!(
        parking_tests::slot_taken(store, &lowered, fx::at("2026-11-24T18:00:00+09:00")).await,
        1
    );
    assert!(matches!(
        refusal(&store.reserve(&slot(1), &lowered).await),
        Some(Refusal::SlotFull { .. })
    ));

    // A changed slot length: the old grid is refused, and a cancellation
    // frees exactly the slots the reservation took.
    let fifteen = fx::lot("lot-grid", 5);
    store.put_lot(&fifteen).await.expect("lot");
    let r = fx::reservation(
        "r-grid",
        "lot-grid",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    store
        .reserve(&r, &fifteen)
        .await
        .expect("on 15-minute slots");
    let sixty = Lot {
        slot_minutes: 60,
        ..fifteen.clone()
    };
    store.put_lot(&sixty).await.expect("hour slots");
    let late = fx::reservation(
        "r-grid-late",
        "lot-grid",
        "2026-11-24T12:00:00+09:00",
        "2026-11-24T12:30:00+09:00",
    );
    assert_eq!(
        refusal(&store.reserve(&late, &fifteen).await),
        Some(&Refusal::LotChanged {
            lot_id: id("lot-grid")
        })
    );
    store.cancel_reservation(&r.id).await.expect("cancel");
    assert_eq!(
        parking_tests::slot_taken(store, &sixty, fx::at("2026-11-24T10:00:00+09:00")).await,
        0
    );
    // A lot that does not exist.
    let ghost = fx::lot("lot-ghost", 5);
    let r = fx::reservation(
        "r-ghost",
        "lot-ghost",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    assert!(matches!(
        store.reserve(&r, &ghost).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn a_lot_with_no_reservable_bays_takes_no_reservation<S: Store>(store: &S) {
    let lot = fx::lot("lot-zero", 0);
    store.put_lot(&lot).await.expect("lot");
    let r = fx::reservation(
        "r-zero",
        "lot-zero",
        "2026-11-24T10:00:00+09:00",
        "2026-11-24T10:30:00+09:00",
    );
    assert_eq!(
        refusal(&store.reserve(&r, &lot).await),
        Some(&Refusal::SlotFull {
            lot_id: id("lot-zero"),
            slot_start: fx::at("2026-11-24T10:00:00+09:00")
        })
    );
    assert_eq!(
        parking_tests::slot_taken(store, &lot, r.start).await,
        0,
        "nothing taken"
    );
}

pub async fn fifty_attempts_on_the_last_slot_one_wins<S: Store>(store: &S) {
    let lot = fx::lot("lot-last", 3);
    store.put_lot(&lot).await.expect("lot");
    for i in 0..2 {
        let r = fx::reservation(
            &format!("held-{i}"),
            "lot-last",
            "2026-11-24T18:00:00+09:00",
            "2026-11-24T18:15:00+09:00",
        );
        store.reserve(&r, &lot).await.expect("held");
    }
    let attempts: Vec<Reservation> = (0..50)
        .map(|i| {
            let mut r = fx::reservation(
                &format!("race-{i}"),
                "lot-last",
                "2026-11-24T17:50:00+09:00",
                "2026-11-24T18:10:00+09:00",
            );
            r.driver_id = id(&format!("d-{i}"));
            r
        })
        .collect();
    let results = join_all(attempts.iter().map(|r| store.reserve(r, &lot))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    let full = results
        .iter()
        .filter(|r| matches!(refusal(r), Some(Refusal::SlotFull { .. })))
        .count();
    assert_eq!((winners.len(), full), (1, 49), "{results:?}");
    // The stored reservation is the winner's, and no loser left one.
    let winner = &attempts[winners[0]];
    assert_eq!(
        &store.get_reservation(&winner.id).await.expect("winner"),
        winner
    );
    for (i, r) in attempts.iter().enumerate() {
        if i != winners[0] {
            assert!(matches!(
                store.get_reservation(&r.id).await,
                Err(StoreError::NotFound { .. })
            ));
        }
    }
    assert_eq!(
        parking_tests::slot_taken(store, &lot, fx::at("2026-11-24T18:00:00+09:00")).await,
        3
    );
    assert_eq!(
        parking_tests::slot_taken(store, &lot, fx::at("2026-11-24T17:45:00+09:00")).await,
        1
    );
}
