//! The simulator's world: realistic days at demo lots, as the device
//! messages they make, generated from a seed. Each lot is a [`Scenario`],
//! so a simulated lot can be written out and replayed.
//!
//! A day at a lot: arrivals by hour (a commuter peak on working days, a
//! midday crowd on weekends and holidays, from the tariff's calendar; a
//! busier Friday, a quieter Saturday and a quieter still Sunday or
//! holiday), a
//! mix of stay lengths from a quarter of an hour to overnight, most cars
//! registered (some without a card), a few reservations, cameras that read
//! a car one to three times, bay sensors that follow the cars. And the
//! world misbehaving: on the first day an exit gate is offline for two
//! hours and uploads its backlog when it comes back, snow blinds a third
//! of the sensors for three hours in the morning, IoT delivers some
//! messages twice and late, cameras misread plates (a letter for a digit,
//! which can be recovered, or a wrong digit, which cannot), a device
//! publishes for a gate that is not its own, and some messages are junk.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use parking_core::calendar::{DayType, day_number};
use parking_core::tariff::TariffSpec;
use parking_core::{Plate, Tariff};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::model::GateDirection;
use crate::scenario::*;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub lots: u32,
    pub days: u32,
    /// The first day (local to the lots).
    pub start: Date,
    /// Bays per lot.
    pub capacity: u32,
    /// Cars arriving on a working day, per lot.
    pub arrivals_per_day: u32,
    /// Registered drivers per lot.
    pub drivers: u32,
    /// Misread plates only for registered cars: a misread of a car nobody
    /// registered can only be matched against the sessions open when it
    /// arrives, so its outcome depends on arrival order. The order
    /// property test sets this; the simulator does not.
    pub order_free: bool,
    /// Leave out what the world does wrong on purpose (outage, snow, spoofing,
    /// junk, duplicates, misreads).
    pub calm: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            lots: 1,
            days: 1,
            start: jiff::civil::date(2026, 11, 30),
            capacity: 120,
            arrivals_per_day: 320,
            drivers: 260,
            order_free: false,
            calm: false,
        }
    }
}

/// The demo lots' tariff.
pub const DEMO_TARIFF: &str = include_str!("../../../../fixtures/tariffs/shinjuku-west.json");

const REGIONS: [&str; 10] = [
    "品川",
    "練馬",
    "足立",
    "横浜",
    "川崎",
    "多摩",
    "相模",
    "大宮",
    "千葉",
    "習志野",
];
const KANA: [char; 20] = [
    'あ', 'い', 'う', 'え', 'か', 'き', 'く', 'け', 'こ', 'さ', 'す', 'せ', 'そ', 'た', 'ち', 'つ',
    'て', 'と', 'な', 'に',
];
/// Share of arrivals per hour on a working day and on a day off.
const WORKDAY: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 9, 12, 9, 6, 5, 6, 5, 5, 5, 6, 8, 7, 5, 3, 2, 1, 1,
];
const DAY_OFF: [u32; 24] = [
    1, 1, 0, 0, 0, 1, 1, 2, 4, 6, 9, 11, 12, 11, 10, 9, 8, 7, 5, 4, 3, 2, 1, 1,
];

fn id<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    // Every id below is built from ASCII letters, digits and hyphens.
    text.parse()
        .unwrap_or_else(|e| unreachable!("generated id {text}: {e:?}"))
}

/// A plate as printed, and its parsed form.
#[derive(Clone)]
struct Car {
    text: String,
    plate: Plate,
    /// Registered to this driver.
    driver: Option<usize>,
}

fn random_plate(rng: &mut ChaCha8Rng) -> Car {
    loop {
        let region = REGIONS.choose(rng).copied().unwrap_or("品川");
        let class = rng.random_range(300..600);
        let kana = KANA.choose(rng).copied().unwrap_or('さ');
        let serial: u32 = rng.random_range(1000..10000);
        let text = format!("{region} {class} {kana} {}-{}", serial / 100, {
            let s = serial % 100;
            format!("{s:02}")
        });
        if let Ok(plate) = Plate::parse(&text) {
            return Car {
                text,
                plate,
                driver: None,
            };
        }
    }
}

