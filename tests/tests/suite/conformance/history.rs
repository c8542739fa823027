//! A plate's history: each change is one atomic write at the head's next
//! version, with the sessions, stays, outbox messages, ledger entry and
//! occupancy count it carries; a stale writer is refused and leaves no
//! trace, the same change repeated is its own success, and a redelivered
//! event is a duplicate.

use super::*;

pub async fn a_plates_history_changes_one_version_at_a_time<S: Store>(store: &S) {
    let lot = fx::lot("lot-h", 0);
    let text = "品川 300 さ 12-34";
    let plate = fx::plate(text);
    let s = fx::session("s-h", "lot-h", text);
    let e1 = fx::event("cam-1", "r-1", "2026-11-24T09:00:01+09:00");
    let first = commit(1, &s, &e1, 7);
    assert_eq!(store.commit_read(&first).await.expect("v1"), Applied::Done);
    // The very same change again (a retry after a lost answer) is its own
    // success.
    assert_eq!(
        store.commit_read(&first).await.expect("again"),
        Applied::Done
    );
    let view = store.plate_view(&lot.id, &plate).await.expect("view");
    assert_eq!(view.timeline.map(|t| t.version), Some(1));
    assert_eq!(store.get_session(&s.id).await.expect("session"), s);
    let at = fx::at("2026-11-24T09:10:00+09:00");
    assert_eq!(
        store
            .occupancy(&lot, at)
            .await
            .expect("occupancy")
            .open_sessions,
        1
    );
    assert!(
        store
            .is_processed(&e1.device_id, &e1.event_id, e1.processed_at)
            .await
            .expect("ledger")
    );
    // The read redelivered later, by another attempt: a duplicate.
    let redelivered = EventRef {
        processed_at: e1.processed_at + SignedDuration::from_secs(30),
        ..e1.clone()
    };
    let mut again = commit(1, &s, &redelivered, 8);
    again.timeline.version = 2;
    assert_eq!(
        store.commit_read(&again).await.expect("redelivery"),
        Applied::Duplicate
    );
    // A writer that read the head before the first change: refused, and
    // its event is not remembered, so its retry is applied.
    let e2 = fx::event("cam-1", "r-2", "2026-11-24T09:00:02+09:00");
    let stale = commit(1, &s, &e2, 9);
    assert_eq!(
        refusal(&store.commit_read(&stale).await),
        Some(&Refusal::StaleTimeline {
            lot_id: lot.id.clone()
        })
    );
    assert!(
        !store
            .is_processed(&e2.device_id, &e2.event_id, e2.processed_at)
            .await
            .expect("ledger")
    );

    // The next version closes the session and archives an earlier stay.
    let earlier = fx::next(&fx::session("s-old", "lot-h", text), SessionState::Priced);
    let stay = parking_app::history::Stay {
        lot_id: lot.id.clone(),
        plate: plate.clone(),
        from: fx::at("2026-11-20T09:00:00+09:00"),
        id: earlier.id.clone(),
        starts: fx::at("2026-11-20T09:00:00+09:00"),
        until: fx::at("2026-11-20T10:00:00+09:00"),
        ends_open: false,
        reads: Vec::new(),
        sessions: vec![earlier],
        orders: Vec::new(),
        adjustments: Vec::new(),
        settlements: Vec::new(),
    };
    let e3 = fx::event("cam-2", "r-3", "2026-11-24T11:00:01+09:00");
    let closed = fx::next(&s, SessionState::Priced);
    let mut second = commit(2, &closed, &e3, 10);
    second.open_delta = -1;
    second.stays = vec![stay.clone()];
    assert_eq!(store.commit_read(&second).await.expect("v2"), Applied::Done);
    assert_eq!(
        store
            .occupancy(&lot, at)
            .await
            .expect("occupancy")
            .open_sessions,
        0
    );
    assert_eq!(store.get_session(&s.id).await.expect("session"), closed);
    let from = fx::at("2026-11-01T00:00:00Z");
    assert_eq!(
        store
            .stays_from(&lot.id, &plate, from, 8)
            .await
            .expect("stays"),
        vec![stay.clone()]
    );
    assert_eq!(
        store
            .stay_before(&lot.id, &plate, fx::at("2026-11-21T00:00:00Z"))
            .await
            .expect("stay"),
        Some(stay.clone())
    );
    // And the one after takes it back into the head.
    let e4 = fx::event("cam-2", "r-4", "2026-11-24T11:00:02+09:00");
    let mut third = commit(3, &closed, &e4, 11);
    third.open_delta = 0;
    third.changed.clear();
    third.stays_gone = vec![stay.key()];
    assert_eq!(store.commit_read(&third).await.expect("v3"), Applied::Done);
    assert_eq!(
        store
            .stays_from(&lot.id, &plate, from, 8)
            .await
            .expect("stays"),
        vec![]
    );
}

/// Reads of one plate applied at the same moment: one change wins, every
/// other is refused as stale and leaves no trace.
pub async fn two_reads_of_one_plate_at_once_one_wins<S: Store>(store: &S) {
    let s = fx::session("s-race", "lot-race", "練馬 500 な 88-88");
    let commits: Vec<TimelineCommit> = (0..8)
        .map(|i| {
            let e = fx::event("cam-1", &format!("race-{i}"), "2026-11-24T09:00:01+09:00");
            commit(1, &s, &e, i)
        })
        .collect();
    let results = join_all(commits.iter().map(|c| store.commit_read(c))).await;
    let done = results
        .iter()
        .filter(|r| matches!(r, Ok(Applied::Done)))
        .count();
    let stale = results
        .iter()
        .filter(|r| matches!(refusal(r), Some(Refusal::StaleTimeline { .. })))
        .count();
    assert_eq!((done, stale), (1, 7), "{results:?}");
    let mut remembered = 0;
    for c in &commits {
        if store
            .is_processed(&c.event.device_id, &c.event.event_id, c.event.processed_at)
            .await
            .expect("ledger")
        {
            remembered += 1;
        }
    }
    assert_eq!(remembered, 1, "only the winner's event is consumed");
}
