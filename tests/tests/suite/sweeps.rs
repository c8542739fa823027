//! The scheduled sweeps with an injected clock, on the in-memory store and
//! on DynamoDB: each does its work once however often it runs.

use jiff::{SignedDuration, Timestamp};
use parking_app::outbox::{NotificationKind, OutboxMessage, PaymentOrder};
use parking_app::scenario::set_up;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::settle::{Settled, settle_order};
use parking_app::usecases::sweeps::{
    BUDGET, no_shows, overstays, payment_retries, silent_devices, stale_outbox, uncounted,
};
use parking_app::*;
use parking_aws::{DevProvider, MemoryLink, MemoryQueues};
use parking_core::SessionState;
use serde_json::json;

use super::devices::{AIKO, DAISUKE, LOT, read, scenario, t};

async fn lot_with<S: Store + Clone>(store: &S) -> DeviceEvents<S, MemoryLink> {
    set_up(store, &scenario(), t("08:00:00"))
        .await
        .expect("set up");
    DeviceEvents::new(store.clone(), MemoryLink::default(), SignedDuration::ZERO)
}

async fn send<S: Store>(events: &DeviceEvents<S, MemoryLink>, m: &serde_json::Value) {
    let at = m["received_at"]
        .as_i64()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .expect("received_at");
    let report = events
        .handle(&serde_json::to_vec(m).expect("json"), at)
        .await
        .expect("handled");
    assert_eq!(report.applied, 1, "{report:?}");
}

async fn orders<S: Store>(store: &S) -> Vec<PaymentOrder> {
    store
        .outbox_pending(1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Payments(o) => Some(o),
            OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
        })
        .collect()
}

fn hours_after(at: Timestamp, h: i64) -> Timestamp {
    at + SignedDuration::from_hours(h)
}