/// A misread of a plate's text: a digit of the serial read as the letter
/// it looks like (matched back to the plate), or as another digit (not).
fn misread(rng: &mut ChaCha8Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digits: Vec<usize> = chars
        .iter()
        .enumerate()
        .rev()
        .take(5)
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = digits.choose(rng) else {
        return text.to_owned();
    };
    let mut out = chars;
    let recoverable = rng.random_bool(0.7);
    out[at] = if recoverable {
        match out[at] {
            '0' => 'O',
            '1' => 'I',
            '2' => 'Z',
            '5' => 'S',
            '6' => 'G',
            '8' => 'B',
            '7' => 'L',
            c => c,
        }
    } else {
        let d = out[at].to_digit(10).unwrap_or(0);
        char::from_digit((d + 3) % 10, 10).unwrap_or('0')
    };
    out.into_iter().collect()
}

struct Builder {
    rng: ChaCha8Rng,
    lot: String,
    tz: TimeZone,
    messages: Vec<MessageSpec>,
    seq: BTreeMap<String, u64>,
    events: u64,
}

impl Builder {
    fn next_seq(&mut self, device: &str) -> u64 {
        let s = self.seq.entry(device.to_owned()).or_default();
        *s += 1;
        *s
    }

    fn event_id(&mut self, device: &str) -> String {
        self.events += 1;
        format!("{device}-{:07}", self.events)
    }

    /// When the broker receives what a device sent at `at`.
    fn received(&mut self, at: Timestamp) -> Timestamp {
        at + SignedDuration::from_millis(self.rng.random_range(80..1500))
    }

    fn plate_read(
        &mut self,
        gate: &str,
        device: &str,
        direction: GateDirection,
        text: &str,
        conf: f64,
        at: Timestamp,
    ) -> serde_json::Value {
        let seq = self.next_seq(device);
        let event_id = self.event_id(device);
        json!({
            "event_id": event_id,
            "type": "plate_read",
            "direction": if direction == GateDirection::Entry { "entry" } else { "exit" },
            "plate": text,
            "confidence": conf,
            "occurred_at": at.to_string(),
            "seq": seq,
            "gate": gate,
        })
    }

    /// A new track id: the camera follows one car passing its gate.
    fn track(&mut self) -> String {
        self.events += 1;
        format!("trk-{:07}", self.events)
    }

    /// A read of the camera's track `track`, naming the frame it uploaded
    /// under its own prefix.
    fn of_track(
        &self,
        mut read: serde_json::Value,
        device: &str,
        track: &str,
    ) -> serde_json::Value {
        let event = read["event_id"].as_str().unwrap_or_default().to_owned();
        read["track"] = json!(track);
        read["frame"] = json!(format!("frames/{}/{device}/{event}.jpg", self.lot));
        read
    }

    fn push(
        &mut self,
        topic: String,
        client: &str,
        received_at: Timestamp,
        payload: serde_json::Value,
    ) {
        self.messages.push(MessageSpec {
            topic,
            client_id: Some(client.to_owned()),
            received_at,
            payload,
        });
    }

    fn bay(&mut self, bay: &str, occupied: Option<bool>, at: Timestamp, confidence: f64) {
        let device = format!("{}-sensor-{bay}", self.lot);
        let seq = self.next_seq(&device);
        let event_id = self.event_id(&device);
        let received = self.received(at);
        let lot = self.lot.clone();
        self.push(
            format!("parking/{lot}/bays/{bay}/state"),
            &device,
            received,
            json!({"event_id": event_id, "occupied": occupied, "confidence": confidence,
                   "occurred_at": at.to_string(), "seq": seq}),
        );
    }

    fn local(&self, day: Date, minute: i64) -> Timestamp {
        let t = day
            .to_datetime(Time::midnight())
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        t + SignedDuration::from_mins(minute)
    }
}

/// Something that happens after the car came in.
enum Later {
    Bay {
        bay: String,
        occupied: bool,
    },
    Exit {
        gate: String,
        text: String,
        doubtful: bool,
    },
}

/// A stay length in minutes from the mix: short, a few hours, a working
/// day, overnight.
fn stay_minutes(rng: &mut ChaCha8Rng) -> i64 {
    match rng.random_range(0..100) {
        0..30 => rng.random_range(12..60),
        30..70 => rng.random_range(60..180),
        70..90 => rng.random_range(180..540),
        _ => rng.random_range(720..1800),
    }
}

