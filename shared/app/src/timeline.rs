//! A plate's timeline in one lot, as stored: every camera read of the
//! plate there, the sessions the reads have made so far and the payments
//! ordered for them. Each read is applied by deriving the sessions again
//! from all the reads ([`parking_core::timeline::derive`]) and reconciling
//! what was stored with what is derived ([`reconcile`]): sessions that are
//! no longer derived become `superseded`, and each session's charges minus
//! refunds are brought to what it owes with one more order. So the result
//! depends on which reads there are, not on the order they arrived in.

use std::collections::{BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use parking_core::timeline::{self as core_timeline, Derived, Direction};
use parking_core::{Discount, Money, Plate, SessionState, Stay, Tariff};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::commands::GateCommand;
use crate::ids::*;
use crate::model::*;
use crate::outbox::{OutboxMessage, PaymentKind, PaymentOrder};

/// One camera read as the timeline keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineRead {
    pub device_id: DeviceId,
    pub event_id: EventId,
    pub gate_id: GateId,
    pub direction: GateDirection,
    pub at: Timestamp,
    /// Set when the read was doubtful (see [`SessionFlag`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<SessionFlag>,
    /// The reservation this entry checked in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    /// The car was turned away (the lot was full): the read makes no
    /// passage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub turned_away: bool,
    /// The command sent for it, sent again when the read is delivered
    /// again while fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<GateCommand>,
    /// The camera's track it is part of: taken for the plate the track
    /// agrees on, and moved with it ([`crate::passages`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackId>,
    /// The frame the camera uploaded for it ([`crate::evidence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<crate::evidence::FrameKey>,
}

impl TimelineRead {
    /// The read's key across deliveries: device and event id.
    pub fn key(&self) -> String {
        read_key(&self.device_id, &self.event_id)
    }
}

pub fn read_key(device: &DeviceId, event: &EventId) -> String {
    format!("{device}/{event}")
}

/// A plate's reads, sessions and payment orders in one lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateTimeline {
    pub lot_id: LotId,
    pub plate: Plate,
    /// 0 for a timeline never stored; every stored change adds one.
    pub version: u64,
    pub reads: Vec<TimelineRead>,
    /// Every session the reads have made, superseded ones included.
    pub sessions: Vec<Session>,
    /// Every charge and refund ordered for those sessions.
    pub orders: Vec<PaymentOrder>,
    /// Reads up to this time are in archived stays (see
    /// [`crate::history`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_until: Option<Timestamp>,
    /// The plate's monthly passes in the lot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<Pass>,
    /// What operators, shops and the kiosk did to its sessions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
    /// What settlement made of its charge orders, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settlements: Vec<SettlementRecord>,
    /// How many movements of money the plate's stays have had in the
    /// lot, archived ones included: the next is `movements + 1`, under
    /// its key ([`crate::usecases::settle::movement_key`]). Kept on the
    /// head, so archiving never makes a number come round again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub movements: u32,
    /// The last archived stay ends with an entry (see
    /// [`crate::history`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archive_ends_open: bool,
    /// For a working copy: the archived stays it was made with. Never
    /// stored.
    #[serde(skip)]
    pub window: Option<crate::history::Window>,
}

/// One movement of a stay's money at the provider, made or failed: the
/// stay's own books. The plate's `n`-th movement in the lot has its own
/// key (the provider's idempotency key), whichever stay it is for, so two
/// settlers of the plate's stays race for the same key and one waits,
/// even while a late read moves the money from one stay to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    /// The action id it was recorded under (from the key).
    pub id: ActionId,
    /// The stay whose balance it settles.
    pub session_id: SessionId,
    /// The movement's key.
    pub key: IdempotencyKey,
    pub kind: PaymentKind,
    /// What was asked; once it succeeded, what the provider moved.
    pub amount: Money,
    /// Its place among the plate's movements in the lot (1, 2, …); a
    /// refund the bank returned takes the next place too.
    pub attempt: u32,
    /// The provider's charge (or refund), when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    /// For a refund: the provider's charge it takes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_of: Option<String>,
    /// For a refund the provider made and the bank later failed: the
    /// provider's id of that refund, whose money is collected again (no
    /// provider call, so no key of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<String>,
    /// Why it failed, in words the app can show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Whose doing the failure was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<crate::settlement::Cause>,
    /// When the balance is to be tried again after this failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    /// Retries stopped here: the session waits for a person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gave_up: bool,
    pub at: Timestamp,
}