/// CHIKA's reservation (10:00–12:00) is a no-show at 10:30 plus; the
/// sweep charges the lot's fee once, however often it runs.
pub async fn a_no_show_is_charged_once<S: Store + Clone>(store: S) {
    let _events = lot_with(&store).await;
    let lot_id: LotId = LOT.parse().expect("id");
    let mut lot = store.lot_config(&lot_id).await.expect("lot").lot;
    lot.settings.no_show_fee = 500;
    store.put_lot(&lot).await.expect("lot");
    let r3: ReservationId = "r-3".parse().expect("id");

    let early = no_shows(&store, t("10:29:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(early.acted, 0, "still within the grace period");
    let swept = no_shows(&store, t("10:31:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(swept.acted, 1);
    let r = store.get_reservation(&r3).await.expect("reservation");
    assert_eq!(r.state, ReservationState::NoShow);
    assert_eq!(r.cancellation_fee.map(|m| m.minor), Some(500));
    for later in ["10:31:00", "10:45:00", "11:30:00"] {
        let again = no_shows(&store, t(later), BUDGET).await.expect("swept");
        assert_eq!(again.acted, 0, "at {later}");
    }
    let fees: Vec<PaymentOrder> = orders(&store)
        .await
        .into_iter()
        .filter(|o| o.reservation_id.as_ref() == Some(&r3))
        .collect();
    assert_eq!(fees.len(), 1, "{fees:?}");
    assert_eq!(fees[0].amount.minor, 500);
    assert_eq!(fees[0].driver_id.as_str(), "d-3");
    let told = store
        .outbox_pending(1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|m| {
            matches!(m, OutboxMessage::Notifications(n)
            if matches!(n.kind, NotificationKind::ReservationEnded { no_show: true, .. }))
        })
        .count();
    assert_eq!(told, 1);
    // Settled twice, charged once.
    let provider = DevProvider::default();
    let a = settle_order(&store, &provider, &fees[0], t("10:35:00"))
        .await
        .expect("settled");
    let b = settle_order(&store, &provider, &fees[0], t("10:36:00"))
        .await
        .expect("settled");
    assert!(matches!(a, Settled::Charged(_)), "{a:?}");
    assert_eq!(a, b);
    assert_eq!(provider.charges().len(), 1);
}

/// A car in for longer than the tariff's 48 hours is flagged for a person
/// once; its exit clears the flag.
pub async fn an_overstay_is_flagged_once<S: Store + Clone>(store: S) {
    let events = lot_with(&store).await;
    let entry = t("09:00:00");
    send(&events, &read("g-in", "in-1", AIKO, 0.97, entry, None)).await;
    let lot_id: LotId = LOT.parse().expect("id");
    let open = || async {
        store
            .lot_sessions_since(&lot_id, entry)
            .await
            .expect("sessions")
            .into_iter()
            .find(|s| s.state == SessionState::Open)
            .expect("open")
    };
    let early = overstays(&store, hours_after(entry, 47), BUDGET)
        .await
        .expect("swept");
    assert_eq!(early.acted, 0);
    let swept = overstays(&store, hours_after(entry, 49), BUDGET)
        .await
        .expect("swept");
    assert_eq!(swept.acted, 1);
    let s = open().await;
    assert!(s.flags.contains(&SessionFlag::Overstay), "{:?}", s.flags);
    assert!(parking_app::usecases::operator::needs_review(&s));
    let again = overstays(&store, hours_after(entry, 50), BUDGET)
        .await
        .expect("swept");
    assert_eq!(again.acted, 0);
    let exit = hours_after(entry, 51);
    send(&events, &read("g-out", "out-1", AIKO, 0.97, exit, None)).await;
    let closed = store.get_session(&s.id).await.expect("session");
    assert!(!closed.flags.contains(&SessionFlag::Overstay));
}

/// A car whose exit the cameras missed counts toward full for the lot's
/// `open_count_hours` (24) only; staff then close its stay from the review
/// queue, charged to when it left or not, and a real exit read that comes
/// later wins.
pub async fn a_missed_exit_stops_counting_and_staff_close_it<S: Store + Clone>(store: S) {
    use parking_app::usecases::adjust::{self, Decision, Staff};
    let events = lot_with(&store).await;
    let lot_id: LotId = LOT.parse().expect("id");
    let lot = store.lot_config(&lot_id).await.expect("lot").lot;
    let entry = t("09:00:00");
    send(&events, &read("g-in", "in-1", AIKO, 0.97, entry, None)).await;
    send(&events, &read("g-in", "in-2", DAISUKE, 0.97, entry, None)).await;
    let counted = || async {
        store
            .occupancy(&lot, hours_after(entry, 30))
            .await
            .expect("occupancy")
            .open_sessions
    };
    assert_eq!(counted().await, 2);
    let early = uncounted(&store, hours_after(entry, 23), BUDGET)
        .await
        .expect("swept");
    assert_eq!(early.acted, 0);
    let swept = uncounted(&store, hours_after(entry, 25), BUDGET)
        .await
        .expect("swept");
    assert_eq!(swept.acted, 2);
    assert_eq!(counted().await, 0, "no longer counted toward full");
    let again = uncounted(&store, hours_after(entry, 26), BUDGET)
        .await
        .expect("swept");
    assert_eq!(again.acted, 0);
    assert_eq!(counted().await, 0);
    let sessions = store
        .lot_sessions_since(&lot_id, entry)
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        assert_eq!(s.state, SessionState::Open);
        assert!(s.flags.contains(&SessionFlag::Uncounted), "{:?}", s.flags);
        assert!(parking_app::usecases::operator::needs_review(s));
    }
    let of = |plate: &str| {
        sessions
            .iter()
            .find(|s| Ok(&s.plate) == parking_core::Plate::parse(plate).as_ref())
            .expect("session")
            .id
            .clone()
    };
    let actor = Actor {
        role: "operator".into(),
        subject: "staff-1".into(),
    };
    let who = Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: hours_after(entry, 27),
    };
    // Left about three hours in, by the staff's count: charged for that.
    let aiko = adjust::close(
        &store,
        who,
        &of(AIKO),
        hours_after(entry, 3),
        Decision::Charge { amount: None },
        "seen leaving on the camera's video",
    )
    .await
    .expect("closed")
    .session
    .expect("session");
    assert_eq!(aiko.state, SessionState::Priced);
    assert_eq!(aiko.exit_at, Some(hours_after(entry, 3)));
    let fee = aiko.fee.expect("priced").minor;
    assert!(fee > 0);
    assert!(!parking_app::usecases::operator::needs_review(&aiko));
    let charged: i64 = orders(&store)
        .await
        .iter()
        .filter(|o| o.session_id.as_ref() == Some(&aiko.id))
        .map(|o| o.amount.minor)
        .sum();
    assert_eq!(charged, fee);
    // Not charged: voided.
    let daisuke = adjust::close(
        &store,
        who,
        &of(DAISUKE),
        hours_after(entry, 2),
        Decision::Void,
        "a staff car",
    )
    .await
    .expect("closed")
    .session
    .expect("session");
    assert_eq!(daisuke.state, SessionState::Voided);
    // The same decision sent again changes nothing; closing a stay that
    // has an exit, or at a time before its entry or to come, is refused.
    let repeated = adjust::close(
        &store,
        who,
        &of(DAISUKE),
        hours_after(entry, 2),
        Decision::Void,
        "a staff car",
    )
    .await
    .expect("repeated");
    assert!(repeated.repeated);
    assert!(matches!(
        adjust::close(
            &store,
            who,
            &of(AIKO),
            hours_after(entry, 4),
            Decision::Void,
            "x"
        )
        .await,
        Err(adjust::ActionError::Conflict {
            code: "not_open",
            ..
        })
    ));
    assert!(matches!(
        adjust::close(
            &store,
            who,
            &of(AIKO),
            hours_after(entry, 40),
            Decision::Void,
            "x"
        )
        .await,
        Err(adjust::ActionError::Invalid { .. })
    ));
    assert_eq!(counted().await, 0);
    // The car was inside after all: its exit read wins, priced to it; the
    // close no longer applies, and the card is charged the difference.
    let exit = hours_after(entry, 28);
    send(&events, &read("g-out", "out-1", AIKO, 0.97, exit, None)).await;
    let after = store.get_session(&aiko.id).await.expect("session");
    assert_eq!(after.exit_at, Some(exit));
    let repriced = after.fee.expect("priced").minor;
    assert!(repriced > fee, "{:?}", after.fee);
    assert_eq!(after.resolution, None);
    let charged: i64 = orders(&store)
        .await
        .iter()
        .filter(|o| o.session_id.as_ref() == Some(&aiko.id))
        .map(|o| o.signed_minor())
        .sum();
    assert_eq!(charged, repriced);
    assert_eq!(counted().await, 0);
}

/// A stay closed by staff ends no later than the plate's next entry: no
/// time is charged twice.
pub async fn a_closed_stay_ends_no_later_than_the_next_entry<S: Store + Clone>(store: S) {
    use parking_app::usecases::adjust::{self, Decision, Staff};
    let events = lot_with(&store).await;
    let lot_id: LotId = LOT.parse().expect("id");
    send(
        &events,
        &read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None),
    )
    .await;
    // The exit was missed; the car comes in again at 15:00.
    send(
        &events,
        &read("g-in", "in-2", AIKO, 0.97, t("15:00:00"), None),
    )
    .await;
    let sessions = store
        .lot_sessions_since(&lot_id, t("08:00:00"))
        .await
        .expect("sessions");
    let first = sessions
        .iter()
        .find(|s| s.entry_at == t("09:00:00"))
        .expect("first stay");
    assert_eq!(first.state, SessionState::ExitMissing);
    let actor = Actor {
        role: "operator".into(),
        subject: "staff-1".into(),
    };
    let who = Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: t("17:00:00"),
    };
    let closed = adjust::close(
        &store,
        who,
        &first.id,
        t("16:00:00"),
        Decision::Charge { amount: None },
        "left before it came back",
    )
    .await
    .expect("closed")
    .session
    .expect("session");
    assert_eq!(closed.exit_at, Some(t("15:00:00")));
    assert_eq!(closed.state, SessionState::Priced);
}

