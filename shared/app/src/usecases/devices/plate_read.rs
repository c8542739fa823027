//! A camera read at a gate: the plate is resolved (doubtful reads matched
//! against known plates), added to the plate's timeline, the timeline's
//! sessions and payments reconciled, and the lot's reply chosen: `open`
//! with recommended bays, `open` on an exit that is paid, or `hold`. A
//! live entry of a plate that owes for earlier stays at any lot of the
//! operator ([`crate::unpaid`]) is asked for them: let in
//! (`welcome_unpaid`) or held (`unpaid`) by the lot's policy, and its
//! driver's app told.
//!
//! Store requests for a read that is not a duplicate: the plate's view
//! (timeline and registration, 1) and, for a fresh entry, the lot's live
//! state (1) and the plate's unpaid stays (1), together in one round
//! trip; for a registered plate its driver's cards and reservations (1);
//! the commit (1). So a registered entry waits for three round trips. A doubtful read adds one
//! index read for candidates. A duplicate is the first round trip alone,
//! and no write. The command is published as soon as the commit is
//! durable, before anything else.
//!
//! A read of a camera's track ([`crate::passages`]) is taken for what
//! the track agrees on. The track is read in the plate view's batch (for
//! the plate the read itself names, the usual outcome), so it costs no
//! request or round trip more; only when the track takes the read for
//! another plate are that plate's view (and, when the track's reads move
//! from a third plate, its view and driver) read after. The track is
//! written in the commit, on its version.

use jiff::{SignedDuration, Timestamp};
use parking_core::Plate;
use parking_core::plate::skeleton;

use crate::commands::{GateCommand, Reason};
use crate::devices::PlateRead;
use crate::ids::*;
use crate::model::*;
use crate::outbox::{Notification, NotificationKind, OutboxMessage};
use crate::passages::{Track, TrackRead};
use crate::store::prelude::*;
use crate::timeline::{Payer, PlateTimeline, Pricing, TimelineRead, read_key, reconcile};

use crate::usecases::device_events::{
    HandleError, LoadedLot, Rejection, Report, Step, store_failure,
};

/// How often a read is applied again when its plate's timeline changed
/// between reading and writing (another read of the same plate at the
/// same time).
const STALE_RETRIES: usize = 5;

/// Bays recommended at the entry.
const RECOMMENDED_BAYS: usize = 3;

/// Where and when a read arrived.
pub(crate) struct Input<'a> {
    pub cfg: &'a LoadedLot,
    pub gate: &'a Gate,
    pub device: &'a DeviceId,
    pub received_at: Timestamp,
    /// Part of a gate's upload after an outage.
    pub backlog: bool,
    pub now: Timestamp,
    /// The feature flags in force: a doubtful read is matched against
    /// known plates where `fuzzy_plate_matching` is on for the lot and
    /// the plate as read; elsewhere it stays unverified.
    pub flags: crate::flags::FlagSet,
}

impl Input<'_> {
    fn freshness(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.cfg.lot.settings.freshness_seconds))
    }

    /// When the read stops being live: its command expires then.
    fn live_until(&self, read: &PlateRead) -> Timestamp {
        read.occurred_at
            .checked_add(self.freshness())
            .unwrap_or(read.occurred_at)
    }

    /// Whether the read is live: it may move a barrier and tell a driver.
    fn fresh(&self, read: &PlateRead) -> bool {
        let limit = self.freshness();
        // Against the receive time and the clock: a retry minutes later
        // moves no barrier.
        !self.backlog
            && self.received_at.duration_since(read.occurred_at) <= limit
            && self.now.duration_since(read.occurred_at) <= limit
    }
}

/// The plate a read alone is taken for, and what is doubtful about it.
async fn resolve<S: PlateHistory>(
    store: &S,
    input: &Input<'_>,
    read: &PlateRead,
) -> Result<(Plate, Option<SessionFlag>), StoreError> {
    let text = read.plate.expose();
    // Text that is no whole plate (empty, garbled, a serial alone) is
    // known by the read itself: it never shares a timeline with another
    // car's read, however common the misread.
    let parsed = Plate::parse(text).ok().filter(|p| !p.is_partial());
    let unreadable = Plate::unreadable(&read_key(input.device, &read.event_id));
    judge(store, input, parsed, text, read.confidence, unreadable).await
}

