//! A scenario's money steps: what the payment provider does from a time
//! on, and what the payments queue, the sweeps, staff and drivers do, so
//! whole money stories are replayed through the real use cases; and the
//! ledger that comes of them.
//!
//! Steps run in time order, merged with the device messages: before each
//! message, every step not yet run whose `at` is not after the message's
//! `received_at`; after the last message, the rest.
//!
//! ```json
//! {"at": "<RFC 3339>", "do": "provider", "behaviour": "ok" | "decline" | "authentication_required" | "down" | "timeout" | "lose_answers" | "refunds_fail", "token"?: "<a card's token: only its calls>"}
//! {"at": …, "do": "settle"}      every payment queued so far is delivered to settlement (once each); a message whose
//!                                outcome is not known yet comes back with the next `settle`, and after 12 deliveries
//!                                goes to the dead-letter queue
//! {"at": …, "do": "sweep"}       the retry sweep queues the payments whose retry is due
//! {"at": …, "do": "redrive"}     the dead-letter queue's messages go back to the queue
//! {"at": …, "do": "staff", "action": "void" | "refund" | "adjust" | "charge", "plate": "<plate>", "amount"?: <minor units>, "note"?: "…"}
//!                                on the plate's latest stay (`refund` and `adjust` need `amount`)
//! {"at": …, "do": "add_card", "driver_id": …, "token": …, "brand": …, "last4": …}
//! {"at": …, "do": "pay_now", "plate": "<plate>", "method_id": …}
//! ```
//!
//! The output's `ledger`:
//!
//! ```json
//! {"drivers": [{"driver_id", "charged", "refunded", "charges", "refunds", "refunds_beyond_charge"}],
//!  "stays": [{"session_id", "plate", "driver_id", "status", "owed", "collected"}],
//!  "queued": <payments messages not settled>, "dead_letters": <messages in the dead-letter queue>}
//! ```
//!
//! `drivers` is what the provider's own books say (charged before refunds,
//! and refunded); `stays` is each stay with a card: what it owes by card
//! and what its books say was collected, net of refunds.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

use jiff::Timestamp;
use parking_core::Plate;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::model::{Actor, Session};
use crate::outbox::{OutboxMessage, PaymentOrder, Queues, SendError};
use crate::settlement::{Behaviour, DriverBooks, PaymentProvider, ProviderControl, ProviderLedger};
use crate::store::prelude::*;
use crate::usecases::adjust::{Decision, Staff};

/// How many deliveries a payments message gets before it is
/// dead-lettered (the deployed queue's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 12;

/// What staff do to a stay in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffAction {
    Void,
    Refund,
    Adjust,
    Charge,
}

/// A money step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Provider {
        at: Timestamp,
        behaviour: Behaviour,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    Settle {
        at: Timestamp,
    },
    Sweep {
        at: Timestamp,
    },
    Redrive {
        at: Timestamp,
    },
    Staff {
        at: Timestamp,
        action: StaffAction,
        plate: Plate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    AddCard {
        at: Timestamp,
        driver_id: DriverId,
        token: String,
        brand: String,
        last4: String,
    },
    PayNow {
        at: Timestamp,
        plate: Plate,
        method_id: PaymentMethodId,
    },
}

impl Step {
    pub fn at(&self) -> Timestamp {
        match self {
            Step::Provider { at, .. }
            | Step::Settle { at }
            | Step::Sweep { at }
            | Step::Redrive { at }
            | Step::Staff { at, .. }
            | Step::AddCard { at, .. }
            | Step::PayNow { at, .. } => *at,
        }
    }

    /// Checks what serde cannot: amounts where they are needed.
    ///
    /// # Errors
    ///
    /// The field and what is wrong.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Step::Staff {
            action: StaffAction::Refund | StaffAction::Adjust,
            amount: None,
            ..
        } = self
        {
            return Err(("amount", "is needed to refund or adjust".into()));
        }
        if let Step::Staff {
            amount: Some(a), ..
        } = self
            && *a < 0
        {
            return Err(("amount", "must not be negative".into()));
        }
        Ok(())
    }
}

/// One stay's money, in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StayMoney {
    pub session_id: SessionId,
    pub plate: Option<super::PrintedPlate>,
    pub driver_id: Option<DriverId>,
    pub status: &'static str,
    pub owed: i64,
    pub collected: i64,
}

/// The money that came of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LedgerOut {
    pub drivers: Vec<DriverBooks>,
    pub stays: Vec<StayMoney>,
    pub queued: usize,
    pub dead_letters: usize,
}

/// The payments queue as a replay runs it.
#[derive(Debug, Default)]
pub struct Payments {
    forwarded: BTreeSet<String>,
    queue: VecDeque<(PaymentOrder, u32)>,
    dead: Vec<PaymentOrder>,
}

/// Messages a sweep sends, kept for the queue.
#[derive(Default)]
struct Captured(Mutex<Vec<OutboxMessage>>);

impl Queues for Captured {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message.clone());
        Ok(())
    }
}

/// Why a step failed.
fn failed(index: usize, e: impl std::fmt::Display) -> super::ReplayError {
    super::ReplayError::Step {
        index,
        problem: e.to_string(),
    }
}

const SCENARIO_STAFF: &str = "scenario";

/// The plate's latest stay in the lot.
async fn stay_of<S: Store>(
    store: &S,
    lot: &LotId,
    plate: &Plate,
    index: usize,
) -> Result<Session, super::ReplayError> {
    store
        .lot_sessions(lot)
        .await?
        .into_iter()
        .filter(|s| {
            s.plate.key() == plate.key() && s.state != parking_core::SessionState::Superseded
        })
        .max_by_key(|s| s.entry_at)
        .ok_or_else(|| failed(index, format!("plate {} has no stay", plate.display())))
}

