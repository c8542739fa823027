//! `parkctl`: the Seamless Parking command line.

#[cfg(feature = "dynamodb")]
mod aws;
#[cfg(feature = "dynamodb")]
mod dead_letters;
mod dev;
mod forecast;
mod pricing;
mod quote;
mod replay;
mod serve;
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "parkctl", version, about = "Seamless Parking command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Price a stay against a tariff and print the quote as JSON.
    Quote(quote::Args),
    /// Run a scenario's device messages through the handlers and print the
    /// sessions, commands, payments and availability as JSON.
    Replay(replay::Args),
    /// Simulate realistic days at demo lots through the device handlers
    /// and summarise them (the in-memory store).
    Simulate(simulate::Args),
    /// Serve the HTTP APIs on 127.0.0.1, seeded with the demo lot.
    Serve(serve::Args),
    /// Occupancy forecasts: backtest the model on a history.
    #[command(subcommand)]
    Forecast(forecast::Action),
    /// Prices that follow demand: suggest a lot's next tariff version, or
    /// backtest the rule on simulated months.
    #[command(subcommand)]
    Pricing(pricing::Action),
    /// A local MQTT broker with TLS client certificates, bridged to the
    /// device handlers: provision, revoke and emulate devices.
    #[command(subcommand)]
    Dev(dev::Action),
    /// Print the APIs' OpenAPI 3.1 document.
    Openapi,
    /// List or redrive the payments and notifications dead-letter queues
    /// (needs a parkctl built with --features dynamodb, and the queues'
    /// URLs in the environment).
    #[cfg(feature = "dynamodb")]
    #[command(subcommand)]
    DeadLetters(dead_letters::Action),
}

/// A failure the user can act on: printed as one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::Quote(args) => quote::run(&args).and_then(|q| print_json(&q)),
        Command::Replay(args) => replay::run(&args).and_then(|r| print_json(&r)),
        Command::Simulate(args) => simulate::run_cli(&args),
        Command::Serve(args) => serve::run_cli(&args),
        Command::Forecast(action) => forecast::run_cli(&action),
        Command::Pricing(action) => pricing::run_cli(&action),
        Command::Dev(action) => dev::run_cli(&action),
        #[cfg(feature = "dynamodb")]
        Command::DeadLetters(action) => dead_letters::run_cli(&action),
        Command::Openapi => {
            print!("{}", parking_api::openapi::document_text());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(UsageError(message)) => {
            eprintln!("parkctl: {message}");
            ExitCode::from(2)
        }
    }
}

/// Streams a value to stdout as pretty JSON, ending with a newline.
fn print_json<T: serde::Serialize>(value: &T) -> Result<(), UsageError> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    writeln!(out)
        .and_then(|()| out.flush())
        .map_err(|e| UsageError(format!("cannot write the output: {e}")))
}

/// Help and version go to stdout as usual; every other argument error is
/// folded onto one line.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!("parkctl: {}", line.join(" ").trim_start_matches("error: "));
    ExitCode::from(2)
}
