//! `parkctl forecast backtest`: day-ahead occupancy forecasts for the last
//! days of a history, scored against the seasonal-naive baseline.

use std::io::Write;
use std::path::PathBuf;

use jiff::tz::TimeZone;
use parking_app::usecases::forecast::{
    self, BacktestReport, HistoryRow, Prediction, backtest_history, rfc3339,
};
use parking_core::Calendar;
use parking_core::calendar::Country;

use crate::UsageError;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Forecast each of the last N days of a history from the days before
    /// it alone, and report each lot's and the overall mean absolute error
    /// per 15-minute slot against the same slot one week earlier.
    Backtest(BacktestArgs),
}

/// Whose holidays count as days off.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Holidays {
    /// Japanese national holidays.
    Jp,
    /// None: only Saturdays and Sundays are days off.
    None,
}

#[derive(clap::Args)]
pub struct BacktestArgs {
    /// Occupancy history, CSV with the header
    /// `lot_id,observed_at,occupied,capacity` (RFC 3339 times; a value
    /// holds until the next observation), as `parkctl simulate --history`
    /// writes it.
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    /// The lots' IANA time zone: days and slots are theirs.
    #[arg(long, value_name = "ZONE", default_value = "Asia/Tokyo")]
    time_zone: String,
    /// How many last days to forecast.
    #[arg(long, value_name = "N", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..=366))]
    test_days: u32,
    /// Write `lot_id,slot_start,predicted` for every slot of the test days.
    #[arg(long, value_name = "OUT.csv")]
    predictions: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Whose holidays are days off.
    #[arg(long, value_enum, default_value = "jp")]
    holidays: Holidays,
}

/// How many bad rows are described one by one.
const SHOWN_ERRORS: usize = 5;

pub fn run_cli(action: &Action) -> Result<(), UsageError> {
    let Action::Backtest(args) = action;
    let tz = TimeZone::get(&args.time_zone).map_err(|_| {
        UsageError(format!(
            "--time-zone: unknown IANA time zone {:?}",
            args.time_zone
        ))
    })?;
    let calendar = match args.holidays {
        Holidays::Jp => Calendar::new(Some(Country::Jp), []),
        Holidays::None => Calendar::default(),
    };
    let rows = read_history(&args.history)?;
    let test_days = i32::try_from(args.test_days).unwrap_or(i32::MAX);
    let (report, predictions) = backtest_history(&rows, &tz, &calendar, test_days);
    if report.overall.lots == 0 {
        let why = report
            .lots
            .iter()
            .filter_map(|l| l.skipped.as_deref().map(|s| format!("{}: {s}", l.lot_id)))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(UsageError(format!("no lot could be backtested ({why})")));
    }
    if let Some(path) = &args.predictions {
        write_predictions(path, &tz, &predictions)?;
    }
    if args.json {
        crate::print_json(&report)
    } else {
        print!("{}", render(&report));
        Ok(())
    }
}

/// Reads a history file; bad rows are described on stderr (the first
/// few, then a count) and left out, and the rest are used.
pub(crate) fn read_history(path: &PathBuf) -> Result<Vec<HistoryRow>, UsageError> {
    let file = std::fs::File::open(path)
        .map_err(|e| UsageError(format!("--history {}: {e}", path.display())))?;
    let history = forecast::read_history(std::io::BufReader::new(file))
        .map_err(|e| UsageError(format!("--history {}: {e}", path.display())))?;
    for e in history.bad.iter().take(SHOWN_ERRORS) {
        eprintln!("parkctl: --history {}: {e}", path.display());
    }
    if history.bad.len() > SHOWN_ERRORS {
        eprintln!(
            "parkctl: --history {}: {} more bad row(s) left out",
            path.display(),
            history.bad.len() - SHOWN_ERRORS
        );
    }
    if history.rows.is_empty() {
        return Err(UsageError(format!(
            "--history {}: no usable rows",
            path.display()
        )));
    }
    Ok(history.rows)
}

fn write_predictions(
    path: &PathBuf,
    tz: &TimeZone,
    predictions: &[Prediction],
) -> Result<(), UsageError> {
    let fail = |e: std::io::Error| UsageError(format!("--predictions {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"lot_id,slot_start,predicted\n")
        .map_err(fail)?;
    for p in predictions {
        writeln!(
            out,
            "{},{},{:.2}",
            p.lot_id,
            rfc3339(p.slot_start, tz),
            p.predicted
        )
        .map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// The report for people.
pub fn render(r: &BacktestReport) -> String {
    let mut out = format!(
        "Occupancy forecast backtest: day-ahead, last {} day(s), {}\n\
         MAE = mean absolute error per 15-minute slot, in bays; baseline = the same slot a week earlier;\n\
         P10–P90 = the share of slots inside the forecast's 80% band\n\n",
        r.test_days, r.time_zone
    );
    out += &format!(
        "  {:<24} {:>5} {:>6} {:>9} {:>9} {:>12} {:>9}\n",
        "lot", "days", "slots", "model", "baseline", "improvement", "P10–P90"
    );
    for l in &r.lots {
        match &l.skipped {
            Some(why) => {
                out += &format!(
                    "  {:<24} {:>5}  skipped: {why}\n",
                    l.lot_id.as_str(),
                    l.days
                );
            }
            None => {
                out += &format!(
                    "  {:<24} {:>5} {:>6} {:>9.2} {:>9.2} {:>11.1}% {:>8.1}%\n",
                    l.lot_id.as_str(),
                    l.days,
                    l.slots,
                    l.model_mae,
                    l.baseline_mae,
                    l.improvement * 100.0,
                    l.coverage * 100.0
                );
            }
        }
    }
    let o = &r.overall;
    out += &format!(
        "  {:<24} {:>5} {:>6} {:>9.2} {:>9.2} {:>11.1}% {:>8.1}%\n",
        format!("overall ({} lots)", o.lots),
        "",
        o.slots,
        o.model_mae,
        o.baseline_mae,
        o.improvement * 100.0,
        o.coverage * 100.0
    );
    let r = &o.read;
    out += &format!(
        "  {:<24} {:>5} {:>6} {:>9.2} {:>9.2} {:>11.1}% {:>8.1}%\n",
        "  slots with a reading",
        "",
        r.slots,
        r.model_mae,
        r.baseline_mae,
        if r.baseline_mae > 0.0 {
            (1.0 - r.model_mae / r.baseline_mae) * 100.0
        } else {
            0.0
        },
        r.coverage * 100.0
    );
    out
}