/// The plate for what was read (`parsed`, from `text`) with this
/// confidence: taken when sure; else, where the lot matches doubtful
/// reads, the one known plate it looks like; else taken unverified.
async fn judge<S: PlateHistory>(
    store: &S,
    input: &Input<'_>,
    parsed: Option<Plate>,
    text: &str,
    confidence: f64,
    unreadable: Plate,
) -> Result<(Plate, Option<SessionFlag>), StoreError> {
    let threshold = input.cfg.lot.settings.plate_confidence_threshold;
    if let Some(p) = &parsed
        && confidence >= threshold
    {
        return Ok((p.clone(), None));
    }
    let subject = parsed.as_ref().map_or_else(|| text.to_owned(), Plate::key);
    let fuzzy = input.flags.is_on(
        crate::flags::Flag::FuzzyPlateMatching,
        &input.cfg.lot.id,
        Some(&subject),
    );
    if !fuzzy {
        return Ok(match parsed {
            Some(p) => (p, Some(SessionFlag::PlateUnverified)),
            None => (unreadable, Some(SessionFlag::PlateUnverified)),
        });
    }
    let like = store
        .plates_like(&input.cfg.lot.id, &skeleton(text))
        .await?;
    if let Some(p) = &parsed
        && let [only] = like.as_slice()
        && only.registered
        && &only.plate == p
    {
        // Doubtful, but exactly the one registered plate that looks like
        // it. With other plates alike, nothing says which it is.
        return Ok((p.clone(), None));
    }
    // A plate known only because an earlier doubtful read of the same text
    // opened a session confirms nothing, and counting it would make the
    // outcome depend on which read arrived first; a registered one counts.
    let others: Vec<&Plate> = like
        .iter()
        .filter(|l| l.registered || parsed.as_ref() != Some(&l.plate))
        .map(|l| &l.plate)
        .collect();
    Ok(match (others.as_slice(), parsed) {
        ([only], _) => ((*only).clone(), Some(SessionFlag::PlateCorrected)),
        (_, Some(p)) => (p, Some(SessionFlag::PlateUnverified)),
        (_, None) => (unreadable, Some(SessionFlag::PlateUnverified)),
    })
}

/// The plate a track's agreement is taken for (see [`crate::passages`]).
async fn agreed_plate<S: PlateHistory>(
    store: &S,
    input: &Input<'_>,
    a: parking_core::consensus::Agreed,
    taken_for: Option<&Plate>,
) -> Result<(Plate, Option<SessionFlag>), StoreError> {
    let threshold = input.cfg.lot.settings.plate_confidence_threshold;
    if a.best >= threshold {
        return Ok((a.plate, None));
    }
    // A lone doubtful read, no second agreeing: held for review, whatever
    // known plate it looks like.
    if a.reads == 1 {
        return Ok((a.plate, Some(SessionFlag::PlateUnverified)));
    }
    // Several doubtful reads agreeing: their agreement stands for a known
    // plate nothing else looks like; a camera misreading one character
    // every frame agrees with itself, so agreement on a plate nobody knows
    // is the one known plate it looks like, or staff's.
    let sure = a.confidence >= threshold;
    let doubt = || {
        if sure {
            None
        } else {
            Some(SessionFlag::PlateUnverified)
        }
    };
    let key = a.plate.key();
    let fuzzy = input.flags.is_on(
        crate::flags::Flag::FuzzyPlateMatching,
        &input.cfg.lot.id,
        Some(&key),
    );
    if !fuzzy {
        return Ok((a.plate, doubt()));
    }
    let like = store
        .plates_like(&input.cfg.lot.id, &skeleton(&key))
        .await?;
    // The plate the track's own reads are open on is known only from
    // them: it confirms nothing (unless it is registered).
    let counts = |l: &&crate::history::LikePlate| l.registered || Some(&l.plate) != taken_for;
    let known = like.iter().filter(counts).any(|l| l.plate == a.plate);
    let others: Vec<&Plate> = like
        .iter()
        .filter(counts)
        .map(|l| &l.plate)
        .filter(|p| **p != a.plate)
        .collect();
    Ok(match (known, others.as_slice()) {
        (true, []) => (a.plate, doubt()),
        (false, [only]) => ((*only).clone(), Some(SessionFlag::PlateCorrected)),
        _ => (a.plate, Some(SessionFlag::PlateUnverified)),
    })
}

/// What a read is taken for: a plate, what is doubtful about it and, for
/// a read of a camera's track, the track as it will be written.
#[derive(Clone)]
struct Taking {
    plate: Plate,
    flag: Option<SessionFlag>,
    track: Option<TrackTaking>,
    /// What was read for that plate with the track, when the track took
    /// the read for the plate it read.
    read: Option<Prefetched>,
}

/// A plate's view, and for a live entry the lot's count and the plate's
/// debts, read before the plate was decided.
#[derive(Clone)]
struct Prefetched {
    view: PlateView,
    live: Option<Occupancy>,
    debts: Vec<crate::unpaid::Debt>,
}

#[derive(Clone)]
struct TrackTaking {
    /// The track at its next version, this read counted.
    next: Track,
    /// The plate the track's reads were taken for until now, when that
    /// changes: they leave its timeline for `plate`'s.
    from: Option<Plate>,
}

