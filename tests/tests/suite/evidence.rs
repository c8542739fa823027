//! The frames behind a decision: a camera names the frame it uploaded on
//! its read (only under its own prefix), each session lists its passages'
//! frames, and staff reach them through the operator API by short-lived
//! presigned links that the local S3 endpoint serves.

use std::sync::Arc;

use jiff::Timestamp;
use parking_api::Api;
use parking_app::*;
use parking_aws::frame_links::S3FrameLinks;
use serde_json::Value;

use super::api::{Call, Who, call};
use super::devices::{LOT, Lot, STRANGER, backlog, read, t};

const OP: Who = Who::Role("op-1", "operator", LOT);

fn framed(gate: &str, event: &str, confidence: f64, at: Timestamp, frame: &str) -> Value {
    let mut v = read(gate, event, STRANGER, confidence, at, None);
    v["frame"] = Value::from(frame);
    v
}

/// An HTTP client (the TLS provider chosen once, as the functions do).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}

/// A bucket on the local endpoint holding `objects` (key, body).
async fn bucket_with(objects: &[(&str, &str)]) -> String {
    let endpoint = parking_tests::endpoint();
    let bucket = format!("evidence-{}", parking_app::ids::nonce());
    let http = http();
    let made = http
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create the bucket");
    assert!(made.status().is_success(), "{made:?}");
    for (key, body) in objects {
        let put = http
            .put(format!("{endpoint}/{bucket}/{key}"))
            .body(body.to_string())
            .send()
            .await
            .expect("put a frame");
        assert!(put.status().is_success(), "{put:?}");
    }
    bucket
}

#[tokio::test]
async fn a_review_item_links_the_frames_behind_it() {
    let lot = Lot::new().await;
    let entry = "frames/shinjuku-west/cam-in/2026-11-30/in-1.jpg";
    let exit = "frames/shinjuku-west/cam-out/2026-11-30/out-1.jpg";
    let bucket = bucket_with(&[(entry, "entry frame"), (exit, "exit frame")]).await;

    // A doubtful entry and exit: the stay waits for staff.
    let r = lot
        .send(&framed("g-in", "in-1", 0.4, t("09:00:00"), entry))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    let r = lot
        .send(&framed("g-out", "out-1", 0.4, t("11:00:00"), exit))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");

    let sdk = parking_tests::local_sdk_config().await;
    let links = S3FrameLinks::new(&sdk, bucket).expect("links");
    let now = t("11:05:00");
    let api =
        Api::new(lot.events.store.clone(), Arc::new(FixedClock(now))).with_frames(Arc::new(links));
    let router = parking_api::router(Arc::new(api));
    let reviews = call(
        &router,
        Call::new("GET", format!("/v1/operator/lots/{LOT}/reviews"), OP),
    )
    .await;
    assert_eq!(reviews.status, 200, "{}", reviews.text);
    let item = reviews.json()["items"][0].clone();
    let frames = item["frames"].as_array().cloned().unwrap_or_default();
    let keys: Vec<&str> = frames.iter().filter_map(|f| f["key"].as_str()).collect();
    assert_eq!(keys, [entry, exit], "{item}");
    for (f, body) in frames.iter().zip(["entry frame", "exit frame"]) {
        let url = f["url"].as_str().expect("a link");
        assert!(
            url.contains("X-Amz-Expires=300") && url.contains("X-Amz-Signature="),
            "{url}"
        );
        assert_eq!(f["expires_at"], Value::from("2026-11-30T02:10:00Z"));
        // The link is the object: the local endpoint serves it.
        let got = http().get(url).send().await.expect("fetch");
        assert_eq!(got.status(), 200, "{url}");
        assert_eq!(got.text().await.expect("body"), body);
    }
    // The same session by its id, with the same frames.
    let id = item["id"].as_str().expect("id");
    let one = call(
        &router,
        Call::new("GET", format!("/v1/operator/lots/{LOT}/sessions/{id}"), OP),
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json()["frames"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_frame_outside_the_cameras_own_prefix_is_dropped_and_the_read_applied() {
    // A wrong key must not keep a barrier shut: the read is applied (and
    // answered) without it, and the stay lists only the camera's own.
    let lot = Lot::new().await;
    let own = "frames/shinjuku-west/cam-in/a.jpg";
    let r = lot
        .send(&framed(
            "g-in",
            "in-1",
            0.97,
            t("09:00:00"),
            "frames/shinjuku-west/cam-out/b.jpg",
        ))
        .await;
    assert_eq!(
        (r.applied, r.rejected.len(), r.commands.len()),
        (1, 0, 1),
        "{r:?}"
    );
    let r = lot
        .send(&backlog(
            "g-in",
            vec![framed("g-in", "in-2", 0.97, t("09:00:30"), own)],
            t("10:00:00"),
        ))
        .await;
    assert_eq!(r.applied, 1, "{r:?}");
    let stays = lot.sessions().await;
    assert_eq!(stays.len(), 1, "{stays:?}");
    let keys: Vec<String> = stays[0].frames.iter().map(ToString::to_string).collect();
    assert_eq!(keys, [own]);
    // And a key is never printed whole.
    assert!(!format!("{stays:?}").contains("a.jpg"));
}
