//! The simulator: the README's first command adds up, and a seed gives
//! the same day every time.

use jiff::SignedDuration;
use parking_app::simulator::run::{Summary, run};
use parking_app::simulator::world::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::{MemoryLink, MemoryQueues, MemoryStore};

async fn simulate(cfg: &SimConfig) -> Summary {
    simulate_with(cfg, &parking_aws::DevProvider::default()).await
}

async fn simulate_with(cfg: &SimConfig, provider: &parking_aws::DevProvider) -> Summary {
    let scenarios = generate(cfg).expect("generate");
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    run_through(&handler, &scenarios, provider).await
}

/// Runs scenarios through a handler on the in-memory store, as `parkctl
/// simulate` does, settling with `provider`.
pub async fn run_through(
    handler: &DeviceEvents<MemoryStore, MemoryLink>,
    scenarios: &[parking_app::scenario::Scenario],
    provider: &parking_aws::DevProvider,
) -> Summary {
    let queues = MemoryQueues::default();
    // Clones share their books: the caller reads what was charged.
    let provider = parking_aws::Faulty::new(provider.clone());
    run(
        handler,
        &queues,
        &provider,
        scenarios,
        || handler.store.store_use(),
        || queues.all(),
        |_| {},
    )
    .await
    .expect("simulation")
}

/// The day's charges settled with the development provider, through the
/// day's payment trouble: what it charged and refunded is what the summary
/// says, declines failed and were then paid with a new card, and paid less
/// refunded plus what is outstanding is the fees due from cards.
#[tokio::test]
async fn the_days_charges_are_settled_and_add_up() {
    let provider = parking_aws::DevProvider::default();
    let s = simulate_with(&SimConfig::default(), &provider).await;
    let t = &s.settlement;
    assert!(s.checks.settlement_adds_up, "{:?}", s.checks);
    assert!(
        t.paid.count > 100 && t.failed.count > 0 && t.refunded.count > 0,
        "{t:?}"
    );
    assert_eq!(
        provider
            .charges()
            .iter()
            .map(|c| c.amount.minor)
            .sum::<i64>(),
        t.paid.amount
    );
    assert_eq!(provider.charges().len() as u64, t.paid.count);
    assert_eq!(
        provider
            .refunds()
            .iter()
            .map(|r| r.amount.minor)
            .sum::<i64>(),
        t.refunded.amount
    );
    // The stays' books, the provider's books and the fees due agree.
    assert_eq!(
        t.paid.amount - t.refunded.amount + t.outstanding,
        s.charged_to_cards
    );
    assert_eq!(t.payment_failed_sessions, 0, "paid with a new card: {t:?}");
    assert_eq!(t.refunds_refused.count, 0, "{t:?}");
    let truth = &s.truth;
    assert!(s.checks.money_matches_the_truth, "{truth:?}");
    assert!(
        truth.dead_lettered > 0
            && truth.voids > 0
            && truth.goodwill_refunds > 0
            && truth.paid_with_a_new_card > 0
            && truth.stays > 100,
        "the trouble happened: {truth:?}"
    );
}

/// Thirty days with payment trouble (declines, lost answers, an hour's
/// outage dead-lettered then redriven, voids, goodwill refunds, late
/// reprices): for every driver the provider's books are what their true
/// stays cost less what staff gave back, with no double charge and no
/// refund beyond its charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_of_money_match_the_truth() {
    let s = simulate(&SimConfig {
        seed: 30,
        days: 30,
        arrivals_per_day: 120,
        drivers: 100,
        capacity: 60,
        ..SimConfig::default()
    })
    .await;
    assert!(s.checks.all(), "{:?} {:?}", s.checks, s.truth);
    let t = &s.truth;
    assert_eq!(
        (t.drivers_off, t.double_charges, t.refunds_beyond_charge),
        (0, 0, 0),
        "{t:?}"
    );
    assert!(
        t.stays > 1500 && t.voids > 10 && t.goodwill_refunds > 10,
        "{t:?}"
    );
}

#[tokio::test]
async fn the_default_day_adds_up() {
    let s = simulate(&SimConfig::default()).await;
    assert!(s.checks.all(), "{:?}", s.checks);
    assert!(
        s.entries > 200 && s.exits > 150,
        "{} entries, {} exits",
        s.entries,
        s.exits
    );
    assert_eq!(
        s.revenue,
        s.charged_to_cards + s.refunded + s.owed_at_kiosks + s.held_for_review
    );
    assert_eq!(
        s.charges_queued.amount - s.refunds_queued.amount,
        s.charged_to_cards
    );
    // What the day was made of happened and was handled.
    assert!(s.duplicates_dropped > 0, "duplicate deliveries");
    assert!(s.plates_corrected > 0, "misread plates matched back");
    assert!(
        s.rejected >= 7,
        "spoofing and junk: {:?}",
        s.rejected_by_reason
    );
    assert!(
        s.rejected_by_reason
            .keys()
            .any(|r| r.contains("not registered"))
    );
    assert!(s.holds > 0, "kiosk payers held at the exit");
    assert!(s.store_requests_per_message <= 4.0);
}

#[tokio::test]
async fn a_seed_gives_the_same_world() {
    let cfg = SimConfig {
        seed: 7,
        lots: 2,
        ..SimConfig::default()
    };
    assert_eq!(generate(&cfg).expect("a"), generate(&cfg).expect("b"));
    let other = SimConfig {
        seed: 8,
        ..cfg.clone()
    };
    assert_ne!(generate(&cfg).expect("a"), generate(&other).expect("c"));
}

#[tokio::test]
async fn several_lots_and_days_add_up() {
    let s = simulate(&SimConfig {
        seed: 3,
        lots: 2,
        days: 3,
        ..SimConfig::default()
    })
    .await;
    assert!(s.checks.all(), "{:?}", s.checks);
    assert_eq!(s.lots, 2);
    // Each lot's devices are its own: only the deliberate rogue device
    // of each lot is refused, and both lots see their cars.
    let refused: u64 = s
        .rejected_by_reason
        .iter()
        .filter(|(reason, _)| reason.contains("is not registered"))
        .map(|(_, n)| n)
        .sum();
    let one = simulate(&SimConfig {
        seed: 3,
        lots: 1,
        days: 3,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(refused, 6, "{:?}", s.rejected_by_reason);
    assert!(
        s.entries > one.entries * 3 / 2,
        "{} vs {}",
        s.entries,
        one.entries
    );
}
