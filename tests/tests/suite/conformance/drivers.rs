//! Drivers: a plate and a card belong to one driver.

use super::*;

pub async fn a_plate_and_a_card_belong_to_one_driver<S: Store>(store: &S) {
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

/// Every refusal and not-found a store gives around a plate, checked for
/// the plate's text and key in its message and its `Debug` form.
pub async fn store_errors_never_show_a_plate<S: Store>(store: &S) {
    let text = "品川 300 さ 12-34";
    let plate = fx::plate(text);
    let s = fx::session("s-pii", "lot-p", text);
    let e = fx::event("cam-1", "pii-1", "2026-11-24T09:00:01+09:00");
    store
        .commit_read(&commit(1, &s, &e, 1))
        .await
        .expect("commit");
    let reg = PlateRegistration {
        plate: plate.clone(),
        driver_id: id("d-1"),
        registered_at: fx::at("2026-11-01T00:00:00Z"),
    };
    store.register_plate(&reg).await.expect("register");
    let mut errors: Vec<StoreError> = Vec::new();
    // A stale change to the plate's history.
    let e2 = fx::event("cam-1", "pii-2", "2026-11-24T09:00:02+09:00");
    errors.extend(store.commit_read(&commit(1, &s, &e2, 2)).await.err());
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
    assert_eq!(errors.len(), 4, "{errors:?}");
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

/// An erased driver leaves no profile, claim or copy behind; the plate's
/// claims item keeps only other claimants.
pub async fn an_erased_driver_leaves_no_copies<S: Store>(store: &S) {
    use parking_app::plate_claims::{DriverClaim, PlateClaims};
    let d: DriverId = id("d-gone");
    store
        .put_driver(&Driver {
            id: d.clone(),
            name: "Gone".into(),
            created_at: fx::at("2026-11-01T00:00:00Z"),
        })
        .await
        .expect("driver");
    let plate = fx::plate("横浜 330 ほ 9-99");
    let mut claims = PlateClaims::new(plate.clone());
    claims.add(&d, fx::at("2026-11-02T00:00:00Z"), false);
    claims.version = 1;
    store.put_plate_claims(&claims).await.expect("claims");
    assert_eq!(
        store.put_plate_claims(&claims).await.ok(),
        Some(()),
        "the same write again is done"
    );
    let mut stale = claims.clone();
    stale.claims.clear();
    assert!(
        store.put_plate_claims(&stale).await.is_err(),
        "a stale version"
    );
    store
        .put_driver_claim(&DriverClaim {
            driver_id: d.clone(),
            plate: plate.clone(),
            claimed_at: fx::at("2026-11-02T00:00:00Z"),
        })
        .await
        .expect("copy");
    assert_eq!(store.driver_claims(&d).await.expect("claims").len(), 1);
    store.erase_driver(&d).await.expect("erase");
    assert!(matches!(
        store.get_driver(&d).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.driver_claims(&d).await.expect("claims").is_empty());
    assert!(store.driver_sessions(&d).await.expect("stays").is_empty());
    assert!(
        store
            .driver_view(&d)
            .await
            .expect("view")
            .methods
            .is_empty()
    );
}
