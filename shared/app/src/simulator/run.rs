//! Running simulated lots through the device handler, and what came of
//! it: the simulator's summary, with the checks that it adds up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use parking_core::SessionState;
use serde::Serialize;

use crate::commands::{CommandKind, Reason};
use crate::ids::*;
use crate::model::*;
use crate::outbox::{OutboxMessage, PaymentKind};
use crate::scenario::{ReplayError, Scenario, set_up};
use crate::settlement::{PaymentProvider, ProviderControl, ProviderLedger};
use crate::store::prelude::*;
use crate::timeline::owed;
use crate::usecases::adjust::{Staff, refund};
use crate::usecases::cost::{CostReport, PriceTable, StoreUse, Usage, gb_seconds};
use crate::usecases::device_events::DeviceEvents;
use crate::usecases::outbox::{DrainError, drain};
use crate::usecases::settle::{SettleError, settle_order};

/// Money in the lots' currency, minor units.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub amount: i64,
}

impl Tally {
    fn add(&mut self, amount: i64) {
        self.count += 1;
        self.amount += amount;
    }
}

/// Percentiles of the handler's time per message, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The identities a correct run satisfies.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checks {
    /// Every session an entry gate was told to open for is held by the
    /// store, as a session that is not lost: open, closed, waiting for an
    /// operator, or superseded by one that holds its entry.
    pub every_entry_is_a_session: bool,
    /// Revenue (the fees of closed stays) is what cards are charged, plus
    /// what was refunded, plus what kiosks are owed, plus what waits for
    /// an operator.
    pub revenue_is_the_sum_of_fees: bool,
    /// Charges minus refunds delivered to the payments queue equal the
    /// fees due from registered drivers with a card.
    pub charges_match_fees_due: bool,
    /// What the provider charged less what it refunded is what the stays
    /// say they collected, and every stay's balance is settled, carried
    /// (below the smallest charge) or visibly failed; no refund took more
    /// than its charge.
    pub settlement_adds_up: bool,
    /// For every driver, the provider's books (collected − refunded) are
    /// what the driver's true stays cost less what staff gave back, with
    /// no double charge and no refund beyond its charge ([`Truth`]).
    pub money_matches_the_truth: bool,
}

impl Checks {
    pub fn all(&self) -> bool {
        self.every_entry_is_a_session
            && self.revenue_is_the_sum_of_fees
            && self.charges_match_fees_due
            && self.settlement_adds_up
            && self.money_matches_the_truth
    }
}

/// The money checked against the generator's ground truth, once every
/// payment settled (payment trouble injected: declines, lost answers, an
/// hour's outage dead-lettered then redriven, voids, goodwill refunds,
/// late reprices).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Truth {
    /// Drivers with a card whose stays were checked.
    pub drivers: u64,
    /// Their stays read cleanly (priced by the tariff alone).
    pub stays: u64,
    /// Drivers whose provider books (charged − refunded) differ from what
    /// their stays truly cost, less what staff gave back.
    pub drivers_off: u64,
    /// Stays charged more than they owe once settled.
    pub double_charges: u64,
    /// Refunds that took more than their charge (the provider's books).
    pub refunds_beyond_charge: u64,
    /// Messages dead-lettered by the outage, then redriven.
    pub dead_lettered: u64,
    /// Stays voided and goodwill refunds made by the simulated staff.
    pub voids: u64,
    pub goodwill_refunds: u64,
    /// Failed stays the drivers then paid with a new card.
    pub paid_with_a_new_card: u64,
}

/// What settling the queued payments did, from the stays' own books
/// (their recorded movements at the provider).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Settlement {
    /// Charges the provider made.
    pub paid: Tally,
    /// Charge movements that failed (declined, or the card needs its
    /// holder), at what they asked.
    pub failed: Tally,
    /// Refunds the provider made.
    pub refunded: Tally,
    /// Refund movements that failed, at what they asked.
    pub refunds_refused: Tally,
    /// What stays owe by card beyond what was collected (failed, or
    /// carried below the smallest charge); negative when more was
    /// collected than is owed (a refund still to make).
    pub outstanding: i64,
    /// Sessions left `payment_failed`.
    pub payment_failed_sessions: u64,
    /// Sessions `paid`.
    pub paid_sessions: u64,
}

/// One week of a run: plate reads, and the handler's capacity units per
/// read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WeekUse {
    /// From 1.
    pub week: u32,
    pub plate_reads: u64,
    pub read_units_per_read: f64,
    pub write_units_per_read: f64,
}