impl SettlementRecord {
    /// The record's effect on what was collected: `+amount` for a charge
    /// made, `-amount` for a refund made, 0 for a failure.
    pub fn signed_minor(&self) -> i64 {
        match (&self.charge_id, self.kind) {
            (None, _) => 0,
            (Some(_), PaymentKind::Charge) => self.amount.minor,
            (Some(_), PaymentKind::Refund) => -self.amount.minor,
        }
    }
}

/// Something done to a session through the APIs, kept with the plate's
/// timeline so every reconciliation prices the session with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: ActionId,
    pub session_id: SessionId,
    pub by: Actor,
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: AdjustmentKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// A shop's validation (the shop is `by`): free minutes from entry, or
    /// an amount off.
    Validation { minutes: u32, amount: i64 },
    /// Staff's decision; `amount` sets the fee (required to adjust).
    /// `exit_at` closes a stay whose exit no camera saw: it is priced (or
    /// voided) as if the car left then, unless an exit read comes, which
    /// wins.
    Resolve {
        resolution: Resolution,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_at: Option<Timestamp>,
    },
    /// Money given back out of the fee.
    Refund { amount: i64 },
    /// Paid at the kiosk; the car may leave until `exit_by` for it.
    KioskPayment { amount: i64, exit_by: Timestamp },
    /// The cardholder disputed a charge with their bank (the provider's
    /// dispute id and amount): for a person to answer.
    Dispute { dispute: String, amount: i64 },
    /// The driver chose this card for the stay (paying after a failure).
    PaymentMethod { method_id: PaymentMethodId },
    /// Found still open beyond the tariff's longest stay.
    Overstay,
    /// Found still open beyond the lot's `open_count_hours`: no longer
    /// counted toward full.
    Uncounted,
}

impl Adjustment {
    pub fn is_validation_by(&self, session: &SessionId, shop: &str) -> bool {
        &self.session_id == session
            && self.by.subject == shop
            && matches!(self.kind, AdjustmentKind::Validation { .. })
    }
}

/// Every tariff version a lot refers to, compiled.
#[derive(Debug, Clone)]
pub struct Tariffs {
    by_id: HashMap<TariffId, Tariff>,
    base: TariffId,
}

impl Tariffs {
    /// Compiles the lot's tariffs.
    ///
    /// # Errors
    ///
    /// A sentence naming the tariff that is missing or does not compile.
    pub fn compile(lot: &Lot, records: &[TariffRecord]) -> Result<Tariffs, String> {
        let mut by_id = HashMap::new();
        for r in records {
            let t = Tariff::compile(r.spec.clone()).map_err(|e| format!("tariff {}: {e}", r.id))?;
            by_id.insert(r.id.clone(), t);
        }
        let needed =
            std::iter::once(&lot.tariff_id).chain(lot.tariff_schedule.iter().map(|v| &v.tariff_id));
        for id in needed {
            if !by_id.contains_key(id) {
                return Err(format!("tariff {id} is missing"));
            }
        }
        Ok(Tariffs {
            by_id,
            base: lot.tariff_id.clone(),
        })
    }

    /// The version in force at `at`, with its id.
    pub fn at<'a>(&'a self, lot: &'a Lot, at: Timestamp) -> (&'a TariffId, &'a Tariff) {
        let id = lot.tariff_at(at);
        match self.by_id.get(id) {
            Some(t) => (id, t),
            None => (&self.base, self.base()),
        }
    }

    /// The lot's first tariff (its currency is every version's).
    pub fn base(&self) -> &Tariff {
        self.by_id
            .get(&self.base)
            .unwrap_or_else(|| unreachable!("compile checks the base tariff is present"))
    }
}

impl PlateTimeline {
    pub fn new(lot_id: LotId, plate: Plate) -> Self {
        PlateTimeline {
            lot_id,
            plate,
            version: 0,
            reads: Vec::new(),
            sessions: Vec::new(),
            orders: Vec::new(),
            archived_until: None,
            passes: Vec::new(),
            adjustments: Vec::new(),
            settlements: Vec::new(),
            movements: 0,
            archive_ends_open: false,
            window: None,
        }
    }

    /// The number of the plate's next movement of money (1, 2, …).
    pub fn next_movement(&self) -> u32 {
        self.settlements
            .iter()
            .map(|r| r.attempt)
            .fold(self.movements, u32::max)
            + 1
    }

