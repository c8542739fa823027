//! The configuration of every property test: 1,000 cases from a fixed
//! seed, so the test command gives the same answer on every run, unless
//! `PROPTEST_CASES` and `PROPTEST_RNG_SEED` say otherwise (as
//! `scripts/long-tests` does).

use proptest::prelude::ProptestConfig;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

/// The seed of every run that does not name one in `PROPTEST_RNG_SEED`.
const FIXED_SEED: u64 = 20_261_128;

/// 1,000 cases from a fixed seed, unless `PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` say otherwise.
pub fn config() -> ProptestConfig {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let cases = env("PROPTEST_CASES").map_or(1000, |n| u32::try_from(n).unwrap_or(u32::MAX));
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(FIXED_SEED)),
        // Some properties skip cases they do not apply to.
        max_global_rejects: cases,
        // Shrunk failures are kept beside this file and replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}