/// Generates one scenario per lot.
///
/// # Errors
///
/// Never for the built-in demo tariff; the message names what is wrong
/// otherwise.
pub fn generate(cfg: &SimConfig) -> Result<Vec<Scenario>, String> {
    let spec: TariffSpec = serde_json::from_str(DEMO_TARIFF).map_err(|e| e.to_string())?;
    let tariff = Tariff::compile(spec.clone()).map_err(|e| e.to_string())?;
    (0..cfg.lots.max(1))
        .map(|i| lot(cfg, i, &spec, &tariff))
        .collect()
}

#[allow(clippy::too_many_lines)]
fn lot(
    cfg: &SimConfig,
    index: u32,
    spec: &TariffSpec,
    tariff: &Tariff,
) -> Result<Scenario, String> {
    let lot_id = format!("demo-{}", index + 1);
    let mut b = Builder {
        rng: ChaCha8Rng::seed_from_u64(
            cfg.seed
                .wrapping_mul(1_000_003)
                .wrapping_add(u64::from(index)),
        ),
        lot: lot_id.clone(),
        tz: tariff.time_zone().clone(),
        messages: Vec::new(),
        seq: BTreeMap::new(),
        events: 0,
    };
    let bays: Vec<String> = (1..=cfg.capacity).map(|i| format!("B-{i:03}")).collect();
    let entry_gates = ["in-1", "in-2"];
    let exit_gates = ["out-1", "out-2"];

    // Drivers and their cars; every eleventh has no card.
    let mut drivers = Vec::new();
    let mut cars: Vec<Car> = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for d in 0..cfg.drivers as usize {
        let mut car = random_plate(&mut b.rng);
        while !taken.insert(car.plate.key()) {
            car = random_plate(&mut b.rng);
        }
        car.driver = Some(d);
        let methods = if d % 11 == 10 {
            vec![]
        } else {
            vec![MethodSpec {
                id: id(&format!("pm-{lot_id}-{d}")),
                brand: "visa".into(),
                last4: format!("{:04}", 4242 + d % 5000),
                // Some cards decline, one needs its holder: the
                // development provider's test tokens.
                token: crate::model::PaymentToken::new(match d % 37 {
                    17 => "pm_card_chargeCustomerFail".to_owned(),
                    29 => "pm_card_authenticationRequired".to_owned(),
                    _ => format!("pm_card_{lot_id}_{d}"),
                }),
            }]
        };
        drivers.push(DriverSpec {
            id: id(&format!("d-{lot_id}-{d}")),
            name: format!("Driver {d}"),
            plates: vec![car.plate.clone()],
            payment_methods: methods,
        });
        cars.push(car);
    }

    let mut reservations = Vec::new();
    let mut slots: BTreeMap<i64, u32> = BTreeMap::new();
    let reservable = (cfg.capacity / 12).max(1);
    // Bays the simulated cars occupy: bay → until when.
    let mut occupied: BTreeMap<String, Timestamp> = BTreeMap::new();
    // When each car is inside until: a car is not in two places at once.
    let mut inside: BTreeMap<String, Timestamp> = BTreeMap::new();
    let mut later: Vec<(Timestamp, Later)> = Vec::new();

    // A car is fully read this many times at the entry or exit.
    let reads = |rng: &mut ChaCha8Rng| -> usize {
        match rng.random_range(0..10) {
            0..6 => 1,
            6..9 => 2,
            _ => 3,
        }
    };

    let first_day = cfg.start;
    let outage_start = b.local(first_day, 14 * 60);
    let outage_end = b.local(first_day, 16 * 60);
    let snow_start = b.local(first_day, 6 * 60);
    let snow_end = b.local(first_day, 9 * 60);
    let blinded: Vec<String> = bays.iter().step_by(3).cloned().collect();
    let mut backlog: Vec<serde_json::Value> = Vec::new();
    // The ground truth: every stay as it really was, and what it costs.
    let mut truth: Vec<serde_json::Value> = Vec::new();

    for day_index in 0..cfg.days.max(1) {
        let day = first_day
            .checked_add(jiff::Span::new().days(i64::from(day_index)))
            .map_err(|e| e.to_string())?;
        let day_type = tariff.calendar().day_type(day_number(day));
        let (profile, volume) = match day_type {
            DayType::Weekday if day.weekday() == jiff::civil::Weekday::Friday => {
                (&WORKDAY, cfg.arrivals_per_day * 11 / 10)
            }
            DayType::Weekday => (&WORKDAY, cfg.arrivals_per_day),
            DayType::Saturday => (&DAY_OFF, cfg.arrivals_per_day * 3 / 4),
            DayType::Sunday | DayType::Holiday => (&DAY_OFF, cfg.arrivals_per_day * 13 / 20),
        };
        let total: u32 = profile.iter().sum();
        let mut arrivals: Vec<i64> = Vec::new();
        for (hour, share) in profile.iter().enumerate() {
            let n = volume * share / total;
            for _ in 0..n {
                arrivals.push(hour as i64 * 60 + b.rng.random_range(0..60));
            }
        }
        arrivals.sort_unstable();
        for minute in arrivals {
            let at = b.local(day, minute) + SignedDuration::from_secs(b.rng.random_range(0..60));
            let registered = b.rng.random_bool(0.8);
            let car = if registered {
                let pick = b.rng.random_range(0..cars.len());
                cars[pick].clone()
            } else {
                random_plate(&mut b.rng)
            };
            if inside
                .get(&car.plate.key())
                .is_some_and(|until| *until > at)
            {
                continue;
            }
            let stay = stay_minutes(&mut b.rng);
            let leave = at + SignedDuration::from_mins(stay);
            inside.insert(car.plate.key(), leave + SignedDuration::from_mins(5));

            // Now and then a registered driver reserved this arrival.
            if let Some(d) = car.driver
                && b.rng.random_bool(0.04)
            {
                let slot = at.as_second() / 900 * 900;
                let start = Timestamp::from_second(slot).map_err(|e| e.to_string())?;
                let end = start + SignedDuration::from_hours(2);
                let starts: Vec<i64> = (0..8).map(|k| slot + k * 900).collect();
                if starts
                    .iter()
                    .all(|s| slots.get(s).copied().unwrap_or(0) < reservable)
                {
                    for s in starts {
                        *slots.entry(s).or_default() += 1;
                    }
                    reservations.push(ReservationSpec {
                        id: id(&format!("r-{lot_id}-{}", reservations.len() + 1)),
                        driver_id: drivers[d].id.clone(),
                        plate: car.plate.clone(),
                        start,
                        end,
                    });
                }
            }

            let reserved_before = reservations.len();
            let misreads = !cfg.calm && (car.driver.is_some() || !cfg.order_free);
            let gate = entry_gates.choose(&mut b.rng).copied().unwrap_or("in-1");
            let cam = format!("{lot_id}-cam-{gate}");
            let mut t = at;
            let mut misread_entry = false;
            let track = b.track();
            for _ in 0..reads(&mut b.rng) {
                let (text, conf) = if misreads && b.rng.random_bool(0.02) {
                    misread_entry = true;
                    (
                        misread(&mut b.rng, &car.text),
                        b.rng.random_range(0.45..0.75),
                    )
                } else {
                    (car.text.clone(), b.rng.random_range(0.86..0.995))
                };
                let payload = b.plate_read(gate, &cam, GateDirection::Entry, &text, conf, t);
                let payload = b.of_track(payload, &cam, &track);
                let recv = b.received(t);
                b.push(
                    format!("parking/{lot_id}/gates/{gate}/events"),
                    &cam,
                    recv,
                    payload,
                );
                t += SignedDuration::from_millis(b.rng.random_range(300..2500));
            }
            // The car parks in a free bay; its sensor sees it.
            let park_at = at + SignedDuration::from_secs(b.rng.random_range(60..300));
            let free: Vec<&String> = bays
                .iter()
                .filter(|bay| occupied.get(*bay).is_none_or(|until| *until <= park_at))
                .collect();
            let bay = free.choose(&mut b.rng).map(|s| (*s).clone());
            if let Some(bay) = &bay {
                let leave_bay = leave - SignedDuration::from_secs(b.rng.random_range(60..240));
                occupied.insert(bay.clone(), leave_bay);
                later.push((
                    leave_bay,
                    Later::Bay {
                        bay: bay.clone(),
                        occupied: false,
                    },
                ));
                later.push((
                    park_at,
                    Later::Bay {
                        bay: bay.clone(),
                        occupied: true,
                    },
                ));
            }
            // The exit, if it happens within the simulated days.
            let gate = exit_gates.choose(&mut b.rng).copied().unwrap_or("out-1");
            let doubtful = misreads && b.rng.random_bool(0.02);
            let text = if doubtful {
                misread(&mut b.rng, &car.text)
            } else {
                car.text.clone()
            };
            later.push((
                leave,
                Later::Exit {
                    gate: gate.to_owned(),
                    text,
                    doubtful,
                },
            ));
            let fee = crate::timeline::stay_fee(
                tariff,
                at,
                leave,
                parking_core::Discount::default(),
                &[],
            );
            truth.push(json!({
                "plate": car.plate.key(),
                "driver_id": car.driver.map(|d| drivers[d].id.to_string()),
                "entry": at.to_string(),
                "exit": leave.to_string(),
                "fee": fee.map(|f| f.minor),
                // Read as it is, both ways, and not reserved: its price is
                // the tariff's, whatever else happened.
                "clean": !misread_entry && !doubtful && reservations.len() == reserved_before,
            }));
        }
    }
    let horizon = b.local(
        first_day
            .checked_add(jiff::Span::new().days(i64::from(cfg.days.max(1))))
            .map_err(|e| e.to_string())?,
        0,
    );
    later.sort_by_key(|l| l.0);
    for (at, what) in later {
        if at >= horizon {
            continue;
        }
        let (gate, text, doubtful) = match what {
            Later::Bay { bay, occupied } => {
                let snowed =
                    !cfg.calm && at >= snow_start && at < snow_end && blinded.contains(&bay);
                if snowed {
                    b.bay(&bay, None, at, 0.2);
                } else {
                    let conf = b.rng.random_range(0.8..0.99);
                    b.bay(&bay, Some(occupied), at, conf);
                }
                continue;
            }
            Later::Exit {
                gate,
                text,
                doubtful,
            } => (gate, text, doubtful),
        };
        let cam = format!("{lot_id}-cam-{gate}");
        let mut t = at;
        let track = b.track();
        for _ in 0..reads(&mut b.rng) {
            let conf = if doubtful {
                b.rng.random_range(0.45..0.75)
            } else {
                b.rng.random_range(0.86..0.995)
            };
            let payload = b.plate_read(&gate, &cam, GateDirection::Exit, &text, conf, t);
            let payload = b.of_track(payload, &cam, &track);
            if !cfg.calm && gate == "out-1" && t >= outage_start && t < outage_end {
                backlog.push(payload);
            } else {
                let recv = b.received(t);
                b.push(
                    format!("parking/{lot_id}/gates/{gate}/events"),
                    &cam,
                    recv,
                    payload,
                );
            }
            t += SignedDuration::from_millis(b.rng.random_range(300..2500));
        }
    }

    if !cfg.calm {
        // The snow: a third of the sensors cannot tell for three hours.
        for bay in &blinded {
            let at = snow_start + SignedDuration::from_secs(b.rng.random_range(0..300));
            if occupied.contains_key(bay) || b.rng.random_bool(0.5) {
                b.bay(bay, None, at, 0.1);
            }
        }
        // The exit gate's outage: offline, then its backlog in uploads of
        // at most 300 reads, well inside IoT Core's 128 KB.
        let cam = format!("{lot_id}-cam-out-1");
        let cam = cam.as_str();
        b.push(
            format!("$aws/events/presence/disconnected/{cam}"),
            cam,
            outage_start,
            json!({"clientId": cam, "timestamp": outage_start.as_millisecond(), "eventType": "disconnected",
                   "versionNumber": 1, "clientInitiatedDisconnect": false, "disconnectReason": "CONNECTION_LOST"}),
        );
        let back = outage_end + SignedDuration::from_secs(20);
        b.push(
            format!("$aws/events/presence/connected/{cam}"),
            cam,
            back,
            json!({"clientId": cam, "timestamp": back.as_millisecond(), "eventType": "connected", "versionNumber": 2}),
        );
        // A late copy of the disconnect: it must not win over the newer connect.
        b.push(
            format!("$aws/events/presence/disconnected/{cam}"),
            cam,
            back + SignedDuration::from_secs(30),
            json!({"clientId": cam, "timestamp": outage_start.as_millisecond(), "eventType": "disconnected", "versionNumber": 1}),
        );
        for (k, chunk) in backlog.chunks(300).enumerate() {
            let at = back + SignedDuration::from_secs(40 + k as i64);
            b.push(
                format!("parking/{lot_id}/gates/out-1/backlog"),
                cam,
                at,
                json!({"events": chunk}),
            );
        }
        // A device that speaks for a gate that is not its own.
        let rogue = format!("{lot_id}-rogue-7");
        for k in 0..3 {
            let at = b.local(first_day, 11 * 60 + k * 7);
            let car = random_plate(&mut b.rng);
            let payload = b.plate_read("in-1", &rogue, GateDirection::Entry, &car.text, 0.99, at);
            b.push(
                format!("parking/{lot_id}/gates/in-1/events"),
                &rogue,
                at,
                payload,
            );
        }
        // Junk: not JSON, a missing field, a clock far ahead, an unknown
        // gate, and 128 KB of noise.
        let at = b.local(first_day, 12 * 60);
        let cam_in_1 = format!("{lot_id}-cam-in-1");
        let cam_in_2 = format!("{lot_id}-cam-in-2");
        b.messages.push(MessageSpec {
            topic: format!("parking/{lot_id}/gates/in-1/events"),
            client_id: Some(cam_in_1.clone()),
            received_at: at,
            payload: json!("{not json"),
        });
        let mut missing = b.plate_read(
            "in-1",
            &cam_in_1,
            GateDirection::Entry,
            "品川 300 さ 12-34",
            0.9,
            at,
        );
        if let Some(o) = missing.as_object_mut() {
            o.remove("occurred_at");
        }
        b.push(
            format!("parking/{lot_id}/gates/in-1/events"),
            &cam_in_1,
            at,
            missing,
        );
        let future = at + SignedDuration::from_hours(30 * 24);
        let ahead = b.plate_read(
            "in-1",
            &cam_in_1,
            GateDirection::Entry,
            "品川 300 さ 12-34",
            0.9,
            future,
        );
        b.push(
            format!("parking/{lot_id}/gates/in-1/events"),
            &cam_in_1,
            at,
            ahead,
        );
        let unknown = b.plate_read(
            "in-9",
            &cam_in_1,
            GateDirection::Entry,
            "品川 300 さ 12-34",
            0.9,
            at,
        );
        b.push(
            format!("parking/{lot_id}/gates/in-9/events"),
            &cam_in_1,
            at,
            unknown,
        );
        let noise: String = (0..128 * 1024)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        b.push(
            format!("parking/{lot_id}/gates/in-2/backlog"),
            &cam_in_2,
            at,
            json!({"events": [noise]}),
        );
    }

    // Deliver in the order the broker received them; some twice, late.
    let mut messages = std::mem::take(&mut b.messages);
    if !cfg.calm {
        let mut again = Vec::new();
        for m in &messages {
            if b.rng.random_bool(0.03) {
                let mut copy = m.clone();
                copy.received_at += SignedDuration::from_millis(b.rng.random_range(200..20_000));
                again.push(copy);
            }
        }
        messages.extend(again);
    }
    messages.sort_by_key(|m| m.received_at);
    let mut gates = Vec::new();
    for g in entry_gates {
        gates.push(GateSpec {
            id: id(g),
            direction: GateDirection::Entry,
        });
    }
    for g in exit_gates {
        gates.push(GateSpec {
            id: id(g),
            direction: GateDirection::Exit,
        });
    }
    let mut devices: Vec<DeviceSpec> = gates
        .iter()
        .map(|g| DeviceSpec {
            client_id: id(&format!("{lot_id}-cam-{}", g.id)),
            gate_id: Some(g.id.clone()),
            bay_id: None,
        })
        .collect();
    devices.extend(bays.iter().map(|bay| DeviceSpec {
        client_id: id(&format!("{lot_id}-sensor-{bay}")),
        gate_id: None,
        bay_id: Some(id(bay)),
    }));
    Ok(Scenario {
        lot: LotSpec {
            id: id(&lot_id),
            name: format!("Demo lot {}", index + 1),
            time_zone: "Asia/Tokyo".into(),
            capacity: cfg.capacity,
            reservable,
            slot_minutes: 15,
            lost_entry_fee: 3000,
            plate_confidence_threshold: 0.8,
            sensor_confidence_threshold: 0.6,
            degraded_unknown_share: 0.3,
            freshness_seconds: 60,
            debounce_seconds: 120,
            issuer: Some(crate::model::Issuer {
                name: "Seamless Parking Demo K.K.".into(),
                registration_number: "T1234567890123".into(),
            }),
            open_data: true,
            // One operator runs every demo lot: they share its unpaid
            // register.
            operator: Some(id("seamless-demo")),
            unpaid_at_entry: Default::default(),
        },
        tariff: spec.clone(),
        bays: bays.iter().map(|s| id(s)).collect(),
        gates,
        devices,
        drivers,
        reservations,
        messages,
        steps: Vec::new(),
        expect: Some(json!({ "truth": truth })),
    })
}