/// What a simulation did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub lots: u32,
    pub messages: u64,
    /// Sessions with a seen entry (not superseded).
    pub entries: u64,
    /// Sessions that left: closed, or priced at the lost-entry fee.
    pub exits: u64,
    pub open_sessions: u64,
    pub currency: String,
    /// Fees of every stay that left.
    pub revenue: i64,
    /// What cards owe for those stays, after refunds.
    pub charged_to_cards: i64,
    /// What operators gave back.
    pub refunded: i64,
    pub owed_at_kiosks: i64,
    pub held_for_review: i64,
    pub charges_queued: Tally,
    pub refunds_queued: Tally,
    /// The queued charges and refunds, settled with the payment provider.
    pub settlement: Settlement,
    pub notifications_queued: u64,
    pub commands_sent: u64,
    pub holds: u64,
    pub entry_missing: u64,
    pub exit_missing: u64,
    pub needs_review: u64,
    /// Sessions an operator must look at (missing exits, doubtful plates,
    /// stays that could not be priced).
    pub needs_operator: u64,
    pub superseded: u64,
    pub plates_corrected: u64,
    pub plates_unverified: u64,
    pub duplicates_dropped: u64,
    pub stale_ignored: u64,
    pub rejected: u64,
    /// Rejections by reason, the reason's first words.
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub handler_time: Latency,
    /// How long a driver waits at the barrier for a live read's command,
    /// modelled: the handler's time plus a DynamoDB round trip for each
    /// store request in sequence (a live entry's plate view, the lot's
    /// count and the plate's unpaid stays go together, as one) and the
    /// command's publish.
    pub gate_decision: Latency,
    /// Store requests the handler made per message (the outbox's delivery
    /// not counted: on AWS a stream does it).
    pub store_requests_per_message: f64,
    /// The store's capacity units per plate read, week by week from the
    /// first message: flat while history grows.
    pub weeks: Vec<WeekUse>,
    pub messages_per_second: f64,
    pub elapsed_ms: u64,
    /// What the run would cost deployed: counted requests, units, messages
    /// and invocations, priced.
    pub cost: CostReport,
    /// The money against the generator's ground truth.
    pub truth: Truth,
    pub checks: Checks,
}

