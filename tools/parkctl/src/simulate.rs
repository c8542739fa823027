//! `parkctl simulate`: realistic days at demo lots, run through the very
//! handler the functions run, on the in-memory store; a progress bar on a
//! terminal and a summary at the end.

use std::io::IsTerminal;
use std::path::PathBuf;

use jiff::SignedDuration;
use jiff::civil::Date;
use parking_app::scenario::Scenario;
use parking_app::simulator::run::{Summary, run};
use parking_app::simulator::world::{SimConfig, generate};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::forecast::{HISTORY_HEADER, lot_history};
use parking_aws::{MemoryLink, MemoryQueues, MemoryStore};

use crate::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Seed of everything random: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many lots.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=200))]
    lots: u32,
    /// How many days, from --start.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=366))]
    days: u32,
    /// The first day, local to the lots (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-30")]
    start: Date,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Also write each lot's scenario (the input of `parkctl replay`) to
    /// this directory.
    #[arg(long, value_name = "DIR")]
    emit: Option<PathBuf>,
    /// Also write every lot's occupancy history, as its stays made it, to
    /// this CSV file (`lot_id,observed_at,occupied,capacity`: the input of
    /// `parkctl forecast backtest`).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Feature flags from this JSON file (as `fixtures/flags/example.json`);
    /// without it every flag takes its default.
    #[arg(long, value_name = "FILE")]
    flags: Option<PathBuf>,
    /// Price one lot's bay sensors instead: a lot of this many bays, each
    /// changing about --changes times a day and repeating its state every
    /// 15 minutes, against the same sensors reporting every minute.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    bays: Option<u32>,
    /// With --bays: changes per bay per day.
    #[arg(long, default_value_t = 20.0)]
    changes: f64,
}