    pub fn read(&self, key: &str) -> Option<&TimelineRead> {
        self.reads.iter().find(|r| r.key() == key)
    }

    /// Charges minus refunds ordered for a session, in minor units.
    pub fn net_ordered(&self, session_id: &SessionId) -> i64 {
        self.orders
            .iter()
            .filter(|o| o.is_for(session_id))
            .map(PaymentOrder::signed_minor)
            .sum()
    }

    /// Sessions in the lot's open count. A read with no usable plate is a
    /// timeline of its own that no later read can close, so its stay is
    /// not counted: the bay sensors see that car.
    pub fn open_sessions(&self) -> i64 {
        if !self.plate.is_readable() {
            return 0;
        }
        self.sessions
            .iter()
            .filter(|s| s.state == SessionState::Open)
            .count() as i64
    }

    /// Open sessions counted toward full: those not yet past the lot's
    /// `open_count_hours` ([`SessionFlag::Uncounted`]). A missed exit
    /// stops filling the lot once the sweep finds it.
    pub fn counted_sessions(&self) -> i64 {
        if !self.plate.is_readable() {
            return 0;
        }
        self.sessions
            .iter()
            .filter(|s| s.state == SessionState::Open && !s.flags.contains(&SessionFlag::Uncounted))
            .count() as i64
    }
}

/// Who pays for a plate's stays when it is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub driver_id: DriverId,
    /// The card to charge; `None`: the driver has none on file.
    pub method_id: Option<PaymentMethodId>,
}

/// What a lot's sessions are priced with.
pub struct Pricing<'a> {
    pub lot: &'a Lot,
    pub tariffs: &'a Tariffs,
}

impl Pricing<'_> {
    fn currency(&self) -> parking_core::Currency {
        self.tariffs.base().currency()
    }

    fn lost_entry_fee(&self) -> Money {
        Money::new(self.lot.settings.lost_entry_fee, self.currency())
    }

    fn debounce(&self) -> SignedDuration {
        self.lot.debounce()
    }
}

/// A session id derived from the read that starts it, so every order of
/// arrival names the same session the same way. The plate is hashed in,
/// never shown.
pub fn session_id(lot: &LotId, plate: &Plate, first_read: &str) -> SessionId {
    let mut h = Sha256::new();
    h.update(lot.as_str().as_bytes());
    h.update([0]);
    h.update(plate.key().as_bytes());
    h.update([0]);
    h.update(first_read.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    // A sha-256 prefix in hex is always a valid id.
    SessionId::parse(&format!("s-{hex}")).unwrap_or_else(|_| unreachable!("hex is a valid id"))
}

/// The outcome of reconciling a timeline with its reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The timeline with its sessions and orders brought up to date (the
    /// version is left to the caller).
    pub timeline: PlateTimeline,
    /// Sessions that changed (or are new), at their next version.
    pub changed: Vec<Session>,
    /// New charges and refunds, also in `timeline.orders`.
    pub orders: Vec<PaymentOrder>,
    /// How the lot's count of open sessions changes.
    pub open_delta: i64,
    /// Events for the lot's webhook subscriptions: each stay that left
    /// with this change (`stay.closed`), where some subscription wants it.
    pub events: Vec<crate::hooks::LotEvent>,
}

impl Reconciled {
    /// The derived session that the read with this key belongs to.
    pub fn session_of(&self, key: &str, debounce: SignedDuration) -> Option<&Session> {
        let reads = core_reads(&self.timeline.reads);
        let derived = core_timeline::derive(&reads, debounce);
        let d = derived.iter().find(|d| d.has_read(key))?;
        let id = session_id(
            &self.timeline.lot_id,
            &self.timeline.plate,
            &d.first().first.key,
        );
        self.timeline.sessions.iter().find(|s| s.id == id)
    }

    pub fn outbox(&self) -> impl Iterator<Item = OutboxMessage> + '_ {
        self.orders
            .iter()
            .cloned()
            .map(OutboxMessage::Payments)
            .chain(
                self.events
                    .iter()
                    .cloned()
                    .map(|e| OutboxMessage::Webhooks(crate::hooks::HookMessage::Event(e))),
            )
    }
}

pub(crate) fn core_reads(reads: &[TimelineRead]) -> Vec<core_timeline::Read> {
    reads
        .iter()
        .filter(|r| !r.turned_away)
        .map(|r| core_timeline::Read {
            key: r.key(),
            gate: r.gate_id.to_string(),
            direction: match r.direction {
                GateDirection::Entry => Direction::Entry,
                GateDirection::Exit => Direction::Exit,
            },
            at: r.at,
        })
        .collect()
}

