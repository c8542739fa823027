//! The open-data feed in DATEX II: a version 3.5 `ParkingStatusPublication`
//! in DATEX II's JSON encoding (a `D2Payload`), the European standard
//! (CEN/TS 16157) road authorities and journey planners read parking
//! status in. Each published lot is one `ParkingStatusInformation`:
//!
//! - `reference`: the lot's id (`targetClass` `ParkingSite`);
//! - `occupancy`: vacant and occupied bays, and the share occupied in
//!   percent ([`open_data::LotStatus`]);
//! - `newRates`: a rate table of the tariff version in force, with one
//!   rate line, the rate at this moment: `incrementingRate`, the unit
//!   price per `incrementPeriod` (ISO 8601, `PT20M`), or `flatRate`, with
//!   the rolling 24-hour maximum as the collection's `maxValueCollection`.
//!   Amounts are in the currency's major unit (yen are whole).
//!
//! Only what the schema defines is sent; the test suite validates the feed
//! against DATEX II's published JSON schema (`fixtures/datex2/`).

use jiff::Timestamp;
use parking_app::usecases::open_data::{self, LotStatus};
use parking_core::Rate;
use parking_core::money::Currency;
use schemars::JsonSchema;
use serde::Serialize;

use crate::dto::ts;

/// The publication's creator: the service, by a national identifier.
pub const CREATOR_COUNTRY: &str = "JP";
pub const CREATOR_ID: &str = "seamless-parking";

