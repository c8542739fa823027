//! Feature flags kept by a warm function: an unreachable flag store gives
//! the built-in defaults and fails nothing; the last flags read stay in
//! force while the store is down; a fresh read comes after the lifetime.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use parking_app::flags::{CachedFlags, Flag, FlagError, FlagSet, FlagSource};

struct Switchable(Mutex<Option<String>>);

impl FlagSource for Switchable {
    async fn load(&self) -> Result<FlagSet, FlagError> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(json) => FlagSet::parse(&json),
            None => Err(FlagError("the flag store is unreachable".into())),
        }
    }
}

fn lot(s: &str) -> parking_app::ids::LotId {
    s.parse().expect("lot")
}

#[tokio::test]
async fn an_unreachable_flag_store_gives_the_defaults_and_fails_nothing() {
    let source = Switchable(Mutex::new(None));
    let cached = CachedFlags::new(source, SignedDuration::from_secs(30));
    let t0 = Timestamp::UNIX_EPOCH;
    let set = cached.at(t0).await;
    for f in Flag::ALL {
        assert_eq!(set.is_on(f, &lot("lot-a"), Some("plate")), f.default_on());
    }
    assert!(cached.last_error().is_some());
}

#[tokio::test]
async fn flags_are_kept_for_their_lifetime_and_survive_an_outage() {
    let source = Switchable(Mutex::new(Some(
        r#"{"flags": {"reservations": {"off_lots": ["lot-b"]}}}"#.into(),
    )));
    let cached = CachedFlags::new(source, SignedDuration::from_secs(30));
    let t0 = Timestamp::UNIX_EPOCH;
    assert!(
        !cached
            .at(t0)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    // Changed at the source: seen only after the lifetime.
    *cached_source(&cached).0.lock().expect("lock") = Some(r#"{"flags": {}}"#.into());
    let t10 = t0 + SignedDuration::from_secs(10);
    assert!(
        !cached
            .at(t10)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    let t40 = t0 + SignedDuration::from_secs(40);
    assert!(
        cached
            .at(t40)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    // The store goes down: the last flags read stay in force.
    *cached_source(&cached).0.lock().expect("lock") = None;
    let t80 = t0 + SignedDuration::from_secs(80);
    assert!(
        cached
            .at(t80)
            .await
            .is_on(Flag::Reservations, &lot("lot-b"), None)
    );
    assert!(cached.last_error().is_some());
}

fn cached_source(c: &CachedFlags<Switchable>) -> &Switchable {
    c.source()
}