/// What one derived session is, before comparing with what was stored.
struct Fresh {
    state: SessionState,
    entry_at: Timestamp,
    entry_gate: GateId,
    exit_at: Option<Timestamp>,
    exit_gate: Option<GateId>,
    flags: Vec<SessionFlag>,
    reservation_id: Option<ReservationId>,
}

/// The frames behind a session: of each passage, its first read's that
/// names one and its first sure read's (both kept however long a car
/// waits, see [`crate::history::thin`]), at most
/// [`crate::evidence::FRAMES_PER_SESSION`].
fn frames_of(
    d: &Derived,
    reads: &HashMap<String, &TimelineRead>,
) -> Vec<crate::evidence::FrameKey> {
    let mut out: Vec<crate::evidence::FrameKey> = Vec::new();
    for p in d.passages() {
        let of = |k: &String| reads.get(k).copied();
        let first = p.keys.iter().filter_map(of).find(|r| r.frame.is_some());
        let sure = p.keys.iter().filter_map(of).find(|r| r.flag.is_none());
        for r in first.into_iter().chain(sure) {
            if let Some(f) = &r.frame
                && !out.contains(f)
                && out.len() < crate::evidence::FRAMES_PER_SESSION
            {
                out.push(f.clone());
            }
        }
    }
    out
}

fn gate_of(reads: &HashMap<String, &TimelineRead>, key: &str) -> Option<GateId> {
    reads.get(key).map(|r| r.gate_id.clone())
}