/// What a read of a track is taken for: what the track's first reads
/// agree on ([`crate::passages`]), read with the track's version. Most
/// reads are taken for the plate they read: that plate's view (and for a
/// live entry the lot's count and the plate's debts) is read together
/// with the track, so such a read waits no longer than a read alone.
async fn take_track<S: Store>(
    store: &S,
    input: &Input<'_>,
    read: &PlateRead,
    id: &TrackId,
    fresh: bool,
) -> Result<Taking, StoreError> {
    let lot = &input.cfg.lot;
    let text = read.plate.expose();
    let plate = Plate::parse(text).ok().filter(|p| !p.is_partial());
    let live_entry = fresh && read.direction == GateDirection::Entry;
    let (stored, prefetched) = match &plate {
        Some(guess) => {
            let ((stored, view), live, debts) = futures::try_join!(
                store.track_and_view(&lot.id, input.device, id, guess),
                async {
                    if live_entry {
                        store.occupancy(lot, read.occurred_at).await.map(Some)
                    } else {
                        Ok(None)
                    }
                },
                async {
                    if live_entry {
                        store
                            .debts_of(&lot.operator(), guess, crate::unpaid::SHOWN)
                            .await
                    } else {
                        Ok(Vec::new())
                    }
                }
            )?;
            (
                stored,
                Some((guess.clone(), Prefetched { view, live, debts })),
            )
        }
        None => (store.track(&lot.id, input.device, id).await?, None),
    };
    let mut track =
        stored.unwrap_or_else(|| Track::new(lot.id.clone(), input.device.clone(), id.clone()));
    let counted = track.count(TrackRead {
        key: read_key(input.device, &read.event_id),
        at: read.occurred_at,
        unparsed: plate
            .is_none()
            .then(|| text.chars().take(crate::passages::UNPARSED_MAX).collect()),
        plate,
        confidence: read.confidence,
    });
    let (plate, flag) = match (&track.plate, counted) {
        // The votes did not change: neither does what they agree on.
        (Some(p), false) => (p.clone(), track.flag),
        _ => match (track.agreed(), track.best_unparsed()) {
            (Some(a), _) => agreed_plate(store, input, a, track.plate.as_ref()).await?,
            // No whole plate: the surest text, as a doubtful read alone;
            // but one such read alone, no second agreeing, is only a
            // candidate for staff.
            (None, Some((text, confidence))) => {
                let lone = track.unparsed_reading(text) == 1;
                match judge(store, input, None, text, confidence, track.unreadable()).await? {
                    (p, Some(SessionFlag::PlateCorrected)) if lone => {
                        (p, Some(SessionFlag::PlateUnverified))
                    }
                    taken => taken,
                }
            }
            (None, None) => (track.unreadable(), Some(SessionFlag::PlateUnverified)),
        },
    };
    let from = track.plate.clone().filter(|p| p != &plate);
    track.plate = Some(plate.clone());
    track.flag = flag;
    track.version += 1;
    let read = prefetched.and_then(|(guess, p)| (guess == plate).then_some(p));
    Ok(Taking {
        plate,
        flag,
        track: Some(TrackTaking { next: track, from }),
        read,
    })
}

/// Applies one read.
pub(crate) async fn apply<S: Store, L: DeviceLink>(
    store: &S,
    link: &L,
    input: &Input<'_>,
    read: &PlateRead,
) -> Step {
    let event_id = Some(read.event_id.to_string());
    let expected = match input.gate.direction {
        GateDirection::Entry => "entry",
        GateDirection::Exit => "exit",
    };
    if read.direction != input.gate.direction {
        return Ok(Report {
            rejected: vec![crate::usecases::device_events::Rejected {
                event_id,
                rejection: Rejection::WrongDirection {
                    gate: input.gate.id.clone(),
                    expected,
                },
            }],
            ..Report::default()
        });
    }
    let fresh = input.fresh(read);
    if let Some(e) = &read.frame_refused {
        tracing::warn!(
            device = %input.device,
            event_id = %read.event_id,
            field = "frame",
            reason = %e,
            "a read's frame was refused: the read is applied without it"
        );
    }
    // A read alone is taken for what it reads (resolved once); a read of
    // a track for what the track agrees on, decided again at each attempt
    // (with the track's version, which the commit is conditioned on).
    let mut alone: Option<Taking> = None;
    for _ in 0..STALE_RETRIES {
        let taking = match (&read.track, &alone) {
            (Some(id), _) => take_track(store, input, read, id, fresh).await,
            (None, Some(t)) => Ok(t.clone()),
            (None, None) => resolve(store, input, read)
                .await
                .map(|(plate, flag)| Taking {
                    plate,
                    flag,
                    track: None,
                    read: None,
                }),
        };
        let taking = match taking {
            Ok(t) => t,
            Err(e) => return store_failure(event_id, e),
        };
        if read.track.is_none() {
            alone = Some(taking.clone());
        }
        match attempt(store, input, read, &taking, fresh).await {
            Ok(Attempt::Done(done)) => {
                let (report, command) = *done;
                return publish(link, input, report, command).await;
            }
            Ok(Attempt::Stale) => {}
            Err(e) => return store_failure(event_id, e),
        }
    }
    store_failure(
        event_id,
        StoreError::Unavailable {
            source: format!("the plate's timeline kept changing for {STALE_RETRIES} attempts")
                .into(),
        },
    )
}

