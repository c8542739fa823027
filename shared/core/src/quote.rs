//! What a quote is made of: the stay to price ([`Stay`], [`Discount`]) and
//! the priced result ([`Quote`] with its lines, applied caps and flags),
//! with the quote's JSON form. The engine is in [`crate::pricing`].

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::money::{Currency, Money};

/// A stay to price: entry and exit instants plus merchant validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    pub entry: Timestamp,
    pub exit: Timestamp,
    pub discount: Discount,
}

impl Stay {
    pub fn new(entry: Timestamp, exit: Timestamp) -> Self {
        Stay {
            entry,
            exit,
            discount: Discount::default(),
        }
    }
}

/// Merchant validation: free minutes from entry, and an amount taken off
/// the capped total (never below zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discount {
    pub minutes: u32,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("exit: {exit} is before entry {entry}")]
    ExitBeforeEntry { entry: Timestamp, exit: Timestamp },
    #[error("discount_amount: must not be negative (got {0})")]
    NegativeDiscount(i64),
    #[error("exit: a stay of {days} days is longer than the {MAX_STAY_DAYS} days a quote prices")]
    StayTooLong { days: i64 },
}

/// The longest stay a quote prices. Longer ones are data errors (a wrong
/// clock, a lost exit), and bound the work and memory of one quote.
pub const MAX_STAY_DAYS: i64 = 1000;

/// What a quote line charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A segment priced by the band with this index.
    Band(u16),
    /// The tariff's `first` block.
    First,
    /// A flat tariff's charge.
    Flat,
}

/// One charged piece of the stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: LineKind,
    pub units: i64,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapKind {
    Window,
    CalendarDay,
    Rolling,
}

/// A cap that lowered the fee: which one (index in `caps`), over which
/// charged span, and the amounts before and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedCap {
    pub kind: CapKind,
    pub cap: u16,
    pub start: Timestamp,
    pub end: Timestamp,
    pub before: i64,
    pub after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The stay was within the grace period and costs nothing.
    Grace,
    /// The stay ended within its free (or validated) minutes.
    Free,
    /// The stay is longer than the tariff's `max_stay_hours`.
    Overstay,
}

/// The priced stay. Amounts are minor units of `currency`.
#[derive(Debug, Clone)]
pub struct Quote {
    pub tariff_id: Arc<str>,
    pub currency: Currency,
    pub entry: Timestamp,
    pub exit: Timestamp,
    /// After caps, before the discount amount and tax.
    pub subtotal: i64,
    /// The discount amount actually taken off.
    pub discount: i64,
    /// What the driver pays, tax included.
    pub total: i64,
    pub tax: i64,
    pub tax_inclusive: bool,
    pub lines: Vec<Line>,
    pub caps: Vec<AppliedCap>,
    pub flags: Vec<Flag>,
    pub(crate) tz: TimeZone,
    pub(crate) labels: Arc<[String]>,
}

impl Quote {
    pub fn total_money(&self) -> Money {
        Money::new(self.total, self.currency)
    }

    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// The label of a line's band as the tariff names it.
    pub fn band_label(&self, kind: LineKind) -> &str {
        match kind {
            LineKind::Band(i) => self
                .labels
                .get(usize::from(i))
                .map_or("band", String::as_str),
            LineKind::First => "first",
            LineKind::Flat => "flat",
        }
    }

    /// An RFC 3339 rendering of an instant in the tariff's time zone.
    pub fn local(&self, t: Timestamp) -> String {
        t.display_with_offset(self.tz.to_offset(t)).to_string()
    }
}

impl Serialize for Quote {
    /// The quote's JSON form, in the tariff's local time. Lines and caps
    /// are streamed one by one, so rendering a long quote holds no copy of
    /// it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        #[derive(Serialize)]
        struct LineJson<'a> {
            start: String,
            end: String,
            band: &'a str,
            units: i64,
            unit_price: i64,
            amount: i64,
        }
        #[derive(Serialize)]
        struct CapJson {
            kind: CapKind,
            cap: u16,
            start: String,
            end: String,
            before: i64,
            after: i64,
        }
        /// A sequence serialized straight from an iterator.
        struct Seq<F>(F);
        impl<I, F> Serialize for Seq<F>
        where
            F: Fn() -> I,
            I: Iterator,
            I::Item: Serialize,
        {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq((self.0)())
            }
        }

        let mut q = s.serialize_struct("Quote", 13)?;
        q.serialize_field("tariff_id", &*self.tariff_id)?;
        q.serialize_field("currency", &self.currency)?;
        q.serialize_field("entry", &self.local(self.entry))?;
        q.serialize_field("exit", &self.local(self.exit))?;
        q.serialize_field("subtotal", &self.subtotal)?;
        q.serialize_field("discount", &self.discount)?;
        q.serialize_field("total", &self.total)?;
        q.serialize_field("tax", &self.tax)?;
        q.serialize_field("tax_inclusive", &self.tax_inclusive)?;
        q.serialize_field("display", &self.total_money().to_string())?;
        q.serialize_field(
            "lines",
            &Seq(|| {
                self.lines.iter().map(|l| LineJson {
                    start: self.local(l.start),
                    end: self.local(l.end),
                    band: self.band_label(l.kind),
                    units: l.units,
                    unit_price: l.unit_price,
                    amount: l.amount,
                })
            }),
        )?;
        q.serialize_field(
            "caps",
            &Seq(|| {
                self.caps.iter().map(|c| CapJson {
                    kind: c.kind,
                    cap: c.cap,
                    start: self.local(c.start),
                    end: self.local(c.end),
                    before: c.before,
                    after: c.after,
                })
            }),
        )?;
        q.serialize_field("flags", &self.flags)?;
        q.end()
    }
}