/// Brings a timeline's sessions and orders in line with its reads.
///
/// `payer` is who the plate is registered to now: a session keeps the
/// payer it had when it was first made, so registering a card later does
/// not charge stays that were paid at the kiosk. A session owes its fee
/// when it is closed and priced (or priced at the lost-entry fee), has a
/// card, and no read of it is unverified; every other session owes
/// nothing.
pub fn reconcile(
    pricing: &Pricing<'_>,
    current: &PlateTimeline,
    payer: Option<&Payer>,
    now: Timestamp,
) -> Reconciled {
    let by_key: HashMap<String, &TimelineRead> =
        current.reads.iter().map(|r| (r.key(), r)).collect();
    let derived = core_timeline::derive(&core_reads(&current.reads), pricing.debounce());
    let stored: HashMap<&SessionId, &Session> =
        current.sessions.iter().map(|s| (&s.id, s)).collect();
    let lot = &current.lot_id;
    let plate = &current.plate;

    let mut sessions: Vec<Session> = Vec::with_capacity(derived.len());
    let mut live: BTreeSet<SessionId> = BTreeSet::new();
    for d in &derived {
        let id = session_id(lot, plate, &d.first().first.key);
        let mut flags: Vec<SessionFlag> = d
            .passages()
            .flat_map(|p| p.keys.iter())
            .filter_map(|k| by_key.get(k).and_then(|r| r.flag))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // One sure read of the plate establishes the session's plate: a
        // doubtful read of exactly the same plate (a low-confidence exit
        // of a car that entered with a clear read) does not undo it.
        let sure = d
            .passages()
            .flat_map(|p| p.keys.iter())
            .any(|k| by_key.get(k).is_some_and(|r| r.flag.is_none()));
        if sure && plate.is_readable() {
            flags.retain(|f| *f != SessionFlag::PlateUnverified);
        }
        if !plate.is_readable() && !flags.contains(&SessionFlag::PlateUnverified) {
            flags.push(SessionFlag::PlateUnverified);
        }
        let unverified = flags.contains(&SessionFlag::PlateUnverified);
        let frames = frames_of(d, &by_key);
        let reservation_id = d
            .passages()
            .flat_map(|p| p.keys.iter())
            .find_map(|k| by_key.get(k).and_then(|r| r.reservation_id.clone()));
        let first = &d.first().first;
        let fresh = match d {
            Derived::Open { entry } | Derived::ExitMissing { entry } => Fresh {
                state: if matches!(d, Derived::Open { .. }) {
                    SessionState::Open
                } else {
                    SessionState::ExitMissing
                },
                entry_at: entry.first.at,
                entry_gate: gate_of(&by_key, &entry.first.key).unwrap_or_else(|| first_gate(first)),
                exit_at: None,
                exit_gate: None,
                flags,
                reservation_id,
            },
            Derived::Closed { entry, exit } => Fresh {
                state: if unverified {
                    SessionState::NeedsReview
                } else {
                    SessionState::Priced
                },
                entry_at: entry.first.at,
                entry_gate: gate_of(&by_key, &entry.first.key).unwrap_or_else(|| first_gate(first)),
                exit_at: Some(exit.first.at),
                exit_gate: gate_of(&by_key, &exit.first.key),
                flags,
                reservation_id,
            },
            Derived::EntryMissing { exit } => Fresh {
                state: if unverified {
                    SessionState::NeedsReview
                } else {
                    SessionState::EntryMissing
                },
                entry_at: exit.first.at,
                entry_gate: gate_of(&by_key, &exit.first.key).unwrap_or_else(|| first_gate(first)),
                exit_at: Some(exit.first.at),
                exit_gate: gate_of(&by_key, &exit.first.key),
                flags,
                reservation_id,
            },
        };
        let before = stored.get(&id).copied();
        let mine: Vec<&Adjustment> = current
            .adjustments
            .iter()
            .filter(|a| a.session_id == id)
            .collect();
        let mut fresh = fresh;
        for (kind, flag) in [
            (AdjustmentKind::Overstay, SessionFlag::Overstay),
            (AdjustmentKind::Uncounted, SessionFlag::Uncounted),
        ] {
            if fresh.state == SessionState::Open && mine.iter().any(|a| a.kind == kind) {
                fresh.flags.push(flag);
            }
        }
        if mine
            .iter()
            .any(|a| matches!(a.kind, AdjustmentKind::Dispute { .. }))
        {
            fresh.flags.push(SessionFlag::Disputed);
        }
        // Staff closed a stay whose exit no camera saw. Once a camera saw
        // one, the close no longer applies: the stay is priced to its
        // exit and waits for a decision again if it needs one.
        let closable = matches!(d, Derived::Open { .. } | Derived::ExitMissing { .. });
        let mut mine = mine;
        if !closable {
            mine.retain(|a| {
                !matches!(
                    a.kind,
                    AdjustmentKind::Resolve {
                        exit_at: Some(_),
                        ..
                    }
                )
            });
        }
        let staff_exit = mine.iter().rev().find_map(|a| match a.kind {
            AdjustmentKind::Resolve {
                exit_at: Some(at), ..
            } => Some(at),
            _ => None,
        });
        if let Some(at) = staff_exit
            && closable
        {
            fresh.state = if unverified {
                SessionState::NeedsReview
            } else {
                SessionState::Priced
            };
            // Never past the plate's next entry: no time is charged twice.
            let next_entry = derived
                .iter()
                .skip_while(|x| !std::ptr::eq(*x, d))
                .nth(1)
                .map(|n| n.first().first.at);
            let at = next_entry.map_or(at, |next| at.min(next));
            fresh.exit_at = Some(at.max(fresh.entry_at));
            fresh
                .flags
                .retain(|f| *f != SessionFlag::Overstay && *f != SessionFlag::Uncounted);
        }
        let (fee, tariff_id) = match (d, before) {
            // A lost-entry fee, once priced, is the fee of that stay: a
            // later change of the lot's setting does not re-price it.
            (Derived::EntryMissing { .. }, Some(b))
                if b.fee.is_some() && b.exit_at == fresh.exit_at =>
            {
                (b.fee, None)
            }
            _ => price(pricing, d, &fresh, &mine, &current.passes),
        };
        // A stay the tariff cannot price (longer than it allows) is for
        // staff to settle.
        let state = match d {
            Derived::Closed { .. } if fee.is_none() => SessionState::NeedsReview,
            Derived::Open { .. } | Derived::ExitMissing { .. }
                if fresh.exit_at.is_some() && fee.is_none() =>
            {
                SessionState::NeedsReview
            }
            _ => fresh.state,
        };
        let settled = settle(pricing, state, fee, fresh.exit_at, &mine);
        let (driver_id, method_id) = match before {
            Some(s) => (s.driver_id.clone(), s.method_id.clone()),
            None => (
                payer.map(|p| p.driver_id.clone()),
                payer.and_then(|p| p.method_id.clone()),
            ),
        };
        // The driver chose another card for the stay (paying now).
        let method_id = mine
            .iter()
            .rev()
            .find_map(|a| match &a.kind {
                AdjustmentKind::PaymentMethod { method_id } => Some(method_id.clone()),
                _ => None,
            })
            .or(method_id);
        live.insert(id.clone());
        sessions.push(Session {
            id,
            lot_id: lot.clone(),
            plate: plate.clone(),
            state: settled.state,
            version: before.map_or(1, |s| s.version),
            entry_at: fresh.entry_at,
            entry_gate: fresh.entry_gate,
            exit_at: fresh.exit_at,
            exit_gate: fresh.exit_gate,
            driver_id,
            reservation_id: fresh.reservation_id,
            fee: settled.fee,
            method_id,
            flags: fresh.flags,
            origin: Some(first.key.clone()),
            frames,
            replaced_by: None,
            tariff_id,
            resolution: settled.resolution,
            refunded: settled.refunded,
            kiosk_paid: settled.kiosk_paid,
            payment_failure: None,
            collected: 0,
            updated_at: before.map_or(now, |s| s.updated_at),
        });
    }
    // Sessions no derivation makes any more are superseded, never dropped,
    // and point to the session that holds the read that started them.
    for s in &current.sessions {
        if !live.contains(&s.id) {
            let mut gone = s.clone();
            gone.state = SessionState::Superseded;
            gone.replaced_by = s
                .origin
                .as_deref()
                .and_then(|key| {
                    derived
                        .iter()
                        .find(|d| d.has_read(key))
                        .map(|d| session_id(lot, plate, &d.first().first.key))
                })
                // Its read moved to another plate's timeline (a camera's
                // track agreed on that plate): the session there, as set
                // when it moved.
                .or_else(|| s.replaced_by.clone());
            sessions.push(gone);
        }
    }

    // Each state follows the balance over the sessions as they are now.
    let snapshot = PlateTimeline {
        sessions,
        ..current.clone()
    };
    let mut timeline = PlateTimeline {
        sessions: Vec::with_capacity(snapshot.sessions.len()),
        ..current.clone()
    };
    let mut changed = Vec::new();
    let mut orders = Vec::new();
    for mut s in snapshot.sessions.iter().cloned() {
        settlement_state(&snapshot, &mut s);
        let before = stored.get(&s.id).copied();
        if before != Some(&s) {
            s.version = before.map_or(1, |b| b.version + 1);
            s.updated_at = now;
            changed.push(s.clone());
        }
        let owed = owed(&s);
        let ordered = current.net_ordered(&s.id);
        if owed != ordered
            && let (Some(driver_id), Some(method_id)) = (&s.driver_id, &s.method_id)
        {
            let n = current.orders.iter().filter(|o| o.is_for(&s.id)).count() + 1;
            let kind = if owed > ordered {
                PaymentKind::Charge
            } else {
                PaymentKind::Refund
            };
            let currency = s.fee.map_or(pricing.currency(), |f| f.currency);
            let key = IdempotencyKey::parse(&format!("{}.{n}", s.id))
                .unwrap_or_else(|_| unreachable!("a session id and a number make a valid key"));
            orders.push(PaymentOrder {
                idempotency_key: key,
                session_id: Some(s.id.clone()),
                reservation_id: None,
                lot_id: s.lot_id.clone(),
                driver_id: driver_id.clone(),
                method_id: method_id.clone(),
                kind,
                amount: Money::new((owed - ordered).abs(), currency),
                created_at: now,
                attempt: 1,
                now: false,
            });
        }
        timeline.sessions.push(s);
    }
    // Money goes back before more is taken.
    orders.sort_by_key(|o| o.kind != PaymentKind::Refund);
    timeline.orders.extend(orders.iter().cloned());
    let open_delta = timeline.counted_sessions() - current.counted_sessions();
    let events = if pricing.lot.hooked(crate::hooks::EventType::StayClosed) {
        changed
            .iter()
            .filter(|s| {
                let left = s.exit_at.is_some()
                    && !matches!(s.state, SessionState::Superseded | SessionState::Voided);
                left && stored.get(&s.id).is_none_or(|b| b.exit_at.is_none())
            })
            .map(stay_closed)
            .collect()
    } else {
        Vec::new()
    };
    Reconciled {
        timeline,
        changed,
        orders,
        open_delta,
        events,
    }
}

