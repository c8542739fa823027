//! The store conformance suite: written once, run against the in-memory
//! store and against DynamoDB (moto server).

use futures::future::join_all;
use jiff::SignedDuration;
use parking_app::rules::DEFAULT_EVENT_RETENTION;
use parking_app::*;
use parking_core::SessionState;
use parking_tests::fx;

fn conflict<T: std::fmt::Debug>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

pub async fn records_round_trip<S: Store>(store: &S) {
    let lot = fx::lot("lot-a", 5);
    store.put_lot(&lot).await.expect("put lot");
    assert_eq!(store.get_lot("lot-a").await.expect("get lot"), lot);
    assert!(matches!(
        store.get_lot("lot-z").await,
        Err(StoreError::NotFound { .. })
    ));

    let gate = Gate {
        lot_id: "lot-a".into(),
        id: "g-in-1".into(),
        direction: GateDirection::Entry,
        camera_id: "cam-1".into(),
    };
    store.put_gate(&gate).await.expect("put gate");
    assert_eq!(store.get_gate("lot-a", "g-in-1").await.expect("gate"), gate);
    let device = Device {
        id: "cam-1".into(),
        lot_id: "lot-a".into(),
        kind: DeviceKind::Camera,
        gate_id: Some("g-in-1".into()),
        bay_id: None,
    };
    store.put_device(&device).await.expect("put device");
    assert_eq!(store.get_device("cam-1").await.expect("device"), device);
    assert!(matches!(
        store.get_device("cam-9").await,
        Err(StoreError::NotFound { .. })
    ));

    let driver = Driver {
        id: "d-1".into(),
        name: "Hanako".into(),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.put_driver(&driver).await.expect("put driver");
    assert_eq!(store.get_driver("d-1").await.expect("driver"), driver);
}

pub async fn one_open_session_per_plate_and_lot<S: Store>(store: &S) {
    let a = fx::session("s-a", "lot-a", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&a, None).await.expect("open"),
        Applied::Done
    );
    // The same plate spelled differently is the same plate.
    let b = fx::session("s-b", "lot-a", "品川３００さ１２３４");
    let r = store.open_session(&b, None).await;
    assert!(conflict(&r), "{r:?}");
    assert!(
        matches!(
            store.get_session("s-b").await,
            Err(StoreError::NotFound { .. })
        ),
        "half a write"
    );
    // Another lot is fine.
    let c = fx::session("s-c", "lot-b", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&c, None).await.expect("other lot"),
        Applied::Done
    );

    let open = store
        .open_session_for("lot-a", &fx::plate("品川300さ12-34"))
        .await
        .expect("lookup");
    assert_eq!(open.as_ref().map(|s| s.id.as_str()), Some("s-a"));

    // Once priced (the car has left) the plate is free again.
    let closing = fx::next(&a, SessionState::Closing);
    store
        .update_session((SessionState::Open, 1), &closing, None)
        .await
        .expect("closing");
    let still = store
        .open_session_for("lot-a", &a.plate)
        .await
        .expect("lookup")
        .expect("still open");
    assert_eq!((still.state, still.version), (SessionState::Closing, 2));
    let priced = fx::next(&closing, SessionState::Priced);
    store
        .update_session((SessionState::Closing, 2), &priced, None)
        .await
        .expect("priced");
    assert_eq!(
        store
            .open_session_for("lot-a", &a.plate)
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store.open_session(&b, None).await.expect("re-enter"),
        Applied::Done
    );
    assert_eq!(
        store.get_session("s-a").await.expect("s-a").state,
        SessionState::Priced
    );
}

pub async fn the_same_plate_at_two_gates_opens_once<S: Store>(store: &S) {
    let attempts = (0..20).map(|i| {
        let mut s = fx::session(&format!("s-race-{i}"), "lot-r", "足立 500 あ ・・12");
        s.entry_gate = format!("g-in-{}", i % 2);
        s
    });
    let attempts: Vec<Session> = attempts.collect();
    let results = join_all(attempts.iter().map(|s| store.open_session(s, None))).await;
    let winners = results
        .iter()
        .filter(|r| matches!(r, Ok(Applied::Done)))
        .count();
    let conflicts = results.iter().filter(|r| conflict(r)).count();
    assert_eq!((winners, conflicts), (1, 19), "{results:?}");
    let open = store
        .open_session_for("lot-r", &fx::plate("足立500あ12"))
        .await
        .expect("lookup");
    assert!(open.is_some());
}

