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
