//! `parkctl dead-letters`: list the messages the payments or notifications
//! consumers gave up on, and send them back once the cause is fixed; and
//! replay the device events the device functions gave up on through the
//! device handler. Runs with the deployment's credentials and queue URLs
//! from the environment (`PARKING_PAYMENTS_QUEUE_URL`,
//! `PARKING_PAYMENTS_DLQ_URL`, `PARKING_NOTIFICATIONS_QUEUE_URL`,
//! `PARKING_NOTIFICATIONS_DLQ_URL`; for `replay`,
//! `PARKING_DEVICE_EVENTS_DLQ_URL`, `PARKING_TABLE` and
//! `PARKING_IOT_ENDPOINT`); it sees every lot's messages, and those nobody
//! can read.

use parking_app::outbox::Queue;
use parking_app::usecases::dead_letters::{DeadLetter, list, redrive};
use parking_aws::config::{DeadLetterConfig, dead_letters, sdk_config};

use crate::UsageError;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum QueueArg {
    Payments,
    Notifications,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// List the dead letters (what each is about, never its body).
    List(Which),
    /// Send the dead letters back to their queue.
    Redrive(Which),
    /// Handle the device events dead-letter queue's events again, once
    /// the cause is fixed; those handled are deleted, the others stay.
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(clap::Args)]
pub struct Which {
    #[arg(long, value_enum)]
    queue: QueueArg,
    /// Only this lot's messages.
    #[arg(long)]
    lot: Option<String>,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Runs the action; the dead letters listed or sent back, as JSON lines.
///
/// # Errors
///
/// A bad argument, a missing setting, or the queue's failure.
pub fn run_cli(action: &Action) -> Result<(), UsageError> {
    let which = match action {
        Action::List(which) | Action::Redrive(which) => which,
        Action::Replay(args) => return replay_devices(args.limit),
    };
    let queue = match which.queue {
        QueueArg::Payments => Queue::Payments,
        QueueArg::Notifications => Queue::Notifications,
    };
    let lot = which
        .lot
        .as_deref()
        .map(|l| l.parse().map_err(|e| UsageError(format!("--lot: {e}"))))
        .transpose()?;
    if !(1..=100).contains(&which.limit) {
        return Err(UsageError("--limit: must be from 1 to 100".into()));
    }
    let config = DeadLetterConfig::from_env().map_err(|e| UsageError(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    let found: Vec<DeadLetter> = rt.block_on(async {
        let dlq = dead_letters(&sdk_config().await, &config);
        if matches!(action, Action::Redrive(_)) {
            redrive(&dlq, queue, lot.as_ref(), which.limit).await
        } else {
            list(&dlq, queue, lot.as_ref(), which.limit).await
        }
        .map_err(|e| UsageError(e.to_string()))
    })?;
    for d in found {
        println!(
            "{}",
            serde_json::json!({
                "id": d.id,
                "lot_id": d.lot_id.map(|l| l.to_string()),
                "kind": d.kind,
                "received": d.received,
                "sent_at": d.sent_at.map(|t| t.to_string()),
                "sent_back": matches!(action, Action::Redrive(_)),
            })
        );
    }
    Ok(())
}

/// Replays the device events dead-letter queue through the device
/// handler on the deployment's table and gates; prints what became of each
/// message as JSON lines.
fn replay_devices(limit: usize) -> Result<(), UsageError> {
    use parking_app::usecases::device_events::DeviceEvents;
    use parking_app::usecases::replay::{Replayed, replay};
    use parking_aws::config::{
        DeviceConfig, StoreConfig, device_letters, device_letters_url, dynamo_store, iot_link,
    };

    if !(1..=100).contains(&limit) {
        return Err(UsageError("--limit: must be from 1 to 100".into()));
    }
    let usage = |e: parking_aws::config::ConfigError| UsageError(e.to_string());
    let url = device_letters_url(|k| std::env::var(k).ok()).map_err(usage)?;
    let store_config = StoreConfig::from_env().map_err(usage)?;
    let device_config = DeviceConfig::from_env().map_err(usage)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))?;
    let done = rt.block_on(async {
        let sdk = sdk_config().await;
        let handler = DeviceEvents::new(
            dynamo_store(&sdk, &store_config),
            iot_link(&sdk, &device_config),
            device_config.lot_cache,
        );
        replay(
            &device_letters(&sdk, url),
            &handler,
            limit,
            jiff::Timestamp::now(),
        )
        .await
        .map_err(|e| UsageError(e.to_string()))
    })?;
    for (id, outcome) in done {
        let line = match outcome {
            Replayed::Handled {
                applied,
                duplicates,
                refused,
            } => serde_json::json!({"id": id, "handled": true, "applied": applied,
                "duplicates": duplicates, "refused": refused}),
            Replayed::Failed(why) => serde_json::json!({"id": id, "handled": false, "failed": why}),
            Replayed::Unreadable(why) => {
                serde_json::json!({"id": id, "handled": false, "unreadable": why})
            }
        };
        println!("{line}");
    }
    Ok(())
}