/// A stay that left, as webhook subscribers are told (no plate, no
/// driver).
fn stay_closed(s: &Session) -> crate::hooks::LotEvent {
    let state = serde_json::to_value(s.state).unwrap_or(serde_json::Value::Null);
    crate::hooks::LotEvent::new(
        crate::hooks::EventType::StayClosed,
        s.lot_id.clone(),
        s.id.as_str(),
        s.updated_at,
        serde_json::json!({
            "session_id": s.id,
            "state": state,
            "entry_at": s.entry_at,
            "exit_at": s.exit_at,
            "entry_gate": s.entry_gate,
            "exit_gate": s.exit_gate,
            "fee": s.fee.map(|f| serde_json::json!({"amount": f.minor, "currency": f.currency.code()})),
            "paid_by": match (&s.fee, &s.method_id) {
                (None, _) => None,
                (Some(_), Some(_)) => Some("card"),
                (Some(_), None) => Some("kiosk"),
            },
        }),
    )
}

/// A session's state follows its balance ([`crate::balance`]): a priced
/// stay whose money was collected (to within the provider's smallest
/// charge) is `paid`; one whose latest charge failed on the card is
/// `payment_failed`, and once retries stop, `needs_review`, as is one
/// whose refund or whose request (our fault) failed after its last retry.
/// The money collected is kept on the stay that holds it.
fn settlement_state(t: &PlateTimeline, s: &mut Session) {
    s.collected = 0;
    s.payment_failure = None;
    if s.state == SessionState::Superseded || s.method_id.is_none() {
        return;
    }
    let b = crate::balance::Balance::of_stay(t, s);
    s.collected = b.collected;
    let failed = b
        .last
        .as_ref()
        .filter(|l| l.charge_id.is_none() && l.cause != Some(crate::settlement::Cause::Transient));
    let priced = matches!(s.state, SessionState::Priced | SessionState::EntryMissing);
    let given_up = failed.is_some_and(|l| l.gave_up) && !b.is_settled();
    if let Some(l) = failed.filter(|_| !b.is_settled()) {
        s.payment_failure = l.failure.clone();
    }
    if given_up && (priced || s.state == SessionState::NeedsReview) {
        s.state = SessionState::NeedsReview;
        return;
    }
    if !priced {
        return;
    }
    if b.owed > 0 && b.collected > 0 && b.is_settled() {
        s.state = SessionState::Paid;
    } else if failed.is_some_and(|l| {
        l.kind == PaymentKind::Charge && l.cause == Some(crate::settlement::Cause::Card)
    }) && b.owed > b.collected
    {
        s.state = SessionState::PaymentFailed;
    } else if b.collected >= b.owed && b.collected > 0 {
        s.state = SessionState::Paid;
    }
}

