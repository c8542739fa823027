//! Sessions as their plates' histories wrote them: read back, and listed
//! by lot in entry order and by driver, at once.

use super::*;

pub async fn sessions_are_listed_as_their_history_wrote_them<S: Store>(store: &S) {
    let mut a = fx::session("s-list-a", "lot-l", "品川 300 さ 12-34");
    a.driver_id = Some(id("d-list"));
    let mut b = fx::session("s-list-b", "lot-l", "練馬 500 な 88-88");
    b.entry_at = fx::at("2026-11-24T08:00:00+09:00");
    for (i, s) in [&a, &b].into_iter().enumerate() {
        let e = fx::event("cam-1", &format!("list-{i}"), "2026-11-24T09:00:01+09:00");
        assert_eq!(
            store
                .commit_read(&commit(1, s, &e, 1))
                .await
                .expect("commit"),
            Applied::Done
        );
    }
    assert_eq!(store.get_session(&a.id).await.expect("a"), a);
    let listed: Vec<SessionId> = store
        .lot_sessions(&id("lot-l"))
        .await
        .expect("lot")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [b.id.clone(), a.id.clone()], "in entry order");
    let mine = store.driver_sessions(&id("d-list")).await.expect("driver");
    assert_eq!(mine, [a.clone()]);
    assert!(matches!(
        store.get_session(&id("s-none")).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A lot's sessions by exit time, and the review listing: a page at a
/// time, and a session settled leaves it with the write that settles it.
pub async fn sessions_are_listed_by_exit_and_while_they_need_a_person<S: Store>(store: &S) {
    let lot = "lot-x";
    let day = |d: &str, hm: &str| fx::at(&format!("2026-11-{d}T{hm}:00+09:00"));
    let mut long = fx::session("s-x-long", lot, "品川 300 さ 12-34");
    long.entry_at = day("20", "08:00");
    long.exit_at = Some(day("23", "10:00"));
    long.state = SessionState::Paid;
    let mut short = fx::session("s-x-short", lot, "練馬 500 な 88-88");
    short.entry_at = day("23", "09:00");
    short.exit_at = Some(day("23", "09:30"));
    short.state = SessionState::Paid;
    let mut before = fx::session("s-x-before", lot, "足立 500 ち 88-88");
    before.entry_at = day("22", "09:00");
    before.exit_at = Some(day("22", "23:59"));
    before.state = SessionState::Paid;
    let mut doubt = fx::session("s-x-doubt", lot, "横浜 300 そ 11-22");
    doubt.entry_at = day("19", "09:00");
    doubt.exit_at = Some(day("19", "10:00"));
    doubt.state = SessionState::NeedsReview;
    let mut missing = fx::session("s-x-missing", lot, "横浜 300 そ 11-23");
    missing.entry_at = day("21", "09:00");
    missing.state = SessionState::ExitMissing;
    for (i, s) in [&long, &short, &before, &doubt, &missing]
        .into_iter()
        .enumerate()
    {
        let e = fx::event("cam-1", &format!("x-{i}"), "2026-11-24T09:00:01+09:00");
        store
            .commit_read(&commit(1, s, &e, 1))
            .await
            .expect("commit");
    }
    let left: Vec<SessionId> = store
        .lot_sessions_left(&id(lot), day("23", "00:00"), day("24", "00:00"))
        .await
        .expect("left")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        left,
        [short.id.clone(), long.id.clone()],
        "in exit order, however long ago they entered"
    );
    let first = store.lot_reviews(&id(lot), None, 1).await.expect("page");
    assert_eq!(first.sessions, [doubt.clone()], "oldest entry first");
    let after = first.next.expect("a second page");
    let second = store
        .lot_reviews(&id(lot), Some(&after), 1)
        .await
        .expect("page");
    assert_eq!(second.sessions, [missing.clone()]);
    assert_eq!(second.next, None, "the last page");
    // Settled: it leaves the listing.
    let mut settled = fx::next(&doubt, SessionState::Paid);
    settled.flags.clear();
    let e = fx::event("cam-1", "x-settle", "2026-11-24T09:00:02+09:00");
    store
        .commit_read(&commit(2, &settled, &e, 1))
        .await
        .expect("commit");
    let now = store.lot_reviews(&id(lot), None, 10).await.expect("page");
    assert_eq!(now.sessions, [missing.clone()]);
    assert_eq!(now.next, None);
    let other = store
        .lot_reviews(&id("lot-y"), None, 10)
        .await
        .expect("page");
    assert!(
        other.sessions.is_empty(),
        "another lot's listing is its own"
    );
}

/// A driver's stays, a page at a time, in entry order; a superseded one
/// is never shown.
pub async fn a_drivers_stays_are_read_a_page_at_a_time<S: Store>(store: &S) {
    let mut made = Vec::new();
    for (i, (hour, plate)) in [
        (8, "品川 300 さ 12-34"),
        (9, "品川 300 さ 12-35"),
        (10, "品川 300 さ 12-36"),
        (11, "品川 300 さ 12-37"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut s = fx::session(&format!("s-page-{i}"), "lot-p", plate);
        s.driver_id = Some(id("d-pages"));
        s.entry_at = fx::at(&format!("2026-11-24T{hour:02}:00:00+09:00"));
        if i == 2 {
            s.state = SessionState::Superseded;
        }
        let e = fx::event("cam-1", &format!("page-{i}"), "2026-11-24T12:00:01+09:00");
        store
            .commit_read(&commit(1, &s, &e, 1))
            .await
            .expect("commit");
        made.push(s);
    }
    let driver: DriverId = id("d-pages");
    let first = store
        .driver_sessions_page(&driver, None, 2)
        .await
        .expect("page");
    assert_eq!(first.sessions, made[..2].to_vec());
    let after = first.next.expect("more");
    let second = store
        .driver_sessions_page(&driver, Some(&after), 2)
        .await
        .expect("page");
    assert_eq!(
        second.sessions,
        [made[3].clone()],
        "the superseded is left out"
    );
    assert_eq!(second.next, None);
}

/// Forgetting a plate is one more change to its history: refused on a
/// head that moved on or a session that did, and it moves the head on.
pub async fn forgetting_a_plate_is_guarded_by_its_head<S: Store>(store: &S) {
    let mut s = fx::session("s-forget", "lot-f", "品川 300 さ 12-34");
    s.exit_at = Some(fx::at("2026-11-24T10:00:00+09:00"));
    s.state = SessionState::Priced;
    let e = fx::event("cam-1", "forget-1", "2026-11-24T10:00:01+09:00");
    store
        .commit_read(&commit(1, &s, &e, 1))
        .await
        .expect("commit");
    let erased = Session {
        plate: parking_core::Plate::erased(s.id.as_str()),
        version: s.version + 1,
        ..s.clone()
    };
    let forget = |head_version: u64, sessions: Vec<Session>, delete_head: bool| {
        parking_app::history::Forget {
            lot_id: id("lot-f"),
            plate: s.plate.clone(),
            head_version,
            stays: Vec::new(),
            sessions,
            delete_head,
        }
    };
    let stale = store.forget(&forget(2, vec![erased.clone()], false)).await;
    assert!(
        matches!(refusal(&stale), Some(Refusal::StaleTimeline { .. })),
        "{stale:?}"
    );
    let behind = Session {
        version: 5,
        ..erased.clone()
    };
    let stale = store.forget(&forget(1, vec![behind], false)).await;
    assert!(
        matches!(refusal(&stale), Some(Refusal::StaleTimeline { .. })),
        "{stale:?}"
    );
    assert_eq!(
        store.get_session(&s.id).await.expect("kept"),
        s,
        "nothing written"
    );
    store
        .forget(&forget(1, vec![erased.clone()], false))
        .await
        .expect("forgotten");
    assert_eq!(store.get_session(&s.id).await.expect("kept"), erased);
    let view = store
        .plate_view(&id("lot-f"), &s.plate)
        .await
        .expect("view");
    assert_eq!(
        view.timeline.map(|t| t.version),
        Some(2),
        "the head moved on"
    );
    store
        .forget(&forget(2, Vec::new(), true))
        .await
        .expect("head gone");
    let view = store
        .plate_view(&id("lot-f"), &s.plate)
        .await
        .expect("view");
    assert!(view.timeline.is_none());
}
