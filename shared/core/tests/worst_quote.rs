//! What the worst quote a valid tariff can ask for costs in memory: the
//! worst tariff the limits allow (`fixtures/tariffs/worst-allowed.json`:
//! every band, cap and extra date the limits permit, in a zone with DST),
//! priced over the longest stay a quote accepts and rendered as JSON.
//!
//! Alone in its test binary, so the process's peak resident memory
//! (`VmHWM`) is this quote's. Its time is in the `quote` benchmark.

use parking_core::{MAX_STAY_DAYS, Stay, Tariff};

const WORST: &str = include_str!("../../../fixtures/tariffs/worst-allowed.json");
const LIMIT_BYTES: u64 = 50 * 1024 * 1024;

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct CountingSink(usize);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_worst_allowed_quote_stays_under_50_mb() {
    let Some(baseline) = status_bytes("VmRSS:") else {
        eprintln!("no /proc/self/status on this system: nothing to measure");
        return;
    };
    let tariff = Tariff::from_json(WORST).expect("the worst allowed tariff is valid");
    let entry: jiff::Timestamp = "2026-01-01T00:07:13-05:00".parse().expect("entry");
    let exit =
        jiff::Timestamp::from_second(entry.as_second() + MAX_STAY_DAYS * 86_400 - 1).expect("exit");
    let quote = tariff.quote(&Stay::new(entry, exit)).expect("quote");
    // The JSON is streamed: nothing the size of the output is held.
    let mut out = CountingSink(0);
    serde_json::to_writer(&mut out, &quote).expect("render");
    let peak = status_bytes("VmHWM:").unwrap_or(u64::MAX);
    let used = peak.saturating_sub(baseline);
    eprintln!(
        "worst allowed quote: {} lines, {} caps, {:.1} MB of JSON, peak {:.1} MB above a {:.1} MB baseline",
        quote.lines.len(),
        quote.caps.len(),
        out.0 as f64 / 1048576.0,
        used as f64 / 1048576.0,
        baseline as f64 / 1048576.0
    );
    assert!(out.0 > 1_000_000, "the worst case really is large");
    assert!(used < LIMIT_BYTES, "peak {used} bytes");
}
