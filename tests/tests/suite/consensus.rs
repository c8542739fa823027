//! A passage's plate comes from what its reads agree on: the reads of a
//! camera's track are taken for the plate they agree on (weighted by
//! confidence), so two agreeing reads outvote one surer outlier whatever
//! order they arrive in, moving the reads already taken for the outlier;
//! and a lone doubtful read is held for review (its stay waits for staff
//! and is never charged) unless a second read agrees with it.

use jiff::{SignedDuration, Timestamp};
use parking_app::commands::{CommandKind, Reason};
use parking_app::scenario::set_up;
use parking_app::usecases::device_events::{DeviceEvents, Report};
use parking_app::*;
use parking_aws::{MemoryLink, MemoryStore};
use parking_core::SessionState;
use serde_json::Value;

use super::devices::{AIKO, LOT, fx_id, read, scenario, t};

/// AIKO's plate with one digit misread.
const MISREAD: &str = "品川 300 さ 12-84";

/// A plate read of a camera's track.
fn tracked(
    gate: &str,
    event: &str,
    plate: &str,
    confidence: f64,
    at: Timestamp,
    track: &str,
) -> Value {
    let mut v = read(gate, event, plate, confidence, at, None);
    v["track"] = Value::from(track);
    v
}

struct Gates<S: Store> {
    events: DeviceEvents<S, MemoryLink>,
}

impl<S: Store> Gates<S> {
    async fn new(store: S) -> Self {
        Self::with(store, scenario()).await
    }