/// A DATEX II payload holding one publication.
#[derive(Debug, Serialize, JsonSchema)]
pub struct D2Payload {
    pub payload: PayloadPublication,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayloadPublication {
    /// DATEX II's model version: `3`.
    pub model_base_version_g: String,
    /// The schema's version: `3.5`.
    pub version_g: String,
    pub prk_parking_status_publication: ParkingStatusPublication,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParkingStatusPublication {
    /// The language of the texts: `en`.
    pub lang: String,
    #[schemars(schema_with = "ts")]
    pub publication_time: Timestamp,
    pub publication_creator: InternationalIdentifier,
    pub parking_status_information: Vec<ParkingStatusInformationG>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternationalIdentifier {
    pub country: String,
    pub national_identifier: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParkingStatusInformationG {
    pub prk_parking_status_information: ParkingStatusInformation,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParkingStatusInformation {
    pub reference: Reference,
    #[schemars(schema_with = "ts")]
    pub last_updated: Timestamp,
    pub opening_status: EnumValue,
    /// Present when the sensors cannot tell and the count comes from the
    /// gates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_description: Option<MultilingualString>,
    pub occupancy: Occupancy,
    /// Absent where no rate is posted for this moment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_rates: Option<RatesG>,
}

/// A versioned reference to a DATEX II object.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub target_class: String,
    pub id_g: String,
    pub version_g: String,
}

/// A DATEX II enumeration's value (`{"value": "open"}`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct EnumValue {
    pub value: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MultilingualString {
    pub values: Vec<LangValue>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LangValue {
    pub lang: String,
    pub value: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Occupancy {
    pub number_of_vacant_spaces: u32,
    pub number_of_occupied_spaces: u32,
    /// Percent of the bays occupied.
    pub occupancy: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatesG {
    pub fac_rate_table: RateTable,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateTable {
    /// The tariff version's id.
    pub id_g: String,
    pub version_g: String,
    /// The table's currencies (one).
    pub applicable_currency: Vec<String>,
    pub rate_line_collection: Vec<RateLineCollectionG>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLineCollectionG {
    pub fac_rate_line_collection: RateLineCollection,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLineCollection {
    pub collection_sequence: i64,
    pub applicable_currency: String,
    /// The most a stay pays in 24 hours, where the tariff says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value_collection: Option<f64>,
    pub rate_line: Vec<RateLine>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLine {
    pub sequence: i64,
    /// `incrementingRate` or `flatRate`.
    pub rate_line_type: EnumValue,
    pub description: MultilingualString,
    /// The unit the value is charged per (ISO 8601 duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub increment_period: Option<String>,
    pub value: f64,
}

fn text(en: impl Into<String>, ja: impl Into<String>) -> MultilingualString {
    MultilingualString {
        values: vec![
            LangValue {
                lang: "en".into(),
                value: en.into(),
            },
            LangValue {
                lang: "ja".into(),
                value: ja.into(),
            },
        ],
    }
}

/// An amount in minor units as the currency's major unit.
fn major(minor: i64, currency: Currency) -> f64 {
    minor as f64 / 10f64.powi(i32::from(currency.exponent()))
}

fn rate_line(status: &LotStatus) -> Option<RateLine> {
    let currency = status.currency;
    let (kind, period, value, en, ja) = match status.rate {
        Rate::Band {
            unit_minutes,
            unit_price,
            ..
        } => {
            let name = status.band_name.clone();
            let en = match &name {
                Some(n) => format!("{n}: per {unit_minutes} minutes started"),
                None => format!("Per {unit_minutes} minutes started"),
            };
            let ja = match &name {
                Some(n) => format!("{n}: {unit_minutes}分ごと"),
                None => format!("{unit_minutes}分ごと"),
            };
            (
                "incrementingRate",
                Some(format!("PT{unit_minutes}M")),
                unit_price,
                en,
                ja,
            )
        }
        Rate::Flat {
            amount,
            period_hours: Some(h),
        } => (
            "incrementingRate",
            Some(format!("PT{h}H")),
            amount,
            format!("Flat fee per {h} hours started"),
            format!("{h}時間ごとの定額"),
        ),
        Rate::Flat {
            amount,
            period_hours: None,
        } => (
            "flatRate",
            None,
            amount,
            "Flat fee per stay".to_owned(),
            "1回定額".to_owned(),
        ),
        Rate::None => return None,
    };
    Some(RateLine {
        sequence: 1,
        rate_line_type: EnumValue { value: kind.into() },
        description: text(en, ja),
        increment_period: period,
        value: major(value, currency),
    })
}

impl ParkingStatusInformation {
    fn from_status(s: &LotStatus) -> Self {
        let capacity = s.lot.capacity;
        let occupancy = if capacity == 0 {
            0.0
        } else {
            // One decimal place.
            (f64::from(s.occupied()) * 1000.0 / f64::from(capacity)).round() / 10.0
        };
        let currency = s.currency.code().to_owned();
        let new_rates = rate_line(s).map(|line| RatesG {
            fac_rate_table: RateTable {
                id_g: s.tariff_id.to_string(),
                version_g: "1".into(),
                applicable_currency: vec![currency.clone()],
                rate_line_collection: vec![RateLineCollectionG {
                    fac_rate_line_collection: RateLineCollection {
                        collection_sequence: 1,
                        applicable_currency: currency,
                        max_value_collection: s.day_max.map(|m| major(m, s.currency)),
                        rate_line: vec![line],
                    },
                }],
            },
        });
        ParkingStatusInformation {
            reference: Reference {
                target_class: "ParkingSite".into(),
                id_g: s.lot.id.to_string(),
                version_g: s.lot.revision.to_string(),
            },
            last_updated: s.at,
            opening_status: EnumValue {
                value: "open".into(),
            },
            status_description: s.availability.degraded.then(|| {
                text(
                    "Vacant spaces counted at the gates (sensors cannot tell)",
                    "空き台数はゲートの計数による(センサー判定不可)",
                )
            }),
            occupancy: Occupancy {
                number_of_vacant_spaces: s.vacant(),
                number_of_occupied_spaces: s.occupied(),
                occupancy,
            },
            new_rates,
        }
    }
}

impl D2Payload {
    /// The publication of `lots`, made at `now`.
    pub fn parking_status(lots: &[open_data::LotStatus], now: Timestamp) -> Self {
        D2Payload {
            payload: PayloadPublication {
                model_base_version_g: "3".into(),
                version_g: "3.5".into(),
                prk_parking_status_publication: ParkingStatusPublication {
                    lang: "en".into(),
                    publication_time: now,
                    publication_creator: InternationalIdentifier {
                        country: CREATOR_COUNTRY.into(),
                        national_identifier: CREATOR_ID.into(),
                    },
                    parking_status_information: lots
                        .iter()
                        .map(|s| ParkingStatusInformationG {
                            prk_parking_status_information: ParkingStatusInformation::from_status(
                                s,
                            ),
                        })
                        .collect(),
                },
            },
        }
    }
}
