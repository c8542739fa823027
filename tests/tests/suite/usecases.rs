//! The use cases on the in-memory store.

use parking_app::usecases::plates::{PlateStatus, RegisterError, claim_plate};
use parking_app::usecases::reservations::{ReserveError, ReserveRequest, cancel, reserve};
use parking_app::*;
use parking_aws::MemoryStore;
use parking_tests::fx::{self, id};

fn clock() -> FixedClock {
    FixedClock(fx::at("2026-11-24T09:00:00+09:00"))
}

#[tokio::test]
async fn a_driver_claims_a_plate_once_and_a_second_claim_waits_for_staff() {
    let store = MemoryStore::default();
    let driver = Driver {
        id: id("d-1"),
        name: "Hanako".into(),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.put_driver(&driver).await.expect("driver");
    let first = claim_plate(&store, &clock(), &driver.id, "品川 300 さ 12-34")
        .await
        .expect("claim");
    assert_eq!(first.plate, fx::plate("品川300さ1234"));
    assert_eq!(first.status, PlateStatus::Pending);
    assert_eq!(
        claim_plate(&store, &clock(), &driver.id, "品川３００さ１２３４")
            .await
            .expect("again, in another spelling"),
        first
    );
    assert!(matches!(
        claim_plate(&store, &clock(), &driver.id, "品川 300 さ 12345").await,
        Err(RegisterError::BadPlate(_))
    ));
    assert!(matches!(
        claim_plate(&store, &clock(), &id("d-9"), "練馬 500 な 88-88").await,
        Err(RegisterError::UnknownDriver(_))
    ));
    assert_eq!(store.plate_owner(&first.plate).await.expect("owner"), None);
    // A plate proven by another driver: the claim is answered the same,
    // and waits for staff.
    store
        .register_plate(&PlateRegistration {
            plate: fx::plate("練馬500な8888"),
            driver_id: id("d-2"),
            registered_at: fx::at("2026-11-01T00:00:00Z"),
        })
        .await
        .expect("proven");
    let second = claim_plate(&store, &clock(), &driver.id, "練馬 500 な 88-88")
        .await
        .expect("claim");
    assert_eq!(second.status, PlateStatus::Pending);
    let claims = store
        .plate_claims(&second.plate)
        .await
        .expect("claims")
        .expect("kept");
    assert!(claims.in_review(clock().now()) && !claims.wants_code(clock().now()));
    for i in 0..3 {
        claim_plate(
            &store,
            &clock(),
            &driver.id,
            &format!("品川 300 さ 12-{:02}", 40 + i),
        )
        .await
        .expect("claim");
    }
    assert!(matches!(
        claim_plate(&store, &clock(), &driver.id, "品川 300 さ 12-99").await,
        Err(RegisterError::TooManyPending)
    ));
}

#[tokio::test]
async fn a_reservation_reads_the_lot_and_follows_its_changes() {
    let store = MemoryStore::default();
    let lot = fx::lot("lot-u", 1);
    store.put_lot(&lot).await.expect("lot");
    let request = |i: u32| ReserveRequest {
        id: id(&format!("r-{i}")),
        lot_id: id("lot-u"),
        driver_id: id("d-1"),
        plate: fx::plate("品川 300 さ 12-34"),
        start: fx::at("2026-11-24T10:00:00+09:00"),
        end: fx::at("2026-11-24T11:00:00+09:00"),
    };
    let r = reserve(&store, &request(1)).await.expect("reserve");
    assert_eq!((r.slot_minutes, r.state), (15, ReservationState::Active));
    assert_eq!(reserve(&store, &request(1)).await.expect("again"), r);
    assert!(matches!(
        reserve(&store, &request(2)).await,
        Err(ReserveError::Full { .. })
    ));
    // The operator moves to hour slots with more room; the next
    // reservation is made on the new terms.
    let hours = Lot {
        slot_minutes: 60,
        reservable: 2,
        ..lot.clone()
    };
    store.put_lot(&hours).await.expect("lot");
    let r2 = reserve(&store, &request(2)).await.expect("new terms");
    assert_eq!(r2.slot_minutes, 60);
    // Cancelling frees the first reservation's quarter hours, not the
    // hour the second one holds.
    cancel(&store, &r.id).await.expect("cancel");
    assert_eq!(
        parking_tests::slot_taken(&store, &hours, fx::at("2026-11-24T10:15:00+09:00")).await,
        1
    );
    assert!(matches!(
        cancel(&store, &id("r-none")).await,
        Err(ReserveError::UnknownReservation(_))
    ));
    assert!(matches!(
        reserve(
            &store,
            &ReserveRequest {
                lot_id: id("lot-none"),
                ..request(3)
            }
        )
        .await,
        Err(ReserveError::UnknownLot(_))
    ));
}

/// A lot whose tariff adds its tax on top: the fee already holds the tax,
/// and the receipt shows the tax within it, once.
#[tokio::test]
async fn a_receipt_shows_tax_added_on_top_once() {
    use crate::devices::{AIKO, read, scenario, t};
    use parking_app::scenario::set_up;
    use parking_app::usecases::device_events::DeviceEvents;
    use parking_app::usecases::trips::receipt;
    use parking_core::Tax;

    let mut sc = scenario();
    sc.tariff.tax = Some(Tax {
        rate_bp: 1000,
        inclusive: false,
    });
    let store = MemoryStore::default();
    set_up(&store, &sc, t("08:00:00")).await.expect("set up");
    let events = DeviceEvents::new(
        store.clone(),
        parking_aws::MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    for (gate, event, at) in [("g-in", "in-1", "09:00:00"), ("g-out", "out-1", "11:00:00")] {
        let m = read(gate, event, AIKO, 0.97, t(at), None);
        events
            .handle(
                &serde_json::to_vec(&m).expect("json"),
                t(at) + jiff::SignedDuration::from_secs(1),
            )
            .await
            .expect("handled");
    }
    let s = store
        .lot_sessions(&crate::devices::LOT.parse().expect("lot"))
        .await
        .expect("sessions")
        .into_iter()
        .find(|s| s.exit_at.is_some())
        .expect("a stay");
    let fee = s.fee.expect("priced").minor;
    let driver = s.driver_id.clone().expect("registered");
    let r = receipt(&store, &driver, &s.id).await.expect("receipt");
    assert_eq!(r.amount, fee, "the fee, not the fee and its tax again");
    let line = &r.tax_lines[0];
    assert_eq!(line.amount, fee);
    // The fee is a pre-tax price plus 10 % of it, rounded down.
    let base = fee - line.tax;
    assert_eq!(base + base / 10, fee, "{base} + tax {} = {fee}", line.tax);
}