async fn publish<L: DeviceLink>(
    link: &L,
    input: &Input<'_>,
    mut report: Report,
    command: Option<GateCommand>,
) -> Step {
    if let Some(command) = command {
        let topic = GateCommand::topic(&input.cfg.lot.id, &input.gate.id);
        link.publish(&topic, &command)
            .await
            .map_err(HandleError::Link)?;
        report.commands.push((topic, command));
    }
    Ok(report)
}

enum Attempt {
    Done(Box<(Report, Option<GateCommand>)>),
    /// The timeline changed under us: read it again.
    Stale,
}

async fn attempt<S: Store>(
    store: &S,
    input: &Input<'_>,
    read: &PlateRead,
    taking: &Taking,
    fresh: bool,
) -> Result<Attempt, StoreError> {
    let (plate, flag) = (&taking.plate, taking.flag);
    let lot = &input.cfg.lot;
    let debounce = lot.debounce();
    let entry = read.direction == GateDirection::Entry;
    // The plate and, for a live entry, the lot's count: independent, so
    // read together (one round trip, not two).
    // And what the plate owes the lot's operator for earlier stays: asked
    // for at a live entry of a plate read with confidence (a doubtful
    // read never holds a car for another's debt).
    let asks = entry && fresh && plate.is_readable() && flag.is_none();
    let operator = lot.operator();
    // And, when a track's reads move here, the plate they leave.
    let from = taking.track.as_ref().and_then(|t| t.from.as_ref());
    // (Read already with the track, when it took the read for this plate.)
    let pre = taking.read.as_ref();
    let (view, live, debts, from_view) = futures::try_join!(
        async {
            match pre {
                Some(p) => Ok(p.view.clone()),
                None => store.plate_view(&lot.id, plate).await,
            }
        },
        async {
            match pre {
                _ if !(entry && fresh) => Ok(None),
                Some(p) => Ok(p.live.clone()),
                None => store.occupancy(lot, read.occurred_at).await.map(Some),
            }
        },
        async {
            match pre {
                _ if !asks => Ok(Vec::new()),
                Some(p) => Ok(p.debts.clone()),
                None => store.debts_of(&operator, plate, crate::unpaid::SHOWN).await,
            }
        },
        async {
            match from {
                Some(p) => store.plate_view(&lot.id, p).await.map(Some),
                None => Ok(None),
            }
        }
    )?;
    let owes = crate::unpaid::total(&debts).filter(|m| m.minor > 0);
    let head = view
        .timeline
        .unwrap_or_else(|| PlateTimeline::new(lot.id.clone(), plate.clone()));
    // The head alone for a live read; with the archived stays around it
    // for a late one.
    let current = crate::history::around(store, head.clone(), read.occurred_at, debounce).await?;
    let key = read_key(input.device, &read.event_id);
    // The gate held the car on its own while the cloud did not answer:
    // the car did not come in, whatever the cloud made of the read.
    let held_offline = entry && read.decided_offline == Some(crate::commands::CommandKind::Hold);
    // Or let it in on its own while the cloud had turned it away (full):
    // the car came in.
    let opened_offline = entry && read.decided_offline == Some(crate::commands::CommandKind::Open);
    let overriding = current.read(&key).is_some_and(|seen| {
        (held_offline && !seen.turned_away) || (opened_offline && seen.turned_away)
    });
    if let Some(seen) = current.read(&key).filter(|_| !overriding) {
        let report = Report {
            duplicates: 1,
            ..Report::default()
        };
        let command = if fresh { seen.command.clone() } else { None };
        return Ok(Attempt::Done(Box::new((report, command))));
    }

    // Who pays, and a reservation this entry checks in.
    let driver = match &view.owner {
        Some(owner) if plate.is_readable() => Some((
            owner.driver_id.clone(),
            store.driver_view(&owner.driver_id).await?,
        )),
        _ => None,
    };
    let payer = driver.as_ref().map(|(driver_id, v)| Payer {
        driver_id: driver_id.clone(),
        method_id: v.methods.first().map(|m| m.id.clone()),
    });
    let early = SignedDuration::from_mins(i64::from(lot.settings.reservation_early_minutes));
    let due = driver.as_ref().and_then(|(_, v)| {
        v.reservations.iter().find(|r| {
            entry
                && r.lot_id == lot.id
                && &r.plate == plate
                && r.state == ReservationState::Active
                && r.start
                    .checked_sub(early)
                    .is_ok_and(|s| s <= read.occurred_at)
                && read.occurred_at < r.end
        })
    });

    let mut timeline = current.clone();
    let released = match (from, from_view) {
        (Some(p), Some(v)) => release(store, input, read, p, v).await?,
        _ => None,
    };
    if let Some(r) = &released {
        for moved in &r.moved {
            if timeline.read(&moved.key()).is_none() {
                timeline.reads.push(moved.clone());
            }
        }
    }
    if overriding
        && opened_offline
        && let Some(r) = timeline.reads.iter_mut().find(|r| r.key() == key)
    {
        r.turned_away = false;
        // The car came in on its reservation after all.
        r.reservation_id = due.map(|d| d.id.clone());
    }
    if !overriding {
        timeline.reads.push(TimelineRead {
            device_id: input.device.clone(),
            event_id: read.event_id.clone(),
            gate_id: input.gate.id.clone(),
            direction: read.direction,
            at: read.occurred_at,
            flag,
            reservation_id: due.map(|r| r.id.clone()),
            turned_away: false,
            command: None,
            track: read.track.clone(),
            frame: read.frame.clone(),
        });
    }
    // Every read of the track is as sure as the track's agreement.
    if let Some(id) = &read.track {
        for r in timeline
            .reads
            .iter_mut()
            .filter(|r| r.track.as_ref() == Some(id) && &r.device_id == input.device)
        {
            r.flag = flag;
        }
    }
    let pricing = Pricing {
        lot,
        tariffs: &input.cfg.tariffs,
    };
    let mut rec = reconcile(&pricing, &timeline, payer.as_ref(), input.now);
    let is_new = |rec: &crate::timeline::Reconciled| {
        rec.session_of(&key, debounce)
            .is_some_and(|s| !current.sessions.iter().any(|c| c.id == s.id))
    };
    // A full lot turns a new car away, unless it holds a due reservation.
    // Full by the count of open sessions, unless the bay sensors see a
    // free bay beyond those held: a car whose exit the cameras missed must
    // not hold a bay until an operator closes its stay.
    let full = live.as_ref().is_some_and(|l| {
        u64::from(l.open_sessions) + u64::from(l.held_reservations) >= u64::from(lot.capacity)
            && recommend(l, false).is_empty()
    });
    // The operator's policy may hold a car that owes for earlier stays.
    let held_for_debt = owes.is_some()
        && lot.settings.unpaid_at_entry == crate::unpaid::UnpaidPolicy::Hold
        && !opened_offline;
    // Why a car is turned away: full (or held by the gate on its own, as
    // before), else the plate's unpaid stays.
    let away = if held_for_debt && !(full && due.is_none()) && !held_offline {
        Reason::Unpaid
    } else {
        Reason::Full
    };
    // A track's reads moved here from another plate are a car already
    // let in (or turned away) under that plate: not a new arrival.
    let moved_in = released.is_some();
    let mut turned_away = false;
    if held_offline
        || (!opened_offline
            && !moved_in
            && ((full && due.is_none()) || held_for_debt)
            && is_new(&rec))
    {
        turned_away = true;
        if let Some(r) = timeline.reads.iter_mut().rev().find(|r| r.key() == key) {
            r.turned_away = true;
            r.reservation_id = None;
        }
        rec = reconcile(&pricing, &timeline, payer.as_ref(), input.now);
    }
    let session = if turned_away {
        None
    } else {
        rec.session_of(&key, debounce).cloned()
    };
    let new_session = session
        .as_ref()
        .is_some_and(|s| !current.sessions.iter().any(|c| c.id == s.id));

    // A claimed plate nobody holds yet: its entry shows a code that proves
    // the claim (crate::plate_claims).
    let proof_code = match &view.claims {
        Some(c)
            if fresh
                && entry
                && new_session
                && view.owner.is_none()
                && plate.is_readable()
                && c.wants_code(input.now) =>
        {
            show_code(store, c, input.now).await
        }
        _ => None,
    };

    // Valid while the read is live.
    let valid = (input.now, input.live_until(read));
    let command = if fresh {
        Some(match (&session, entry) {
            (None, _) => GateCommand::new(
                read.event_id.clone(),
                None,
                away,
                owes.filter(|_| away == Reason::Unpaid),
                vec![],
                valid,
            ),
            (Some(s), true) => {
                let reserved = s.reservation_id.is_some();
                let bays = live
                    .as_ref()
                    .map(|l| recommend(l, reserved))
                    .unwrap_or_default();
                let reason = if owes.is_some() {
                    Reason::WelcomeUnpaid
                } else if reserved {
                    Reason::Reserved
                } else {
                    Reason::Welcome
                };
                let mut command = GateCommand::new(
                    read.event_id.clone(),
                    Some(s.id.clone()),
                    reason,
                    owes,
                    bays,
                    valid,
                );
                command.proof_code = proof_code.map(crate::commands::ProofCodeText);
                command
            }
            (Some(s), false) => {
                let reason = exit_reason(s);
                // At the kiosk the car pays what is still owed.
                let amount = match reason {
                    Reason::PayAtKiosk => s
                        .fee
                        .map(|f| parking_core::Money::new(s.outstanding(), f.currency)),
                    _ => s.fee,
                };
                GateCommand::new(
                    read.event_id.clone(),
                    Some(s.id.clone()),
                    reason,
                    amount,
                    vec![],
                    valid,
                )
            }
        })
    } else {
        None
    };

    let mut outbox: Vec<OutboxMessage> = rec.outbox().collect();
    if turned_away
        && !held_offline
        && away == Reason::Full
        && lot.hooked(crate::hooks::EventType::LotFull)
        && let Some(l) = &live
    {
        outbox.push(OutboxMessage::Webhooks(crate::hooks::HookMessage::Event(
            lot_full(lot, l, read.occurred_at),
        )));
    }
    if fresh
        && let (Some(s), Some(driver_id)) = (&session, &payer.as_ref().map(|p| &p.driver_id))
        && rec.changed.iter().any(|c| c.id == s.id)
    {
        let kind = if entry {
            NotificationKind::Entry {
                bays: command.as_ref().map(|c| c.bays.clone()).unwrap_or_default(),
            }
        } else {
            NotificationKind::Exit { amount: s.fee }
        };
        let label = if entry { "entry" } else { "exit" };
        outbox.push(OutboxMessage::Notifications(Notification {
            id: format!("{key}/{label}"),
            driver_id: (*driver_id).clone(),
            lot_id: lot.id.clone(),
            session_id: Some(s.id.clone()),
            reservation_id: s.reservation_id.clone(),
            kind,
            at: input.now,
        }));
    }

    // The driver's app asks for what their own stays owe, held or not
    // (stays of the plate before it was theirs are asked at the gate
    // only).
    let theirs: Vec<_> = debts
        .iter()
        .filter(|d| {
            payer
                .as_ref()
                .is_some_and(|p| d.driver_id.as_ref() == Some(&p.driver_id))
        })
        .cloned()
        .collect();
    // Once a stay: when it opens, or at the first read the gate holds
    // (not again for every read while the car waits at the barrier).
    let window = SignedDuration::from_mins(15);
    let held_before = current.reads.iter().any(|r| {
        r.turned_away
            && r.direction == GateDirection::Entry
            && read.occurred_at.duration_since(r.at).abs() <= window
    });
    if let (Some(amount), Some(p)) = (crate::unpaid::total(&theirs), payer.as_ref())
        && owes.is_some()
        && (new_session || (turned_away && !held_before))
    {
        outbox.push(OutboxMessage::Notifications(Notification {
            id: format!("{key}/unpaid"),
            driver_id: p.driver_id.clone(),
            lot_id: lot.id.clone(),
            session_id: None,
            reservation_id: None,
            kind: NotificationKind::Unpaid {
                amount,
                stays: u32::try_from(theirs.len()).unwrap_or(u32::MAX),
                held: turned_away,
            },
            at: input.now,
        }));
    }

    // A car the gate held on its own did not use the reservation the
    // cloud had checked it in on, unless it came in on a later read (the
    // car is inside: the reservation stays used).
    let inside = rec
        .timeline
        .sessions
        .iter()
        .any(|s| s.state == parking_core::SessionState::Open && s.entry_at > read.occurred_at);
    // Each stay the moved reads made on the plate they left is replaced by
    // the one that holds its first read here.
    let moved_to: std::collections::BTreeMap<String, SessionId> = released
        .iter()
        .flat_map(|r| &r.moved)
        .filter_map(|m| {
            let key = m.key();
            rec.session_of(&key, debounce).map(|s| (key, s.id.clone()))
        })
        .collect();
    let mut next = rec.timeline;
    next.version = current.version + 1;
    if let Some(r) = next.reads.iter_mut().rev().find(|r| r.key() == key) {
        // Kept to send again to a repeated read, without the code: that
        // is kept only as its digest.
        r.command = command.clone().map(|mut c| {
            c.proof_code = None;
            c
        });
    }
    // A command is sent again only for a fresh read: older reads keep
    // none, so the stored timeline stays small.
    let fresh_limit = SignedDuration::from_secs(i64::from(lot.settings.freshness_seconds));
    for r in &mut next.reads {
        if input.now.duration_since(r.at) > fresh_limit {
            r.command = None;
        }
    }
    let debts = crate::unpaid::changes(&operator, &current.sessions, &rec.changed);
    let split = crate::history::split(next, &head, lot, input.now);
    let check_in = match (entry && new_session, due) {
        (true, Some(r))
            if session.as_ref().and_then(|s| s.reservation_id.as_ref()) == Some(&r.id) =>
        {
            Some(r.clone())
        }
        _ => None,
    };
    let check_in_undone = match current
        .read(&key)
        .and_then(|seen| seen.reservation_id.clone())
    {
        Some(id) if overriding && held_offline && !inside => {
            Some(store.get_reservation(&id).await?)
                .filter(|r| r.state == ReservationState::CheckedIn)
        }
        _ => None,
    };
    let event = EventRef {
        device_id: input.device.clone(),
        // The gate's own decision on a read applied before is an event
        // of its own in the ledger.
        event_id: if overriding {
            offline_event(&read.event_id)
        } else {
            read.event_id.clone()
        },
        processed_at: input.now,
    };
    let attempt = attempt_nonce();
    let commit = TimelineCommit {
        timeline: split.head,
        stays: split.put,
        stays_gone: split.gone,
        changed: rec.changed,
        outbox,
        open_delta: rec.open_delta,
        check_in,
        check_in_undone,
        released: released.map(|r| {
            Box::new(r.commit(&pricing, &operator, &moved_to, &event, attempt, input.now))
        }),
        event,
        attempt,
        audit: None,
        pass: None,
        debts,
        track: taking.track.as_ref().map(|t| t.next.clone()),
    };
    match store.commit_read(&commit).await {
        Ok(Applied::Done) => Ok(Attempt::Done(Box::new((
            Report {
                applied: 1,
                ..Report::default()
            },
            command,
        )))),
        // Processed before, under another plate's timeline (a doubtful
        // read resolved differently then): nothing to do.
        Ok(Applied::Duplicate) => Ok(Attempt::Done(Box::new((
            Report {
                duplicates: 1,
                ..Report::default()
            },
            None,
        )))),
        Err(StoreError::Conflict(Refusal::StaleTimeline { .. })) => Ok(Attempt::Stale),
        Err(e) => Err(e),
    }
}

