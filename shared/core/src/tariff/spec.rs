//! The tariff exactly as posted: its JSON form, the contract operators
//! write and the API accepts. [`super::Tariff`] is its validated, compiled
//! form.

use serde::{Deserialize, Serialize};

use crate::money::Tax;

/// A tariff exactly as posted, in its JSON form. Field names are a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffSpec {
    pub id: String,
    pub currency: String,
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<HolidaysSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Tax>,
    #[serde(default)]
    pub grace_minutes: u32,
    #[serde(default)]
    pub free_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<FirstSpec>,
    #[serde(default)]
    pub bands: Vec<BandSpec>,
    #[serde(default)]
    pub caps: Vec<CapSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<FlatSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stay_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaysSpec {
    /// Country whose national holidays apply (`"JP"`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Extra dates (`YYYY-MM-DD`) priced as holidays: closures, O-bon, year end.
    #[serde(default)]
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSpec {
    pub minutes: u32,
    pub price: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandSpec {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    pub unit_minutes: u32,
    pub unit_price: i64,
    /// Optional label shown on quote lines; defaults to `bands[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CapSpec {
    Window {
        days: Vec<String>,
        start: String,
        end: String,
        amount: i64,
    },
    CalendarDay {
        days: Vec<String>,
        amount: i64,
    },
    Rolling {
        hours: u32,
        amount: i64,
        #[serde(default = "default_repeat")]
        repeat: bool,
    },
}

fn default_repeat() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatSpec {
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_hours: Option<u32>,
}
