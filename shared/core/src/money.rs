//! Money in integer minor units of an ISO 4217 currency, and consumption tax.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency with its number of decimal places (JPY 0, USD 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    inner: iso_currency::Currency,
    exponent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("unknown ISO 4217 currency code {0:?}")]
    Unknown(String),
    #[error("currency {0} has no minor unit and cannot price stays")]
    NoMinorUnit(String),
}

impl Currency {
    pub const JPY: Currency = Currency {
        inner: iso_currency::Currency::JPY,
        exponent: 0,
    };
    pub const USD: Currency = Currency {
        inner: iso_currency::Currency::USD,
        exponent: 2,
    };

    /// Parses an upper-case ISO 4217 alphabetic code.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        let inner = iso_currency::Currency::from_code(code)
            .ok_or_else(|| CurrencyError::Unknown(code.to_owned()))?;
        let exponent = inner
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .ok_or_else(|| CurrencyError::NoMinorUnit(code.to_owned()))?;
        Ok(Currency { inner, exponent })
    }

    pub fn code(self) -> &'static str {
        self.inner.code()
    }

    /// Decimal places of the minor unit.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount in integer minor units (yen, cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }
}

impl fmt::Display for Money {
    /// `JPY 2,400`, `USD 12.50`, `USD -0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent());
        let scale = 10u64.pow(exp);
        let abs = self.minor.unsigned_abs();
        let (major, minor) = (abs / scale, abs % scale);
        let digits = major.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(f, "{} {sign}{grouped}", self.currency)?;
        if exp > 0 {
            write!(f, ".{minor:0width$}", width = exp as usize)?;
        }
        Ok(())
    }
}

/// Consumption tax: a rate in basis points (1000 = 10%), included in the
/// posted prices (Japan) or added on top of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tax {
    pub rate_bp: u32,
    #[serde(default = "yes")]
    pub inclusive: bool,
}

fn yes() -> bool {
    true
}

/// The tax on a final amount: `(tax, amount payable)`.
///
/// Inclusive tax is the part of `amount` that is tax, rounded down to the
/// minor unit (¥2,400 at 10% carries ¥218); the payable amount is unchanged.
/// Exclusive tax is `amount × rate`, rounded down, and is added.
pub fn apply_tax(amount: i64, tax: Option<Tax>) -> (i64, i64) {
    let Some(tax) = tax else { return (0, amount) };
    let rate = i128::from(tax.rate_bp);
    let a = i128::from(amount);
    if tax.inclusive {
        let t = (a * rate).div_euclid(10_000 + rate);
        (t as i64, amount)
    } else {
        let t = (a * rate).div_euclid(10_000);
        (t as i64, amount.saturating_add(t as i64))
    }
}

/// The tax within an amount already payable (a fee as priced, tax
/// included): what a receipt shows.
///
/// Inclusive: as [`apply_tax`]. Exclusive: the tax [`apply_tax`] added to
/// the pre-tax amount that gives `payable`; an amount no pre-tax amount
/// gives (one set by hand) carries the tax within it, as an inclusive one.
pub fn tax_within(payable: i64, tax: Option<Tax>) -> i64 {
    let Some(tax) = tax else { return 0 };
    if tax.inclusive {
        return apply_tax(payable, Some(tax)).0;
    }
    let rate = i128::from(tax.rate_bp);
    let estimate = (i128::from(payable) * 10_000).div_euclid(10_000 + rate);
    let base = i64::try_from(estimate).unwrap_or(payable);
    for b in [base, base + 1, base - 1] {
        if b >= 0 && apply_tax(b, Some(tax)).1 == payable {
            return payable - b;
        }
    }
    apply_tax(
        payable,
        Some(Tax {
            inclusive: true,
            ..tax
        }),
    )
    .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tax_within_a_payable_amount_is_the_tax_that_was_added() {
        for inclusive in [true, false] {
            let tax = Tax {
                rate_bp: 1000,
                inclusive,
            };
            for base in (0..200_000).step_by(7) {
                let (added, payable) = apply_tax(base, Some(tax));
                assert_eq!(tax_within(payable, Some(tax)), added, "{base} {inclusive}");
            }
        }
        assert_eq!(tax_within(1234, None), 0);
    }

    #[test]
    fn currencies_know_their_decimals() {
        assert_eq!(Currency::parse("JPY").map(Currency::exponent), Ok(0));
        assert_eq!(Currency::parse("USD").map(Currency::exponent), Ok(2));
        assert_eq!(Currency::parse("BHD").map(Currency::exponent), Ok(3));
        assert_eq!(
            Currency::parse("XYZ"),
            Err(CurrencyError::Unknown("XYZ".into()))
        );
    }

    #[test]
    fn japanese_inclusive_tax_rounds_down() {
        let t = Some(Tax {
            rate_bp: 1000,
            inclusive: true,
        });
        assert_eq!(apply_tax(2400, t), (218, 2400));
        assert_eq!(apply_tax(1100, t), (100, 1100));
        assert_eq!(apply_tax(0, t), (0, 0));
    }

    #[test]
    fn exclusive_tax_is_added_and_rounded_down() {
        let t = Some(Tax {
            rate_bp: 875,
            inclusive: false,
        });
        // 12.34 USD at 8.75% = 1.079... → 1.07
        assert_eq!(apply_tax(1234, t), (107, 1341));
    }

    #[test]
    fn money_displays_in_major_units() {
        assert_eq!(
            Money::new(1_234_567, Currency::JPY).to_string(),
            "JPY 1,234,567"
        );
        assert_eq!(Money::new(1250, Currency::USD).to_string(), "USD 12.50");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "USD -0.05");
    }
}
