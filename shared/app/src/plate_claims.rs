//! Claims of plates not yet proven: a driver who adds a plate claims it,
//! and only a proven claim makes the plate theirs
//! ([`DriverStore::register_plate`](crate::drivers::DriverStore::register_plate)).
//!
//! The rule:
//! - **Pending.** A claim is pending until it is proven. A pending
//!   claimant is nobody's payer: their plate's reads find no owner, so
//!   they see no stays and are told nothing about the car.
//! - **Proof by the car.** At the claimed plate's next live entry, while
//!   nobody holds it, the gate's display shows a six-digit code
//!   ([`ProofCode`]). Typed in the app within [`CODE_LIFETIME`], it
//!   proves the claim; [`CODE_TRIES`] wrong codes spend it. Only someone
//!   in the car sees it.
//! - **Proof by staff.** A claim of a plate another driver has proven
//!   goes to review ([`PlateClaim::review`]): no code is shown for it, the
//!   owner keeps the plate, and the claimant is answered exactly as for
//!   any new claim. Support staff check a document and approve (the plate
//!   moves) or reject it.
//! - **Bounded.** A plate keeps at most [`MAX_CLAIMS`] claims (the oldest
//!   gives way), each lapsing after [`CLAIM_LIFETIME_DAYS`]; a driver
//!   holds at most [`MAX_PENDING_PER_DRIVER`] pending claims.
//!
//! Protocol: one item per plate holding its claims and its current code,
//! written conditionally on the version read; each claimant also has a
//! copy in their own partition ([`DriverClaim`]), to list their plates
//! and to erase them.

use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use parking_core::Plate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::DriverId;
use crate::store::StoreResult;

/// The most claims a plate keeps.
pub const MAX_CLAIMS: usize = 10;

/// The most pending claims a driver holds at once.
pub const MAX_PENDING_PER_DRIVER: usize = 5;

/// How long a claim waits for its proof.
pub const CLAIM_LIFETIME_DAYS: i64 = 30;

/// How long a code shown at the gate may be typed in.
pub const CODE_LIFETIME: SignedDuration = SignedDuration::from_mins(10);

/// Wrong codes before a code is spent.
pub const CODE_TRIES: u8 = 5;

/// One driver's claim of a plate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlateClaim {
    pub driver_id: DriverId,
    pub claimed_at: Timestamp,
    /// Waits for staff: the plate was proven by another driver when it
    /// was claimed (or when this claim was still open).
    #[serde(default)]
    pub review: bool,
    /// Wrong codes this claimant typed against the live code: each
    /// claimant has [`CODE_TRIES`], so one cannot spend another's.
    #[serde(default)]
    pub tries: u8,
}

/// The code shown at the gate, kept as its digest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofCode {
    pub digest: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ProofCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofCode")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A plate's open claims, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlateClaims {
    pub plate: Plate,
    #[serde(default)]
    pub claims: Vec<PlateClaim>,
    #[serde(default)]
    pub code: Option<ProofCode>,
    /// Bumped by every write; a writer names the version it read.
    pub version: u64,
}

/// A driver's copy of one of their claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverClaim {
    pub driver_id: DriverId,
    pub plate: Plate,
    pub claimed_at: Timestamp,
}

impl DriverClaim {
    /// When the claim lapses unproven.
    pub fn lapses_at(&self) -> Timestamp {
        lapse(self.claimed_at)
    }
}

fn lapse(at: Timestamp) -> Timestamp {
    at.checked_add(SignedDuration::from_hours(24 * CLAIM_LIFETIME_DAYS))
        .unwrap_or(at)
}

/// What a code typed in the app meets. Every check is written before it
/// is answered (a try counted, or the code consumed), so parallel
/// guesses cannot pass the limit; and every failure is answered alike,
/// so a claimant learns nothing of when the car entered or of a code's
/// tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched: it is consumed.
    Proven,
    /// No live code matched (none was shown, it expired, it is wrong, or
    /// this claimant has used up their tries).
    NoMatch,
}

impl PlateClaims {
    pub fn new(plate: Plate) -> PlateClaims {
        PlateClaims {
            plate,
            claims: Vec::new(),
            code: None,
            version: 0,
        }
    }

    /// The claims still open at `now`.
    pub fn open(&self, now: Timestamp) -> impl Iterator<Item = &PlateClaim> {
        self.claims
            .iter()
            .filter(move |c| lapse(c.claimed_at) > now)
    }