/// Runs step `index`.
///
/// # Errors
///
/// [`super::ReplayError::Step`] naming the step, or the store's.
pub async fn run_step<S, P>(
    store: &S,
    provider: &P,
    payments: &mut Payments,
    lot: &LotId,
    index: usize,
    step: &Step,
) -> Result<(), super::ReplayError>
where
    S: Store,
    P: PaymentProvider + ProviderControl,
{
    let at = step.at();
    let operator = Actor {
        role: "operator".into(),
        subject: SCENARIO_STAFF.into(),
    };
    let staff = Staff {
        actor: &operator,
        lot_id: lot,
        now: at,
    };
    match step {
        Step::Provider {
            behaviour, token, ..
        } => provider.behave(*behaviour, token.as_deref()),
        Step::Settle { .. } => {
            for m in store.outbox_pending(usize::MAX).await? {
                if let OutboxMessage::Payments(o) = &m
                    && &o.lot_id == lot
                    && payments.forwarded.insert(m.id())
                {
                    payments.queue.push_back((o.clone(), 0));
                }
            }
            let mut again = VecDeque::new();
            while let Some((order, receives)) = payments.queue.pop_front() {
                let settled = crate::usecases::settle::settle_order(store, provider, &order, at)
                    .await
                    .map_err(|e| failed(index, e))?;
                if let crate::usecases::settle::Settled::Retry(_) = settled {
                    if receives + 1 >= MAX_RECEIVES {
                        payments.dead.push(order);
                    } else {
                        again.push_back((order, receives + 1));
                    }
                }
            }
            payments.queue = again;
        }
        Step::Sweep { .. } => {
            let sent = Captured::default();
            crate::usecases::sweeps::payment_retries(store, &sent, at, 1000)
                .await
                .map_err(|e| failed(index, e))?;
            for m in sent.0.into_inner().unwrap_or_else(|p| p.into_inner()) {
                if let OutboxMessage::Payments(o) = m {
                    payments.queue.push_back((o, 0));
                }
            }
        }
        Step::Redrive { .. } => {
            for o in payments.dead.drain(..) {
                payments.queue.push_back((o, 0));
            }
        }
        Step::Staff {
            action,
            plate,
            amount,
            note,
            ..
        } => {
            let s = stay_of(store, lot, plate, index).await?;
            let note = note.clone().unwrap_or_else(|| "scenario".into());
            let done = match action {
                StaffAction::Refund => crate::usecases::adjust::refund(
                    store,
                    staff,
                    &s.id,
                    amount.unwrap_or(0),
                    &note,
                    &format!("step-{index}"),
                )
                .await
                .map(|_| ()),
                StaffAction::Void | StaffAction::Adjust | StaffAction::Charge => {
                    let decision = match action {
                        StaffAction::Void => Decision::Void,
                        StaffAction::Adjust => Decision::Adjust {
                            amount: amount.unwrap_or(0),
                        },
                        _ => Decision::Charge { amount: *amount },
                    };
                    crate::usecases::adjust::resolve(store, staff, &s.id, decision, &note)
                        .await
                        .map(|_| ())
                }
            };
            done.map_err(|e| failed(index, e))?;
        }
        Step::AddCard {
            driver_id,
            token,
            brand,
            last4,
            ..
        } => {
            crate::usecases::account::add_payment_method(
                store,
                Some(provider),
                driver_id,
                &crate::usecases::account::NewPaymentMethod {
                    token: token.clone(),
                    brand: brand.clone(),
                    last4: last4.clone(),
                },
                at,
            )
            .await
            .map_err(|e| failed(index, e))?;
        }
        Step::PayNow {
            plate, method_id, ..
        } => {
            let s = stay_of(store, lot, plate, index).await?;
            let Some(driver) = &s.driver_id else {
                return Err(failed(index, "the stay has no driver"));
            };
            crate::usecases::pay::pay_now(
                store,
                driver,
                &s.id,
                method_id,
                &format!("step-{index}"),
                at,
            )
            .await
            .map_err(|e| failed(index, e))?;
        }
    }
    Ok(())
}

/// The ledger: the provider's books per driver, and each stay's money.
///
/// # Errors
///
/// The store's.
pub async fn ledger<S: Store, P: ProviderLedger>(
    store: &S,
    provider: &P,
    lot: &LotId,
    payments: &Payments,
) -> Result<LedgerOut, StoreError> {
    let mut stays = Vec::new();
    for s in store.lot_sessions(lot).await? {
        if s.state == parking_core::SessionState::Superseded || s.method_id.is_none() {
            continue;
        }
        let (owed, collected) = match crate::history::of_session(store, &s).await? {
            Some(t) => {
                crate::balance::Balance::of(&t, &s.id).map_or((0, 0), |b| (b.owed, b.collected))
            }
            None => (0, 0),
        };
        stays.push(StayMoney {
            session_id: s.id.clone(),
            plate: s
                .plate
                .is_readable()
                .then(|| super::PrintedPlate(s.plate.display())),
            driver_id: s.driver_id.clone(),
            status: super::status(s.state),
            owed,
            collected,
        });
    }
    stays.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    Ok(LedgerOut {
        drivers: provider.books(),
        stays,
        queued: payments.queue.len(),
        dead_letters: payments.dead.len(),
    })
}