/// Runs every scenario's messages through the handler, in the order the
/// broker received them (lots interleaved), delivering the outbox after
/// each message as the stream function would. `requests` reads the store's
/// request count, `taken` what the queues took; `progress` is told how
/// many messages are done.
///
/// # Errors
///
/// Setting a lot up failed, a message failed in a way a retry could cure,
/// or the outbox could not be delivered.
pub async fn run<S, L, Q, P>(
    handler: &DeviceEvents<S, L>,
    queues: &Q,
    provider: &P,
    scenarios: &[Scenario],
    requests: impl Fn() -> StoreUse,
    taken: impl Fn() -> Vec<OutboxMessage>,
    mut progress: impl FnMut(u64),
) -> Result<Summary, RunError>
where
    S: Store,
    L: DeviceLink,
    Q: Queues,
    P: PaymentProvider + ProviderControl + ProviderLedger,
{
    let mut lots = Vec::new();
    for sc in scenarios {
        let first = sc
            .messages
            .first()
            .map_or(Timestamp::UNIX_EPOCH, |m| m.received_at);
        lots.push(set_up(&handler.store, sc, first).await?);
    }
    let mut all: Vec<(Timestamp, usize, usize)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(l, sc)| {
            sc.messages
                .iter()
                .enumerate()
                .map(move |(i, m)| (m.received_at, l, i))
        })
        .collect();
    all.sort();

    let mut summary = Summary {
        lots: scenarios.len() as u32,
        ..Summary::default()
    };
    let mut times: Vec<u32> = Vec::with_capacity(all.len());
    let mut decisions: Vec<u32> = Vec::new();
    let mut entry_sessions: BTreeSet<SessionId> = BTreeSet::new();
    let mut handler_requests = 0u64;
    let prices = PriceTable::builtin().map_err(|e| RunError::Store(StoreError::invalid(e)))?;
    let assume = &prices.assumptions;
    let mut usage = Usage::default();
    // The same, by lot and local date, for the lots' daily reports.
    let mut by_lot: BTreeMap<(LotId, jiff::civil::Date), Usage> = BTreeMap::new();
    let zones: Vec<jiff::tz::TimeZone> = scenarios
        .iter()
        .map(|sc| jiff::tz::TimeZone::get(&sc.lot.time_zone).unwrap_or(jiff::tz::TimeZone::UTC))
        .collect();
    // Week → plate reads, read units, write units.
    let mut weeks: BTreeMap<u32, (u64, f64, f64)> = BTreeMap::new();
    let started = Instant::now();
    for (done, (at, l, i)) in all.iter().enumerate() {
        let bytes = scenarios[*l].messages[*i].delivered();
        let before = requests();
        let t = Instant::now();
        let report = handler
            .handle(&bytes, *at)
            .await
            .map_err(|source| RunError::Replay(ReplayError::Message { index: *i, source }))?;
        let took = t.elapsed();
        times.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        let used = requests().since(&before);
        if !report.commands.is_empty() {
            let payload = &scenarios[*l].messages[*i].payload;
            let live_entry = payload.get("direction").and_then(|d| d.as_str()) == Some("entry");
            // The plate view, the lot's count and the plate's unpaid
            // stays go together, as one.
            let rounds = used.requests().saturating_sub(2 * u64::from(live_entry)) as f64;
            let waited_ms = took.as_secs_f64() * 1000.0
                + rounds * assume.dynamodb_round_trip_ms
                + report.commands.len() as f64 * assume.publish_round_trip_ms;
            decisions.push(u32::try_from((waited_ms * 1000.0) as u64).unwrap_or(u32::MAX));
        }
        handler_requests += used.requests();
        if scenarios[*l].messages[*i].topic.contains("/gates/") {
            let reads = u64::from(report.applied + report.duplicates + report.stale)
                + report.rejected.len() as u64;
            let week = u32::try_from(at.duration_since(all[0].0).as_hours() / (7 * 24))
                .unwrap_or(u32::MAX);
            let w = weeks.entry(week).or_default();
            w.0 += reads;
            w.1 += used.read_units;
            w.2 += used.write_units;
        }
        // The device function: one IoT message in, its rule and action,
        // one invocation, its store requests and the commands it publishes.
        // A bay reading comes through Basic Ingest (no messaging charge)
        // and its queue: the rule's send, and a receive and a delete
        // (counted whole, though they take ten at a time).
        let mut this = Usage::default();
        this.add_store(&used);
        if scenarios[*l].messages[*i].topic.contains("/bays/") {
            this.iot_ingest_messages += 1;
            this.sqs_requests += 3;
        } else {
            this.iot_inbound_messages += 1;
        }
        this.iot_outbound_messages += report.commands.len() as u64;
        this.lambda_invocations += 1;
        this.lambda_gb_seconds += gb_seconds(
            took.as_secs_f64() * 1000.0
                + used.requests() as f64 * assume.dynamodb_round_trip_ms
                + report.commands.len() as f64 * assume.publish_round_trip_ms,
            assume.lambda_memory_mb,
        );
        // The stream's forwarder: one invocation per committed change that
        // queued something, one SQS send each.
        let before = requests();
        let sent = drain(&handler.store, queues).await? as u64;
        if sent > 0 {
            let used = requests().since(&before);
            this.add_store(&used);
            this.sqs_requests += sent;
            this.lambda_invocations += 1;
            this.lambda_gb_seconds += gb_seconds(
                used.requests() as f64 * assume.dynamodb_round_trip_ms
                    + sent as f64 * assume.publish_round_trip_ms,
                assume.lambda_memory_mb,
            );
        }
        usage = usage.plus(&this);
        let day = at.to_zoned(zones[*l].clone()).date();
        let lot_day = by_lot
            .entry((scenarios[*l].lot.id.clone(), day))
            .or_default();
        *lot_day = lot_day.plus(&this);
        summary.messages += 1;
        summary.duplicates_dropped += u64::from(report.duplicates);
        summary.stale_ignored += u64::from(report.stale);
        summary.rejected += report.rejected.len() as u64;
        for r in &report.rejected {
            let reason = r.rejection.to_string();
            let key: String = reason
                .split(':')
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            *summary.rejected_by_reason.entry(key).or_default() += 1;
        }
        for (_, c) in &report.commands {
            summary.commands_sent += 1;
            if c.command == CommandKind::Hold {
                summary.holds += 1;
            }
            if matches!(c.reason, Reason::Welcome | Reason::Reserved)
                && let Some(id) = &c.session_id
            {
                entry_sessions.insert(id.clone());
            }
        }
        if done % 256 == 0 {
            progress(done as u64);
        }
    }
    progress(all.len() as u64);
    let elapsed = started.elapsed();
    summary.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    summary.messages_per_second = per_second(summary.messages, elapsed);
    summary.weeks = weeks
        .into_iter()
        .filter(|(_, (reads, _, _))| *reads > 0)
        .map(|(week, (reads, r, w))| WeekUse {
            week: week + 1,
            plate_reads: reads,
            read_units_per_read: r / reads as f64,
            write_units_per_read: w / reads as f64,
        })
        .collect();
    summary.store_requests_per_message = if summary.messages == 0 {
        0.0
    } else {
        handler_requests as f64 / summary.messages as f64
    };
    summary.handler_time = latency(&mut times);
    summary.gate_decision = latency(&mut decisions);

    // The payments queue's consumer, and the trouble money meets: every
    // order is settled a minute after it was queued, in queue order; but
    // the provider is down for an hour (that hour's orders are
    // dead-lettered, then redriven), and loses the answer to every 53rd
    // call after making it.
    let last_message = all.last().map_or(Timestamp::UNIX_EPOCH, |m| m.0);
    let mut trouble = Trouble {
        outage: outage_hour(scenarios),
        ..Trouble::default()
    };
    let mut settled_keys = BTreeSet::new();
    let before_settling = requests();
    settle_queued(handler, provider, &taken(), &mut settled_keys, &mut trouble).await?;
    // Operators give some money back: one stay in 25 that was paid by card
    // gets up to 300 back two hours after it left, as a goodwill refund;
    // and void one in 40 three hours after it left.
    let operator = Actor {
        role: "operator".into(),
        subject: "simulated-operator".into(),
    };
    let mut given_back: BTreeMap<SessionId, i64> = BTreeMap::new();
    let mut voided: BTreeSet<SessionId> = BTreeSet::new();
    for lot in &lots {
        let paid: Vec<Session> = handler
            .store
            .lot_sessions(&lot.id)
            .await?
            .into_iter()
            .filter(|s| s.state == SessionState::Paid)
            .collect();
        for s in paid.iter().step_by(25) {
            let (Some(fee), Some(exit)) = (s.fee, s.exit_at) else {
                continue;
            };
            let who = Staff {
                actor: &operator,
                lot_id: &s.lot_id,
                now: exit
                    .checked_add(jiff::SignedDuration::from_hours(2))
                    .unwrap_or(exit),
            };
            let amount = fee.minor.min(300);
            refund(&handler.store, who, &s.id, amount, "goodwill", "simulated")
                .await
                .map_err(|e| RunError::Store(StoreError::invalid(e.to_string())))?;
            *given_back.entry(s.id.clone()).or_default() += amount;
        }
        for s in paid.iter().skip(7).step_by(40) {
            let Some(exit) = s.exit_at else { continue };
            if given_back.contains_key(&s.id) {
                continue;
            }
            let who = Staff {
                actor: &operator,
                lot_id: &s.lot_id,
                now: exit
                    .checked_add(jiff::SignedDuration::from_hours(3))
                    .unwrap_or(exit),
            };
            crate::usecases::adjust::resolve(
                &handler.store,
                who,
                &s.id,
                crate::usecases::adjust::Decision::Void,
                "simulated: the barrier failed",
            )
            .await
            .map_err(|e| RunError::Store(StoreError::invalid(e.to_string())))?;
            voided.insert(s.id.clone());
        }
    }
    let refunds_queued = drain(&handler.store, queues).await? as u64;
    settle_queued(handler, provider, &taken(), &mut settled_keys, &mut trouble).await?;
    // The operator redrives the dead letters once the provider is back.
    let redrive_at = trouble
        .outage
        .map_or(last_message, |(_, end)| end)
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap_or(last_message);
    let dead = std::mem::take(&mut trouble.dead);
    trouble.dead_lettered = dead.len() as u64;
    for o in &dead {
        // Delivered again until settled, as the queue would.
        for k in 0..crate::scenario::money::MAX_RECEIVES {
            let when = redrive_at
                .max(o.created_at)
                .checked_add(jiff::SignedDuration::from_mins(i64::from(k) * 30))
                .unwrap_or(redrive_at);
            let r = settle_order(&handler.store, provider, o, when)
                .await
                .map_err(settle_error)?;
            if !matches!(r, crate::usecases::settle::Settled::Retry(_)) {
                break;
            }
        }
    }
    // The retry sweep, until nothing is due any more.
    let mut at = last_message;
    for hours in [1, 7, 31, 103, 200] {
        at = last_message
            .checked_add(jiff::SignedDuration::from_hours(hours))
            .unwrap_or(at);
        crate::usecases::sweeps::payment_retries(&handler.store, queues, at, 100_000)
            .await
            .map_err(|e| RunError::Store(StoreError::invalid(e.to_string())))?;
        settle_queued(handler, provider, &taken(), &mut settled_keys, &mut trouble).await?;
    }
    // Drivers whose card payment failed add a card that works: it pays
    // their failed stays.
    let fix_at = at
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap_or(at);
    let mut fixed: BTreeSet<DriverId> = BTreeSet::new();
    for lot in &lots {
        for s in handler.store.lot_sessions(&lot.id).await? {
            let failed = s.payment_failure.is_some()
                && matches!(
                    s.state,
                    SessionState::PaymentFailed | SessionState::NeedsReview
                );
            if let (true, Some(d)) = (failed, &s.driver_id) {
                fixed.insert(d.clone());
            }
        }
    }
    for d in &fixed {
        crate::usecases::account::add_payment_method(
            &handler.store,
            Some(provider),
            d,
            &crate::usecases::account::NewPaymentMethod {
                token: "pm_card_visa".into(),
                brand: "visa".into(),
                last4: "4242".into(),
            },
            fix_at,
        )
        .await
        .map_err(|e| RunError::Store(StoreError::invalid(e.to_string())))?;
    }
    drain(&handler.store, queues).await?;
    settle_queued(handler, provider, &taken(), &mut settled_keys, &mut trouble).await?;
    summary.truth.dead_lettered = trouble.dead_lettered;
    summary.truth.voids = voided.len() as u64;
    summary.truth.goodwill_refunds = given_back.len() as u64;
    summary.truth.paid_with_a_new_card = fixed.len() as u64;
    // The payments function: one invocation per order (a batch of one),
    // a receive and a delete each, its store requests, and the payment
    // provider's round trip; the operators' refunds' forwarding as above.
    let settling = requests().since(&before_settling);
    let orders = settled_keys.len() as u64;
    usage.add_store(&settling);
    usage.sqs_requests += 2 * orders + refunds_queued;
    usage.lambda_invocations += orders;
    usage.lambda_gb_seconds += orders as f64
        * gb_seconds(
            settling.requests() as f64 / orders.max(1) as f64 * assume.dynamodb_round_trip_ms
                + assume.provider_round_trip_ms,
            assume.lambda_memory_mb,
        );

    // What the store holds, lot by lot, and what reached the queues.
    let mut sessions: BTreeMap<SessionId, Session> = BTreeMap::new();
    for lot in &lots {
        for s in handler.store.lot_sessions(&lot.id).await? {
            sessions.insert(s.id.clone(), s);
        }
    }
    summary.currency = scenarios
        .first()
        .map(|s| s.tariff.currency.clone())
        .unwrap_or_default();
    let mut due = 0i64;
    for s in sessions.values() {
        let fee = s.fee.map_or(0, |f| f.minor);
        let left = matches!(
            s.state,
            SessionState::Priced
                | SessionState::EntryMissing
                | SessionState::Paid
                | SessionState::PaymentFailed
        ) || (s.state == SessionState::NeedsReview && s.exit_at.is_some());
        if s.flags.contains(&SessionFlag::PlateCorrected) {
            summary.plates_corrected += 1;
        }
        if s.flags.contains(&SessionFlag::PlateUnverified) {
            summary.plates_unverified += 1;
        }
        match s.state {
            SessionState::Paid => summary.settlement.paid_sessions += 1,
            SessionState::PaymentFailed => summary.settlement.payment_failed_sessions += 1,
            SessionState::Open => summary.open_sessions += 1,
            SessionState::EntryMissing => summary.entry_missing += 1,
            SessionState::ExitMissing => summary.exit_missing += 1,
            SessionState::NeedsReview => summary.needs_review += 1,
            SessionState::Superseded => summary.superseded += 1,
            _ => {}
        }
        let entered = s.state != SessionState::Superseded
            && s.state != SessionState::EntryMissing
            && !(s.exit_at == Some(s.entry_at) && s.exit_gate.as_ref() == Some(&s.entry_gate));
        if entered {
            summary.entries += 1;
        }
        if left {
            summary.exits += 1;
            summary.revenue += fee;
            let owes = owed(s);
            due += owes;
            summary.refunded += s.refunded;
            if owes > 0 {
                summary.charged_to_cards += owes;
            } else if s.refunded > 0 {
                // Paid, and all of it given back.
            } else if s.state == SessionState::NeedsReview {
                summary.held_for_review += fee;
            } else {
                summary.owed_at_kiosks += fee;
            }
        }
    }
    summary.needs_operator = summary.exit_missing + summary.needs_review;
    let books = tally_books(&handler.store, &sessions, &mut summary.settlement).await?;
    let truth_holds = check_truth(
        provider,
        scenarios,
        &sessions,
        &given_back,
        &voided,
        last_message,
        &mut summary.truth,
    )
    .await?;
    let mut net = 0i64;
    let mut notifications = 0u64;
    for m in taken() {
        if matches!(m, OutboxMessage::Notifications(_)) {
            notifications += 1;
        }
        match m {
            // A stay's orders (`{session}.{n}`): prompts sent for a
            // person's action and retries re-sent by the sweep are not
            // orders, and move only what the balance wants.
            OutboxMessage::Payments(o) if !is_order(&o) => {}
            OutboxMessage::Payments(o) => {
                net += o.signed_minor();
                match o.kind {
                    PaymentKind::Charge => summary.charges_queued.add(o.amount.minor),
                    PaymentKind::Refund => summary.refunds_queued.add(o.amount.minor),
                }
            }
            OutboxMessage::Notifications(_) => summary.notifications_queued += 1,
            // The simulated lots have no webhook subscriptions.
            OutboxMessage::Webhooks(_) => {}
        }
    }
    // A session is kept when it is live, or superseded by a chain of
    // replacements that ends in a live one.
    let kept = |id: &SessionId| {
        let mut at = sessions.get(id);
        for _ in 0..sessions.len() {
            match at {
                Some(s) if s.state != SessionState::Superseded => return true,
                Some(s) => at = s.replaced_by.as_ref().and_then(|r| sessions.get(r)),
                None => return false,
            }
        }
        false
    };
    // The notifications function: a receive and a delete, one invocation
    // and one IoT message per notification.
    usage.sqs_requests += 2 * notifications;
    usage.lambda_invocations += notifications;
    usage.iot_outbound_messages += notifications;
    usage.lambda_gb_seconds +=
        notifications as f64 * gb_seconds(assume.publish_round_trip_ms, assume.lambda_memory_mb);
    let span = match (all.first(), all.last()) {
        (Some(a), Some(b)) => b.0.duration_since(a.0).as_secs_f64() / 86_400.0,
        _ => 0.0,
    };
    let lot_days = span.ceil().max(1.0) * scenarios.len() as f64;
    summary.cost = CostReport::new(usage, summary.entries, lot_days, prices);
    // The device and stream functions' share, by lot and day, as the
    // deployed functions record it for the daily reports.
    for ((lot_id, day), u) in &by_lot {
        handler.store.add_usage(lot_id, *day, u).await?;
    }
    summary.checks = Checks {
        every_entry_is_a_session: entry_sessions.iter().all(kept),
        revenue_is_the_sum_of_fees: summary.revenue
            == summary.charged_to_cards
                + summary.refunded
                + summary.owed_at_kiosks
                + summary.held_for_review,
        charges_match_fees_due: net == due,
        money_matches_the_truth: truth_holds,
        settlement_adds_up: books
            && summary.settlement.paid.amount - summary.settlement.refunded.amount
                + summary.settlement.outstanding
                == summary.charged_to_cards,
    };
    Ok(summary)
}

