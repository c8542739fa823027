//! A lot that runs for months: a plate's history stays as small items
//! whatever its length, every read is answered and none refused, what a
//! read costs does not grow with the history, and the money is what the
//! tariff says each stay costs. Every read is of a camera's track and names
//! its frame, as the largest reads and stays are.
//!
//! The test command runs a small scale (2 visits a day for 60 days,
//! with unreadable reads among them) on the in-memory store and on
//! DynamoDB on the local endpoint; `scripts/long-tests` runs the full
//! size (`PARKING_SOAK=full`: 40 visits a day for 60 days, a paying plate
//! and one on monthly passes).

use jiff::SignedDuration;
use parking_app::outbox::OutboxMessage;
use parking_app::scenario::set_up;
use parking_app::usecases::adjust::{NewPass, Staff, issue_pass};
use parking_app::usecases::cost::StoreUse;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::outbox::drain;
use parking_app::*;
use parking_aws::{DynamoStore, MemoryLink, MemoryQueues, MemoryStore};
use parking_core::{Stay, Tariff};

use crate::devices::{AIKO, LOT, read, scenario, t};

/// Items are kept under this, whatever the history.
const ITEM_BOUND: usize = 20 * 1024;

/// What one soak asks for.
#[derive(Debug, Clone, Copy)]
struct Soak {
    days: i64,
    visits_per_day: i64,
    /// The plate holds monthly passes for the whole run.
    pass: bool,
    /// Every n-th read of the day is unreadable text instead.
    unreadable_every: Option<i64>,
}

impl Soak {
    /// The size the test command runs, or the full one.
    fn sized(pass: bool) -> Soak {
        let full = std::env::var("PARKING_SOAK").is_ok_and(|v| v == "full");
        Soak {
            days: 60,
            visits_per_day: if full { 40 } else { 2 },
            pass,
            unreadable_every: Some(if full { 33 } else { 7 }),
        }
    }
}

/// What a soak measured.
#[derive(Debug, Default)]
struct Figures {
    reads: u64,
    commands: u64,
    rejected: u64,
    /// Read and write units per plate read, each day.
    per_day: Vec<(f64, f64)>,
    /// What the stays of the plate owe by the tariff, and what was
    /// ordered from its card.
    owed: i64,
    charged: i64,
}

impl Figures {
    /// Units per read on a day, averaged over the week from it.
    fn week(&self, from: usize) -> (f64, f64) {
        let days = &self.per_day[from..(from + 7).min(self.per_day.len())];
        let n = days.len() as f64;
        (
            days.iter().map(|d| d.0).sum::<f64>() / n,
            days.iter().map(|d| d.1).sum::<f64>() / n,
        )
    }

    fn assert_flat(&self) {
        let first = self.week(0);
        let last = self.week(self.per_day.len() - 7);
        for (what, a, b) in [("read", first.0, last.0), ("write", first.1, last.1)] {
            assert!(
                (b - a).abs() <= 0.2 * a,
                "{what} units per read: first week {a:.2}, last week {b:.2}"
            );
        }
    }

    fn assert_answered(&self) {
        assert!(self.reads > 0);
        assert_eq!(self.rejected, 0, "no read refused");
        assert_eq!(self.commands, self.reads, "a command for every read");
    }
}