/// A plate's timeline that a track's reads leave, because the track now
/// agrees on another plate.
struct Released {
    /// The head as read.
    head: PlateTimeline,
    /// The working copy as read (the head and the stays around the read).
    current: PlateTimeline,
    /// The working copy without the track's reads.
    left: PlateTimeline,
    /// The track's reads, for the plate they now make: with their gate
    /// commands, without the reservation they checked in for this plate's
    /// driver.
    moved: Vec<TimelineRead>,
    /// Who this plate is registered to.
    payer: Option<Payer>,
    /// The reservation the moved reads had checked in for this plate's
    /// driver (checked in, as the store holds it): active again, since
    /// that driver's car did not come in.
    undone: Option<Reservation>,
}

/// The track's reads taken out of the plate `from`'s timeline, if it holds
/// any (the same device's reads of the same track).
async fn release<S: Store>(
    store: &S,
    input: &Input<'_>,
    read: &PlateRead,
    from: &Plate,
    view: PlateView,
) -> Result<Option<Released>, StoreError> {
    let lot = &input.cfg.lot;
    let Some(head) = view.timeline else {
        return Ok(None);
    };
    let current =
        crate::history::around(store, head.clone(), read.occurred_at, lot.debounce()).await?;
    let ours = |r: &TimelineRead| {
        r.track == read.track && r.track.is_some() && &r.device_id == input.device
    };
    let moved: Vec<TimelineRead> = current
        .reads
        .iter()
        .filter(|r| ours(r))
        .map(|r| TimelineRead {
            reservation_id: None,
            ..r.clone()
        })
        .collect();
    if moved.is_empty() {
        return Ok(None);
    }
    let mut left = current.clone();
    left.reads.retain(|r| !ours(r));
    // A reservation the moved reads checked in, that no read left holds.
    let checked_in = current
        .reads
        .iter()
        .filter(|r| ours(r))
        .find_map(|r| r.reservation_id.clone())
        .filter(|id| {
            !left
                .reads
                .iter()
                .any(|r| r.reservation_id.as_ref() == Some(id))
        });
    let undone = match checked_in {
        Some(id) => Some(store.get_reservation(&id).await?)
            .filter(|r| r.state == ReservationState::CheckedIn),
        None => None,
    };
    let payer = match &view.owner {
        Some(owner) if from.is_readable() => {
            let v = store.driver_view(&owner.driver_id).await?;
            Some(Payer {
                driver_id: owner.driver_id.clone(),
                method_id: v.methods.first().map(|m| m.id.clone()),
            })
        }
        _ => None,
    };
    Ok(Some(Released {
        head,
        current,
        left,
        moved,
        payer,
        undone,
    }))
}

