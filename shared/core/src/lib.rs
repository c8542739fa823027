//! # parking-core
//!
//! The pure domain of Seamless Parking: money, licence plates, holidays,
//! tariffs and the pricing of a stay. No I/O, no clocks, no AWS: every
//! instant is passed in.
//!
//! ```
//! use parking_core::{Stay, Tariff};
//!
//! let tariff = Tariff::from_json(r#"{
//!     "id": "t1", "currency": "JPY", "time_zone": "Asia/Tokyo",
//!     "bands": [
//!         {"days": ["all"], "start": "08:00", "end": "22:00", "unit_minutes": 20, "unit_price": 300},
//!         {"days": ["all"], "start": "22:00", "end": "08:00", "unit_minutes": 60, "unit_price": 100}
//!     ]
//! }"#)?;
//! let entry = "2026-11-24T09:00:00+09:00".parse()?;
//! let exit = "2026-11-24T09:21:00+09:00".parse()?;
//! assert_eq!(tariff.quote(&Stay::new(entry, exit))?.total, 600);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Pricing rules
//!
//! Amounts are integer minor units of the tariff's ISO 4217 currency. Stays
//! are priced to the second (fractions of a second are dropped).
//!
//! - **Day types.** Every local date, in the tariff's time zone, is exactly
//!   one of `weekday` (Mon–Fri), `saturday`, `sunday` or `holiday` (a
//!   national holiday of `holidays.country`, or a date in `holidays.extra`;
//!   a holiday beats saturday and sunday). `all` and `weekend` (saturday and
//!   sunday) are shorthands in `days` lists.
//! - **Bands.** For each day type the bands cover the 24-hour clock exactly
//!   once; otherwise the tariff is rejected, naming the day type and the
//!   gap or overlap. The `holiday` day type needs bands only when the tariff
//!   has holidays. A band may wrap past midnight (`22:00`–`08:00`). At any
//!   instant the band in force is the one the day type of that local date
//!   assigns to that local clock time. Bands follow the wall clock, so on a
//!   day with a DST change a `00:00`–`08:00` band lasts 7 or 9 hours.
//! - **Segments.** The stay is cut wherever the band in force changes (a
//!   wrapping band in force on both dates does not change at midnight), at
//!   the start and end of every window-cap occurrence, at every rolling
//!   period boundary and — only in a tariff with a calendar-day cap — at
//!   every local midnight. A segment of `d` seconds in a band of `u`-minute
//!   units costs `ceil(d / 60u) × unit_price`: one second into a unit buys
//!   the whole unit, and units restart at every cut.
//! - **Rolling caps** (`rolling`, H hours). The stay is split into
//!   consecutive H-hour periods counted from entry; pricing restarts at each
//!   period. With `repeat: true` every period's total is capped at `amount`;
//!   with `repeat: false` only the first period is. Several rolling caps nest:
//!   each longer H must be a multiple of every shorter one, and the longer
//!   cap applies to the sum of its already-capped sub-periods.
//! - **Window caps** (`window`, e.g. a night maximum `20:00`–`08:00`). Local
//!   wall times, possibly wrapping past midnight. An occurrence exists for
//!   each date whose day type is in `days`, starting at `start` on that date;
//!   it caps the sum of the segments inside it (within one rolling period),
//!   and the capped amount belongs to the date the occurrence started on.
//!   Window caps may not overlap each other.
//! - **Window caps across DST changes.** An instant belongs to a window-cap
//!   occurrence when its local date and wall-clock time fall inside the
//!   window, exactly as bands are chosen. On a fall-back day the repeated
//!   wall-clock hour can therefore put one occurrence in two pieces that
//!   are not adjacent in time (a window ending at `01:01` covers
//!   `…–01:01` of the first pass through the hour and `01:00–01:01` of
//!   the second); all pieces of one occurrence within one rolling period
//!   are pooled and capped **once**. On a spring-forward day a start or end
//!   that does not exist takes effect when the clock passes it (a window
//!   `02:30–05:00` starts at `03:00` after the skipped hour). The same
//!   wall-clock rule places band edges and local midnights: a band edge
//!   inside a repeated hour is crossed twice, and each crossing cuts a
//!   segment.
//! - **Calendar-day caps** (`calendar_day`). Per local date whose day type is
//!   in `days`, the sum of that date's charges within one rolling period,
//!   after window caps, is capped. When several apply, each one does.
//! - **Order** inside a rolling period: segment charges → window caps →
//!   calendar-day caps → rolling caps from the shortest to the longest.
//! - **Free minutes** `F`: the first `F` minutes of every stay cost nothing;
//!   charging starts at entry + `F` (periods are still counted from entry).
//! - **Grace** `G`: a stay of at most `G` minutes costs nothing (flag
//!   `grace`); a longer stay pays from entry as if there were no grace.
//! - **First block** `{minutes: M, price: P}`: once per stay the first `M`
//!   minutes after the free minutes cost `P` as one block, however short the
//!   stay beyond grace; band pricing starts after the block. The block counts
//!   toward the caps of the rolling period and the date it starts in, never
//!   toward window caps.
//! - **Flat** `{amount, period_hours}`: a tariff with `flat` has no bands,
//!   caps or first block, and charges `amount` per started `period_hours`
//!   of chargeable time (after free minutes), or once per stay.
//! - **Discounts.** Validated minutes are added to the free minutes, counted
//!   from entry. A discount amount is subtracted after all caps, never below
//!   zero.
//! - **Tax** is computed on the final amount: inclusive tax is the part of it
//!   that is tax, rounded down to the minor unit (¥2,400 at 10% carries
//!   ¥218); exclusive tax is added, rounded down.
//! - **Overstay.** A stay longer than `max_stay_hours` is still priced and
//!   carries the flag `overstay`.
//! - A stay whose exit equals its entry costs 0. An exit before the entry, an
//!   unknown zone or currency, a negative amount or a zero unit are errors,
//!   and so is a stay longer than 1,000 days or an amount above 10^12.

pub mod calendar;
pub mod consensus;
pub mod demand;
pub mod forecast;
pub mod money;
pub mod plate;
pub mod pricing;
pub mod quote;
pub mod session;
pub mod tariff;
pub mod timeline;

pub use calendar::{Calendar, DaySet, DayType};
pub use money::{Currency, Money, Tax};
pub use plate::{Plate, PlateError};
pub use quote::{
    AppliedCap, CapKind, Discount, Flag, Line, LineKind, MAX_STAY_DAYS, PricingError, Quote, Stay,
};
pub use session::SessionState;
pub use tariff::{Rate, Tariff, TariffError, TariffSpec};
