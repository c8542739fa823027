//! `parkctl quote`: price one stay.

use std::path::PathBuf;

use jiff::Timestamp;
use parking_core::tariff::MAX_AMOUNT;
use parking_core::{Discount, Quote, Stay, Tariff};

use crate::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Tariff JSON file.
    #[arg(long, value_name = "FILE")]
    tariff: PathBuf,
    /// Entry time, RFC 3339 with an offset (2026-11-24T09:00:00+09:00).
    #[arg(long, value_name = "TIME")]
    entry: String,
    /// Exit time, RFC 3339 with an offset.
    #[arg(long, value_name = "TIME")]
    exit: String,
    /// Validated minutes, free from entry.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    discount_minutes: u32,
    /// Amount (minor units) taken off after all caps.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    discount_amount: u64,
}

fn time(flag: &str, value: &str) -> Result<Timestamp, UsageError> {
    value.parse().map_err(|_| {
        UsageError(format!(
            "{flag}: expected an RFC 3339 time with an offset such as 2026-11-24T09:00:00+09:00, got {value:?}"
        ))
    })
}

/// Prices the stay; the caller renders the quote.
pub fn run(args: &Args) -> Result<Quote, UsageError> {
    let json = std::fs::read_to_string(&args.tariff).map_err(|e| {
        UsageError(format!(
            "--tariff: cannot read {}: {e}",
            args.tariff.display()
        ))
    })?;
    let tariff = Tariff::from_json(&json)
        .map_err(|e| UsageError(format!("{}: {e}", args.tariff.display())))?;
    let stay = Stay {
        entry: time("--entry", &args.entry)?,
        exit: time("--exit", &args.exit)?,
        discount: Discount {
            minutes: args.discount_minutes,
            amount: i64::try_from(args.discount_amount)
                .ok()
                .filter(|a| *a <= MAX_AMOUNT)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--discount-amount: must be at most {MAX_AMOUNT}, like any tariff amount (got {})",
                        args.discount_amount
                    ))
                })?,
        },
    };
    tariff.quote(&stay).map_err(|e| UsageError(e.to_string()))
}
