//! Lots: records round trip, bay readings never go back, and the
//! occupancy summary follows every reading exactly.

use super::*;

pub async fn records_round_trip<S: Store>(store: &S) {
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
}

pub async fn bay_readings_never_go_back_in_sequence<S: Store>(store: &S) {
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
pub async fn occupancy_follows_every_reading_exactly<S: LotStore>(store: &S) {
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

pub async fn a_rebooted_sensor_is_believed_again<S: Store>(store: &S) {
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