pub async fn device_events_are_processed_at_most_once<S: Store>(store: &S) {
    let e = fx::event("cam-1", "evt-1", "2026-11-24T09:00:05+09:00");
    let s = fx::session("s-e", "lot-e", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&s, Some(&e)).await.expect("open"),
        Applied::Done
    );
    // IoT delivers twice: the replay is a duplicate, not an error.
    assert_eq!(
        store.open_session(&s, Some(&e)).await.expect("replay"),
        Applied::Duplicate
    );
    // A replay that would open a different session changes nothing either.
    let other = fx::session("s-e2", "lot-e2", "練馬 500 な 88-88");
    assert_eq!(
        store.open_session(&other, Some(&e)).await.expect("replay"),
        Applied::Duplicate
    );
    assert!(matches!(
        store.get_session("s-e2").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .is_processed("cam-1", "evt-1", e.processed_at)
            .await
            .expect("ledger")
    );
    assert!(
        !store
            .is_processed("cam-1", "evt-2", e.processed_at)
            .await
            .expect("ledger")
    );

    // A state change and its event are one write.
    let e2 = fx::event("cam-9", "evt-exit", "2026-11-24T11:00:00+09:00");
    let closing = fx::next(&s, SessionState::Closing);
    assert_eq!(
        store
            .update_session((SessionState::Open, 1), &closing, Some(&e2))
            .await
            .expect("close"),
        Applied::Done
    );
    assert_eq!(
        store
            .update_session((SessionState::Open, 1), &closing, Some(&e2))
            .await
            .expect("replay"),
        Applied::Duplicate
    );
    assert_eq!(store.get_session("s-e").await.expect("s-e").version, 2);

    // Events that change nothing else.
    let ping = fx::event("sensor-1", "hb-1", "2026-11-24T09:00:00Z");
    assert_eq!(
        store.record_event(&ping).await.expect("record"),
        Applied::Done
    );
    assert_eq!(
        store.record_event(&ping).await.expect("record"),
        Applied::Duplicate
    );
    // After the retention period the ledger forgets.
    let later = EventRef {
        processed_at: ping.processed_at + DEFAULT_EVENT_RETENTION + SignedDuration::from_secs(1),
        ..ping.clone()
    };
    assert!(
        !store
            .is_processed("sensor-1", "hb-1", later.processed_at)
            .await
            .expect("ledger")
    );
    assert_eq!(
        store.record_event(&later).await.expect("record"),
        Applied::Done
    );
}

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
    assert!(conflict(&r), "{r:?}");
    let count = |t: &str| store.slot_count(&lot, fx::at(t));
    assert_eq!(count("2026-11-24T10:00:00+09:00").await.expect("count"), 1);
    assert_eq!(count("2026-11-24T10:15:00+09:00").await.expect("count"), 2);
    // r3 wanted 10:15 and 10:30; it took neither.
    assert_eq!(count("2026-11-24T10:30:00+09:00").await.expect("count"), 1);
    assert!(matches!(
        store.get_reservation("r3").await,
        Err(StoreError::NotFound { .. })
    ));
    // Same id twice.
    assert!(conflict(&store.reserve(&r1, &lot).await));

    let cancelled = store.cancel_reservation("r1", &lot).await.expect("cancel");
    assert_eq!(cancelled.state, ReservationState::Cancelled);
    assert_eq!(
        store.get_reservation("r1").await.expect("r1").state,
        ReservationState::Cancelled
    );
    assert!(conflict(&store.cancel_reservation("r1", &lot).await));
    assert_eq!(count("2026-11-24T10:15:00+09:00").await.expect("count"), 1);
    store.reserve(&r3, &lot).await.expect("r3 fits now");

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

