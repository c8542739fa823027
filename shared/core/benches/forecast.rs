//! Training one lot's forecast model on 8 weeks of history, as the
//! scheduled forecast function does for every lot: the stays of a busy lot
//! (350 a day) turned into 15-minute occupancy, then the stack's profiles,
//! its hourly fits and their cross-validation. Prints the process's peak
//! resident memory after one training and the model's error on its
//! training weeks; the memory must stay far under the function's.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use parking_core::Calendar;
use parking_core::calendar::{Country, DayType, day_number};
use parking_core::forecast::{Series, slot_of, train};

/// Eight weeks of stays: a commuter peak on working days, a midday crowd
/// on days off, stays from a quarter of an hour to overnight.
fn stays(tz: &TimeZone, calendar: &Calendar) -> (Vec<(Timestamp, Option<Timestamp>)>, Timestamp) {
    let first: Timestamp = "2026-11-30T00:00:00+09:00".parse().expect("start");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut out = Vec::new();
    for day in 0..56i64 {
        let start = first + SignedDuration::from_hours(24 * day);
        let (d, _) = slot_of(tz, start);
        let off = calendar.day_type(d) != DayType::Weekday;
        for _ in 0..350 {
            let hour = if off { 9 + next(10) } else { 6 + next(14) };
            let entered = start + SignedDuration::from_mins((hour * 60 + next(60)) as i64);
            let stay = match next(10) {
                0..3 => 15 + next(45),
                3..7 => 60 + next(120),
                7..9 => 180 + next(360),
                _ => 720 + next(1080),
            };
            out.push((
                entered,
                Some(entered + SignedDuration::from_mins(stay as i64)),
            ));
        }
    }
    (out, first + SignedDuration::from_hours(24 * 56))
}

fn peak_resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn training(c: &mut Criterion) {
    let tz = TimeZone::get("Asia/Tokyo").expect("zone");
    let calendar = Calendar::new(Some(Country::Jp), []);
    let (stays, until) = stays(&tz, &calendar);
    let today = day_number(until.to_zoned(tz.clone()).date());
    let build = || Series::from_stays(&tz, 400, stays.iter().copied(), until).expect("series");
    let model = train(&build(), &calendar, today);
    match peak_resident_mb() {
        Some(mb) => println!(
            "forecast/train: peak resident memory after one training {mb:.1} MB; cross-validated MAE {:?}",
            model.validation_mae
        ),
        None => println!("forecast/train: peak resident memory not readable here"),
    }
    let mut group = c.benchmark_group("forecast");
    group.sample_size(20);
    group.bench_function("history of 8 weeks (19,600 stays)", |b| {
        b.iter(|| black_box(build()))
    });
    let series = build();
    group.bench_function("train one lot on 8 weeks", |b| {
        b.iter(|| black_box(train(black_box(&series), &calendar, today)))
    });
    group.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