impl Released {
    /// The change to this plate's history, for the read's commit.
    fn commit(
        self,
        pricing: &Pricing<'_>,
        operator: &OperatorId,
        moved_to: &std::collections::BTreeMap<String, SessionId>,
        event: &EventRef,
        attempt: u64,
        now: Timestamp,
    ) -> TimelineCommit {
        let mut rec = reconcile(pricing, &self.left, self.payer.as_ref(), now);
        let to = |s: &Session| {
            s.origin
                .as_ref()
                .and_then(|o| moved_to.get(o))
                .filter(|_| {
                    s.state == parking_core::SessionState::Superseded && s.replaced_by.is_none()
                })
                .cloned()
        };
        for s in rec
            .changed
            .iter_mut()
            .chain(rec.timeline.sessions.iter_mut())
        {
            if let Some(id) = to(s) {
                s.replaced_by = Some(id);
            }
        }
        let outbox: Vec<OutboxMessage> = rec.outbox().collect();
        let debts = crate::unpaid::changes(operator, &self.current.sessions, &rec.changed);
        let mut next = rec.timeline;
        next.version = self.current.version + 1;
        let split = crate::history::split(next, &self.head, pricing.lot, now);
        TimelineCommit {
            timeline: split.head,
            stays: split.put,
            stays_gone: split.gone,
            changed: rec.changed,
            outbox,
            open_delta: rec.open_delta,
            check_in: None,
            check_in_undone: self.undone,
            event: event.clone(),
            attempt,
            audit: None,
            pass: None,
            debts,
            track: None,
            released: None,
        }
    }
}