fn first_gate(first: &core_timeline::Read) -> GateId {
    GateId::parse(&first.gate).unwrap_or_else(|_| unreachable!("gate ids come from GateId"))
}

/// What a session owes by card, in minor units: its fee less refunds and
/// kiosk payments, once it is priced and its plate is sure (or staff
/// decided to charge it).
pub fn owed(s: &Session) -> i64 {
    let sure = !s.flags.contains(&SessionFlag::PlateUnverified) || s.resolution.is_some();
    // A stay whose card payment was given up on still owes it: it waits
    // for a person, and nothing is refunded or ordered again meanwhile.
    let given_up = s.state == SessionState::NeedsReview && s.payment_failure.is_some();
    let billable = (matches!(
        s.state,
        SessionState::Priced
            | SessionState::EntryMissing
            | SessionState::Paid
            | SessionState::PaymentFailed
    ) || given_up)
        && sure;
    match (billable, &s.method_id) {
        (true, Some(_)) => s.outstanding(),
        _ => 0,
    }
}

/// The fee of a derived session by the tariff version in force at its
/// entry, with its shops' validations and the plate's passes, and that
/// version's id.
fn price(
    pricing: &Pricing<'_>,
    d: &Derived,
    fresh: &Fresh,
    adjustments: &[&Adjustment],
    passes: &[Pass],
) -> (Option<Money>, Option<TariffId>) {
    match d {
        // Open, unless staff closed it.
        Derived::Open { .. } | Derived::ExitMissing { .. } if fresh.exit_at.is_none() => {
            (None, None)
        }
        Derived::EntryMissing { .. } => (Some(pricing.lost_entry_fee()), None),
        Derived::Open { .. } | Derived::ExitMissing { .. } | Derived::Closed { .. } => {
            let Some(exit) = fresh.exit_at else {
                return (None, None);
            };
            let (id, tariff) = pricing.tariffs.at(pricing.lot, fresh.entry_at);
            let mut discount = Discount::default();
            for a in adjustments {
                if let AdjustmentKind::Validation { minutes, amount } = a.kind {
                    discount.minutes = discount.minutes.saturating_add(minutes);
                    discount.amount = discount.amount.saturating_add(amount);
                }
            }
            (
                stay_fee(tariff, fresh.entry_at, exit, discount, passes),
                Some(id.clone()),
            )
        }
    }
}