pub async fn fifty_attempts_on_the_last_slot_one_wins<S: Store>(store: &S) {
    let lot = fx::lot("lot-last", 3);
    let taken: Vec<Reservation> = (0..2)
        .map(|i| {
            fx::reservation(
                &format!("held-{i}"),
                "lot-last",
                "2026-11-24T18:00:00+09:00",
                "2026-11-24T18:15:00+09:00",
            )
        })
        .collect();
    for r in &taken {
        store.reserve(r, &lot).await.expect("held");
    }
    let attempts: Vec<Reservation> = (0..50)
        .map(|i| {
            fx::reservation(
                &format!("race-{i}"),
                "lot-last",
                "2026-11-24T17:50:00+09:00",
                "2026-11-24T18:10:00+09:00",
            )
        })
        .collect();
    let results = join_all(attempts.iter().map(|r| store.reserve(r, &lot))).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| conflict(r)).count();
    assert_eq!((winners, conflicts), (1, 49), "{results:?}");
    assert_eq!(
        store
            .slot_count(&lot, fx::at("2026-11-24T18:00:00+09:00"))
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        store
            .slot_count(&lot, fx::at("2026-11-24T17:45:00+09:00"))
            .await
            .expect("count"),
        1
    );
}

pub async fn a_plate_and_a_card_belong_to_one_driver<S: Store>(store: &S) {
    let plate = fx::plate("横浜 330 ほ 1-23");
    let reg = |driver: &str| PlateRegistration {
        plate: plate.clone(),
        driver_id: driver.into(),
        registered_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.register_plate(&reg("d-1")).await.expect("register");
    store
        .register_plate(&reg("d-1"))
        .await
        .expect("again, same driver");
    assert!(conflict(&store.register_plate(&reg("d-2")).await));
    assert_eq!(
        store
            .plate_owner(&fx::plate("横浜330ほ・123"))
            .await
            .expect("owner")
            .map(|r| r.driver_id),
        Some("d-1".into())
    );
    assert_eq!(
        store
            .plate_owner(&fx::plate("ABC-123"))
            .await
            .expect("owner"),
        None
    );
    assert!(conflict(&store.unregister_plate(&plate, "d-2").await));
    store
        .unregister_plate(&plate, "d-1")
        .await
        .expect("unregister");
    assert!(matches!(
        store.unregister_plate(&plate, "d-1").await,
        Err(StoreError::NotFound { .. })
    ));
    store.register_plate(&reg("d-2")).await.expect("now d-2");
    let plates = store.driver_plates("d-2").await.expect("plates");
    assert_eq!(
        plates.iter().map(|p| p.plate.key()).collect::<Vec<_>>(),
        [plate.key()]
    );

    let card = |driver: &str| PaymentMethod {
        id: "pm-visa-4242".into(),
        driver_id: driver.into(),
        brand: "visa".into(),
        last4: "4242".into(),
        token: "tok_abc".into(),
    };
    store.add_payment_method(&card("d-1")).await.expect("card");
    store.add_payment_method(&card("d-1")).await.expect("again");
    assert!(conflict(&store.add_payment_method(&card("d-2")).await));
    assert_eq!(
        store.payment_methods("d-1").await.expect("cards"),
        [card("d-1")]
    );
    assert_eq!(store.payment_methods("d-2").await.expect("cards"), []);
}

pub async fn session_changes_are_guarded_by_state_and_version<S: Store>(store: &S) {
    let s = fx::session("s-v", "lot-v", "品川 300 さ 12-34");
    store.open_session(&s, None).await.expect("open");
    let closing = fx::next(&s, SessionState::Closing);
    assert_eq!(
        store
            .update_session((SessionState::Open, 1), &closing, None)
            .await
            .expect("ok"),
        Applied::Done
    );
    // A stale writer that read version 1 loses and overwrites nothing.
    let mut stale = fx::next(&s, SessionState::Closing);
    stale.exit_gate = Some("g-out-2".into());
    let r = store
        .update_session((SessionState::Open, 1), &stale, None)
        .await;
    assert!(conflict(&r), "{r:?}");
    let stored = store.get_session("s-v").await.expect("s-v");
    assert_eq!(
        (stored.state, stored.version, stored.exit_gate.as_deref()),
        (SessionState::Closing, 2, None)
    );
    // Illegal moves and wrong version numbers are refused before writing.
    let paid = fx::next(&stored, SessionState::Paid);
    assert!(matches!(
        store
            .update_session((SessionState::Closing, 2), &paid, None)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    let mut skip = fx::next(&stored, SessionState::Priced);
    skip.version = 7;
    assert!(matches!(
        store
            .update_session((SessionState::Closing, 2), &skip, None)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    // A session that does not exist cannot be updated.
    let ghost = fx::next(
        &fx::session("s-none", "lot-v", "ABC123"),
        SessionState::Closing,
    );
    assert!(conflict(
        &store
            .update_session((SessionState::Open, 1), &ghost, None)
            .await
    ));
}

pub async fn two_writers_on_one_session_one_wins<S: Store>(store: &S) {
    let s = fx::session("s-w", "lot-w", "品川 300 さ 12-34");
    store.open_session(&s, None).await.expect("open");
    let writers: Vec<Session> = (0..20)
        .map(|i| {
            let mut n = fx::next(&s, SessionState::Closing);
            n.exit_gate = Some(format!("g-out-{i}"));
            n
        })
        .collect();
    let results = join_all(
        writers
            .iter()
            .map(|n| store.update_session((SessionState::Open, 1), n, None)),
    )
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Ok(Applied::Done)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| conflict(r)).count(), 19);
    let stored = store.get_session("s-w").await.expect("s-w");
    assert_eq!(stored.exit_gate, writers[winners[0]].exit_gate);
    assert_eq!(stored.version, 2);
}

pub async fn payments_are_idempotent<S: Store>(store: &S) {
    let p = Payment {
        idempotency_key: "charge-s-1".into(),
        session_id: "s-1".into(),
        amount: 1500,
        currency: "JPY".into(),
        method_id: Some("pm-1".into()),
        status: PaymentStatus::Succeeded,
        created_at: fx::at("2026-11-24T11:00:00+09:00"),
    };
    assert_eq!(store.record_payment(&p).await.expect("first"), p);
    let again = Payment {
        amount: 9999,
        created_at: fx::at("2026-11-24T11:00:09+09:00"),
        ..p.clone()
    };
    assert_eq!(
        store.record_payment(&again).await.expect("second"),
        p,
        "the first record wins"
    );
    assert_eq!(store.get_payment("charge-s-1").await.expect("get"), p);
    assert!(matches!(
        store.get_payment("charge-none").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn bay_readings_never_go_back_in_sequence<S: Store>(store: &S) {
    let bay = |id: &str, occupied: bool, seq: u64| Bay {
        lot_id: "lot-b".into(),
        id: id.into(),
        occupied,
        seq,
        reported_at: fx::at("2026-11-24T09:00:00Z"),
    };
    assert_eq!(
        store
            .record_bay(&bay("b-02", true, 5), None)
            .await
            .expect("5"),
        BayOutcome::Updated
    );
    assert_eq!(
        store
            .record_bay(&bay("b-02", false, 3), None)
            .await
            .expect("3"),
        BayOutcome::Stale
    );
    assert_eq!(
        store
            .record_bay(&bay("b-02", false, 5), None)
            .await
            .expect("5 again"),
        BayOutcome::Stale
    );
    assert!(store.bays("lot-b").await.expect("bays")[0].occupied);
    let e = fx::event("sensor-b-02", "seq-6", "2026-11-24T09:01:00Z");
    assert_eq!(
        store
            .record_bay(&bay("b-02", false, 6), Some(&e))
            .await
            .expect("6"),
        BayOutcome::Updated
    );
    assert_eq!(
        store
            .record_bay(&bay("b-02", false, 6), Some(&e))
            .await
            .expect("replay"),
        BayOutcome::Duplicate
    );
    store
        .record_bay(&bay("b-01", true, 1), None)
        .await
        .expect("b-01");
    let bays = store.bays("lot-b").await.expect("bays");
    assert_eq!(
        bays.iter()
            .map(|b| (b.id.as_str(), b.occupied, b.seq))
            .collect::<Vec<_>>(),
        [("b-01", true, 1), ("b-02", false, 6)]
    );
    assert_eq!(store.bays("lot-none").await.expect("bays"), []);
}
