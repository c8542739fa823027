//! `parkctl replay`: run a scenario's device messages through the
//! handlers and print what came of them.

use std::path::PathBuf;

use jiff::SignedDuration;
use parking_app::scenario::{ReplayOutput, Scenario, replay};
use parking_app::usecases::device_events::DeviceEvents;
use parking_aws::{MemoryLink, MemoryStore};

use crate::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario JSON file.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Where state is kept: in memory, or the DynamoDB table named by
    /// PARKING_TABLE (at AWS_ENDPOINT_URL when set).
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StoreKind {
    Memory,
    Dynamodb,
}

/// Reads and checks a scenario file.
pub fn load(path: &PathBuf) -> Result<Scenario, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    Scenario::parse(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))
}

pub fn run(args: &Args) -> Result<ReplayOutput, UsageError> {
    let scenario = load(&args.scenario)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    match args.store {
        StoreKind::Memory => {
            let handler = DeviceEvents::new(
                MemoryStore::default(),
                MemoryLink::default(),
                SignedDuration::from_mins(1),
            );
            let provider = parking_aws::Faulty::new(parking_aws::DevProvider::default());
            rt.block_on(replay(&handler, &provider, &scenario))
                .map_err(|e| UsageError(e.to_string()))
        }
        #[cfg(feature = "dynamodb")]
        StoreKind::Dynamodb => rt.block_on(crate::aws::replay_dynamodb(&scenario)),
        #[cfg(not(feature = "dynamodb"))]
        StoreKind::Dynamodb => Err(UsageError(
            "--store dynamodb: this parkctl was built without DynamoDB; build it with --features dynamodb".into(),
        )),
    }
}