    /// The driver's open claim.
    pub fn of(&self, driver: &DriverId, now: Timestamp) -> Option<&PlateClaim> {
        self.open(now).find(|c| &c.driver_id == driver)
    }

    /// Whether an entry at `now` shows a code: a claim waits for one.
    pub fn wants_code(&self, now: Timestamp) -> bool {
        self.open(now).any(|c| !c.review)
    }

    /// Whether any open claim waits for staff.
    pub fn in_review(&self, now: Timestamp) -> bool {
        self.open(now).any(|c| c.review)
    }

    /// The earliest open claim in review: the review queue's order.
    pub fn review_since(&self, now: Timestamp) -> Option<Timestamp> {
        self.open(now)
            .filter(|c| c.review)
            .map(|c| c.claimed_at)
            .min()
    }

    /// Adds a driver's claim; one held already is kept as it is. Lapsed
    /// claims are dropped, and the oldest gives way beyond
    /// [`MAX_CLAIMS`]. Whether anything changed.
    pub fn add(&mut self, driver: &DriverId, at: Timestamp, review: bool) -> bool {
        if self.of(driver, at).is_some() {
            return false;
        }
        self.claims.retain(|c| lapse(c.claimed_at) > at);
        self.claims.retain(|c| &c.driver_id != driver);
        self.claims.push(PlateClaim {
            driver_id: driver.clone(),
            claimed_at: at,
            review,
            tries: 0,
        });
        self.claims.sort_by_key(|a| a.claimed_at);
        while self.claims.len() > MAX_CLAIMS {
            self.claims.remove(0);
        }
        true
    }

    /// Removes a driver's claim. Whether it held one.
    pub fn remove(&mut self, driver: &DriverId) -> bool {
        let before = self.claims.len();
        self.claims.retain(|c| &c.driver_id != driver);
        before != self.claims.len()
    }

    /// The plate is proven (by a code or by staff): every claim left
    /// waits for staff, and no code is live.
    pub fn proven(&mut self) {
        for c in &mut self.claims {
            c.review = true;
        }
        self.code = None;
    }

    /// Keeps a new code shown at `at`; every claimant's tries start again.
    pub fn show(&mut self, code: &str, at: Timestamp) {
        self.code = Some(ProofCode {
            digest: digest(&self.plate, code),
            issued_at: at,
            expires_at: at.checked_add(CODE_LIFETIME).unwrap_or(at),
        });
        for c in &mut self.claims {
            c.tries = 0;
        }
    }

    /// Checks a code a claimant typed at `at`: a match consumes the code,
    /// a miss counts one of the claimant's tries (when a code is live).
    /// Whether the claims changed (to be written before answering), and
    /// the answer.
    pub fn check(&mut self, driver: &DriverId, code: &str, at: Timestamp) -> (bool, CodeCheck) {
        let plate = self.plate.clone();
        let live = self.code.as_ref().filter(|c| at <= c.expires_at).cloned();
        let Some(claim) = self
            .claims
            .iter_mut()
            .find(|c| &c.driver_id == driver && lapse(c.claimed_at) > at && !c.review)
        else {
            return (false, CodeCheck::NoMatch);
        };
        let Some(live) = live else {
            return (false, CodeCheck::NoMatch);
        };
        if claim.tries >= CODE_TRIES {
            return (false, CodeCheck::NoMatch);
        }
        let typed = digest(&plate, code.trim());
        // Both are hex digests of the same length: compared whole.
        let same = typed
            .bytes()
            .zip(live.digest.bytes())
            .fold(typed.len() ^ live.digest.len(), |acc, (a, b)| {
                acc | usize::from(a ^ b)
            })
            == 0;
        if same {
            self.code = None;
            (true, CodeCheck::Proven)
        } else {
            claim.tries += 1;
            (true, CodeCheck::NoMatch)
        }
    }

    /// Whether nothing is left to keep.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }

    /// Until when the item is worth keeping: its last claim's lapse, or
    /// its code's expiry (the store's TTL).
    pub fn kept_until(&self) -> Timestamp {
        let claims = self.claims.iter().map(|c| lapse(c.claimed_at)).max();
        let code = self.code.as_ref().map(|c| c.expires_at);
        claims.max(code).unwrap_or_default()
    }
}