/// A car turned away from a full lot, as webhook subscribers are told:
/// one event a lot in each quarter hour, however many cars it turns away.
fn lot_full(lot: &Lot, live: &Occupancy, at: Timestamp) -> crate::hooks::LotEvent {
    let quarter = at.as_second().div_euclid(900) * 900;
    let since = Timestamp::from_second(quarter).unwrap_or(at);
    crate::hooks::LotEvent::new(
        crate::hooks::EventType::LotFull,
        lot.id.clone(),
        &format!("{}/{}", lot.id, since.as_second()),
        at,
        serde_json::json!({
            "capacity": lot.capacity,
            "open_sessions": live.open_sessions,
            "held_reservations": live.held_reservations,
            "since": since,
        }),
    )
}

/// Keeps a new one-time code for a claimed plate and returns it; a code
/// that cannot be kept is not shown (the next entry shows one).
async fn show_code<S: Store>(
    store: &S,
    claims: &crate::plate_claims::PlateClaims,
    now: Timestamp,
) -> Option<String> {
    let code = crate::plate_claims::new_code();
    let mut next = claims.clone();
    next.show(&code, now);
    next.version += 1;
    match store.put_plate_claims(&next).await {
        Ok(()) => Some(code),
        Err(e) => {
            tracing::warn!(error = %e, "a plate's proof code was not kept; none is shown");
            None
        }
    }
}