fn presence(client: &str, connected: bool, at: Timestamp, version: u64) -> serde_json::Value {
    let kind = if connected {
        "connected"
    } else {
        "disconnected"
    };
    json!({
        "clientId": client, "timestamp": at.as_millisecond(), "eventType": kind,
        "versionNumber": version, "topic": format!("$aws/events/presence/{kind}/{client}"),
        "received_at": at.as_millisecond() + 10
    })
}

fn heartbeat(client: &str, at: Timestamp) -> serde_json::Value {
    json!({
        "type": "heartbeat", "topic": format!("parking/{LOT}/gates/g-in/events"),
        "clientid": client, "received_at": at.as_millisecond()
    })
}

/// A camera that connected and then fell silent is shown offline after
/// the lot's heartbeat timeout; its next heartbeat brings it back.
pub async fn a_silent_device_is_shown_offline_until_it_speaks<S: Store + Clone>(store: S) {
    let events = lot_with(&store).await;
    let lot_id: LotId = LOT.parse().expect("id");
    let offline = || async {
        let lot = store.lot_config(&lot_id).await.expect("lot").lot;
        parking_app::usecases::availability::lot_availability(
            &store,
            &lot,
            t("12:00:00"),
            &Default::default(),
        )
        .await
        .expect("availability")
        .0
        .offline_devices
    };
    send(&events, &presence("cam-in", true, t("09:00:00"), 3)).await;
    send(&events, &heartbeat("cam-in", t("09:10:00"))).await;
    let quiet = silent_devices(&store, t("09:20:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(quiet.acted, 0, "heard ten minutes ago");
    let swept = silent_devices(&store, t("09:26:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(swept.acted, 1);
    assert_eq!(
        offline().await,
        vec!["cam-in".parse::<DeviceId>().expect("id")]
    );
    let again = silent_devices(&store, t("09:40:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(again.acted, 0, "already offline");
    send(&events, &heartbeat("cam-in", t("09:41:00"))).await;
    assert!(offline().await.is_empty());
    // A newer connection outweighs anything the sweep wrote.
    send(&events, &presence("cam-in", false, t("09:50:00"), 4)).await;
    assert_eq!(offline().await.len(), 1);
}

/// A declining card: tried again on schedule under a new key each time;
/// after the last attempt the stay waits for a person. A card that needs
/// its holder is never tried again on its own.
pub async fn a_declined_charge_is_retried_then_reviewed<S: Store + Clone>(store: S) {
    let events = lot_with(&store).await;
    store
        .add_payment_method(&PaymentMethod {
            id: "pm-5".parse().expect("id"),
            driver_id: "d-5".parse().expect("id"),
            brand: "visa".into(),
            last4: "0341".into(),
            token: PaymentToken::new("pm_card_chargeCustomerFail"),
            customer: None,
        })
        .await
        .expect("card");
    send(
        &events,
        &read("g-in", "in-5", DAISUKE, 0.97, t("09:00:00"), None),
    )
    .await;
    send(
        &events,
        &read("g-out", "out-5", DAISUKE, 0.97, t("10:30:00"), None),
    )
    .await;
    let order = orders(&store).await.pop().expect("a charge");
    let provider = DevProvider::default();
    let queues = MemoryQueues::default();
    let mut at = t("10:31:00");
    let mut keys = Vec::new();
    let mut next = order.clone();
    for (n, wait) in [(1, 1), (2, 6), (3, 24), (4, 72)] {
        assert_eq!(next.attempt, n);
        let settled = settle_order(&store, &provider, &next, at)
            .await
            .expect("settled");
        assert!(matches!(settled, Settled::Failed(_)), "{settled:?}");
        let s = store
            .get_session(order.session_id.as_ref().expect("a stay"))
            .await
            .expect("session");
        assert_eq!(s.state, SessionState::PaymentFailed);
        let before = payment_retries(
            &store,
            &queues,
            hours_after(at, wait) - SignedDuration::from_mins(1),
            BUDGET,
        )
        .await
        .expect("swept");
        assert_eq!(before.acted, 0, "not due yet");
        at = hours_after(at, wait);
        let due = payment_retries(&store, &queues, at, BUDGET)
            .await
            .expect("swept");
        assert_eq!(due.acted, 1, "attempt {n}'s retry");
        let twice = payment_retries(&store, &queues, at, BUDGET)
            .await
            .expect("swept");
        assert_eq!(twice.acted, 0, "queued once");
        next = match queues.all().pop() {
            Some(OutboxMessage::Payments(o)) => o,
            other => panic!("{other:?}"),
        };
        keys.push(next.idempotency_key.clone());
    }
    assert_eq!(next.attempt, 5);
    let ordered = orders(&store).await.len();
    let last = settle_order(&store, &provider, &next, at)
        .await
        .expect("settled");
    assert!(matches!(last, Settled::GaveUp(_)), "{last:?}");
    let s = store
        .get_session(order.session_id.as_ref().expect("a stay"))
        .await
        .expect("session");
    assert_eq!(s.state, SessionState::NeedsReview);
    assert_eq!(
        s.payment_failure.as_deref(),
        Some("the card was declined (card_declined)")
    );
    assert!(parking_app::usecases::operator::needs_review(&s));
    // Giving up orders nothing: no refund of what was never paid, no new
    // charge, also when the plate's timeline is reconciled again later.
    assert_eq!(orders(&store).await.len(), ordered);
    send(
        &events,
        &read("g-in", "in-5b", DAISUKE, 0.97, hours_after(at, 1), None),
    )
    .await;
    assert_eq!(orders(&store).await.len(), ordered);
    let still = store
        .get_session(order.session_id.as_ref().expect("a stay"))
        .await
        .expect("session");
    assert_eq!(still.state, SessionState::NeedsReview);
    let none = payment_retries(&store, &queues, hours_after(at, 100), BUDGET)
        .await
        .expect("swept");
    assert_eq!(none.acted, 0, "no more retries");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "a new key each time");
    assert!(provider.charges().is_empty());

    // A card that needs its holder: payment_failed with the reason, and
    // never on the retry schedule.
    store
        .add_payment_method(&PaymentMethod {
            id: "pm-1".parse().expect("id"),
            driver_id: "d-1".parse().expect("id"),
            brand: "visa".into(),
            last4: "3184".into(),
            token: PaymentToken::new("pm_card_authenticationRequired"),
            customer: None,
        })
        .await
        .expect("card");
    send(
        &events,
        &read("g-in", "in-1", AIKO, 0.97, t("11:00:00"), None),
    )
    .await;
    send(
        &events,
        &read("g-out", "out-1", AIKO, 0.97, t("12:00:00"), None),
    )
    .await;
    let aiko = orders(&store)
        .await
        .into_iter()
        .find(|o| o.driver_id.as_str() == "d-1")
        .expect("aiko's charge");
    let failed = settle_order(&store, &provider, &aiko, t("12:01:00"))
        .await
        .expect("settled");
    assert_eq!(
        failed,
        Settled::Failed("the card needs the cardholder to authenticate".into())
    );
    let s = store
        .get_session(aiko.session_id.as_ref().expect("a stay"))
        .await
        .expect("session");
    assert_eq!(s.state, SessionState::PaymentFailed);
    assert_eq!(
        s.payment_failure.as_deref(),
        Some("the card needs the cardholder to authenticate")
    );
    let blind = payment_retries(&store, &queues, hours_after(t("12:01:00"), 1000), BUDGET)
        .await
        .expect("swept");
    assert_eq!(blind.acted, 0, "never retried blindly");
}

/// What the outbox's stream did not deliver is sent again after a while,
/// once.
pub async fn the_outbox_is_sent_again_when_the_stream_did_not<S: Store + Clone>(store: S) {
    let events = lot_with(&store).await;
    send(
        &events,
        &read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None),
    )
    .await;
    send(
        &events,
        &read("g-out", "out-1", AIKO, 0.97, t("10:30:00"), None),
    )
    .await;
    let all = store.outbox_pending(1000).await.expect("outbox");
    let old = all
        .iter()
        .filter(|m| m.created_at() < t("10:00:00"))
        .count();
    assert!(
        old >= 1 && all.len() > old,
        "{} messages, {old} old",
        all.len()
    );
    let queues = MemoryQueues::default();
    // At 10:32 the entry's messages are stale; the exit's are not yet.
    let first = stale_outbox(&store, &queues, t("10:32:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(first.acted, old);
    let left = store.outbox_pending(1000).await.expect("outbox").len();
    assert_eq!(
        left,
        all.len() - old,
        "the stream still has time for the rest"
    );
    let rest = stale_outbox(&store, &queues, t("11:00:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(rest.acted, left);
    assert_eq!(queues.all().len(), all.len());
    assert!(store.outbox_pending(1000).await.expect("outbox").is_empty());
    let again = stale_outbox(&store, &queues, t("12:00:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(again.acted, 0);
}

/// A driver is reminded once of a reservation about to start, and once of
/// a monthly pass about to end.
pub async fn reminders_go_out_once<S: Store + Clone>(store: S) {
    use parking_app::usecases::adjust::{NewPass, Staff, issue_pass};
    use parking_app::usecases::sweeps::reminders;
    let _events = lot_with(&store).await;
    let operator = Actor {
        role: "operator".into(),
        subject: "op-1".into(),
    };
    let lot_id: LotId = LOT.parse().expect("id");
    issue_pass(
        &store,
        Staff {
            actor: &operator,
            lot_id: &lot_id,
            now: t("08:30:00"),
        },
        &NewPass {
            plate: parking_core::Plate::parse(AIKO).expect("plate"),
            valid_from: t("00:00:00"),
            valid_until: hours_after(t("00:00:00"), 48),
        },
        "pass-1",
    )
    .await
    .expect("pass");
    let queues = MemoryQueues::default();
    let kinds = |queues: &MemoryQueues| -> Vec<(String, String)> {
        queues
            .all()
            .into_iter()
            .filter_map(|m| match m {
                OutboxMessage::Notifications(n) => Some((
                    n.driver_id.to_string(),
                    match n.kind {
                        NotificationKind::ReservationReminder { .. } => "reminder".into(),
                        NotificationKind::PassExpiring { .. } => "pass".into(),
                        other => format!("{other:?}"),
                    },
                )),
                OutboxMessage::Payments(_) | OutboxMessage::Webhooks(_) => None,
            })
            .collect()
    };
    // 09:20: the pass ends within three days; CHIKA's 10:00 reservation
    // is not yet within half an hour.
    let first = reminders(&store, &queues, t("09:20:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(first.acted, 1);
    assert_eq!(kinds(&queues), vec![("d-1".to_owned(), "pass".to_owned())]);
    let second = reminders(&store, &queues, t("09:35:00"), BUDGET)
        .await
        .expect("swept");
    assert_eq!(second.acted, 1, "the reservation's reminder");
    assert_eq!(kinds(&queues)[1], ("d-3".to_owned(), "reminder".to_owned()));
    for at in ["09:40:00", "09:55:00"] {
        let again = reminders(&store, &queues, t(at), BUDGET)
            .await
            .expect("swept");
        assert_eq!(again.acted, 0, "at {at}");
    }
    assert_eq!(queues.all().len(), 2);
}

/// A sweep does at most its budget per run, and the next run the rest.
pub async fn a_sweep_stops_at_its_budget<S: Store + Clone>(store: S) {
    let events = lot_with(&store).await;
    for (i, plate) in [AIKO, DAISUKE].into_iter().enumerate() {
        send(
            &events,
            &read("g-in", &format!("in-{i}"), plate, 0.97, t("09:00:00"), None),
        )
        .await;
    }
    let at = hours_after(t("09:00:00"), 49);
    let first = overstays(&store, at, 1).await.expect("swept");
    assert_eq!((first.acted, first.more), (1, true));
    let second = overstays(&store, at, 1).await.expect("swept");
    assert_eq!((second.acted, second.more), (1, false));
    let third = overstays(&store, at, 1).await.expect("swept");
    assert_eq!((third.acted, third.more), (0, false));
}

macro_rules! both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name(parking_aws::MemoryStore::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                super::$name(parking_tests::fresh_dynamo_store(None).await).await;
            }
        }
    )*};
}

both!(
    a_no_show_is_charged_once,
    an_overstay_is_flagged_once,
    a_missed_exit_stops_counting_and_staff_close_it,
    a_closed_stay_ends_no_later_than_the_next_entry,
    a_silent_device_is_shown_offline_until_it_speaks,
    a_declined_charge_is_retried_then_reviewed,
    the_outbox_is_sent_again_when_the_stream_did_not,
    reminders_go_out_once,
    a_sweep_stops_at_its_budget
);