/// Sends a soak's reads, day by day, each live (received a second after
/// it happened), and measures them with `usage`.
async fn soak<S: Store>(
    events: &DeviceEvents<S, MemoryLink>,
    usage: impl Fn() -> StoreUse,
    cfg: Soak,
) -> Figures {
    let s = scenario();
    set_up(&events.store, &s, t("00:00:00"))
        .await
        .expect("set up");
    let lot_id: LotId = LOT.parse().expect("id");
    let day = SignedDuration::from_hours(24);
    if cfg.pass {
        let operator = Actor {
            role: "operator".into(),
            subject: "op-1".into(),
        };
        for month in 0..=(cfg.days / 30) {
            let from = t("00:00:00") + day * (month * 30) as i32;
            issue_pass(
                &events.store,
                Staff {
                    actor: &operator,
                    lot_id: &lot_id,
                    now: from,
                },
                &NewPass {
                    plate: parking_core::Plate::parse(AIKO).expect("plate"),
                    valid_from: from,
                    valid_until: from + day * 30,
                },
                &format!("pass-{month}"),
            )
            .await
            .expect("pass");
        }
    }
    let tariff = Tariff::compile(s.tariff.clone()).expect("tariff");
    let lost_entry_fee = events
        .store
        .get_lot(&lot_id)
        .await
        .expect("lot")
        .settings
        .lost_entry_fee;
    let mut f = Figures::default();
    let queues = MemoryQueues::default();
    let gap = SignedDuration::from_mins(16 * 60 / cfg.visits_per_day);
    let mut n = 0i64;
    for d in 0..cfg.days {
        let before = usage();
        let reads_before = f.reads;
        for v in 0..cfg.visits_per_day {
            let entry = t("06:00:00") + day * d as i32 + gap * v as i32;
            let exit = entry + SignedDuration::from_mins(10);
            for (gate, at) in [("g-in", entry), ("g-out", exit)] {
                n += 1;
                let unreadable = cfg.unreadable_every.is_some_and(|k| n % k == 0);
                let plate = if unreadable { "" } else { AIKO };
                let mut m = read(gate, &format!("e-{n}"), plate, 0.97, at, None);
                // Each passage a camera's track, each read with its frame:
                // what a read and a stay keep at their largest.
                let cam = if gate == "g-in" { "cam-in" } else { "cam-out" };
                m["track"] = serde_json::json!(format!("trk-{n:08}"));
                m["frame"] = serde_json::json!(format!(
                    "frames/{}/{cam}/2026-11-30/e-{n:08}-{}.jpg",
                    super::devices::LOT,
                    at.as_millisecond()
                ));
                let bytes = serde_json::to_vec(&m).expect("json");
                let r = events
                    .handle(&bytes, at + SignedDuration::from_secs(1))
                    .await
                    .unwrap_or_else(|e| panic!("day {d}: {e}"));
                f.reads += 1;
                f.commands += r.commands.len() as u64;
                f.rejected += r.rejected.len() as u64;
            }
            // What the stay owes: the tariff's price when both reads were
            // of the plate; the lost-entry fee when only the exit was;
            // nothing when the exit was not (the stay stays open until
            // the next entry, and an exit never seen is never charged).
            let missed = |i: i64| cfg.unreadable_every.is_some_and(|k| i % k == 0);
            // A pass covers the time parked, not the fee for an entry
            // never seen.
            f.owed += match (missed(n - 1), missed(n)) {
                (false, false) if cfg.pass => 0,
                (false, false) => tariff.quote(&Stay::new(entry, exit)).expect("quote").total,
                (true, false) => lost_entry_fee,
                (_, true) => 0,
            };
        }
        let used = usage().since(&before);
        let reads = (f.reads - reads_before) as f64;
        f.per_day
            .push((used.read_units / reads, used.write_units / reads));
        // The day's charges and notifications leave the outbox, as the
        // forwarder sends them.
        drain(&events.store, &queues).await.expect("delivered");
    }
    for m in queues.all() {
        if let OutboxMessage::Payments(o) = m {
            f.charged += o.signed_minor();
        }
    }
    f
}

/// The largest item of a table, by DynamoDB's own count.
async fn largest_item(store: &DynamoStore) -> (usize, String) {
    let mut largest = (0, String::new());
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
            let size = parking_aws::dynamo::keys::item_size(&item);
            if size > largest.0 {
                let kind = match item.get("type") {
                    Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) => k.clone(),
                    _ => "?".into(),
                };
                largest = (size, kind);
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return largest,
        }
    }
}

fn memory_events() -> DeviceEvents<MemoryStore, MemoryLink> {
    DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    )
}

