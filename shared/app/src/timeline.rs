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
use parking_core::{Money, Plate, SessionState, Stay, Tariff};
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
    /// Reads up to this time are archived (see [`compact`]): their
    /// sessions are final, and a read this old is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_until: Option<Timestamp>,
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
        }
    }

    pub fn read(&self, key: &str) -> Option<&TimelineRead> {
        self.reads.iter().find(|r| r.key() == key)
    }

    /// Charges minus refunds ordered for a session, in minor units.
    pub fn net_ordered(&self, session_id: &SessionId) -> i64 {
        self.orders
            .iter()
            .filter(|o| &o.session_id == session_id)
            .map(PaymentOrder::signed_minor)
            .sum()
    }

    /// Sessions in the lot's open count.
    pub fn open_sessions(&self) -> i64 {
        self.sessions
            .iter()
            .filter(|s| s.state == SessionState::Open)
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
    pub tariff: &'a Tariff,
}

impl Pricing<'_> {
    fn lost_entry_fee(&self) -> Money {
        Money::new(self.lot.settings.lost_entry_fee, self.tariff.currency())
    }

    fn debounce(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.lot.settings.debounce_seconds))
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
        self.orders.iter().cloned().map(OutboxMessage::Payments)
    }
}

fn core_reads(reads: &[TimelineRead]) -> Vec<core_timeline::Read> {
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
        let fee = price(pricing, d, &fresh, before);
        // A stay the tariff cannot price (longer than it allows) is for
        // staff to settle.
        let state = match d {
            Derived::Closed { .. } if fee.is_none() => SessionState::NeedsReview,
            _ => fresh.state,
        };
        let (driver_id, method_id) = match before {
            Some(s) => (s.driver_id.clone(), s.method_id.clone()),
            None => (
                payer.map(|p| p.driver_id.clone()),
                payer.and_then(|p| p.method_id.clone()),
            ),
        };
        live.insert(id.clone());
        sessions.push(Session {
            id,
            lot_id: lot.clone(),
            plate: plate.clone(),
            state,
            version: before.map_or(1, |s| s.version),
            entry_at: fresh.entry_at,
            entry_gate: fresh.entry_gate,
            exit_at: fresh.exit_at,
            exit_gate: fresh.exit_gate,
            driver_id,
            reservation_id: fresh.reservation_id,
            fee,
            method_id,
            flags: fresh.flags,
            origin: Some(first.key.clone()),
            replaced_by: None,
            updated_at: before.map_or(now, |s| s.updated_at),
        });
    }
    // Sessions no derivation makes any more are superseded, never dropped,
    // and point to the session that holds the read that started them.
    for s in &current.sessions {
        if !live.contains(&s.id) {
            let mut gone = s.clone();
            gone.state = SessionState::Superseded;
            gone.replaced_by = s.origin.as_deref().and_then(|key| {
                derived
                    .iter()
                    .find(|d| d.has_read(key))
                    .map(|d| session_id(lot, plate, &d.first().first.key))
            });
            sessions.push(gone);
        }
    }

    let mut timeline = PlateTimeline {
        sessions: Vec::with_capacity(sessions.len()),
        ..current.clone()
    };
    let mut changed = Vec::new();
    let mut orders = Vec::new();
    for mut s in sessions {
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
            let n = current
                .orders
                .iter()
                .filter(|o| o.session_id == s.id)
                .count()
                + 1;
            let kind = if owed > ordered {
                PaymentKind::Charge
            } else {
                PaymentKind::Refund
            };
            let currency = s.fee.map_or(pricing.tariff.currency(), |f| f.currency);
            let key = IdempotencyKey::parse(&format!("{}.{n}", s.id))
                .unwrap_or_else(|_| unreachable!("a session id and a number make a valid key"));
            orders.push(PaymentOrder {
                idempotency_key: key,
                session_id: s.id.clone(),
                lot_id: s.lot_id.clone(),
                driver_id: driver_id.clone(),
                method_id: method_id.clone(),
                kind,
                amount: Money::new((owed - ordered).abs(), currency),
                created_at: now,
            });
        }
        timeline.sessions.push(s);
    }
    // Money goes back before more is taken.
    orders.sort_by_key(|o| o.kind != PaymentKind::Refund);
    timeline.orders.extend(orders.iter().cloned());
    let open_delta = timeline.open_sessions() - current.open_sessions();
    Reconciled {
        timeline,
        changed,
        orders,
        open_delta,
    }
}