    async fn with(store: S, scenario: parking_app::scenario::Scenario) -> Self {
        set_up(&store, &scenario, t("08:00:00"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Gates {
            events: DeviceEvents::new(store, MemoryLink::default(), SignedDuration::from_mins(1)),
        }
    }

    async fn send(&self, m: &Value) -> Report {
        let at = m["received_at"]
            .as_i64()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .expect("received_at");
        self.events
            .handle(&serde_json::to_vec(m).expect("json"), at)
            .await
            .unwrap_or_else(|e| panic!("handle: {e}"))
    }

    /// The lot's stays that stand, by entry.
    async fn stays(&self) -> Vec<Session> {
        let mut v: Vec<Session> = self
            .events
            .store
            .lot_sessions(&fx_id(LOT))
            .await
            .expect("sessions")
            .into_iter()
            .filter(|s| s.state != SessionState::Superseded)
            .collect();
        v.sort_by_key(|s| (s.entry_at, s.plate.key()));
        v
    }
}

fn plate(text: &str) -> parking_core::Plate {
    parking_core::Plate::parse(text).expect("a plate")
}

/// What a stay came to, to compare runs.
fn outcome(
    s: &Session,
) -> (
    String,
    SessionState,
    Timestamp,
    Option<i64>,
    Vec<SessionFlag>,
) {
    (
        s.plate.key(),
        s.state,
        s.entry_at,
        s.fee.map(|f| f.minor),
        s.flags.clone(),
    )
}

/// The entry's three reads in the given order, then a clear exit.
async fn one_visit<S: Store>(gates: &Gates<S>, order: &[usize]) -> Vec<Session> {
    let entry = [
        ("in-1", MISREAD, 0.95, "09:00:00"),
        ("in-2", AIKO, 0.7, "09:00:01"),
        ("in-3", AIKO, 0.7, "09:00:02"),
    ];
    for &i in order {
        let (event, text, confidence, at) = entry[i];
        let r = gates
            .send(&tracked("g-in", event, text, confidence, t(at), "car-1"))
            .await;
        assert_eq!((r.applied, r.rejected.len()), (1, 0), "{r:?}");
        // Every read is answered with an open barrier.
        let (_, cmd) = r.commands.last().expect("a command");
        assert_eq!(cmd.command, CommandKind::Open, "{cmd:?}");
    }
    let r = gates
        .send(&read("g-out", "out-1", AIKO, 0.97, t("11:00:00"), None))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    gates.stays().await
}

#[tokio::test]
async fn two_agreeing_reads_beat_a_surer_outlier_in_any_order() {
    let mut seen = Vec::new();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let gates = Gates::new(MemoryStore::default()).await;
        let stays = one_visit(&gates, &order).await;
        // One stay, AIKO's, from the passage's first read, priced and
        // charged to AIKO's card; nothing stands for the misread plate.
        assert_eq!(stays.len(), 1, "{order:?}: {stays:?}");
        let s = &stays[0];
        assert_eq!(s.plate, plate(AIKO), "{order:?}");
        assert_eq!(s.entry_at, t("09:00:00"), "{order:?}");
        assert!(s.flags.is_empty(), "{order:?}: {:?}", s.flags);
        assert!(s.fee.is_some_and(|f| f.minor > 0), "{order:?}");
        assert!(s.method_id.is_some(), "AIKO's card: {order:?}");
        let misread = gates
            .events
            .store
            .plate_view(&fx_id(LOT), &plate(MISREAD))
            .await
            .expect("view");
        assert!(
            misread
                .timeline
                .as_ref()
                .is_none_or(|tl| tl.reads.is_empty()
                    && tl
                        .sessions
                        .iter()
                        .all(|s| s.state == SessionState::Superseded)),
            "{order:?}: the misread plate keeps no read and no standing stay"
        );
        // The lot's count: the car came and went.
        let live = gates
            .events
            .store
            .occupancy(
                &gates
                    .events
                    .store
                    .lot_config(&fx_id(LOT))
                    .await
                    .expect("lot")
                    .lot,
                t("11:00:01"),
            )
            .await
            .expect("occupancy");
        assert_eq!(live.open_sessions, 0, "{order:?}");
        seen.push(stays.iter().map(outcome).collect::<Vec<_>>());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

#[tokio::test]
async fn the_outlier_first_then_outvoted_moves_its_stay_on_dynamodb() {
    // The order that moves reads between two plates' timelines, on the
    // real store's transaction.
    let gates = Gates::new(parking_tests::fresh_dynamo_store(None).await).await;
    let after_outlier = {
        let r = gates
            .send(&tracked(
                "g-in",
                "in-1",
                MISREAD,
                0.95,
                t("09:00:00"),
                "car-1",
            ))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
        gates.stays().await
    };
    assert_eq!(after_outlier.len(), 1);
    assert_eq!(after_outlier[0].plate, plate(MISREAD), "taken for it alone");
    let stays = one_visit(&gates, &[1, 2]).await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert_eq!(stays[0].plate, plate(AIKO));
    assert_eq!(stays[0].entry_at, t("09:00:00"));
    assert!(stays[0].fee.is_some_and(|f| f.minor > 0));
}

/// A passage of `reads` (event, confidence) of AIKO at the gate.
async fn passage<S: Store>(
    gates: &Gates<S>,
    gate: &str,
    track: &str,
    reads: &[(&str, f64, &str)],
) -> Report {
    let mut last = Report::default();
    for &(event, confidence, at) in reads {
        last = gates
            .send(&tracked(gate, event, AIKO, confidence, t(at), track))
            .await;
        assert_eq!(last.applied, 1, "{last:?}");
    }
    last
}

#[tokio::test]
async fn a_lone_doubtful_read_goes_to_review_and_an_agreeing_second_read_settles_it() {
    // Alone: each passage one read of 0.6 (the lot asks 0.8).
    let gates = Gates::new(MemoryStore::default()).await;
    passage(&gates, "g-in", "in-car", &[("in-1", 0.6, "09:00:00")]).await;
    let exit = passage(&gates, "g-out", "out-car", &[("out-1", 0.6, "11:00:00")]).await;
    let (_, cmd) = exit.commands.last().expect("a command");
    assert_eq!(
        (cmd.command, cmd.reason),
        (CommandKind::Hold, Reason::PlateUnverified),
        "staff check the plate before the car is charged"
    );
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    let s = &stays[0];
    assert_eq!(s.state, SessionState::NeedsReview);
    assert!(s.flags.contains(&SessionFlag::PlateUnverified));
    assert!(parking_app::usecases::operator::needs_review(s));
    assert!(
        !gates.events.store.outbox_all().iter().any(|m| matches!(
            m,
            outbox::OutboxMessage::Payments(o) if o.signed_minor() > 0
        )),
        "nothing is charged"
    );

    // Each passage with a second read agreeing (0.6 and 0.6 make 0.84):
    // taken, priced and charged.
    let gates = Gates::new(MemoryStore::default()).await;
    passage(
        &gates,
        "g-in",
        "in-car",
        &[("in-1", 0.6, "09:00:00"), ("in-2", 0.6, "09:00:01")],
    )
    .await;
    let exit = passage(
        &gates,
        "g-out",
        "out-car",
        &[("out-1", 0.6, "11:00:00"), ("out-2", 0.6, "11:00:01")],
    )
    .await;
    let (_, cmd) = exit.commands.last().expect("a command");
    assert_eq!(
        (cmd.command, cmd.reason),
        (CommandKind::Open, Reason::Charged)
    );
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert!(stays[0].flags.is_empty(), "{:?}", stays[0].flags);
    assert!(!parking_app::usecases::operator::needs_review(&stays[0]));
}

#[tokio::test]
async fn a_tracks_unreadable_reads_join_its_readable_one() {
    // The camera sent empty text and garbage before it read the plate:
    // one car, one stay, AIKO's.
    let gates = Gates::new(MemoryStore::default()).await;
    for (event, text, confidence, at) in [
        ("in-1", "", 0.0, "09:00:00"),
        ("in-2", "#?!", 0.2, "09:00:01"),
    ] {
        let r = gates
            .send(&tracked("g-in", event, text, confidence, t(at), "car-1"))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
    }
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "one unreadable car, not two: {stays:?}");
    assert!(!stays[0].plate.is_readable());
    let r = gates
        .send(&tracked("g-in", "in-3", AIKO, 0.9, t("09:00:02"), "car-1"))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert_eq!(stays[0].plate, plate(AIKO));
    assert_eq!(stays[0].entry_at, t("09:00:00"));
    assert!(stays[0].flags.is_empty());
    // A repeat of a read already moved is a duplicate, answered as before.
    let again = gates
        .send(&tracked("g-in", "in-1", "", 0.0, t("09:00:00"), "car-1"))
        .await;
    assert_eq!((again.applied, again.duplicates), (0, 1), "{again:?}");
    assert_eq!(gates.stays().await.len(), 1);
}

/// AIKO's plate as a camera that reads its first 1 as a 7 every frame
/// would: it looks like AIKO's (the OCR skeleton is the same).
const LOOKALIKE: &str = "品川 300 さ 72-34";

#[tokio::test]
async fn a_camera_misreading_one_character_every_frame_is_matched_to_the_plate_it_looks_like() {
    // Two agreeing doubtful reads of a plate nobody knows, looking like a
    // registered one: that car, flagged corrected (the track's own stay
    // under the misread confirms nothing).
    let gates = Gates::new(MemoryStore::default()).await;
    for (event, at) in [("in-1", "09:00:00"), ("in-2", "09:00:01")] {
        let r = gates
            .send(&tracked("g-in", event, LOOKALIKE, 0.6, t(at), "car-1"))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
    }
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert_eq!(stays[0].plate, plate(AIKO));
    assert_eq!(stays[0].flags, [SessionFlag::PlateCorrected]);
}

#[tokio::test]
async fn reads_moved_to_the_plate_they_agree_on_are_a_car_already_in() {
    // A full lot: the car the outlier let in is not turned away when the
    // agreeing reads move its stay to AIKO.
    let mut s = scenario();
    s.lot.capacity = 1;
    s.lot.reservable = 0;
    s.reservations.clear();
    let gates = Gates::with(MemoryStore::default(), s).await;
    let mut last = None;
    for (event, text, confidence, at) in [
        ("in-1", MISREAD, 0.95, "09:00:00"),
        ("in-2", AIKO, 0.7, "09:00:01"),
        ("in-3", AIKO, 0.7, "09:00:02"),
    ] {
        let r = gates
            .send(&tracked("g-in", event, text, confidence, t(at), "car-1"))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
        last = r.commands.last().map(|(_, c)| (c.command, c.reason));
    }
    assert_eq!(last, Some((CommandKind::Open, Reason::Welcome)));
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert_eq!(
        (stays[0].plate.clone(), stays[0].state),
        (plate(AIKO), SessionState::Open)
    );
}

#[tokio::test]
async fn a_reservation_the_outvoted_plate_checked_in_is_given_back() {
    reservation_given_back(MemoryStore::default()).await;
}

#[tokio::test]
async fn a_reservation_the_outvoted_plate_checked_in_is_given_back_on_dynamodb() {
    reservation_given_back(parking_tests::fresh_dynamo_store(None).await).await;
}

/// The outlier reads as CHIKA, whose reservation is due: it checks it in.
/// When the agreeing reads take the car for AIKO, in the same commit
/// CHIKA's reservation is active again, and CHIKA's own car gets it.
async fn reservation_given_back<S: Store>(store: S) {
    use super::devices::CHIKA;
    let gates = Gates::new(store).await;
    let reservation = || async {
        gates
            .events
            .store
            .get_reservation(&fx_id("r-3"))
            .await
            .expect("reservation")
            .state
    };
    let r = gates
        .send(&tracked(
            "g-in",
            "in-1",
            CHIKA,
            0.95,
            t("10:00:00"),
            "car-1",
        ))
        .await;
    assert_eq!(
        r.commands.last().map(|(_, c)| c.reason),
        Some(Reason::Reserved)
    );
    assert_eq!(reservation().await, ReservationState::CheckedIn);
    for (event, at) in [("in-2", "10:00:01"), ("in-3", "10:00:02")] {
        let r = gates
            .send(&tracked("g-in", event, AIKO, 0.7, t(at), "car-1"))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
    }
    assert_eq!(reservation().await, ReservationState::Active);
    let stays = gates.stays().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    assert_eq!(
        (stays[0].plate.clone(), stays[0].reservation_id.clone()),
        (plate(AIKO), None)
    );
    let r = gates
        .send(&tracked(
            "g-in",
            "in-9",
            CHIKA,
            0.97,
            t("10:30:00"),
            "car-2",
        ))
        .await;
    assert_eq!(
        r.commands.last().map(|(_, c)| c.reason),
        Some(Reason::Reserved)
    );
    assert_eq!(reservation().await, ReservationState::CheckedIn);
}
