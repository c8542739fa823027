//! Feature flags kept by a warm function: an unreachable flag store gives
//! the built-in defaults and fails nothing; the last flags read stay in
//! force while the store is down; a fresh read comes after the lifetime.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use parking_app::flags::{CachedFlags, Flag, FlagError, FlagSet, FlagSource};

struct Switchable(Mutex<Option<String>>);

impl FlagSource for Switchable {
    async fn load(&self) -> Result<FlagSet, FlagError> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(json) => FlagSet::parse(&json),
            None => Err(FlagError("the flag store is unreachable".into())),
        }
    }
}

fn lot(s: &str) -> parking_app::ids::LotId {
    s.parse().expect("lot")
}

#[tokio::test]
async fn an_unreachable_flag_store_gives_the_defaults_and_fails_nothing() {
    let source = Switchable(Mutex::new(None));
    let cached = CachedFlags::new(source, SignedDuration::from_secs(30));
    let t0 = Timestamp::UNIX_EPOCH;
    let set = cached.at(t0).await;
    for f in Flag::ALL {
        assert_eq!(set.is_on(f, &lot("lot-a"), Some("plate")), f.default_on());
    }
    assert!(cached.last_error().is_some());
}

#[tokio::test]
async fn flags_are_kept_for_their_lifetime_and_survive_an_outage() {
    let source = Switchable(Mutex::new(Some(
        r#"{"flags": {"reservations": {"off_lots": ["lot-b"]}}}"#.into(),
    )));
    let cached = CachedFlags::new(source, SignedDuration::from_secs(30));
    let t0 = Timestamp::UNIX_EPOCH;
    assert!(
        !cached
            .at(t0)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    // Changed at the source: seen only after the lifetime.
    *cached_source(&cached).0.lock().expect("lock") = Some(r#"{"flags": {}}"#.into());
    let t10 = t0 + SignedDuration::from_secs(10);
    assert!(
        !cached
            .at(t10)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    let t40 = t0 + SignedDuration::from_secs(40);
    assert!(
        cached
            .at(t40)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    // The store goes down: the last flags read stay in force.
    *cached_source(&cached).0.lock().expect("lock") = None;
    let t80 = t0 + SignedDuration::from_secs(80);
    assert!(
        cached
            .at(t80)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    assert!(cached.last_error().is_some());
}

fn cached_source(c: &CachedFlags<Switchable>) -> &Switchable {
    c.source()
}

/// One flag document, two lots: fuzzy plate matching on for lot A and off
/// for lot B. The same doubtful read of Ben's plate is matched to him in A
/// and stays unverified in B; nothing else differs.
#[tokio::test]
async fn a_flag_on_for_one_lot_and_off_for_another_changes_exactly_there() {
    use std::sync::Arc;

    use parking_app::flags::FixedFlags;
    use parking_app::scenario::{Scenario, set_up};
    use parking_app::usecases::device_events::DeviceEvents;
    use parking_app::*;
    use parking_aws::{MemoryLink, MemoryStore};

    use super::devices::{BEN, LOT, read, t};

    const LOT_B: &str = "shinjuku-east";
    let flags = FlagSet::parse(&format!(
        r#"{{"flags": {{"fuzzy_plate_matching": {{"on_lots": ["{LOT}"], "off_lots": ["{LOT_B}"]}}}}}}"#
    ))
    .expect("flags");
    let text = include_str!("../../../fixtures/scenarios/day-one.json");
    let mut plate_of_ben = None;
    for lot in [LOT, LOT_B] {
        let mut sc = Scenario::parse(&text.replace(LOT, lot)).expect("scenario");
        sc.messages.clear();
        let events = DeviceEvents::new(
            MemoryStore::default(),
            MemoryLink::default(),
            SignedDuration::from_mins(1),
        )
        .with_flags(Arc::new(FixedFlags(flags.clone())));
        set_up(&events.store, &sc, t("08:00:00"))
            .await
            .expect("set up");
        let doubtful = read(
            "g-in",
            "in-2",
            "品川 500 あ 77-O1",
            0.55,
            t("09:10:00"),
            None,
        )
        .to_string()
        .replace(LOT, lot);
        let at = t("09:10:01");
        let report = events
            .handle(doubtful.as_bytes(), at)
            .await
            .expect("handled");
        assert_eq!(report.applied, 1, "{lot}: {report:?}");
        let lot_id: LotId = lot.parse().expect("lot");
        let sessions = events.store.lot_sessions(&lot_id).await.expect("sessions");
        assert_eq!(sessions.len(), 1, "{lot}");
        let s = &sessions[0];
        if lot == LOT {
            assert_eq!(s.flags, [SessionFlag::PlateCorrected], "matched in {lot}");
            assert_eq!(s.driver_id.as_ref().map(|d| d.as_str()), Some("d-2"));
            plate_of_ben = Some(s.plate.clone());
        } else {
            assert_eq!(
                s.flags,
                [SessionFlag::PlateUnverified],
                "not matched in {lot}"
            );
            assert_eq!(s.driver_id, None);
        }
    }
    assert_eq!(
        plate_of_ben,
        Some(parking_core::Plate::parse(BEN).expect("plate"))
    );
}

#[tokio::test]
async fn the_example_flag_file_reads_and_a_missing_one_gives_the_defaults() {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/flags/example.json");
    let cached = CachedFlags::new(parking_aws::FileFlags(path), SignedDuration::from_secs(30));
    let set = cached.at(Timestamp::UNIX_EPOCH).await;
    assert!(!set.is_on(Flag::FuzzyPlateMatching, &lot("demo-2"), None));
    assert!(!set.is_on(Flag::Reservations, &lot("demo-3"), None));
    assert!(cached.last_error().is_none());
    let missing = CachedFlags::new(
        parking_aws::FileFlags("no/such/flags.json".into()),
        SignedDuration::from_secs(30),
    );
    let set = missing.at(Timestamp::UNIX_EPOCH).await;
    assert!(set.is_on(Flag::Reservations, &lot("demo-3"), None));
    assert!(missing.last_error().is_some());
}

/// An operator turns a flag off at their own lot through the operator API,
/// with a note in the audit trail; the drivers' API follows it once a
/// function's cached flags are renewed; another lot's operator cannot.
#[tokio::test]
async fn an_operator_sets_a_flag_at_their_lot_audited_and_reservations_follow_it() {
    use std::sync::Arc;

    use parking_api::Api;
    use parking_app::FixedClock;
    use serde_json::json;

    use crate::api::{Call, Who, call};
    use crate::devices::{AIKO, LOT, Lot, t};

    let lot = Lot::new().await;
    // A function started now: its flags are read afresh.
    let app = || {
        parking_api::router(Arc::new(
            Api::new(
                lot.events.store.clone(),
                Arc::new(FixedClock(t("08:30:00"))),
            )
            .with_store_flags(),
        ))
    };
    let op = Who::Role("op-1", "operator", LOT);
    let flags = format!("/v1/operator/lots/{LOT}/flags");
    let a = call(&app(), Call::new("GET", flags.clone(), op.clone())).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    assert_eq!(body["revision"], 0);
    let reservations = |b: &serde_json::Value| {
        b["items"]
            .as_array()
            .and_then(|v| v.iter().find(|f| f["name"] == "reservations").cloned())
            .expect("the reservations flag")
    };
    assert_eq!(reservations(&body)["on"], true);
    assert_eq!(reservations(&body)["rule"], "default");

    let set = |state: &str, note: &str| {
        Call::new("PUT", format!("{flags}/reservations"), op.clone())
            .json(json!({"state": state, "note": note}))
    };
    let a = call(&app(), set("off", "pilot: no reservations this week")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["revision"], 1);
    assert_eq!(reservations(&a.json())["on"], false);
    assert_eq!(reservations(&a.json())["rule"], "lot_off");
    // The same again changes nothing.
    let a = call(&app(), set("off", "again")).await;
    assert_eq!(a.json()["revision"], 1);
    // Refused clearly.
    let a = call(&app(), set("off", " ")).await;
    assert_eq!(
        (a.status, a.json()["errors"][0]["field"].clone()),
        (422, json!("body.note"))
    );
    let a = call(
        &app(),
        Call::new("PUT", format!("{flags}/teleport"), op.clone())
            .json(json!({"state": "on", "note": "n"})),
    )
    .await;
    assert_eq!(a.status, 404);
    let a = call(&app(), set("maybe", "n")).await;
    assert!(matches!(a.status, 400 | 422), "{} {}", a.status, a.text);
    let other = Who::Role("op-2", "operator", "shinjuku-east");
    let a = call(
        &app(),
        Call::new("PUT", format!("{flags}/reservations"), other)
            .json(json!({"state": "on", "note": "not mine"})),
    )
    .await;
    assert_eq!(a.status, 403);

    // Drivers cannot reserve at this lot now.
    let reserve = |key: &str| {
        Call::new("POST", "/v1/me/reservations", Who::Driver("d-1"))
            .header("idempotency-key", key)
            .json(json!({
                "lot_id": LOT, "plate": AIKO,
                "start": "2026-11-30T13:00:00+09:00", "end": "2026-11-30T14:00:00+09:00"
            }))
    };
    let a = call(&app(), reserve("k-1")).await;
    assert_eq!(
        (a.status, a.code()),
        (409, "reservations_off".into()),
        "{}",
        a.text
    );

    // The audit trail has the change once, with its note.
    let a = call(
        &app(),
        Call::new(
            "GET",
            format!("/v1/operator/lots/{LOT}/audit?date=2026-11-30"),
            op.clone(),
        ),
    )
    .await;
    let entries: Vec<serde_json::Value> = a.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["target"] == "reservations")
        .collect();
    assert_eq!(entries.len(), 1, "{}", a.text);
    assert_eq!(entries[0]["action"], "flag.off");
    assert_eq!(entries[0]["note"], "pilot: no reservations this week");

    // Back to the default: reservations are taken again.
    let a = call(&app(), set("inherit", "pilot over")).await;
    assert_eq!(reservations(&a.json())["rule"], "default");
    let a = call(&app(), reserve("k-2")).await;
    assert_eq!(a.status, 201, "{}", a.text);
}

/// The table's flag document is replaced only under its revision, and a
/// function reading flags from the table sees what was written.
#[tokio::test]
async fn the_flag_document_is_replaced_under_its_revision_on_dynamodb() {
    use parking_app::flags::{StoreFlags, StoredFlags};
    use parking_app::*;

    let store = parking_tests::fresh_dynamo_store(None).await;
    assert_eq!(store.flag_document().await.expect("read"), None);
    let audit = |n: &str| AuditEntry {
        id: format!("flag-{n}").parse().expect("id"),
        lot_id: lot("lot-a"),
        at: Timestamp::UNIX_EPOCH,
        actor: Actor {
            role: "operator".into(),
            subject: "op-1".into(),
        },
        action: "flag.off".into(),
        target: "reservations".into(),
        note: "n".into(),
        amount: None,
    };
    let doc = |revision, json: &str| StoredFlags {
        set: FlagSet::parse(json).expect("flags"),
        revision,
    };
    let off = r#"{"flags": {"reservations": {"off_lots": ["lot-a"]}}}"#;
    store
        .put_flags(&doc(1, off), &audit("1"))
        .await
        .expect("first");
    let again = store.put_flags(&doc(1, "{}"), &audit("2")).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(Refusal::StaleFlags { .. }))),
        "{again:?}"
    );
    let source = CachedFlags::new(StoreFlags(store.clone()), SignedDuration::from_secs(60));
    let set = source.at(Timestamp::UNIX_EPOCH).await;
    assert!(!set.is_on(Flag::Reservations, &lot("lot-a"), None));
    assert!(set.is_on(Flag::Reservations, &lot("lot-b"), None));
    assert!(source.last_error().is_none());
    store
        .put_flags(&doc(2, "{}"), &audit("3"))
        .await
        .expect("second");
    assert_eq!(
        store
            .flag_document()
            .await
            .expect("read")
            .map(|d| d.revision),
        Some(2)
    );
}

/// A flag store that cannot be read fails no event: a day of a demo lot
/// through a handler whose flags always fail to load comes out exactly as
/// with the defaults, and the store is asked once per lifetime, not once
/// per event.
#[tokio::test]
async fn a_day_with_an_unreachable_flag_store_comes_out_as_with_the_defaults() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use parking_app::simulator::world::{SimConfig, generate};
    use parking_app::usecases::device_events::DeviceEvents;
    use parking_aws::{MemoryLink, MemoryStore};

    struct Down(AtomicU32);
    impl FlagSource for Down {
        async fn load(&self) -> Result<FlagSet, FlagError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(FlagError("the flag store is unreachable".into()))
        }
    }

    let scenarios = generate(&SimConfig::default()).expect("generate");
    let day = |flags: Option<Arc<CachedFlags<Down>>>| {
        let scenarios = scenarios.clone();
        async move {
            let mut events = DeviceEvents::new(
                MemoryStore::default(),
                MemoryLink::default(),
                SignedDuration::from_mins(1),
            );
            if let Some(f) = flags {
                events = events.with_flags(f);
            }
            crate::simulate::run_through(&events, &scenarios, &parking_aws::DevProvider::default())
                .await
        }
    };
    let down = Arc::new(CachedFlags::new(
        Down(AtomicU32::new(0)),
        SignedDuration::from_secs(60),
    ));
    let with_outage = day(Some(down.clone())).await;
    let with_defaults = day(None).await;
    assert!(with_outage.checks.all(), "{:?}", with_outage.checks);
    assert_eq!(
        (
            with_outage.entries,
            with_outage.exits,
            with_outage.revenue,
            with_outage.rejected,
            with_outage.plates_corrected
        ),
        (
            with_defaults.entries,
            with_defaults.exits,
            with_defaults.revenue,
            with_defaults.rejected,
            with_defaults.plates_corrected
        )
    );
    assert!(down.last_error().is_some());
    // A simulated day is about 1,440 minutes of messages: one failed read
    // a minute at most, far fewer than the 1,449 messages.
    let reads = down.source().0.load(Ordering::Relaxed);
    assert!((1..=1_500).contains(&reads), "{reads}");
    assert!(u64::from(reads) < with_outage.messages, "{reads}");
}
