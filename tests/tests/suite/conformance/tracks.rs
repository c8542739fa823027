//! Cameras' tracks: written only with a timeline commit, on their stored
//! version; a commit that moves a track's reads from one plate's
//! timeline to another's lands whole or not at all, refused when either
//! timeline or the track moved on, and two plates counted in one shard of
//! the lot's summary move it by both their changes in one update.

use parking_app::passages::{Track, TrackRead};

use super::*;

const LOT: &str = "lot-t1";

fn track(version: u64, plate: &str) -> Track {
    let mut t = Track::new(fx::id(LOT), fx::id("cam-t"), fx::id("trk-1"));
    t.count(TrackRead {
        key: "cam-t/t-1".into(),
        at: fx::at("2026-11-24T09:00:00+09:00"),
        plate: Some(fx::plate(plate)),
        unparsed: None,
        confidence: 0.9,
    });
    t.plate = Some(fx::plate(plate));
    t.version = version;
    t
}

/// Two plates counted in the same shard of a lot's summary.
fn same_shard() -> (&'static str, &'static str) {
    const PLATES: [&str; 8] = [
        "品川 300 さ 12-34",
        "品川 300 さ 12-84",
        "横浜 300 そ 11-22",
        "練馬 330 は 45-67",
        "足立 500 ち 88-88",
        "品川 500 あ 77-01",
        "多摩 300 あ 10-01",
        "大宮 500 か 20-02",
    ];
    let shard = |p: &str| parking_aws::dynamo::keys::plate_shard(&fx::plate(p));
    for (i, a) in PLATES.iter().enumerate() {
        if let Some(b) = PLATES[i + 1..].iter().find(|b| shard(b) == shard(a)) {
            return (a, b);
        }
    }
    panic!("eight plates in sixteen shards: add more candidates");
}

pub async fn a_tracks_reads_move_between_timelines_in_one_commit<S: Store>(store: &S) {
    let (from, to) = same_shard();
    let lot = lot_id(LOT);
    let at = "2026-11-24T09:00:01+09:00";
    // The track's first read, taken for `from`.
    let s_from = fx::session("s-t1", LOT, from);
    let mut first = commit(1, &s_from, &fx::event("cam-t", "t-1", at), 1);
    first.track = Some(track(1, from));
    assert_eq!(store.commit_read(&first).await.expect("v1"), Applied::Done);
    let stored = store
        .track(&lot, &fx::id("cam-t"), &fx::id("trk-1"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((stored.version, stored.plate), (1, Some(fx::plate(from))));

    // A read that decided on an old version of the track writes nothing.
    let s_to = fx::session("s-t2", LOT, to);
    let mut stale = commit(1, &s_to, &fx::event("cam-t", "t-2", at), 2);
    stale.track = Some(track(1, to));
    assert!(refusal(&store.commit_read(&stale).await).is_some());
    assert!(
        store
            .plate_view(&lot, &fx::plate(to))
            .await
            .expect("view")
            .timeline
            .is_none()
    );

    // The move: `to` opens, `from`'s stay is superseded, in one commit;
    // the shard they share is moved by +1 and -1 (one update, or none).
    let gone = fx::next(&s_from, SessionState::Superseded);
    let mut left = commit(2, &gone, &fx::event("cam-t", "t-3", at), 3);
    left.open_delta = -1;
    // Refused whole when the timeline left moved on meanwhile.
    let mut behind = commit(3, &gone, &fx::event("cam-t", "t-3", at), 3);
    behind.open_delta = -1;
    let mut moved = commit(1, &s_to, &fx::event("cam-t", "t-3", at), 3);
    moved.track = Some(track(2, to));
    moved.released = Some(Box::new(behind));
    assert!(refusal(&store.commit_read(&moved).await).is_some());
    assert!(
        store
            .plate_view(&lot, &fx::plate(to))
            .await
            .expect("view")
            .timeline
            .is_none(),
        "nothing of a refused move is written"
    );
    moved.released = Some(Box::new(left));
    moved.attempt = 4;
    // Deltas that do not cancel, so the count shows both were applied to
    // the one shard: 1 + 2 - 1.
    moved.open_delta = 2;
    assert_eq!(
        store.commit_read(&moved).await.expect("move"),
        Applied::Done
    );
    let to_view = store.plate_view(&lot, &fx::plate(to)).await.expect("view");
    let from_view = store
        .plate_view(&lot, &fx::plate(from))
        .await
        .expect("view");
    assert_eq!(to_view.timeline.map(|t| t.version), Some(1));
    assert_eq!(from_view.timeline.map(|t| t.version), Some(2));
    let stored = store
        .track(&lot, &fx::id("cam-t"), &fx::id("trk-1"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((stored.version, stored.plate), (2, Some(fx::plate(to))));
    let sessions = store.lot_sessions(&lot).await.expect("sessions");
    let state = |id: &str| {
        sessions
            .iter()
            .find(|s| s.id.as_str() == id)
            .map(|s| s.state)
    };
    assert_eq!(state("s-t1"), Some(SessionState::Superseded));
    assert_eq!(state("s-t2"), Some(s_to.state));
    let live = store
        .occupancy(&fx::lot(LOT, 0), fx::at(at))
        .await
        .expect("occupancy");
    assert_eq!(live.open_sessions, 2, "both deltas, on their one shard");
}
