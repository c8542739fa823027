//! Per-lot feature flags: a new behaviour turned on for one lot, or for a
//! share of plates, before all of them.
//!
//! A flag is on or off by default; a rule turns it on or off for named
//! lots, and a rollout turns it on for a percentage of plates, chosen by a
//! stable hash of the flag's name and the plate (the same plate is always
//! in or out of a given rollout, on every run and every function). The
//! order: a lot listed off → off; a lot listed on → on; a rollout →
//! whether the plate falls in it; else the default.
//!
//! Flags are read from a [`FlagSource`] (a JSON document: a file locally,
//! the store or AWS AppConfig when deployed) and kept by a warm function
//! for a short time ([`CachedFlags`]). When the source cannot be read,
//! every flag takes its built-in default ([`Flag::default_on`]) and
//! nothing fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::LotId;
use crate::model::AuditEntry;
use crate::store::StoreResult;

/// The flags the code knows, each with its built-in default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Match a doubtful camera read against known plates.
    FuzzyPlateMatching,
    /// When snow blinds the bay sensors, count availability from the gates.
    WeatherFallback,
    /// Drivers may reserve bays.
    Reservations,
    /// After paying at the kiosk, the car may leave within the window.
    KioskExitWindow,
}

impl Flag {
    pub const ALL: [Flag; 4] = [
        Flag::FuzzyPlateMatching,
        Flag::WeatherFallback,
        Flag::Reservations,
        Flag::KioskExitWindow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flag::FuzzyPlateMatching => "fuzzy_plate_matching",
            Flag::WeatherFallback => "weather_fallback",
            Flag::Reservations => "reservations",
            Flag::KioskExitWindow => "kiosk_exit_window",
        }
    }

    /// What the flag is when nothing says otherwise, or the flag store
    /// cannot be read: the behaviour as released.
    pub fn default_on(self) -> bool {
        true
    }
}

/// One flag's setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// On unless a rule says otherwise (`None`: the built-in default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Lots it is on for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_lots: Vec<LotId>,
    /// Lots it is off for (wins over everything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub off_lots: Vec<LotId>,
    /// On for this percentage of plates (0 to 100), where no lot rule
    /// applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<u8>,
}

/// Every flag's setting: the document a flag source holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSet {
    #[serde(default)]
    pub flags: BTreeMap<Flag, Setting>,
}

/// Why a flag document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flags: {0}")]
pub struct FlagError(pub String);

impl FlagSet {
    /// Parses and checks a flag document.
    ///
    /// # Errors
    ///
    /// [`FlagError`] naming the field that is wrong.
    pub fn parse(json: &str) -> Result<FlagSet, FlagError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let set: FlagSet = serde_path_to_error::deserialize(de)
            .map_err(|e| FlagError(format!("{}: {}", e.path(), e.inner())))?;
        for (flag, s) in &set.flags {
            if s.rollout_percent.is_some_and(|p| p > 100) {
                return Err(FlagError(format!(
                    "flags.{}.rollout_percent: must be from 0 to 100",
                    flag.name()
                )));
            }
        }
        Ok(set)
    }

    /// Whether `flag` is on for `lot` and, for a rollout, `subject` (a
    /// plate's canonical key).
    pub fn is_on(&self, flag: Flag, lot: &LotId, subject: Option<&str>) -> bool {
        let Some(s) = self.flags.get(&flag) else {
            return flag.default_on();
        };
        if s.off_lots.contains(lot) {
            return false;
        }
        if s.on_lots.contains(lot) {
            return true;
        }
        if let (Some(p), Some(subject)) = (s.rollout_percent, subject) {
            return bucket(flag, subject) < u32::from(p);
        }
        s.default.unwrap_or_else(|| flag.default_on())
    }
}

/// A subject's place (0 to 99) in a flag's rollout: a stable hash of the
/// flag's name and the subject.
pub fn bucket(flag: Flag, subject: &str) -> u32 {
    let d = Sha256::digest(format!("{}:{subject}", flag.name()).as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 100
}

/// Where the flags are kept.
pub trait FlagSource: Send + Sync {
    /// The current flag document.
    fn load(&self) -> impl Future<Output = Result<FlagSet, FlagError>> + Send;
}

/// A source's flags, kept for `ttl` by a warm function; read again after.
/// A source that cannot be read gives the built-in defaults (logged by
/// the caller through [`CachedFlags::last_error`]), never a failure.
pub struct CachedFlags<F> {
    source: F,
    ttl: SignedDuration,
    held: Mutex<Option<(Timestamp, FlagSet)>>,
    error: Mutex<Option<FlagError>>,
}

impl<F: FlagSource> CachedFlags<F> {
    pub fn new(source: F, ttl: SignedDuration) -> Self {
        CachedFlags {
            source,
            ttl,
            held: Mutex::new(None),
            error: Mutex::new(None),
        }
    }

    /// The flags at `now`.
    pub async fn at(&self, now: Timestamp) -> FlagSet {
        if let Some((at, set)) = lock(&self.held).as_ref()
            && now.duration_since(*at) < self.ttl
        {
            return set.clone();
        }
        match self.source.load().await {
            Ok(set) => {
                *lock(&self.held) = Some((now, set.clone()));
                *lock(&self.error) = None;
                set
            }
            Err(e) => {
                *lock(&self.error) = Some(e);
                // The last flags read stay in force; with none, the
                // defaults. Either is kept for a lifetime too, so an
                // outage costs one failed read per lifetime, not one per
                // event.
                let mut held = lock(&self.held);
                let set = held.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
                *held = Some((now, set.clone()));
                set
            }
        }
    }

    /// The source the flags are read from.
    pub fn source(&self) -> &F {
        &self.source
    }

    /// Why the last read failed, if it did.
    pub fn last_error(&self) -> Option<FlagError> {
        lock(&self.error).clone()
    }
}

/// Flags as a handler reads them: boxed, so a handler holds any source.
pub trait FlagReader: Send + Sync {
    /// The flags in force at `now`; never fails (defaults at worst).
    fn flags_at(&self, now: Timestamp) -> futures::future::BoxFuture<'_, FlagSet>;
}

impl<F: FlagSource> FlagReader for CachedFlags<F> {
    fn flags_at(&self, now: Timestamp) -> futures::future::BoxFuture<'_, FlagSet> {
        Box::pin(self.at(now))
    }
}