/// The ledger's id for a gate's own decision on a read applied before: a
/// fixed-length hash of the read's id, so it always parses and never
/// meets the id of a read.
fn offline_event(event: &EventId) -> EventId {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(format!("decided-offline\0{event}").as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    EventId::parse(&format!("offline-{hex}"))
        .unwrap_or_else(|_| unreachable!("hex is a valid event id"))
}

/// Why an exit opens or holds.
fn exit_reason(s: &Session) -> Reason {
    use parking_core::SessionState::*;
    match s.state {
        Priced | EntryMissing => match (s.fee, &s.method_id) {
            (Some(fee), _) if fee.minor == 0 => Reason::Free,
            (Some(_), Some(_)) => Reason::Charged,
            (Some(_), None) if s.kiosk_paid > 0 && s.outstanding() == 0 => Reason::PaidAtKiosk,
            (Some(_), None) => Reason::PayAtKiosk,
            (None, _) => Reason::NeedsStaff,
        },
        Voided => Reason::Free,
        _ if s.flags.contains(&SessionFlag::PlateUnverified) => Reason::PlateUnverified,
        _ => Reason::NeedsStaff,
    }
}

/// Up to three bays known to be free, in bay order, leaving the last free
/// bays to cars that hold a due reservation (one per reservation not yet
/// checked in) unless this car is one of them.
pub fn recommend(occupancy: &Occupancy, reserved: bool) -> Vec<BayId> {
    let free = &occupancy.free;
    let keep = if reserved {
        0
    } else {
        occupancy.held_reservations as usize
    };
    free.iter()
        .take(free.len().saturating_sub(keep))
        .take(RECOMMENDED_BAYS)
        .cloned()
        .collect()
}

/// A random number per commit attempt.
fn attempt_nonce() -> u64 {
    crate::ids::nonce()
}