fn digest(plate: &Plate, code: &str) -> String {
    let d = Sha256::digest(format!("plate-proof\0{}\0{code}", plate.key()).as_bytes());
    hex::encode(d)
}

/// A new six-digit code, from the operating system's random source.
pub fn new_code() -> String {
    use rand::{Rng, TryRngCore};
    let n: u32 = rand::rngs::OsRng.unwrap_err().random_range(0..1_000_000);
    format!("{n:06}")
}

/// The store's part.
pub trait PlateClaimStore: Send + Sync {
    /// A plate's claims, if it has any.
    fn plate_claims(
        &self,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<Option<PlateClaims>>> + Send;
    /// Writes a plate's claims if the stored version is one less (absent
    /// for version 1), else
    /// [`Refusal::PlateClaimsChanged`](crate::store::Refusal::PlateClaimsChanged);
    /// the very same write repeated is done.
    fn put_plate_claims(
        &self,
        claims: &PlateClaims,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Plates with a claim in review, oldest first, at most `limit`.
    fn plate_reviews(
        &self,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<PlateClaims>>> + Send;
    /// A driver's copies of their claims, lapsed ones too.
    fn driver_claims(
        &self,
        driver: &DriverId,
    ) -> impl Future<Output = StoreResult<Vec<DriverClaim>>> + Send;
    fn put_driver_claim(&self, claim: &DriverClaim)
    -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes a driver's copy; one gone already is removed.
    fn remove_driver_claim(
        &self,
        driver: &DriverId,
        plate: &Plate,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plate() -> Plate {
        Plate::parse("品川 300 さ 12-34").expect("plate")
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    fn d(s: &str) -> DriverId {
        DriverId::parse(s).expect("driver")
    }

    #[test]
    fn a_code_proves_once_and_each_claimant_has_their_own_tries() {
        let mut c = PlateClaims::new(plate());
        let t = at("2026-12-01T09:00:00Z");
        let (one, two) = (d("d-1"), d("d-2"));
        assert!(c.add(&one, t, false));
        assert!(!c.add(&one, t, false), "a repeat changes nothing");
        assert!(c.add(&two, t, false));
        assert!(c.wants_code(t));
        assert_eq!(
            c.check(&one, "123456", t),
            (false, CodeCheck::NoMatch),
            "no code yet"
        );
        c.show("123456", t);
        // Another claimant spends their own tries, not this one's.
        for _ in 0..CODE_TRIES {
            assert_eq!(c.check(&two, "000000", t), (true, CodeCheck::NoMatch));
        }
        assert_eq!(
            c.check(&two, "123456", t),
            (false, CodeCheck::NoMatch),
            "spent"
        );
        assert_eq!(c.check(&one, "654321", t), (true, CodeCheck::NoMatch));
        let late = at("2026-12-01T09:10:01Z");
        assert_eq!(
            c.check(&one, "123456", late),
            (false, CodeCheck::NoMatch),
            "expired"
        );
        assert_eq!(c.check(&one, " 123456 ", t), (true, CodeCheck::Proven));
        assert_eq!(
            c.check(&one, "123456", t),
            (false, CodeCheck::NoMatch),
            "consumed"
        );
        c.show("111111", t);
        assert_eq!(
            c.check(&two, "111111", t),
            (true, CodeCheck::Proven),
            "tries start again"
        );
    }

    #[test]
    fn claims_stay_bounded_and_lapse() {
        let mut c = PlateClaims::new(plate());
        let t = at("2026-12-01T00:00:00Z");
        for i in 0..(MAX_CLAIMS + 5) {
            let when = t + SignedDuration::from_secs(i as i64);
            c.add(&d(&format!("d-{i}")), when, false);
        }
        assert_eq!(c.claims.len(), MAX_CLAIMS);
        assert!(c.of(&d("d-0"), t).is_none(), "the oldest gave way");
        let later = t + SignedDuration::from_hours(24 * CLAIM_LIFETIME_DAYS + 1);
        assert_eq!(c.open(later).count(), 0);
        c.add(&d("d-new"), later, true);
        assert_eq!(c.claims.len(), 1, "lapsed claims are dropped");
        assert!(c.in_review(later) && !c.wants_code(later));
    }

    #[test]
    fn a_code_is_never_printed() {
        let mut c = PlateClaims::new(plate());
        c.show("987654", at("2026-12-01T00:00:00Z"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("987654") && !shown.contains(&digest(&plate(), "987654")));
    }
}
