//! Quotes for 2 h, 24 h and 30-day stays on the posted example tariff
//! (`fixtures/tariffs/shinjuku-west.json`), engine and naive reference; and
//! the worst quote the tariff limits allow (`worst-allowed.json` over
//! 1,000 days, rendered as JSON), which must stay under 200 ms.

#[path = "../tests/support/reference.rs"]
#[allow(dead_code)]
mod reference;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use parking_core::{Stay, Tariff, TariffSpec};

const TARIFF: &str = include_str!("../../../fixtures/tariffs/shinjuku-west.json");
const WORST: &str = include_str!("../../../fixtures/tariffs/worst-allowed.json");

fn stays() -> [(&'static str, Timestamp, Timestamp); 3] {
    let entry: Timestamp = "2026-11-24T09:17:00+09:00".parse().expect("entry");
    let after = |secs: i64| Timestamp::from_second(entry.as_second() + secs).expect("exit");
    [
        ("2h", entry, after(2 * 3600)),
        ("24h", entry, after(24 * 3600)),
        ("30d", entry, after(30 * 86_400)),
    ]
}

fn quotes(c: &mut Criterion) {
    let tariff = Tariff::from_json(TARIFF).expect("tariff");
    let spec: TariffSpec = serde_json::from_str(TARIFF).expect("spec");
    let mut engine = c.benchmark_group("engine");
    for (name, entry, exit) in stays() {
        let stay = Stay::new(entry, exit);
        engine.bench_function(name, |b| b.iter(|| tariff.quote(black_box(&stay))));
    }
    engine.finish();
    let mut naive = c.benchmark_group("reference");
    naive.sample_size(10);
    for (name, entry, exit) in stays() {
        naive.bench_function(name, |b| {
            b.iter(|| reference::price(black_box(&spec), entry, exit, 0, 0))
        });
    }
    naive.finish();

    let worst = Tariff::from_json(WORST).expect("worst tariff");
    let entry: Timestamp = "2026-01-01T00:07:13-05:00".parse().expect("entry");
    let exit = Timestamp::from_second(entry.as_second() + parking_core::MAX_STAY_DAYS * 86_400 - 1)
        .expect("exit");
    let stay = Stay::new(entry, exit);
    let mut limits = c.benchmark_group("worst_allowed");
    limits.sample_size(10);
    limits.bench_function("1000d_quote_and_json", |b| {
        b.iter(|| {
            let q = worst.quote(black_box(&stay)).expect("quote");
            serde_json::to_writer(std::io::sink(), &q).expect("json");
        })
    });
    limits.finish();
}

criterion_group!(benches, quotes);
criterion_main!(benches);