/// A fixed set of flags (the built-in defaults when empty).
#[derive(Debug, Clone, Default)]
pub struct FixedFlags(pub FlagSet);

impl FlagReader for FixedFlags {
    fn flags_at(&self, _now: Timestamp) -> futures::future::BoxFuture<'_, FlagSet> {
        let set = self.0.clone();
        Box::pin(async move { set })
    }
}

/// The flag document as the store keeps it: the flags and a revision
/// that grows with every change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFlags {
    pub set: FlagSet,
    pub revision: u64,
}

/// Flags read from the store (deployed: the table's flag document; none
/// written yet: every flag at its default).
pub struct StoreFlags<S>(pub S);

impl<S: crate::flags::FlagStore> FlagSource for StoreFlags<S> {
    async fn load(&self) -> Result<FlagSet, FlagError> {
        match self.0.flag_document().await {
            Ok(doc) => Ok(doc.map(|d| d.set).unwrap_or_default()),
            Err(e) => Err(FlagError(format!("the flag store cannot be read: {e}"))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The feature flags as operators set them: one document for all lots.
pub trait FlagStore: Send + Sync {
    /// The flag document, if one was ever written.
    fn flag_document(
        &self,
    ) -> impl Future<Output = StoreResult<Option<crate::flags::StoredFlags>>> + Send;
    /// Replaces the document whose stored revision is `flags.revision - 1`
    /// (none stored: 0), with the change's audit entry, in one step;
    /// refused with [`Refusal::StaleFlags`](crate::store::Refusal::StaleFlags) otherwise.
    fn put_flags(
        &self,
        flags: &crate::flags::StoredFlags,
        audit: &AuditEntry,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(s: &str) -> LotId {
        s.parse().expect("lot")
    }

    #[test]
    fn a_lot_rule_changes_exactly_that_lot() {
        let set = FlagSet::parse(
            r#"{"flags": {"fuzzy_plate_matching": {"on_lots": ["lot-a"], "default": false}}}"#,
        )
        .expect("flags");
        assert!(set.is_on(Flag::FuzzyPlateMatching, &lot("lot-a"), None));
        assert!(!set.is_on(Flag::FuzzyPlateMatching, &lot("lot-b"), None));
        // Other flags keep their defaults.
        assert!(set.is_on(Flag::Reservations, &lot("lot-b"), None));
        let off = FlagSet::parse(r#"{"flags": {"reservations": {"off_lots": ["lot-b"]}}}"#)
            .expect("flags");
        assert!(!off.is_on(Flag::Reservations, &lot("lot-b"), None));
        assert!(off.is_on(Flag::Reservations, &lot("lot-a"), None));
    }

    #[test]
    fn a_ten_percent_rollout_touches_about_ten_percent_of_plates_every_time() {
        let set = FlagSet::parse(
            r#"{"flags": {"weather_fallback": {"default": false, "rollout_percent": 10}}}"#,
        )
        .expect("flags");
        let plates: Vec<String> = (0..10_000).map(|i| format!("品川300さ{i:05}")).collect();
        let on = |set: &FlagSet| {
            plates
                .iter()
                .filter(|p| set.is_on(Flag::WeatherFallback, &lot("lot-a"), Some(p)))
                .count()
        };
        let n = on(&set);
        assert!((900..=1100).contains(&n), "{n} of 10,000");
        assert_eq!(on(&set), n, "stable");
        let again = FlagSet::parse(
            r#"{"flags": {"weather_fallback": {"default": false, "rollout_percent": 10}}}"#,
        )
        .expect("flags");
        assert_eq!(on(&again), n, "stable across reads");
    }

    #[test]
    fn a_bad_document_names_its_field() {
        let e = FlagSet::parse(r#"{"flags": {"reservations": {"rollout_percent": 101}}}"#)
            .expect_err("refused");
        assert!(e.0.contains("rollout_percent"), "{e}");
        let e = FlagSet::parse(r#"{"flags": {"teleport": {}}}"#).expect_err("refused");
        assert!(e.0.contains("flags"), "{e}");
    }
}