pub fn run_cli(args: &Args) -> Result<(), UsageError> {
    if let Some(bays) = args.bays {
        return sensors(args, bays);
    }
    let cfg = SimConfig {
        seed: args.seed,
        lots: args.lots,
        days: args.days,
        start: args.start,
        ..SimConfig::default()
    };
    let scenarios = generate(&cfg).map_err(UsageError)?;
    if let Some(dir) = &args.emit {
        std::fs::create_dir_all(dir).map_err(|e| UsageError(format!("{}: {e}", dir.display())))?;
        for sc in &scenarios {
            let path = dir.join(format!("{}.json", sc.lot.id));
            let text = serde_json::to_string_pretty(sc)
                .map_err(|e| UsageError(format!("cannot write the scenario: {e}")))?;
            std::fs::write(&path, text)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        }
    }
    let total: u64 = scenarios.iter().map(|s| s.messages.len() as u64).sum();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} messages ({per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let store = MemoryStore::default();
    let queues = MemoryQueues::default();
    let provider = parking_aws::Faulty::new(parking_aws::DevProvider::default());
    let mut handler = DeviceEvents::new(store, MemoryLink::default(), SignedDuration::from_mins(1));
    if let Some(path) = &args.flags {
        // Read once up front, so a bad file is an error here, not the
        // defaults in silence.
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--flags {}: {e}", path.display())))?;
        parking_app::flags::FlagSet::parse(&text)
            .map_err(|e| UsageError(format!("--flags {}: {e}", path.display())))?;
        let file = parking_aws::FileFlags(path.clone());
        handler = handler.with_flags(std::sync::Arc::new(parking_app::flags::CachedFlags::new(
            file,
            SignedDuration::from_mins(1),
        )));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    let summary = rt
        .block_on(run(
            &handler,
            &queues,
            &provider,
            &scenarios,
            || handler.store.store_use(),
            || queues.all(),
            |done| bar.set_position(done),
        ))
        .map_err(|e| UsageError(e.to_string()))?;
    bar.finish_and_clear();
    if let Some(path) = &args.history {
        rt.block_on(write_history(path, &handler.store, &scenarios))?;
    }
    if args.json {
        crate::print_json(&summary)?;
    } else {
        print!("{}", render(&summary, &cfg));
    }
    if summary.checks.all() {
        Ok(())
    } else {
        Err(UsageError(format!(
            "the simulation does not add up: {:?}",
            summary.checks
        )))
    }
}

/// Writes every lot's occupancy history as its stays made it, up to the
/// last message the lot received.
async fn write_history(
    path: &PathBuf,
    store: &MemoryStore,
    scenarios: &[Scenario],
) -> Result<(), UsageError> {
    use std::io::Write;
    let fail = |e: std::io::Error| UsageError(format!("--history {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(HISTORY_HEADER.as_bytes()).map_err(fail)?;
    for sc in scenarios {
        let tz = jiff::tz::TimeZone::get(&sc.lot.time_zone)
            .map_err(|e| UsageError(format!("lot {}: time zone: {e}", sc.lot.id)))?;
        let until = sc
            .messages
            .iter()
            .map(|m| m.received_at)
            .max()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let rows = lot_history(store, &sc.lot.id, sc.lot.capacity, until)
            .await
            .map_err(|e| UsageError(e.to_string()))?;
        for row in rows {
            out.write_all(row.csv(&tz).as_bytes()).map_err(fail)?;
        }
    }
    out.flush().map_err(fail)
}

/// An amount as people read it (`JPY 217,300`).
fn money(minor: i64, currency: &str) -> String {
    match parking_core::Currency::parse(currency) {
        Ok(c) => parking_core::Money::new(minor, c).to_string(),
        Err(_) => format!("{currency} {minor}"),
    }
}

/// The summary for people.
pub fn render(s: &Summary, cfg: &SimConfig) -> String {
    let c = &s.currency;
    let ok = |b: bool| if b { "ok" } else { "FAILED" };
    let mut out = format!(
        "Seamless Parking simulation: {} lot(s), {} day(s) from {}, seed {}\n\n",
        cfg.lots, cfg.days, cfg.start, cfg.seed
    );
    out += &format!("  messages            {:>10}\n", s.messages);
    out += &format!("  entries             {:>10}\n", s.entries);
    out += &format!("  exits               {:>10}\n", s.exits);
    out += &format!("  still parked        {:>10}\n", s.open_sessions);
    out += &format!("  revenue             {:>14}\n", money(s.revenue, c));
    out += &format!(
        "    charged to cards  {:>14}\n",
        money(s.charged_to_cards, c)
    );
    out += &format!("    refunded          {:>14}\n", money(s.refunded, c));
    out += &format!("    owed at kiosks    {:>14}\n", money(s.owed_at_kiosks, c));
    out += &format!(
        "    held for review   {:>14}\n",
        money(s.held_for_review, c)
    );
    out += &format!(
        "  charges queued      {:>10}  ({})\n",
        s.charges_queued.count,
        money(s.charges_queued.amount, c)
    );
    out += &format!(
        "  refunds queued      {:>10}  ({})\n",
        s.refunds_queued.count,
        money(s.refunds_queued.amount, c)
    );
    let t = &s.settlement;
    out += "  settled with the payment provider\n";
    out += &format!(
        "    paid              {:>10}  ({})  {} stays paid\n",
        t.paid.count,
        money(t.paid.amount, c),
        t.paid_sessions
    );
    out += &format!(
        "    failed            {:>10}  ({})  {} stays payment_failed\n",
        t.failed.count,
        money(t.failed.amount, c),
        t.payment_failed_sessions
    );
    out += &format!(
        "    refunded          {:>10}  ({})\n",
        t.refunded.count,
        money(t.refunded.amount, c)
    );
    if t.refunds_refused.count > 0 {
        out += &format!(
            "    refunds refused   {:>10}  ({})\n",
            t.refunds_refused.count,
            money(t.refunds_refused.amount, c)
        );
    }
    out += &format!("  notifications       {:>10}\n", s.notifications_queued);
    out += &format!(
        "  gate commands       {:>10}  ({} holds)\n",
        s.commands_sent, s.holds
    );
    out += &format!(
        "  needs an operator   {:>10}  ({} exit missing, {} to review)\n",
        s.needs_operator, s.exit_missing, s.needs_review
    );
    out += &format!(
        "  entry missing       {:>10}  (priced at the lost-entry fee)\n",
        s.entry_missing
    );
    out += &format!("  superseded          {:>10}\n", s.superseded);
    out += &format!(
        "  plates corrected    {:>10}  ({} unverified)\n",
        s.plates_corrected, s.plates_unverified
    );
    out += &format!("  duplicates dropped  {:>10}\n", s.duplicates_dropped);
    out += &format!("  stale readings      {:>10}\n", s.stale_ignored);
    out += &format!("  messages rejected   {:>10}\n", s.rejected);
    for (reason, n) in &s.rejected_by_reason {
        out += &format!("    {n:>5}  {reason}\n");
    }
    out += &format!(
        "  handler time        p50 {} µs, p99 {} µs, max {} µs\n",
        s.handler_time.p50_us, s.handler_time.p99_us, s.handler_time.max_us
    );
    out += &format!(
        "  gate decision       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (modelled round trips)\n",
        s.gate_decision.p50_us as f64 / 1000.0,
        s.gate_decision.p99_us as f64 / 1000.0,
        s.gate_decision.max_us as f64 / 1000.0
    );
    out += &format!(
        "  store requests      {:.2} per message\n",
        s.store_requests_per_message
    );
    out += &format!(
        "  throughput          {:.0} messages per second ({} ms)\n\n",
        s.messages_per_second, s.elapsed_ms
    );
    let k = &s.cost;
    if s.weeks.len() > 1 {
        out += "  store units per plate read, by week (read / write)\n";
        for w in &s.weeks {
            out += &format!(
                "    week {:>2}  {:>9} reads  {:>5.2} / {:>5.2}\n",
                w.week, w.plate_reads, w.read_units_per_read, w.write_units_per_read
            );
        }
    }
    let u = &k.usage;
    let usd = |v: f64| format!("{} {v:.4}", k.currency);
    let by = |c: &parking_app::usecases::cost::Cost| {
        format!(
            "{:>12}  (Lambda {}, DynamoDB {}, SQS {}, IoT {})",
            usd(c.total),
            usd(c.lambda),
            usd(c.dynamodb),
            usd(c.sqs),
            usd(c.iot)
        )
    };
    out += &format!(
        "  cost, at {}'s on-demand prices of {}\n",
        k.region, k.prices_date
    );
    out += &format!("    per 1,000 sessions {}\n", by(&k.per_1000_sessions));
    out += &format!("    per lot-month      {}\n", by(&k.per_lot_month));
    out += &format!(
        "    counted            DynamoDB {} reads ({:.1} RRU), {} writes ({:.1} WRU); SQS {} requests; \
         IoT {} in, {} out; Lambda {} invocations, {:.2} GB-s\n",
        u.dynamodb_read_requests,
        u.dynamodb_read_units,
        u.dynamodb_write_requests,
        u.dynamodb_write_units,
        u.sqs_requests,
        u.iot_inbound_messages,
        u.iot_outbound_messages,
        u.lambda_invocations,
        u.lambda_gb_seconds
    );
    let t = &s.truth;
    out += &format!(
        "  money against the truth: {} drivers, {} stays read cleanly; {} drivers off, {} double charges, \
         {} refunds beyond a charge (trouble: {} dead-lettered and redriven, {} voids, {} goodwill refunds, \
         {} failed stays paid with a new card)\n",
        t.drivers,
        t.stays,
        t.drivers_off,
        t.double_charges,
        t.refunds_beyond_charge,
        t.dead_lettered,
        t.voids,
        t.goodwill_refunds,
        t.paid_with_a_new_card
    );
    out += &format!(
        "  checks: every entry is a session {}; revenue is the sum of fees {}; charges match fees due {}; settlement adds up {}; money matches the truth {}\n",
        ok(s.checks.every_entry_is_a_session),
        ok(s.checks.revenue_is_the_sum_of_fees),
        ok(s.checks.charges_match_fees_due),
        ok(s.checks.settlement_adds_up),
        ok(s.checks.money_matches_the_truth)
    );
    out
}

/// `--bays`: one lot's sensors priced, every minute against on change.
fn sensors(args: &Args, bays: u32) -> Result<(), UsageError> {
    use parking_app::simulator::sensors::{SensorLoad, price_sensors};
    let cfg = SimConfig {
        seed: args.seed,
        lots: 1,
        days: 1,
        start: args.start,
        capacity: bays,
        arrivals_per_day: 1,
        drivers: 1,
        calm: true,
        ..SimConfig::default()
    };
    let mut scenarios = generate(&cfg).map_err(UsageError)?;
    let Some(mut lot) = scenarios.pop() else {
        return Err(UsageError("no lot was generated".into()));
    };
    lot.messages.clear();
    let start = args
        .start
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").map_err(|e| UsageError(e.to_string()))?)
        .map_err(|e| UsageError(e.to_string()))?
        .timestamp();
    let prices = parking_app::usecases::cost::PriceTable::builtin().map_err(UsageError)?;
    let handler = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        SignedDuration::from_mins(1),
    );
    let load = SensorLoad {
        lot: lot.lot.id.clone(),
        bays: lot.bays.clone(),
        changes_per_bay_day: args.changes,
        repeat: SignedDuration::from_mins(15),
        sample: 100,
        start,
        seed: args.seed,
        batch: 100,
        window: SignedDuration::from_secs(10),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    let costs = rt
        .block_on(async {
            parking_app::scenario::set_up(&handler.store, &lot, start)
                .await
                .map_err(|e| e.to_string())?;
            price_sensors(&handler, &load, prices, || handler.store.store_use()).await
        })
        .map_err(UsageError)?;
    if args.json {
        return crate::print_json(&costs);
    }
    println!(
        "Bay sensors of one lot of {bays} bays, {} changes a bay a day (prices {} {}):",
        args.changes, prices.region, prices.date
    );
    println!(
        "| delivery | readings a day | written | IoT | SQS | Lambda | DynamoDB | per lot-month |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for c in &costs {
        let m = &c.per_lot_month;
        println!(
            "| {} | {} | {} | USD {:.2} | USD {:.2} | USD {:.2} | USD {:.2} | USD {:.2} |",
            c.delivery, c.readings, c.written, m.iot, m.sqs, m.lambda, m.dynamodb, m.total
        );
    }
    Ok(())
}
