//! The open-data feed through the Lambda edge: a lot is in it only once
//! its operator publishes it; anyone reads it without a token; its
//! figures are the driver app's, its rate the band in force; it is
//! cacheable. (Its shape against DATEX II's published schema is checked
//! by `tests/open_data/`, with the standard's JSON schema.)

use jiff::Timestamp;
use serde_json::{Value, json};

use super::api::{Call, Who};
use super::devices::{AIKO, BEN, LOT, Lot, read, t};

const OP: Who = Who::Role("op-1", "operator", LOT);
const FEED: &str = "/v1/public/parking-status";

async fn at(lot: &Lot, now: Timestamp, c: Call) -> super::api::Answer {
    let api = parking_api::Api::new(
        lot.events.store.clone(),
        std::sync::Arc::new(parking_app::FixedClock(now)),
    );
    super::api::call(&parking_api::router(std::sync::Arc::new(api)), c).await
}

/// The operator turns `settings.open_data` on or off.
async fn publish(lot: &Lot, on: bool) {
    let now = t("08:00:00");
    let got = at(
        lot,
        now,
        Call::new("GET", format!("/v1/operator/lots/{LOT}"), OP),
    )
    .await;
    let mut body = got.json();
    let revision = body["revision"].to_string();
    body["settings"]["open_data"] = json!(on);
    let change = json!({
        "name": body["name"], "time_zone": body["time_zone"], "capacity": body["capacity"],
        "reservable": body["reservable"], "slot_minutes": body["slot_minutes"],
        "settings": body["settings"],
    });
    let a = at(
        lot,
        now,
        Call::new("PUT", format!("/v1/operator/lots/{LOT}"), OP)
            .header("if-match", &format!("\"{revision}\""))
            .json(change),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

fn site(feed: &Value) -> &Value {
    let sites = &feed["payload"]["prkParkingStatusPublication"]["parkingStatusInformation"];
    assert_eq!(sites.as_array().map(Vec::len), Some(1), "{feed:#}");
    &sites[0]["prkParkingStatusInformation"]
}

#[tokio::test]
async fn a_published_lot_is_in_the_feed_for_anyone_with_the_rate_in_force() {
    let lot = Lot::new().await;
    let one = format!("/v1/public/lots/{LOT}/parking-status");
    // Not published: the feed has nothing, and the lot answers as one
    // that does not exist.
    let a = at(&lot, t("10:00:00"), Call::new("GET", FEED, Who::Anonymous)).await;
    assert_eq!((a.status, a.code()), (404, "not_found".to_owned()));
    let a = at(&lot, t("10:00:00"), Call::new("GET", &one, Who::Anonymous)).await;
    let missing = at(
        &lot,
        t("10:00:00"),
        Call::new(
            "GET",
            "/v1/public/lots/nowhere/parking-status",
            Who::Anonymous,
        ),
    )
    .await;
    assert_eq!((a.status, &a.text), (404, &missing.text));

    publish(&lot, true).await;
    for (i, plate) in [AIKO, BEN].iter().enumerate() {
        let r = lot
            .send(&read(
                "g-in",
                &format!("in-{i}"),
                plate,
                0.97,
                t("09:00:00"),
                None,
            ))
            .await;
        assert_eq!(r.applied, 1, "{r:?}");
    }

    // Monday 10:00 in Tokyo: the weekday day band, ¥300 a 20 minutes,
    // at most ¥1,500 in 24 hours. No token needed.
    let a = at(&lot, t("10:00:00"), Call::new("GET", FEED, Who::Anonymous)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.headers
            .iter()
            .any(|(k, v)| k == "cache-control" && v == "public, max-age=30"),
        "{:?}",
        a.headers
    );
    let feed = a.json();
    assert_eq!(feed["payload"]["modelBaseVersionG"], json!("3"));
    let s = site(&feed);
    assert_eq!(s["reference"]["idG"], json!(LOT));
    let driver = at(
        &lot,
        t("10:00:00"),
        Call::new("GET", format!("/v1/lots/{LOT}"), Who::Driver("d-1")),
    )
    .await
    .json();
    let capacity = driver["capacity"].as_u64().expect("capacity");
    let vacant = driver["availability"]["free_estimate"]
        .as_u64()
        .expect("free");
    assert_eq!(s["occupancy"]["numberOfVacantSpaces"], json!(vacant));
    assert_eq!(
        s["occupancy"]["numberOfOccupiedSpaces"],
        json!(capacity - vacant)
    );
    assert!(capacity - vacant >= 2, "the two cars inside: {s:#}");
    let table = &s["newRates"]["facRateTable"];
    assert_eq!(table["idG"], driver["tariff"]["id"]);
    assert_eq!(table["applicableCurrency"], json!(["JPY"]));
    let collection = &table["rateLineCollection"][0]["facRateLineCollection"];
    assert_eq!(collection["maxValueCollection"], json!(1500.0));
    let line = &collection["rateLine"][0];
    assert_eq!(line["rateLineType"]["value"], json!("incrementingRate"));
    assert_eq!(line["incrementPeriod"], json!("PT20M"));
    assert_eq!(line["value"], json!(300.0));
    // Nothing names a car.
    assert!(!a.text.contains("12-34") && !a.text.contains("d-1"));

    // The same lot alone, with a token too; at 23:00 the night band.
    let night = at(
        &lot,
        t("23:00:00"),
        Call::new("GET", &one, Who::Driver("d-1")),
    )
    .await;
    assert_eq!(night.status, 200, "{}", night.text);
    let feed = night.json();
    let line = &site(&feed)["newRates"]["facRateTable"]["rateLineCollection"][0]["facRateLineCollection"]
        ["rateLine"][0];
    assert_eq!(
        (&line["incrementPeriod"], &line["value"]),
        (&json!("PT60M"), &json!(100.0))
    );

    // Withdrawn: gone again.
    publish(&lot, false).await;
    let a = at(&lot, t("10:00:00"), Call::new("GET", &one, Who::Anonymous)).await;
    assert_eq!(a.status, 404);
}