/// The parts of a stay no pass covers, in order.
pub fn uncovered(
    entry: Timestamp,
    exit: Timestamp,
    passes: &[Pass],
) -> Vec<(Timestamp, Timestamp)> {
    let mut covered: Vec<(Timestamp, Timestamp)> = passes
        .iter()
        .filter(|p| p.valid_from < exit && p.valid_until > entry)
        .map(|p| (p.valid_from.max(entry), p.valid_until.min(exit)))
        .collect();
    covered.sort();
    let mut out = Vec::new();
    let mut from = entry;
    for (a, b) in covered {
        if a > from {
            out.push((from, a));
        }
        from = from.max(b);
    }
    if from < exit || (out.is_empty() && from == entry) {
        out.push((from, exit));
    }
    out
}

/// Prices a stay: the parts outside the passes, each as a stay of its
/// own; free minutes apply from the entry and the amount off comes off
/// the total, never below zero. `None` when the tariff cannot price it.
pub fn stay_fee(
    tariff: &Tariff,
    entry: Timestamp,
    exit: Timestamp,
    discount: Discount,
    passes: &[Pass],
) -> Option<Money> {
    let parts = uncovered(entry, exit, passes);
    if let [(a, b)] = parts.as_slice()
        && *a == entry
        && *b == exit
    {
        let stay = Stay {
            entry,
            exit,
            discount,
        };
        return tariff.quote(&stay).ok().map(|q| q.total_money());
    }
    let mut total: i64 = 0;
    for (a, b) in parts {
        let minutes = if a == entry { discount.minutes } else { 0 };
        let stay = Stay {
            entry: a,
            exit: b,
            discount: Discount { minutes, amount: 0 },
        };
        total = total.saturating_add(tariff.quote(&stay).ok()?.total);
    }
    Some(Money::new(
        (total - discount.amount).max(0),
        tariff.currency(),
    ))
}

/// A session's state and money after what staff, shops and the kiosk did.
struct Settled {
    state: SessionState,
    fee: Option<Money>,
    resolution: Option<Resolution>,
    refunded: i64,
    kiosk_paid: i64,
}

fn settle(
    pricing: &Pricing<'_>,
    state: SessionState,
    fee: Option<Money>,
    exit_at: Option<Timestamp>,
    adjustments: &[&Adjustment],
) -> Settled {
    let mut out = Settled {
        state,
        fee,
        resolution: None,
        refunded: 0,
        kiosk_paid: 0,
    };
    let currency = pricing.currency();
    let mut exit_by: Option<Timestamp> = None;
    for a in adjustments {
        match a.kind {
            AdjustmentKind::Validation { .. }
            | AdjustmentKind::Overstay
            | AdjustmentKind::Uncounted
            | AdjustmentKind::Dispute { .. }
            | AdjustmentKind::PaymentMethod { .. } => {}
            AdjustmentKind::Resolve {
                resolution, amount, ..
            } => {
                out.resolution = Some(resolution);
                match resolution {
                    Resolution::Voided => out.state = SessionState::Voided,
                    Resolution::Charged | Resolution::Adjusted => {
                        if let Some(minor) = amount {
                            out.fee = Some(Money::new(minor, currency));
                        }
                        // A stay with no entry seen stays one, at its new fee.
                        if out.fee.is_some() && out.state != SessionState::EntryMissing {
                            out.state = SessionState::Priced;
                        }
                    }
                }
            }
            AdjustmentKind::Refund { amount } => out.refunded = out.refunded.saturating_add(amount),
            AdjustmentKind::KioskPayment {
                amount,
                exit_by: by,
            } => {
                out.kiosk_paid = out.kiosk_paid.saturating_add(amount);
                exit_by = Some(exit_by.map_or(by, |e| e.max(by)));
            }
        }
    }
    // Out within the window after paying: what was paid is the fee.
    if let (Some(by), Some(exit), Some(f)) = (exit_by, exit_at, out.fee)
        && exit <= by
        && f.minor > out.kiosk_paid
        && out.resolution.is_none()
    {
        out.fee = Some(Money::new(out.kiosk_paid, f.currency));
    }
    out
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