/// A metered store on a new table, in a region of its own.
async fn dynamo_events(
    region: &'static str,
) -> (DeviceEvents<DynamoStore, MemoryLink>, DynamoStore) {
    let sdk = parking_tests::local_sdk_config_in(region).await;
    let store = DynamoStore::metered(
        aws_sdk_dynamodb::config::Builder::from(&sdk),
        parking_tests::fresh_table_in(region).await,
    );
    let events = DeviceEvents::new(
        store.clone(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    (events, store)
}

fn check(f: &Figures) {
    f.assert_answered();
    f.assert_flat();
    assert!(f.owed > 0);
    assert_eq!(f.charged, f.owed, "charged what the tariff says");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_plate_for_60_days_keeps_small_items_and_flat_costs() {
    for pass in [false, true] {
        let events = memory_events();
        let f = soak(&events, || events.store.store_use(), Soak::sized(pass)).await;
        check(&f);
        let items = events.store.history_items();
        assert!(items.largest_head < ITEM_BOUND, "{items:?}");
        assert!(items.largest_stay < ITEM_BOUND, "{items:?}");
        assert!(items.stays > 100, "{items:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_plate_for_60_days_on_dynamodb() {
    for (pass, region) in [(false, "ap-southeast-1"), (true, "ap-southeast-2")] {
        let (events, store) = dynamo_events(region).await;
        let f = soak(
            &events,
            || store.consumed().expect("a metered store"),
            Soak::sized(pass),
        )
        .await;
        check(&f);
        let (size, kind) = largest_item(&store).await;
        assert!(size < ITEM_BOUND, "a {kind} item of {size} bytes");
        // Reads are answered from a few small items: a read unit or two
        // each, never growing.
        let (reads, writes) = f.week(f.per_day.len() - 7);
        eprintln!(
            "pass {pass}: last week {reads:.2} read and {writes:.2} write units a read; largest item {size} bytes ({kind})"
        );
    }
}

/// A busy lot for 60 days with 3 % of its reads unreadable (empty text,
/// garbled text, a serial alone): no item grows past the bound, and every
/// unreadable read either lands with the one car it can be (its
/// candidate, flagged `plate_corrected`) or is a stay of its own in the
/// review queue: none is lost in a shared item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_reads_at_a_busy_lot_for_60_days_share_no_item() {
    use parking_app::timeline::read_key;
    use parking_app::usecases::operator::needs_review;
    use parking_app::usecases::sweeps::{BUDGET, uncounted};

    let events = memory_events();
    let store = &events.store;
    set_up(store, &scenario(), t("00:00:00"))
        .await
        .expect("set up");
    let lot_id: LotId = LOT.parse().expect("id");
    let mut lot = store.get_lot(&lot_id).await.expect("lot");
    lot.capacity = 1_000;
    store.put_lot(&lot).await.expect("lot");
    let debounce = lot.debounce();

    const KANA: [&str; 8] = ["さ", "す", "せ", "そ", "た", "ち", "つ", "て"];
    let fleet = 300usize;
    let serial = |i: usize| format!("{:02}-{:02}", 10 + (i / 8) % 90, 10 + i % 89);
    let plate = |i: usize| format!("品川 300 {} {}", KANA[i % 8], serial(i));
    let misread = |text: &str| {
        let (head, serial) = text.split_at(text.rfind(' ').unwrap_or(0));
        let mut swapped = false;
        let serial: String = serial
            .chars()
            .map(|c| match (swapped, c) {
                (false, '0' | '1' | '7' | '8') => {
                    swapped = true;
                    match c {
                        '0' => 'O',
                        '1' => 'I',
                        '7' => 'L',
                        _ => 'B',
                    }
                }
                _ => c,
            })
            .collect();
        if swapped {
            format!("{head}{serial}")
        } else {
            String::new()
        }
    };
    let mut seed: u64 = 0x0005_1c4b;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let day = SignedDuration::from_hours(24);
    let mut moves: Vec<(jiff::Timestamp, &str, usize)> = Vec::new();
    let mut free_from = vec![t("00:00:00"); fleet];
    for d in 0..60 {
        for _ in 0..200 {
            let entry = t("07:00:00") + day * d + SignedDuration::from_mins(next(13 * 60) as i64);
            let Some(car) = (0..fleet)
                .map(|k| (k + next(fleet as u64) as usize) % fleet)
                .find(|&c| free_from[c] < entry)
            else {
                continue;
            };
            let exit = entry + SignedDuration::from_mins(20 + next(180) as i64);
            free_from[car] = exit + SignedDuration::from_mins(5);
            moves.push((entry, "g-in", car));
            moves.push((exit, "g-out", car));
        }
    }
    moves.sort();

    // (read key, when, the car) of every unreadable read sent.
    let mut unreadable = Vec::new();
    let mut next_sweep = t("01:00:00");
    for (n, (at, gate, car)) in moves.iter().enumerate() {
        while next_sweep <= *at {
            uncounted(store, next_sweep, BUDGET).await.expect("swept");
            next_sweep += SignedDuration::from_hours(1);
        }
        let event = format!("e-{n}");
        let (text, confidence) = if next(100) < 3 {
            let device: DeviceId = if *gate == "g-in" { "cam-in" } else { "cam-out" }
                .parse()
                .expect("device");
            unreadable.push((read_key(&device, &event.parse().expect("event")), *at, *car));
            match next(4) {
                0 => (String::new(), 0.0),
                1 => ("#?!".to_owned(), 0.1),
                2 => (serial(*car), 0.5),
                // A serial digit read as the letter it looks like.
                _ => (misread(&plate(*car)), 0.5),
            }
        } else {
            (plate(*car), 0.97)
        };
        let m = read(gate, &event, &text, confidence, *at, None);
        let report = events
            .handle(
                &serde_json::to_vec(&m).expect("json"),
                *at + SignedDuration::from_secs(1),
            )
            .await
            .expect("handled");
        assert_eq!(report.commands.len(), 1, "a command for every read");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }
    let end = moves.last().map(|m| m.0).unwrap_or(next_sweep) + day * 2;
    while next_sweep <= end {
        uncounted(store, next_sweep, BUDGET).await.expect("swept");
        next_sweep += SignedDuration::from_hours(1);
    }
    assert!(
        unreadable.len() > 500,
        "{} unreadable reads",
        unreadable.len()
    );

    let (size, kind) = store.largest_item();
    assert!(size < ITEM_BOUND, "a {kind} item of {size} bytes");

    let (mut to_review, mut to_candidate) = (0, 0);
    for (key, at, car) in &unreadable {
        let own = parking_core::Plate::unreadable(key);
        let view = store.plate_view(&lot_id, &own).await.expect("view");
        if let Some(timeline) = view.timeline {
            assert_eq!(timeline.reads.len(), 1, "an unreadable read shares nothing");
            for s in &timeline.sessions {
                let stored = store.get_session(&s.id).await.expect("session");
                assert!(
                    needs_review(&stored),
                    "{:?} {:?}",
                    stored.state,
                    stored.flags
                );
            }
            to_review += 1;
            continue;
        }
        // Not its own: with the one car it could be.
        let true_plate = parking_core::Plate::parse(&plate(*car)).expect("plate");
        let head = store
            .plate_view(&lot_id, &true_plate)
            .await
            .expect("view")
            .timeline
            .expect("the car's timeline");
        let window = parking_app::history::around(store, head, *at, debounce)
            .await
            .expect("window");
        let r = window
            .read(key)
            .unwrap_or_else(|| panic!("unreadable read {key} lost"));
        assert_eq!(r.flag, Some(SessionFlag::PlateCorrected));
        to_candidate += 1;
    }
    assert!(
        to_review > 0 && to_candidate > 0,
        "{to_review} reviewed, {to_candidate} matched"
    );
    eprintln!(
        "{} unreadable reads: {to_review} to review, {to_candidate} to their car; largest item {size} bytes ({kind})",
        unreadable.len()
    );
}