/// Whether a queued payment is a stay's order (`{session}.{n}`), or a
/// fee's, rather than a prompt or a retry.
fn is_order(o: &crate::outbox::PaymentOrder) -> bool {
    let Some(session) = &o.session_id else {
        return o.attempt <= 1;
    };
    o.idempotency_key
        .as_str()
        .strip_prefix(session.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The trouble money meets in a simulation.
#[derive(Debug, Default)]
struct Trouble {
    /// The hour the provider is down: orders queued then are delivered
    /// until they are dead-lettered.
    outage: Option<(Timestamp, Timestamp)>,
    /// Calls so far: every 53rd loses its answer.
    calls: usize,
    dead: Vec<crate::outbox::PaymentOrder>,
    dead_lettered: u64,
}

/// The first lot's first day, 12:00 to 13:00 local time.
fn outage_hour(scenarios: &[Scenario]) -> Option<(Timestamp, Timestamp)> {
    let sc = scenarios.first()?;
    let tz = jiff::tz::TimeZone::get(&sc.lot.time_zone).ok()?;
    let first = sc.messages.iter().map(|m| m.received_at).min()?;
    let day = first.to_zoned(tz.clone()).date();
    let start = day.at(12, 0, 0, 0).to_zoned(tz.clone()).ok()?.timestamp();
    let end = day.at(13, 0, 0, 0).to_zoned(tz).ok()?.timestamp();
    Some((start, end))
}

fn settle_error(e: SettleError) -> RunError {
    match e {
        SettleError::Store(e) => RunError::Store(e),
        other => RunError::Store(StoreError::invalid(other.to_string())),
    }
}

/// Settles, a minute after it was queued, every payment order not settled
/// yet, with the trouble of the day.
async fn settle_queued<S, L, P>(
    handler: &DeviceEvents<S, L>,
    provider: &P,
    taken: &[OutboxMessage],
    done: &mut BTreeSet<IdempotencyKey>,
    trouble: &mut Trouble,
) -> Result<(), RunError>
where
    S: Store,
    L: DeviceLink,
    P: PaymentProvider + ProviderControl,
{
    use crate::usecases::settle::Settled;
    for m in taken {
        let OutboxMessage::Payments(o) = m else {
            continue;
        };
        if !done.insert(o.idempotency_key.clone()) {
            continue;
        }
        let at = o
            .created_at
            .checked_add(jiff::SignedDuration::from_mins(1))
            .unwrap_or(o.created_at);
        let down = trouble
            .outage
            .is_some_and(|(a, b)| o.created_at >= a && o.created_at < b);
        if down {
            // Delivered every half hour until the queue gives up on it.
            provider.behave(crate::settlement::Behaviour::Down, None);
            let mut last = Settled::Balanced;
            for k in 0..crate::scenario::money::MAX_RECEIVES {
                let when = at
                    .checked_add(jiff::SignedDuration::from_mins(i64::from(k) * 5))
                    .unwrap_or(at);
                last = settle_order(&handler.store, provider, o, when)
                    .await
                    .map_err(settle_error)?;
                if !matches!(last, Settled::Retry(_)) {
                    break;
                }
            }
            provider.behave(crate::settlement::Behaviour::Ok, None);
            if matches!(last, Settled::Retry(_)) {
                trouble.dead.push(o.clone());
            }
            continue;
        }
        trouble.calls += 1;
        let lose = trouble.calls.is_multiple_of(53);
        if lose {
            provider.behave(crate::settlement::Behaviour::LoseAnswers, None);
        }
        let first = settle_order(&handler.store, provider, o, at)
            .await
            .map_err(settle_error)?;
        if lose {
            provider.behave(crate::settlement::Behaviour::Ok, None);
        }
        if matches!(first, Settled::Retry(_)) {
            // The message comes back after its visibility timeout.
            let again = at
                .checked_add(jiff::SignedDuration::from_mins(30))
                .unwrap_or(at);
            settle_order(&handler.store, provider, o, again)
                .await
                .map_err(settle_error)?;
        }
    }
    Ok(())
}

/// Checks the money against the generator's ground truth (the `truth` of
/// each generated scenario's `expect`): for every driver with a card,
/// what their cleanly read stays collected is what those stays truly cost
/// less what staff gave back (nothing for a void), and the provider's
/// books for the driver (charged − refunded) are what all their stays
/// collected; no stay collected more than it owes, and no refund took
/// more than its charge.
#[allow(clippy::too_many_arguments)]
async fn check_truth<P: ProviderLedger>(
    provider: &P,
    scenarios: &[Scenario],
    sessions: &BTreeMap<SessionId, Session>,
    given_back: &BTreeMap<SessionId, i64>,
    voided: &BTreeSet<SessionId>,
    last_message: Timestamp,
    out: &mut Truth,
) -> Result<bool, RunError> {
    // What each driver's stays collected, all of them.
    let mut collected: BTreeMap<DriverId, i64> = BTreeMap::new();
    for s in sessions.values() {
        if s.state == SessionState::Superseded || s.method_id.is_none() {
            continue;
        }
        if s.collected > owed(s).max(0) {
            out.double_charges += 1;
        }
        if let Some(d) = &s.driver_id {
            *collected.entry(d.clone()).or_default() += s.collected;
        }
    }
    // What their cleanly read stays truly cost, and what they collected.
    let mut truly: BTreeMap<DriverId, (i64, i64)> = BTreeMap::new();
    for sc in scenarios {
        let Some(truth) = sc.expect.as_ref().and_then(|e| e["truth"].as_array()) else {
            continue;
        };
        for t in truth {
            let (Some(driver), Some(entry), Some(exit), Some(fee)) = (
                t["driver_id"]
                    .as_str()
                    .and_then(|d| DriverId::parse(d).ok()),
                t["entry"]
                    .as_str()
                    .and_then(|x| x.parse::<Timestamp>().ok()),
                t["exit"].as_str().and_then(|x| x.parse::<Timestamp>().ok()),
                t["fee"].as_i64(),
            ) else {
                continue;
            };
            if t["clean"] != serde_json::Value::Bool(true) || exit > last_message {
                continue;
            }
            let plate = t["plate"].as_str().unwrap_or_default();
            let Some(s) = sessions.values().find(|s| {
                s.lot_id == sc.lot.id
                    && s.plate.key() == plate
                    && s.entry_at == entry
                    && s.state != SessionState::Superseded
            }) else {
                continue;
            };
            if s.method_id.is_none() {
                continue;
            }
            let due = if voided.contains(&s.id) {
                0
            } else {
                fee - given_back.get(&s.id).copied().unwrap_or(0)
            };
            let e = truly.entry(driver).or_default();
            e.0 += due;
            e.1 += s.collected;
            out.stays += 1;
        }
    }
    out.drivers = truly.len() as u64;
    let books: BTreeMap<DriverId, (i64, u32)> = provider
        .books()
        .into_iter()
        .map(|b| {
            (
                b.driver_id,
                (b.charged - b.refunded, b.refunds_beyond_charge),
            )
        })
        .collect();
    out.refunds_beyond_charge = books.values().map(|b| u64::from(b.1)).sum();
    for (d, (due, got)) in &truly {
        let net = books.get(d).map_or(0, |b| b.0);
        let all = collected.get(d).copied().unwrap_or(0);
        if due != got || net != all {
            out.drivers_off += 1;
        }
    }
    Ok(out.drivers_off == 0 && out.double_charges == 0 && out.refunds_beyond_charge == 0)
}

/// Tallies the stays' movements at the provider and checks each stay's
/// balance: settled, carried below the smallest charge, or visibly
/// failed, with no charge refunded beyond itself. Returns whether every
/// stay's books hold.
async fn tally_books<S: Store>(
    store: &S,
    sessions: &BTreeMap<SessionId, Session>,
    t: &mut Settlement,
) -> Result<bool, RunError> {
    let mut holds = true;
    let mut collected = 0;
    for s in sessions.values() {
        let Some(timeline) = crate::history::of_session(store, s).await? else {
            continue;
        };
        for r in timeline.settlements.iter().filter(|r| r.session_id == s.id) {
            let tally = match (r.kind, &r.charge_id) {
                (PaymentKind::Charge, Some(_)) => &mut t.paid,
                (PaymentKind::Charge, None) => &mut t.failed,
                (PaymentKind::Refund, Some(_)) => &mut t.refunded,
                (PaymentKind::Refund, None) => &mut t.refunds_refused,
            };
            tally.add(r.amount.minor);
        }
        if s.state == SessionState::Superseded || s.method_id.is_none() {
            continue;
        }
        let b = crate::balance::Balance::of_stay(&timeline, s);
        collected += b.collected;
        t.outstanding += b.owed - b.collected;
        let visible = matches!(
            s.state,
            SessionState::PaymentFailed | SessionState::NeedsReview
        );
        holds &= b.charges.iter().all(|c| c.left >= 0) && (b.is_settled() || visible);
    }
    Ok(holds && t.paid.amount - t.refunded.amount == collected)
}

fn per_second(n: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn latency(times: &mut [u32]) -> Latency {
    if times.is_empty() {
        return Latency::default();
    }
    times.sort_unstable();
    let at = |q: f64| u64::from(times[((times.len() - 1) as f64 * q).round() as usize]);
    Latency {
        p50_us: at(0.5),
        p99_us: at(0.99),
        max_us: at(1.0),
    }
}

/// Why a simulation stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("delivering the outbox: {0}")]
    Outbox(#[from] DrainError),
    #[error("reading the result: {0}")]
    Store(#[from] StoreError),
}
