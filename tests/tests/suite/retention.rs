//! A car with no account is forgotten by its plate once the lot's
//! retention has passed: on DynamoDB on the local endpoint, with the
//! clock moved 31 days on, no item holds its plate text, its stays are
//! kept for the books without it, and what must be kept (an account's
//! plate, a stay still owing) is.

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::{SignedDuration, Timestamp};
use parking_app::scenario::set_up;
use parking_app::usecases::adjust::{Staff, kiosk_lookup, kiosk_pay};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::retention::forget_plates;
use parking_app::*;
use parking_aws::{DynamoStore, MemoryLink};
use parking_core::{Plate, SessionState};

use crate::devices::{AIKO, LOT, read, scenario, t};

/// Comes five times for a few minutes (free, within the grace): three
/// stays in its head, two archived.
const QUICK: &str = "横浜 300 そ 11-22";
/// Stays two hours and pays at the kiosk.
const KIOSK: &str = "横浜 300 そ 33-44";
/// Stays an hour and drives out without paying.
const OWING: &str = "横浜 300 そ 55-66";

/// Every text a plate is known by in an item: its key, as printed, and
/// its OCR skeleton.
fn texts(plate: &str) -> Vec<String> {
    let p = Plate::parse(plate).expect("plate");
    vec![
        p.key(),
        p.display(),
        parking_core::plate::skeleton(&p.key()),
    ]
}

/// The kinds of the items, read whole, that hold any of `texts`; those
/// past their TTL count too.
async fn items_holding(store: &DynamoStore, texts: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in out.items.unwrap_or_default() {
            let text = format!("{item:?}");
            if texts.iter().any(|t| text.contains(t.as_str())) {
                let kind = match item.get("type") {
                    Some(AttributeValue::S(k)) => k.clone(),
                    _ => "?".into(),
                };
                found.push(kind);
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return found,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_retention_no_item_holds_the_plate_of_a_car_with_no_account() {
    let region = "eu-west-3";
    let sdk = parking_tests::local_sdk_config_in(region).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        parking_tests::fresh_table_in(region).await,
    );
    let events = DeviceEvents::new(
        store.clone(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    set_up(&store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let lot_id: LotId = LOT.parse().expect("id");
    let mut n = 0u32;
    let mut send = async |gate: &str, plate: &str, at: Timestamp| {
        n += 1;
        let m = read(gate, &format!("r-{n:03}"), plate, 0.97, at, None);
        let bytes = serde_json::to_vec(&m).expect("json");
        events
            .handle(&bytes, at + SignedDuration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("read {n}: {e}"));
    };
    for hour in [8, 10, 12, 14, 16] {
        let entry = t(&format!("{hour:02}:00:00"));
        send("g-in", QUICK, entry).await;
        send("g-out", QUICK, entry + SignedDuration::from_mins(5)).await;
    }
    send("g-in", KIOSK, t("09:00:00")).await;
    send("g-in", OWING, t("09:10:00")).await;
    send("g-in", AIKO, t("09:20:00")).await;
    let kiosk = Actor {
        role: "kiosk".into(),
        subject: "kiosk-1".into(),
    };
    let staff = Staff {
        actor: &kiosk,
        lot_id: &lot_id,
        now: t("11:00:00"),
    };
    let due = kiosk_lookup(&store, staff, "3344").await.expect("lookup");
    let [stay] = &due[..] else {
        panic!("one stay: {due:?}");
    };
    let paid = Plate::parse(KIOSK).expect("plate");
    kiosk_pay(
        &store,
        staff,
        &stay.session_id,
        &paid,
        stay.due.minor,
        "k-1",
    )
    .await
    .expect("paid");
    send("g-out", KIOSK, t("11:05:00")).await;
    send("g-out", OWING, t("10:10:00")).await;
    send("g-out", AIKO, t("10:20:00")).await;

    let day = SignedDuration::from_hours(24);
    let forgotten = [texts(QUICK), texts(KIOSK)].concat();
    // Within the retention, nothing is forgotten.
    let early = t("12:00:00") + day * 20;
    let swept = forget_plates(&store, early, 100).await.expect("swept");
    assert_eq!(swept.acted, 0, "{swept:?}");
    assert!(!items_holding(&store, &forgotten).await.is_empty());

    // Thirty days on (the lot's default), the cars with no account that
    // owe nothing are forgotten.
    let now = t("18:00:00") + day * 30;
    let swept = forget_plates(&store, now, 100).await.expect("swept");
    assert_eq!((swept.acted, swept.refused), (2, 0), "{swept:?}");
    let left = items_holding(&store, &forgotten).await;
    assert!(left.is_empty(), "items still holding the plates: {left:?}");
    // Kept: the stay still owing (to collect it) and the account's plate.
    assert!(!items_holding(&store, &texts(OWING)).await.is_empty());
    assert!(!items_holding(&store, &texts(AIKO)).await.is_empty());

    // The stays are kept for the books, without the plate.
    let stays = store
        .lot_sessions_entered(&lot_id, t("00:00:00"), t("23:59:59"))
        .await
        .expect("stays");
    let erased: Vec<&Session> = stays.iter().filter(|s| !s.plate.is_readable()).collect();
    assert_eq!(
        erased.len(),
        6,
        "five quick stays and the kiosk's: {stays:?}"
    );
    let kiosk_stay = erased
        .iter()
        .find(|s| s.id == stay.session_id)
        .expect("the kiosk's stay");
    assert_eq!(kiosk_stay.state, SessionState::Priced);
    assert_eq!(kiosk_stay.kiosk_paid, stay.due.minor, "its money is kept");
    assert!(
        erased
            .iter()
            .all(|s| s.plate != kiosk_stay.plate || s.id == kiosk_stay.id),
        "no two records share a pseudonym"
    );

    // Nothing more to do; and the car's next visit is a stranger's.
    let again = forget_plates(&store, now, 100).await.expect("swept");
    assert_eq!(again.acted, 0, "{again:?}");
    send("g-in", QUICK, now + SignedDuration::from_mins(1)).await;
    let view = store
        .plate_view(&lot_id, &Plate::parse(QUICK).expect("plate"))
        .await
        .expect("view");
    let head = view.timeline.expect("a new history");
    assert_eq!(head.sessions.len(), 1, "it starts afresh");
    assert_eq!(head.version, 1);
}
