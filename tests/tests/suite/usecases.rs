//! The use cases on the in-memory store.

use parking_app::usecases::plates::{RegisterError, register_plate};
use parking_app::usecases::reservations::{ReserveError, ReserveRequest, cancel, reserve};
use parking_app::*;
use parking_aws::MemoryStore;
use parking_tests::fx::{self, id};

fn clock() -> FixedClock {
    FixedClock(fx::at("2026-11-24T09:00:00+09:00"))
}

#[tokio::test]
async fn a_driver_registers_a_plate_once() {
    let store = MemoryStore::default();
    let driver = Driver {
        id: id("d-1"),
        name: "Hanako".into(),
        created_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.put_driver(&driver).await.expect("driver");
    let reg = register_plate(&store, &clock(), &driver.id, "品川 300 さ 12-34")
        .await
        .expect("register");
    assert_eq!(reg.plate, fx::plate("品川300さ1234"));
    assert!(
        register_plate(&store, &clock(), &driver.id, "品川３００さ１２３４")
            .await
            .is_ok(),
        "again, in another spelling"
    );
    assert!(matches!(
        register_plate(&store, &clock(), &driver.id, "品川 300 さ 12345").await,
        Err(RegisterError::BadPlate(_))
    ));
    assert!(matches!(
        register_plate(&store, &clock(), &id("d-9"), "練馬 500 な 88-88").await,
        Err(RegisterError::UnknownDriver(_))
    ));
    store
        .put_driver(&Driver {
            id: id("d-2"),
            ..driver.clone()
        })
        .await
        .expect("driver");
    assert!(matches!(
        register_plate(&store, &clock(), &id("d-2"), "品川 300 さ 12-34").await,
        Err(RegisterError::PlateTaken)
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