fn first_gate(first: &core_timeline::Read) -> GateId {
    GateId::parse(&first.gate).unwrap_or_else(|_| unreachable!("gate ids come from GateId"))
}

/// What a session owes by card, in minor units.
pub fn owed(s: &Session) -> i64 {
    let billable = matches!(s.state, SessionState::Priced | SessionState::EntryMissing)
        && !s.flags.contains(&SessionFlag::PlateUnverified);
    match (billable, s.fee, &s.method_id) {
        (true, Some(fee), Some(_)) => fee.minor,
        _ => 0,
    }
}

/// The fee of a derived session; a stored one is kept when its stay did
/// not change.
fn price(
    pricing: &Pricing<'_>,
    d: &Derived,
    fresh: &Fresh,
    before: Option<&Session>,
) -> Option<Money> {
    match d {
        Derived::Open { .. } | Derived::ExitMissing { .. } => None,
        Derived::EntryMissing { .. } => Some(pricing.lost_entry_fee()),
        Derived::Closed { .. } => {
            let exit = fresh.exit_at?;
            if let Some(b) = before
                && b.entry_at == fresh.entry_at
                && b.exit_at == Some(exit)
                && b.state == SessionState::Priced
                && b.fee.is_some()
            {
                return b.fee;
            }
            pricing
                .tariff
                .quote(&Stay::new(fresh.entry_at, exit))
                .ok()
                .map(|q| q.total_money())
        }
    }
}

/// A timeline keeps at most this many reads before its settled start is
/// archived.
pub const KEEP_READS: usize = 64;

/// Sessions are archived only once their last read is this old: long after
/// any backlog, and after the event ledger forgets their reads.
pub const ARCHIVE_AFTER: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Archives the settled start of a timeline that has grown past
/// [`KEEP_READS`], so a plate that parks every day keeps a small item: the
/// longest run of first sessions that are finished (not open) and whose
/// reads are all older than [`ARCHIVE_AFTER`] leaves the timeline with its
/// reads and payment orders. The sessions stay stored as they are, and
/// their orders are in the outbox and the payments. A read that happened
/// at or before the archived time is refused from then on.
pub fn compact(t: &mut PlateTimeline, debounce: SignedDuration, now: Timestamp) {
    if t.reads.len() <= KEEP_READS {
        return;
    }
    let Ok(limit) = now.checked_sub(ARCHIVE_AFTER) else {
        return;
    };
    let derived = core_timeline::derive(&core_reads(&t.reads), debounce);
    let last_at = |d: &Derived| d.passages().map(|p| p.last_at).max();
    let mut prefix = derived
        .iter()
        .take_while(|d| {
            !matches!(d, Derived::Open { .. }) && last_at(d).is_some_and(|at| at < limit)
        })
        .count();
    // The cut must not take a read of a session after it.
    while prefix > 0 {
        let Some(cut) = derived[..prefix].iter().filter_map(last_at).max() else {
            return;
        };
        let foreign = t.reads.iter().any(|r| {
            r.at <= cut && !r.turned_away && !derived[..prefix].iter().any(|d| d.has_read(&r.key()))
        });
        if !foreign {
            let gone: BTreeSet<SessionId> = derived[..prefix]
                .iter()
                .map(|d| session_id(&t.lot_id, &t.plate, &d.first().first.key))
                .collect();
            let archived = |s: &Session| {
                gone.contains(&s.id)
                    || (s.state == SessionState::Superseded
                        && s.entry_at <= cut
                        && s.replaced_by.as_ref().is_none_or(|r| gone.contains(r)))
            };
            let dropped: BTreeSet<SessionId> = t
                .sessions
                .iter()
                .filter(|s| archived(s))
                .map(|s| s.id.clone())
                .collect();
            t.reads.retain(|r| r.at > cut);
            t.sessions.retain(|s| !dropped.contains(&s.id));
            t.orders.retain(|o| !dropped.contains(&o.session_id));
            t.archived_until = Some(t.archived_until.map_or(cut, |a| a.max(cut)));
            return;
        }
        prefix -= 1;
    }
}
