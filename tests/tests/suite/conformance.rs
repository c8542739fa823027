//! The store conformance suite: written once, run against the in-memory
//! store and against DynamoDB (moto server). Refusals are matched on their
//! rule ([`Refusal`]), never on text.

use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use parking_app::rules::{DEFAULT_EVENT_RETENTION, SENSOR_RESTART_GAP};
use parking_app::*;
use parking_core::SessionState;
use parking_tests::fx::{self, id};

fn refusal<T: std::fmt::Debug>(r: &StoreResult<T>) -> Option<&Refusal> {
    match r {
        Err(StoreError::Conflict(rule)) => Some(rule),
        _ => None,
    }
}

fn lot_id(s: &str) -> LotId {
    id(s)
}

pub async fn records_round_trip<S: RecordStore>(store: &S) {
    let lot = fx::lot("lot-a", 5);
    store.put_lot(&lot).await.expect("put lot");
    assert_eq!(store.get_lot(&lot_id("lot-a")).await.expect("get lot"), lot);
    assert!(matches!(
        store.get_lot(&lot_id("lot-z")).await,
        Err(StoreError::NotFound { .. })
    ));

    let gate = Gate {
        lot_id: id("lot-a"),
        id: id("g-in-1"),
        direction: GateDirection::Entry,
        camera_id: id("cam-1"),
    };
    store.put_gate(&gate).await.expect("put gate");
    assert_eq!(
        store
            .get_gate(&id("lot-a"), &id("g-in-1"))
            .await
            .expect("gate"),
        gate
    );
    let device = Device {
        id: id("cam-1"),
        lot_id: id("lot-a"),
        kind: DeviceKind::Camera,
        gate_id: Some(id("g-in-1")),
        bay_id: None,
        presence: None,
    };
    store.put_device(&device).await.expect("put device");
    assert_eq!(
        store.get_device(&id("cam-1")).await.expect("device"),
        device
    );
    assert!(matches!(
        store.get_device(&id("cam-9")).await,
        Err(StoreError::NotFound { .. })
    ));

    let driver = Driver {
        id: id("d-1"),
        name: "Hanako".into(),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.put_driver(&driver).await.expect("put driver");
    assert_eq!(store.get_driver(&id("d-1")).await.expect("driver"), driver);

    let mut s = fx::session("s-rt", "lot-a", "品川 300 さ 12-34");
    s.fee = Some(fx::yen(1500));
    s.driver_id = Some(id("d-1"));
    store.open_session(&s, None).await.expect("open");
    assert_eq!(store.get_session(&id("s-rt")).await.expect("session"), s);
}

pub async fn one_open_session_per_plate_and_lot<S: RecordStore>(store: &S) {
    let a = fx::session("s-a", "lot-a", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&a, None).await.expect("open"),
        Applied::Done
    );
    // The same plate spelled differently is the same plate.
    let b = fx::session("s-b", "lot-a", "品川３００さ１２３４");
    let r = store.open_session(&b, None).await;
    assert!(
        matches!(refusal(&r), Some(Refusal::PlateHasOpenSession { lot_id }) if lot_id.as_str() == "lot-a"),
        "{r:?}"
    );
    assert!(
        matches!(
            store.get_session(&id("s-b")).await,
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
    // The same id for another session is refused.
    let reused = fx::session("s-c", "lot-c", "練馬 500 な 88-88");
    assert_eq!(
        refusal(&store.open_session(&reused, None).await),
        Some(&Refusal::SessionExists {
            session_id: id("s-c")
        })
    );

    let open = store
        .open_session_for(&id("lot-a"), &fx::plate("品川300さ12-34"))
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
        .open_session_for(&id("lot-a"), &a.plate)
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
            .open_session_for(&id("lot-a"), &a.plate)
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store.open_session(&b, None).await.expect("re-enter"),
        Applied::Done
    );
    assert_eq!(
        store.get_session(&id("s-a")).await.expect("s-a").state,
        SessionState::Priced
    );
}

pub async fn the_same_plate_at_two_gates_opens_once<S: RecordStore>(store: &S) {
    let attempts: Vec<Session> = (0..20)
        .map(|i| {
            let mut s = fx::session(&format!("s-race-{i}"), "lot-r", "足立 500 あ ・・12");
            s.entry_gate = id(&format!("g-in-{}", i % 2));
            s
        })
        .collect();
    let results = join_all(attempts.iter().map(|s| store.open_session(s, None))).await;
    let winners: Vec<usize> = (0..results.len())
        .filter(|&i| matches!(results[i], Ok(Applied::Done)))
        .collect();
    let refused = results
        .iter()
        .filter(|r| matches!(refusal(r), Some(Refusal::PlateHasOpenSession { .. })))
        .count();
    assert_eq!((winners.len(), refused), (1, 19), "{results:?}");
    // The open session is the winner's, whole; no loser left a session.
    let winner = &attempts[winners[0]];
    let open = store
        .open_session_for(&id("lot-r"), &fx::plate("足立500あ12"))
        .await
        .expect("lookup");
    assert_eq!(open.as_ref(), Some(winner));
    assert_eq!(
        &store.get_session(&winner.id).await.expect("winner"),
        winner
    );
    for (i, s) in attempts.iter().enumerate() {
        if i != winners[0] {
            assert!(matches!(
                store.get_session(&s.id).await,
                Err(StoreError::NotFound { .. })
            ));
        }
    }
}

pub async fn device_events_are_processed_at_most_once<S: RecordStore>(store: &S) {
    let e = fx::event("cam-1", "evt-1", "2026-11-24T09:00:05+09:00");
    let s = fx::session("s-e", "lot-e", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&s, Some(&e)).await.expect("open"),
        Applied::Done
    );
    // The very same write again (a retry after a lost answer) is its own
    // success, not a duplicate and not a conflict.
    assert_eq!(
        store.open_session(&s, Some(&e)).await.expect("retry"),
        Applied::Done
    );
    // The event redelivered later, processed at another time: a duplicate.
    let redelivered = EventRef {
        processed_at: e.processed_at + SignedDuration::from_secs(30),
        ..e.clone()
    };
    assert_eq!(
        store
            .open_session(&s, Some(&redelivered))
            .await
            .expect("redelivery"),
        Applied::Duplicate
    );
    // A replay that would open a different session changes nothing either.
    let other = fx::session("s-e2", "lot-e2", "練馬 500 な 88-88");
    assert_eq!(
        store.open_session(&other, Some(&e)).await.expect("replay"),
        Applied::Duplicate
    );
    assert!(matches!(
        store.get_session(&id("s-e2")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .is_processed(&id("cam-1"), &id("evt-1"), e.processed_at)
            .await
            .expect("ledger")
    );
    assert!(
        !store
            .is_processed(&id("cam-1"), &id("evt-2"), e.processed_at)
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
    let mut other_close = closing.clone();
    other_close.exit_gate = Some(id("g-out-9"));
    assert_eq!(
        store
            .update_session((SessionState::Open, 1), &other_close, Some(&e2))
            .await
            .expect("replay"),
        Applied::Duplicate
    );
    assert_eq!(store.get_session(&id("s-e")).await.expect("s-e"), closing);

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

pub async fn a_refused_change_records_no_event<S: RecordStore>(store: &S) {
    let a = fx::session("s-held", "lot-x", "品川 300 さ 12-34");
    store.open_session(&a, None).await.expect("open");
    // Refused: the plate is held. The event must not be remembered, or its
    // retry after the cause is fixed would be dropped as a duplicate.
    let e = fx::event("cam-1", "evt-refused", "2026-11-24T09:10:00+09:00");
    let b = fx::session("s-second", "lot-x", "品川 300 さ 12-34");
    let r = store.open_session(&b, Some(&e)).await;
    assert!(
        matches!(refusal(&r), Some(Refusal::PlateHasOpenSession { .. })),
        "{r:?}"
    );
    assert!(
        !store
            .is_processed(&e.device_id, &e.event_id, e.processed_at)
            .await
            .expect("ledger")
    );
    // Refused: a stale writer.
    let e2 = fx::event("cam-2", "evt-stale", "2026-11-24T09:20:00+09:00");
    let stale = fx::next(&fx::next(&a, SessionState::Closing), SessionState::Priced);
    let r = store
        .update_session((SessionState::Closing, 2), &stale, Some(&e2))
        .await;
    assert!(
        matches!(refusal(&r), Some(Refusal::StaleSession { .. })),
        "{r:?}"
    );
    assert!(
        !store
            .is_processed(&e2.device_id, &e2.event_id, e2.processed_at)
            .await
            .expect("ledger")
    );
    // Invalid before writing: nothing remembered either.
    let e3 = fx::event("cam-3", "evt-invalid", "2026-11-24T09:30:00+09:00");
    let mut skip = fx::next(&a, SessionState::Closing);
    skip.version = 9;
    assert!(matches!(
        store
            .update_session((SessionState::Open, 1), &skip, Some(&e3))
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(
        !store
            .is_processed(&e3.device_id, &e3.event_id, e3.processed_at)
            .await
            .expect("ledger")
    );
}

pub async fn the_ledger_forgets_at_the_expiry_second<S: RecordStore>(store: &S) {
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

pub async fn repeating_a_write_reports_the_callers_own_success<S: RecordStore>(store: &S) {
    let s = fx::session("s-again", "lot-g", "品川 300 さ 12-34");
    assert_eq!(
        store.open_session(&s, None).await.expect("open"),
        Applied::Done
    );
    assert_eq!(
        store.open_session(&s, None).await.expect("again"),
        Applied::Done
    );
    let closing = fx::next(&s, SessionState::Closing);
    for _ in 0..2 {
        assert_eq!(
            store
                .update_session((SessionState::Open, 1), &closing, None)
                .await
                .expect("update"),
            Applied::Done
        );
    }
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
        store
            .slot_count(&lot, fx::at("2026-11-24T10:15:00+09:00"))
            .await
            .expect("count"),
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
        store
            .slot_count(&lot, fx::at("2026-11-24T10:15:00+09:00"))
            .await
            .expect("count"),
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

pub async fn reservations_never_oversell<S: RecordStore>(store: &S) {
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
    let count = |t: &str| store.slot_count(&lot, fx::at(t));
    assert_eq!(count("2026-11-24T10:00:00+09:00").await.expect("count"), 1);
    assert_eq!(count("2026-11-24T10:15:00+09:00").await.expect("count"), 2);
    // r3 wanted 10:15 and 10:30; it took neither.
    assert_eq!(count("2026-11-24T10:30:00+09:00").await.expect("count"), 1);
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
    assert_eq!(count("2026-11-24T10:15:00+09:00").await.expect("count"), 1);
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

pub async fn reservations_follow_the_stored_lot<S: RecordStore>(store: &S) {
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
        store
            .slot_count(&lowered, fx::at("2026-11-24T18:00:00+09:00"))
            .await
            .expect("count"),
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
    for t in ["2026-11-24T10:00:00+09:00", "2026-11-24T10:15:00+09:00"] {
        assert_eq!(
            store.slot_count(&fifteen, fx::at(t)).await.expect("count"),
            0,
            "{t}"
        );
    }
    assert_eq!(
        store
            .slot_count(&sixty, fx::at("2026-11-24T10:00:00+09:00"))
            .await
            .expect("count"),
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

pub async fn a_lot_with_no_reservable_bays_takes_no_reservation<S: RecordStore>(store: &S) {
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
        store.slot_count(&lot, r.start).await.expect("count"),
        0,
        "nothing taken"
    );
}

pub async fn fifty_attempts_on_the_last_slot_one_wins<S: RecordStore>(store: &S) {
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

pub async fn a_plate_and_a_card_belong_to_one_driver<S: RecordStore>(store: &S) {
    let plate = fx::plate("横浜 330 ほ 1-23");
    let reg = |driver: &str, at: &str| PlateRegistration {
        plate: plate.clone(),
        driver_id: id(driver),
        registered_at: fx::at(at),
    };
    let first = reg("d-1", "2026-11-01T00:00:00Z");
    store.register_plate(&first).await.expect("register");
    store
        .register_plate(&reg("d-1", "2026-11-05T00:00:00Z"))
        .await
        .expect("again, same driver");
    assert_eq!(
        store.plate_owner(&plate).await.expect("owner"),
        Some(first.clone()),
        "registering again keeps the first registration"
    );
    assert_eq!(
        refusal(
            &store
                .register_plate(&reg("d-2", "2026-11-02T00:00:00Z"))
                .await
        ),
        Some(&Refusal::PlateRegisteredToAnother)
    );
    assert_eq!(
        store
            .plate_owner(&fx::plate("横浜330ほ・123"))
            .await
            .expect("owner")
            .map(|r| r.driver_id),
        Some(id("d-1"))
    );
    assert_eq!(
        store
            .plate_owner(&fx::plate("ABC-123"))
            .await
            .expect("owner"),
        None
    );
    // Listing right after writing sees the write.
    assert_eq!(
        store.driver_plates(&id("d-1")).await.expect("plates"),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        refusal(&store.unregister_plate(&plate, &id("d-2")).await),
        Some(&Refusal::PlateRegisteredToAnother)
    );
    store
        .unregister_plate(&plate, &id("d-1"))
        .await
        .expect("unregister");
    // Releasing it again (a retry whose answer was lost) succeeds.
    store
        .unregister_plate(&plate, &id("d-1"))
        .await
        .expect("already released");
    assert_eq!(store.driver_plates(&id("d-1")).await.expect("plates"), []);
    let second = reg("d-2", "2026-11-03T00:00:00Z");
    store.register_plate(&second).await.expect("now d-2");
    assert_eq!(
        store.driver_plates(&id("d-2")).await.expect("plates"),
        [second]
    );

    let card = |driver: &str| PaymentMethod {
        id: id("pm-visa-4242"),
        driver_id: id(driver),
        brand: "visa".into(),
        last4: "4242".into(),
        token: PaymentToken::new("tok_abc"),
        customer: None,
    };
    store.add_payment_method(&card("d-1")).await.expect("card");
    store.add_payment_method(&card("d-1")).await.expect("again");
    assert_eq!(
        refusal(&store.add_payment_method(&card("d-2")).await),
        Some(&Refusal::PaymentMethodOfAnother {
            method_id: id("pm-visa-4242")
        })
    );
    assert_eq!(
        store.payment_methods(&id("d-1")).await.expect("cards"),
        [card("d-1")]
    );
    assert_eq!(store.payment_methods(&id("d-2")).await.expect("cards"), []);
}

pub async fn session_changes_are_guarded_by_state_and_version<S: RecordStore>(store: &S) {
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
    stale.exit_gate = Some(id("g-out-2"));
    let r = store
        .update_session((SessionState::Open, 1), &stale, None)
        .await;
    assert_eq!(
        refusal(&r),
        Some(&Refusal::StaleSession {
            session_id: id("s-v"),
            state: SessionState::Open,
            version: 1
        })
    );
    let stored = store.get_session(&id("s-v")).await.expect("s-v");
    assert_eq!(stored, closing);
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
    assert!(matches!(
        refusal(
            &store
                .update_session((SessionState::Open, 1), &ghost, None)
                .await
        ),
        Some(Refusal::StaleSession { .. })
    ));
}

pub async fn a_sessions_identity_never_changes<S: RecordStore>(store: &S) {
    let s = fx::session("s-id", "lot-i", "品川 300 さ 12-34");
    store.open_session(&s, None).await.expect("open");
    let moved_plate = Session {
        plate: fx::plate("練馬 500 な 88-88"),
        ..fx::next(&s, SessionState::Closing)
    };
    let moved_lot = Session {
        lot_id: id("lot-j"),
        ..fx::next(&s, SessionState::Closing)
    };
    let moved_entry = Session {
        entry_at: fx::at("2026-11-24T08:00:00+09:00"),
        ..fx::next(&s, SessionState::Closing)
    };
    for next in [&moved_plate, &moved_lot, &moved_entry] {
        let r = store
            .update_session((SessionState::Open, 1), next, None)
            .await;
        assert!(matches!(r, Err(StoreError::Invalid { .. })), "{r:?}");
    }
    assert_eq!(store.get_session(&id("s-id")).await.expect("s-id"), s);
    // The open-session invariant still holds: the plate is held by s-id,
    // the other plate by nobody.
    assert!(
        store
            .open_session_for(&id("lot-i"), &s.plate)
            .await
            .expect("lookup")
            .is_some()
    );
    assert_eq!(
        store
            .open_session_for(&id("lot-i"), &moved_plate.plate)
            .await
            .expect("lookup"),
        None
    );

    // A plate correction is its own atomic write and moves the hold.
    let corrected_at = fx::at("2026-11-24T09:05:00+09:00");
    let right = fx::plate("練馬 500 な 88-88");
    assert_eq!(
        store
            .correct_plate(&s, &right, corrected_at, None)
            .await
            .expect("correct"),
        Applied::Done
    );
    let now = store.get_session(&id("s-id")).await.expect("s-id");
    assert_eq!(
        (now.plate.key(), now.version, now.updated_at),
        (right.key(), 2, corrected_at)
    );
    assert_eq!(
        store
            .open_session_for(&id("lot-i"), &s.plate)
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store
            .open_session_for(&id("lot-i"), &right)
            .await
            .expect("lookup"),
        Some(now.clone())
    );
    // Repeating the same correction is its own success; a correction from
    // a stale read is refused; a plate already open elsewhere is refused.
    assert_eq!(
        store
            .correct_plate(&s, &right, corrected_at, None)
            .await
            .expect("again"),
        Applied::Done
    );
    let r = store
        .correct_plate(&s, &fx::plate("ABC123"), corrected_at, None)
        .await;
    assert!(
        matches!(refusal(&r), Some(Refusal::StaleSession { .. })),
        "{r:?}"
    );
    // A caller's copy with another identity at the stored version is not
    // the stored session: refused, nothing moves.
    let forged = Session {
        lot_id: id("lot-elsewhere"),
        ..now.clone()
    };
    let r = store
        .correct_plate(&forged, &fx::plate("ABC123"), corrected_at, None)
        .await;
    assert!(
        matches!(refusal(&r), Some(Refusal::StaleSession { .. })),
        "{r:?}"
    );
    assert_eq!(store.get_session(&id("s-id")).await.expect("s-id"), now);
    let other = fx::session("s-id-2", "lot-i", "ABC123");
    store.open_session(&other, None).await.expect("other");
    let r = store
        .correct_plate(&now, &fx::plate("ABC123"), corrected_at, None)
        .await;
    assert!(
        matches!(refusal(&r), Some(Refusal::PlateHasOpenSession { .. })),
        "{r:?}"
    );
    assert_eq!(store.get_session(&id("s-id")).await.expect("s-id"), now);
}

pub async fn two_writers_on_one_session_one_wins<S: RecordStore>(store: &S) {
    let s = fx::session("s-w", "lot-w", "品川 300 さ 12-34");
    store.open_session(&s, None).await.expect("open");
    let writers: Vec<Session> = (0..20)
        .map(|i| {
            let mut n = fx::next(&s, SessionState::Closing);
            n.exit_gate = Some(id(&format!("g-out-{i}")));
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
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(refusal(r), Some(Refusal::StaleSession { .. })))
            .count(),
        19
    );
    let stored = store.get_session(&id("s-w")).await.expect("s-w");
    assert_eq!(stored, writers[winners[0]]);
    let hold = store
        .open_session_for(&id("lot-w"), &s.plate)
        .await
        .expect("hold");
    assert_eq!(hold, Some(stored));
}

pub async fn payments_are_idempotent<S: RecordStore>(store: &S) {
    let p = fx::payment("charge-s-1", 1500);
    assert_eq!(store.record_payment(&p).await.expect("first"), p);
    // The same payment again, later and reported differently: the first
    // record stands.
    let again = Payment {
        created_at: fx::at("2026-11-24T11:00:09+09:00"),
        status: PaymentStatus::Failed,
        ..p.clone()
    };
    assert_eq!(
        store.record_payment(&again).await.expect("second"),
        p,
        "the first record wins"
    );
    // Another amount, session or method under the same key is refused.
    for other in [
        Payment {
            amount: fx::yen(9999),
            ..p.clone()
        },
        Payment {
            session_id: id("s-2"),
            ..p.clone()
        },
        Payment {
            method_id: None,
            ..p.clone()
        },
    ] {
        assert_eq!(
            refusal(&store.record_payment(&other).await),
            Some(&Refusal::PaymentKeyReused {
                key: id("charge-s-1")
            })
        );
    }
    assert_eq!(store.get_payment(&id("charge-s-1")).await.expect("get"), p);
    assert!(matches!(
        store.get_payment(&id("charge-none")).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn bay_readings_never_go_back_in_sequence<S: RecordStore>(store: &S) {
    let t0 = "2026-11-24T09:00:00Z";
    assert_eq!(
        store
            .record_bay(&fx::bay("b-02", true, 0, 5, t0), None)
            .await
            .expect("5"),
        BayOutcome::Updated
    );
    assert_eq!(
        store
            .record_bay(&fx::bay("b-02", false, 0, 3, t0), None)
            .await
            .expect("3"),
        BayOutcome::Stale
    );
    assert_eq!(
        store
            .record_bay(&fx::bay("b-02", false, 0, 5, t0), None)
            .await
            .expect("5 again"),
        BayOutcome::Stale
    );
    assert_eq!(
        store.bays(&id("lot-b")).await.expect("bays")[0].occupied,
        Some(true)
    );
    let e = fx::event("sensor-b-02", "seq-6", "2026-11-24T09:01:00Z");
    let six = fx::bay("b-02", false, 0, 6, "2026-11-24T09:01:00Z");
    assert_eq!(
        store.record_bay(&six, Some(&e)).await.expect("6"),
        BayOutcome::Updated
    );
    let e_later = EventRef {
        processed_at: e.processed_at + SignedDuration::from_secs(5),
        ..e.clone()
    };
    assert_eq!(
        store
            .record_bay(&six, Some(&e_later))
            .await
            .expect("replay"),
        BayOutcome::Duplicate
    );
    store
        .record_bay(&fx::bay("b-01", true, 0, 1, t0), None)
        .await
        .expect("b-01");
    let bays = store.bays(&id("lot-b")).await.expect("bays");
    assert_eq!(
        bays.iter()
            .map(|b| (b.id.as_str(), b.occupied, b.seq))
            .collect::<Vec<_>>(),
        [("b-01", Some(true), 1), ("b-02", Some(false), 6)]
    );
    assert_eq!(store.bays(&id("lot-none")).await.expect("bays"), []);
}

/// The lot's occupancy summary is exactly what its bays say, whatever
/// the order, repeats and staleness of the readings: each reading moves
/// its bay in the summary in the same write that keeps it.
pub async fn occupancy_follows_every_reading_exactly<S: RecordStore + DeviceStore>(store: &S) {
    let lot = fx::lot("lot-b", 0);
    let t0 = fx::at("2026-11-24T09:00:00Z").as_second();
    // A fixed-seed generator: the same readings on every run.
    let mut seed: u64 = 0x05ee_d0cc;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut sent: Vec<(Bay, EventRef)> = Vec::new();
    for i in 0..240u64 {
        let repeat = !sent.is_empty() && next(5) == 0;
        let (bay, event) = if repeat {
            // A reading delivered again, or sent again under a new event.
            let (bay, event) = sent[next(sent.len() as u64) as usize].clone();
            let event = if next(2) == 0 {
                event
            } else {
                fx::event("sensor", &format!("again-{i}"), "2026-11-24T09:00:00Z")
            };
            (bay, event)
        } else {
            let mut bay = fx::bay(
                &format!("b-{:02}", next(24)),
                true,
                0,
                next(40),
                &Timestamp::from_second(t0 + i as i64)
                    .expect("time")
                    .to_string(),
            );
            bay.occupied = match next(3) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            let event = fx::event("sensor", &format!("r-{i}"), "2026-11-24T09:00:00Z");
            (bay, event)
        };
        store
            .record_bay(&bay, Some(&event))
            .await
            .expect("a reading");
        sent.push((bay, event));
        if i % 60 == 59 {
            let bays = store.bays(&lot.id).await.expect("bays");
            let occupancy = store
                .occupancy(&lot, fx::at("2026-11-24T10:00:00Z"))
                .await
                .expect("occupancy");
            let free: Vec<BayId> = bays
                .iter()
                .filter(|b| b.occupied == Some(false))
                .map(|b| b.id.clone())
                .collect();
            let occupied = bays.iter().filter(|b| b.occupied == Some(true)).count();
            assert_eq!(occupancy.free, free, "after {} readings", i + 1);
            assert_eq!(
                occupancy.occupied as usize,
                occupied,
                "after {} readings",
                i + 1
            );
            assert!(occupied > 0 && !free.is_empty(), "both kinds of bay");
        }
    }
}

pub async fn a_rebooted_sensor_is_believed_again<S: RecordStore>(store: &S) {
    let t = |s: i64| {
        Timestamp::from_second(fx::at("2026-11-24T09:00:00Z").as_second() + s)
            .expect("time")
            .to_string()
    };
    store
        .record_bay(&fx::bay("b-09", true, 1, 900, &t(0)), None)
        .await
        .expect("before the reboot");
    // With a boot epoch: the first reading after the restart wins.
    assert_eq!(
        store
            .record_bay(&fx::bay("b-09", false, 2, 0, &t(30)), None)
            .await
            .expect("after"),
        BayOutcome::Updated
    );
    // A late reading from before the reboot never wins again.
    assert_eq!(
        store
            .record_bay(&fx::bay("b-09", true, 1, 901, &t(10)), None)
            .await
            .expect("late"),
        BayOutcome::Stale
    );
    // Without an epoch: counting from 0 again is believed once the reading
    // is more than the restart gap newer, never before.
    store
        .record_bay(&fx::bay("b-10", true, 0, 900, &t(0)), None)
        .await
        .expect("before");
    assert_eq!(
        store
            .record_bay(&fx::bay("b-10", false, 0, 0, &t(60)), None)
            .await
            .expect("soon after"),
        BayOutcome::Stale
    );
    let gap = SENSOR_RESTART_GAP.as_secs();
    assert_eq!(
        store
            .record_bay(&fx::bay("b-10", false, 0, 1, &t(gap + 1)), None)
            .await
            .expect("past the gap"),
        BayOutcome::Updated
    );
    assert_eq!(
        store
            .record_bay(&fx::bay("b-10", true, 0, 2, &t(gap + 2)), None)
            .await
            .expect("counting on"),
        BayOutcome::Updated
    );
    let bays = store.bays(&id("lot-b")).await.expect("bays");
    let state: Vec<(&str, Option<bool>, u64, u64)> = bays
        .iter()
        .map(|b| (b.id.as_str(), b.occupied, b.boot, b.seq))
        .collect();
    assert_eq!(
        state,
        [("b-09", Some(false), 2, 0), ("b-10", Some(true), 0, 2)]
    );
}

/// Every refusal and not-found a store gives around a plate, checked for
/// the plate's text and key in its message and its `Debug` form.
pub async fn store_errors_never_show_a_plate<S: RecordStore>(store: &S) {
    let text = "品川 300 さ 12-34";
    let plate = fx::plate(text);
    let s = fx::session("s-pii", "lot-p", text);
    store.open_session(&s, None).await.expect("open");
    let reg = PlateRegistration {
        plate: plate.clone(),
        driver_id: id("d-1"),
        registered_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.register_plate(&reg).await.expect("register");
    let mut errors: Vec<StoreError> = Vec::new();
    let twin = fx::session("s-pii-2", "lot-p", text);
    errors.extend(store.open_session(&twin, None).await.err());
    errors.extend(
        store
            .register_plate(&PlateRegistration {
                driver_id: id("d-2"),
                ..reg.clone()
            })
            .await
            .err(),
    );
    errors.extend(store.unregister_plate(&plate, &id("d-2")).await.err());
    let moved = Session {
        plate: fx::plate("練馬 500 な 88-88"),
        ..fx::next(&s, SessionState::Closing)
    };
    errors.extend(
        store
            .update_session((SessionState::Open, 1), &moved, None)
            .await
            .err(),
    );
    errors.extend(
        store
            .update_session(
                (SessionState::Open, 7),
                &fx::next(&fx::next(&s, SessionState::Closing), SessionState::Priced),
                None,
            )
            .await
            .err(),
    );
    errors.extend(
        store
            .correct_plate(&s, &plate, fx::at("2026-11-24T10:00:00Z"), None)
            .await
            .err(),
    );
    let card = PaymentMethod {
        id: id("pm-pii"),
        driver_id: id("d-1"),
        brand: "visa".into(),
        last4: "4242".into(),
        token: PaymentToken::new("tok_secret_4242"),
        customer: None,
    };
    store.add_payment_method(&card).await.expect("card");
    errors.extend(
        store
            .add_payment_method(&PaymentMethod {
                driver_id: id("d-2"),
                ..card.clone()
            })
            .await
            .err(),
    );
    assert_eq!(errors.len(), 7, "{errors:?}");
    for shown in [
        format!("{card:?}"),
        format!("{:?}", store.payment_methods(&id("d-1")).await),
    ] {
        assert!(!shown.contains("tok_secret"), "{shown}");
    }
    let other = fx::plate("練馬 500 な 88-88");
    let secrets = [
        "品川".to_owned(),
        "練馬".to_owned(),
        "1234".to_owned(),
        "8888".to_owned(),
        plate.key(),
        other.key(),
        plate.display(),
        other.display(),
    ];
    for e in &errors {
        for shown in [e.to_string(), format!("{e:?}")] {
            for secret in &secrets {
                assert!(!shown.contains(secret.as_str()), "{shown:?} shows a plate");
            }
            assert!(!shown.contains("tok_secret"), "{shown:?} shows a token");
        }
    }
}
