//! `parkctl pricing`: price suggestions by demand from an occupancy
//! history, and the rule's backtest on simulated months.

use std::path::PathBuf;

use jiff::Timestamp;
use parking_app::simulator::demand::{DemandBacktest, backtest};
use parking_core::Tariff;
use parking_core::demand::{DemandPolicy, Suggestion, suggest};
use parking_core::forecast::{Observation, Series};

use crate::UsageError;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Suggest a lot's next tariff version from its occupancy under the
    /// version in force, and write it as a future-dated version to post
    /// (nothing is applied).
    Suggest(SuggestArgs),
    /// Run the rule for months on simulated lots whose drivers answer
    /// prices with a constant elasticity, and report occupancy month by
    /// month.
    Backtest(BacktestArgs),
}

#[derive(clap::Args)]
pub struct SuggestArgs {
    /// Occupancy history, CSV `lot_id,observed_at,occupied,capacity`
    /// (what `parkctl simulate --history` writes).
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    /// The lot in the history.
    #[arg(long, value_name = "ID")]
    lot: String,
    /// The tariff in force, JSON.
    #[arg(long, value_name = "FILE")]
    tariff: PathBuf,
    /// When the tariff in force took effect (RFC 3339); without it, the
    /// history's start.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// When the suggestion is made (RFC 3339); without it, the history's
    /// last observation.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The rule's settings, JSON (`settings.demand_pricing`; missing fields
    /// take their defaults).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Write the version to post (`{"effective_from", "tariff"}`, the body
    /// of `POST /v1/operator/lots/{lot}/tariffs`).
    #[arg(long, value_name = "OUT.json")]
    out: Option<PathBuf>,
    /// Print the suggestion as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct BacktestArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    lots: u32,
    #[arg(long, default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=60))]
    months: u32,
    /// The rule's settings, JSON.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn read(flag: &str, path: &PathBuf) -> Result<String, UsageError> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--{flag} {}: {e}", path.display())))
}

fn policy(path: Option<&PathBuf>) -> Result<DemandPolicy, UsageError> {
    let Some(path) = path else {
        return Ok(DemandPolicy::default());
    };
    let p: DemandPolicy = serde_json::from_str(&read("policy", path)?)
        .map_err(|e| UsageError(format!("--policy {}: {e}", path.display())))?;
    p.check()
        .map_err(|e| UsageError(format!("--policy {}: {e}", path.display())))?;
    Ok(p)
}

fn time(flag: &str, value: &str) -> Result<Timestamp, UsageError> {
    value.parse().map_err(|_| {
        UsageError(format!(
            "--{flag}: expected an RFC 3339 time with an offset"
        ))
    })
}

pub fn run_cli(action: &Action) -> Result<(), UsageError> {
    match action {
        Action::Suggest(args) => run_suggest(args),
        Action::Backtest(args) => {
            let p = policy(args.policy.as_ref())?;
            let b = backtest(args.seed, args.lots, args.months, &p)
                .map_err(|e| UsageError(e.to_string()))?;
            if args.json {
                crate::print_json(&b)
            } else {
                print!("{}", render_backtest(&b));
                Ok(())
            }
        }
    }
}

fn run_suggest(args: &SuggestArgs) -> Result<(), UsageError> {
    let tariff = Tariff::from_json(&read("tariff", &args.tariff)?).map_err(|e| {
        UsageError(format!(
            "--tariff {}: {}: {}",
            args.tariff.display(),
            e.field,
            e.problem
        ))
    })?;
    let p = policy(args.policy.as_ref())?;
    let rows = crate::forecast::read_history(&args.history)?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.lot_id.as_str() == args.lot)
        .collect();
    let (Some(first), Some(last)) = (
        rows.iter().map(|r| r.observed_at).min(),
        rows.iter().map(|r| r.observed_at).max(),
    ) else {
        return Err(UsageError(format!(
            "--lot {}: no rows of that lot in the history",
            args.lot
        )));
    };
    let capacity = rows.iter().map(|r| r.capacity).max().unwrap_or(0);
    let obs: Vec<Observation> = rows
        .iter()
        .map(|r| Observation {
            at: r.observed_at,
            occupied: r.occupied,
        })
        .collect();
    let now = match &args.now {
        Some(t) => time("now", t)?,
        None => last,
    };
    let since = match &args.since {
        Some(t) => time("since", t)?,
        None => first,
    };
    if since > now {
        return Err(UsageError(format!(
            "--since: {since} is after the time of the suggestion ({now})"
        )));
    }
    let series = Series::from_observations(tariff.time_zone(), capacity, &obs, Some(now))
        .map_err(|e| UsageError(format!("--history: {e}")))?;
    let s = suggest(&tariff, since, &series, now, &p).map_err(|e| UsageError(e.to_string()))?;
    if let Some(out) = &args.out {
        let body = serde_json::json!({
            "effective_from": s.effective_from.to_string(),
            "tariff": s.tariff,
        });
        let text = serde_json::to_string_pretty(&body).unwrap_or_default();
        std::fs::write(out, text + "\n")
            .map_err(|e| UsageError(format!("--out {}: {e}", out.display())))?;
    }
    if args.json {
        crate::print_json(&s)
    } else {
        print!("{}", render_suggestion(&s));
        Ok(())
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{:.0}%", x * 100.0))
}

/// The suggestion for people.
pub fn render_suggestion(s: &Suggestion) -> String {
    let measured = s.measured.map_or_else(
        || "nothing measured".to_owned(),
        |(a, b)| format!("measured {a} to {b} ({} days)", s.measured_days),
    );
    let mut out = format!(
        "Price suggestion: {}, effective from {} (not applied: post it to schedule it)\n\n",
        measured, s.effective_from
    );
    out += &format!(
        "  {:<12} {:>5} {:>9} {:>8} {:>9} {:>9} {:>9}  {}\n",
        "band", "unit", "occupied", "current", "proposed", "expected", "slots", "decision"
    );
    for b in &s.bands {
        out += &format!(
            "  {:<12} {:>4}m {:>9} {:>8} {:>9} {:>9} {:>9}  {:?}\n",
            b.name,
            b.unit_minutes,
            percent(b.occupancy),
            b.current,
            b.proposed,
            percent(b.expected_occupancy),
            b.slots,
            b.decision
        );
    }
    out
}

/// The backtest for people.
pub fn render_backtest(b: &DemandBacktest) -> String {
    let mut out = format!(
        "Demand pricing backtest: {} simulated lots, 2 bands each, months of 30 days\n\
         {} versions scheduled, {} band changes, largest step {} per hour\n\n",
        b.lots, b.versions, b.band_changes, b.largest_step_per_hour
    );
    out += &format!(
        "  {:>5} {:>10} {:>9} {:>10} {:>13}\n",
        "month", "in target", "too full", "underused", "price change"
    );
    for m in &b.months {
        out += &format!(
            "  {:>5} {:>9.1}% {:>8.1}% {:>9.1}% {:>12.1}%\n",
            m.month,
            m.in_target * 100.0,
            m.too_full * 100.0,
            m.underused * 100.0,
            m.price_change * 100.0
        );
    }
    out
}
