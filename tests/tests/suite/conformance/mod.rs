//! The store conformance suite: one file per capability, written once and
//! run against the in-memory store and against DynamoDB (moto server).
//! Refusals are matched on their rule ([`Refusal`]), never on text. Each
//! capability's file covers the writes the flows use: a plate's history
//! changes through `commit_read` (with the sessions, outbox messages,
//! stays, ledger entry and occupancy count it carries), bays through
//! `record_bay`, reservations through `reserve` and `cancel_reservation`,
//! drivers through their registrations, the unpaid register and cameras'
//! tracks through the commits that carry them; the audit trail, the flag
//! document, forecasts, usage and a lot's webhooks through their own
//! writes. Settlement's
//! attempts have their own suite (`settle.rs`).

mod audit;
mod drivers;
mod flags;
mod forecasts;
mod history;
mod hooks;
mod ledger;
mod lots;
mod outbox;
mod reservations;
mod sessions;
mod tracks;
mod unpaid;
mod usage;

pub use audit::*;
pub use drivers::*;
pub use flags::*;
pub use forecasts::*;
pub use history::*;
pub use hooks::*;
pub use ledger::*;
pub use lots::*;
pub use outbox::*;
pub use reservations::*;
pub use sessions::*;
pub use tracks::*;
pub use unpaid::*;
pub use usage::*;

#[allow(unused_imports)]
use futures::future::join_all;
#[allow(unused_imports)]
use jiff::{SignedDuration, Timestamp};
#[allow(unused_imports)]
use parking_app::rules::{DEFAULT_EVENT_RETENTION, SENSOR_RESTART_GAP};
#[allow(unused_imports)]
use parking_app::*;
#[allow(unused_imports)]
use parking_core::SessionState;
#[allow(unused_imports)]
use parking_tests::fx::{self, id};

fn refusal<T: std::fmt::Debug>(r: &StoreResult<T>) -> Option<&Refusal> {
    match r {
        Err(StoreError::Conflict(rule)) => Some(rule),
        _ => None,
    }
}

fn lot_id(s: &str) -> LotId {
    id(s)
}

use parking_tests::fx::commit;
