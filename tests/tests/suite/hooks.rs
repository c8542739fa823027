//! Operator webhooks end to end: an operator subscribes through the API;
//! a car's stay closes at the exit gate; the event is handed to the
//! subscription and posted to a test receiver that checks each signature
//! with its own HMAC and answers as it is told (down, then up); a
//! receiver that stays down is switched off with a notice, and its missed
//! events are replayed once it is on again. The HTTP client itself posts
//! to a real local receiver and refuses private addresses.

use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use parking_app::hooks::{Answer, DISABLE_AFTER, HookClient, HookMessage};
use parking_app::outbox::{OutboxMessage, Queue};
use parking_app::usecases::hook_delivery::{Handled, Outcome, handle};
use parking_app::{AuditStore, LotId};
use parking_aws::MemoryQueues;
use serde_json::{Value, json};

use super::api::{Answer as HttpAnswer, Call, Who};
use super::devices::{AIKO, LOT, Lot, read, t};

const OP: Who = Who::Role("op-1", "operator", LOT);

/// A receiver: checks every request's signature with the secret it was
/// given (its own HMAC, not the service's code) and answers from a
/// script, then 200.
#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    script: Arc<Mutex<Vec<u16>>>,
    got: Arc<Mutex<Vec<(String, Value, bool)>>>,
}

impl Receiver {
    fn answering(statuses: &[u16]) -> Self {
        let r = Receiver::default();
        *r.script.lock().expect("lock") = statuses.iter().rev().copied().collect();
        r
    }

    fn got(&self) -> Vec<(String, Value, bool)> {
        self.got.lock().expect("lock").clone()
    }
}

fn signed(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (
        parts.iter().find(|(k, _)| *k == "t").map(|(_, v)| *v),
        parts.iter().find(|(k, _)| *k == "v1").map(|(_, v)| *v),
    ) else {
        return false;
    };
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    hex::encode(m.finalize().into_bytes()) == v1
}

impl HookClient for Receiver {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        assert_eq!(url, "https://ops.example.com/hooks");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let ok = signed(
            &self.secret.lock().expect("lock"),
            &header("seamless-signature"),
            &body,
        );
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_eq!(
            header("seamless-webhook-id"),
            event["id"].as_str().unwrap_or_default()
        );
        self.got
            .lock()
            .expect("lock")
            .push((header("seamless-webhook-id"), event, ok));
        Answer::Status(self.script.lock().expect("lock").pop().unwrap_or(200))
    }
}

/// The queues the API and the tests share.
struct Shared(Arc<MemoryQueues>);

impl parking_app::outbox::Queues for Shared {
    async fn send(&self, m: &OutboxMessage) -> Result<(), parking_app::SendError> {
        self.0.send(m).await
    }
}

async fn at(lot: &Lot, now: Timestamp, queues: &Arc<MemoryQueues>, c: Call) -> HttpAnswer {
    let api = parking_api::Api::new(
        lot.events.store.clone(),
        Arc::new(parking_app::FixedClock(now)),
    )
    .with_queues(Arc::new(Shared(queues.clone())));
    super::api::call(&parking_api::router(Arc::new(api)), c).await
}

fn hooks_path() -> String {
    format!("/v1/operator/lots/{LOT}/webhooks")
}

async fn subscribe(lot: &Lot, events: Value, receiver: &Receiver) -> String {
    let queues = Arc::new(MemoryQueues::default());
    let a = at(
        lot,
        t("08:00:00"),
        &queues,
        Call::new("POST", hooks_path(), OP)
            .json(json!({"url": "https://ops.example.com/hooks", "events": events})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let body = a.json();
    let secret = body["secret"].as_str().expect("the secret, this once");
    assert!(secret.starts_with("whsec_") && secret.len() > 60);
    *receiver.secret.lock().expect("lock") = secret.to_owned();
    body["id"].as_str().expect("id").to_owned()
}

/// The lot's webhook events queued so far.
fn events(lot: &Lot) -> Vec<HookMessage> {
    lot.outbox()
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Webhooks(h) => Some(h),
            _ => None,
        })
        .collect()
}

fn deliveries(queues: &MemoryQueues) -> Vec<HookMessage> {
    queues
        .messages(Queue::Webhooks)
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Webhooks(h @ HookMessage::Delivery(_)) => Some(h),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_closed_stay_reaches_the_receiver_signed_after_its_retries() {
    let lot = Lot::new().await;
    // Nobody listens yet: nothing is queued for a stay.
    lot.send(&read("g-in", "in-0", AIKO, 0.97, t("07:00:00"), None))
        .await;
    lot.send(&read("g-out", "out-0", AIKO, 0.97, t("07:30:00"), None))
        .await;
    assert!(events(&lot).is_empty());

    let receiver = Receiver::answering(&[500, 503]);
    let id = subscribe(&lot, json!(["stay.closed"]), &receiver).await;
    // Listed with its health, never with its secret.
    let queues = Arc::new(MemoryQueues::default());
    let listed = at(
        &lot,
        t("08:01:00"),
        &queues,
        Call::new("GET", hooks_path(), OP),
    )
    .await;
    assert_eq!(listed.json()["items"][0]["id"], json!(id));
    assert!(!listed.text.contains("whsec_"), "{}", listed.text);

    let r = lot
        .send(&read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None))
        .await;
    assert_eq!(r.applied, 1);
    assert!(events(&lot).is_empty(), "an entry closes nothing");
    lot.send(&read("g-out", "out-1", AIKO, 0.97, t("11:00:00"), None))
        .await;
    let queued = events(&lot);
    assert_eq!(queued.len(), 1, "{queued:?}");
    let event = queued[0].clone();
    assert!(event.event().id.starts_with("stay.closed/"));

    // The event is handed to the one subscription.
    let now = t("11:00:05");
    let handed = handle(&lot.events.store, &receiver, &*queues, &event, 1, now).await;
    assert_eq!(
        handed.expect("handled"),
        Handled::Done(Outcome::HandedOn(1))
    );
    let delivery = deliveries(&queues).pop().expect("a delivery");
    // Down, down, then up: a minute, then five, between attempts.
    let first = handle(&lot.events.store, &receiver, &*queues, &delivery, 1, now).await;
    assert_eq!(
        first.expect("handled"),
        Handled::Again(SignedDuration::from_mins(1))
    );
    let now = now + SignedDuration::from_mins(1);
    let second = handle(&lot.events.store, &receiver, &*queues, &delivery, 2, now).await;
    assert_eq!(
        second.expect("handled"),
        Handled::Again(SignedDuration::from_mins(5))
    );
    let now = now + SignedDuration::from_mins(5);
    let third = handle(&lot.events.store, &receiver, &*queues, &delivery, 3, now).await;
    assert_eq!(third.expect("handled"), Handled::Done(Outcome::Delivered));

    let got = receiver.got();
    assert_eq!(got.len(), 3);
    for (webhook_id, body, ok) in &got {
        assert!(ok, "every attempt is signed with the subscription's secret");
        assert_eq!(webhook_id, &event.event().id, "the same id on every retry");
        assert_eq!(body["type"], json!("stay.closed"));
        assert_eq!(body["data"]["fee"]["currency"], json!("JPY"));
        let text = body.to_string();
        assert!(
            !text.contains("12-34") && !text.contains("d-1"),
            "no plate, no driver: {text}"
        );
    }
    // Healthy again: its failures forgotten.
    let listed = at(&lot, now, &queues, Call::new("GET", hooks_path(), OP)).await;
    let sub = &listed.json()["items"][0];
    assert_eq!(
        (sub["failures"].clone(), sub["enabled"].clone()),
        (json!(0), json!(true))
    );
    assert!(
        sub["last_success_at"].is_string() && sub["last_failure"].is_string(),
        "{sub}"
    );
}

#[tokio::test]
async fn a_receiver_that_stays_down_is_switched_off_with_a_notice_then_replayed() {
    let lot = Lot::new().await;
    let down = Receiver::answering(&[500; 64]);
    let id = subscribe(&lot, json!(["stay.closed", "lot.full"]), &down).await;
    let queues = Arc::new(MemoryQueues::default());
    let mut now = t("12:00:00");
    // Two stays close; every attempt fails.
    for (i, plate) in [AIKO, "品川 300 さ 99-99"].iter().enumerate() {
        lot.send(&read(
            "g-in",
            &format!("in-{i}"),
            plate,
            0.97,
            t("09:00:00"),
            None,
        ))
        .await;
        lot.send(&read(
            "g-out",
            &format!("out-{i}"),
            plate,
            0.97,
            t("10:00:00"),
            None,
        ))
        .await;
    }
    for event in events(&lot) {
        handle(&lot.events.store, &down, &*queues, &event, 1, now)
            .await
            .expect("handed on");
    }
    let both = deliveries(&queues);
    assert_eq!(both.len(), 2);
    // The first is tried until its attempts run out (seven): given up and
    // kept as missed.
    let mut outcome = None;
    for attempt in 1..=7 {
        now += SignedDuration::from_mins(1);
        outcome = Some(
            handle(&lot.events.store, &down, &*queues, &both[0], attempt, now)
                .await
                .expect("handled"),
        );
    }
    assert_eq!(outcome, Some(Handled::Done(Outcome::Missed)));
    // The second fails until the tenth failure in a row switches the
    // subscription off.
    let mut attempt = 0;
    loop {
        attempt += 1;
        now += SignedDuration::from_mins(1);
        let h = handle(&lot.events.store, &down, &*queues, &both[1], attempt, now)
            .await
            .expect("handled");
        if h == Handled::Done(Outcome::Missed) {
            break;
        }
        assert!(attempt < 7, "switched off before its attempts ran out");
    }
    assert_eq!(7 + attempt, DISABLE_AFTER);
    let tried = down.got().len();
    assert_eq!(tried as u32, DISABLE_AFTER);
    let listed = at(&lot, now, &queues, Call::new("GET", hooks_path(), OP)).await;
    let sub = listed.json()["items"][0].clone();
    assert_eq!(sub["enabled"], json!(false), "{sub}");
    assert_eq!(sub["missed"].as_array().map(Vec::len), Some(2), "{sub}");
    assert_eq!(sub["last_failure"], json!("answered 500"));
    let trail_before = lot
        .events
        .store
        .audit_trail(
            &LotId::parse(LOT).expect("lot"),
            t("00:00:00"),
            now + SignedDuration::from_hours(1),
        )
        .await
        .expect("trail")
        .iter()
        .filter(|e| e.action == "webhook.disabled")
        .count();
    assert_eq!(trail_before, 1, "one notice");
    assert_eq!(sub["last_failure"], json!("answered 500"));
    // The notice, in the lot's audit trail.
    let lot_id = LotId::parse(LOT).expect("lot");
    let trail = lot
        .events
        .store
        .audit_trail(&lot_id, t("00:00:00"), now + SignedDuration::from_hours(1))
        .await
        .expect("trail");
    let notice = trail
        .iter()
        .find(|e| e.action == "webhook.disabled")
        .expect("a notice");
    assert_eq!(notice.target, id);
    assert!(
        notice.note.contains("10 failed attempts"),
        "{}",
        notice.note
    );
    // While off, nothing more is posted.
    let again = handle(&lot.events.store, &down, &*queues, &both[0], 1, now).await;
    assert_eq!(again.expect("handled"), Handled::Done(Outcome::Missed));
    assert_eq!(down.got().len(), tried);
    // A stay that closes while it is off is kept as missed, not sent.
    let before = events(&lot).len();
    lot.send(&read("g-in", "in-9", AIKO, 0.97, t("11:00:00"), None))
        .await;
    lot.send(&read("g-out", "out-9", AIKO, 0.97, t("11:30:00"), None))
        .await;
    let third = events(&lot).split_off(before);
    assert_eq!(third.len(), 1);
    let handed = handle(&lot.events.store, &down, &*queues, &third[0], 1, now).await;
    assert_eq!(
        handed.expect("handled"),
        Handled::Done(Outcome::HandedOn(0))
    );
    assert_eq!(down.got().len(), tried);

    // Replay waits until it is on again.
    let replay = format!("{}/{id}/replay", hooks_path());
    let a = at(&lot, now, &queues, Call::new("POST", &replay, OP)).await;
    assert_eq!((a.status, a.code()), (409, "webhook_disabled".to_owned()));
    let a = at(
        &lot,
        now,
        &queues,
        Call::new("POST", format!("{}/{id}/enable", hooks_path()), OP),
    )
    .await;
    assert_eq!((a.status, a.json()["enabled"].clone()), (200, json!(true)));
    let before = deliveries(&queues).len();
    let a = at(&lot, now, &queues, Call::new("POST", &replay, OP)).await;
    assert_eq!(
        (a.status, a.json()["replayed"].clone()),
        (200, json!(3)),
        "{}",
        a.text
    );
    let replayed: Vec<HookMessage> = deliveries(&queues).split_off(before);
    let ids: Vec<&str> = replayed.iter().map(|m| m.event().id.as_str()).collect();
    let originals: Vec<&str> = both
        .iter()
        .chain(&third)
        .map(|m| m.event().id.as_str())
        .collect();
    assert_eq!(ids, originals, "the same events, with their own ids");
    // The receiver is back: both arrive, signed.
    let up = down.clone();
    *up.script.lock().expect("lock") = Vec::new();
    for m in &replayed {
        let h = handle(&lot.events.store, &up, &*queues, m, 1, now)
            .await
            .expect("handled");
        assert_eq!(h, Handled::Done(Outcome::Delivered));
    }
    assert!(up.got().iter().all(|(_, _, ok)| *ok));
    let listed = at(&lot, now, &queues, Call::new("GET", hooks_path(), OP)).await;
    assert_eq!(listed.json()["items"][0]["missed"], json!([]));
    // Each change is audited.
    let trail = lot
        .events
        .store
        .audit_trail(&lot_id, t("00:00:00"), now + SignedDuration::from_hours(1))
        .await
        .expect("trail");
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "webhook.created",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.replayed",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
}

#[tokio::test]
async fn subscriptions_are_checked_and_bounded() {
    let lot = Lot::new().await;
    let queues = Arc::new(MemoryQueues::default());
    let post = |body: Value| Call::new("POST", hooks_path(), OP).json(body);
    for (body, field) in [
        (
            json!({"url": "http://ops.example.com/h", "events": ["stay.closed"]}),
            "body.url",
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["stay.closed"]}),
            "body.url",
        ),
        (
            json!({"url": "https://ops.example.com/h", "events": []}),
            "body.events",
        ),
        (
            json!({"url": "https://ops.example.com/h", "events": ["stay.opened"]}),
            "body.events[0]",
        ),
    ] {
        let a = at(&lot, t("08:00:00"), &queues, post(body)).await;
        assert_eq!(a.status, 422, "{}", a.text);
        assert_eq!(a.json()["errors"][0]["field"], json!(field), "{}", a.text);
    }
    for _ in 0..10 {
        let a = at(
            &lot,
            t("08:00:00"),
            &queues,
            post(json!({"url": "https://ops.example.com/h", "events": ["lot.full"]})),
        )
        .await;
        assert_eq!(a.status, 201);
    }
    let a = at(
        &lot,
        t("08:00:00"),
        &queues,
        post(json!({"url": "https://ops.example.com/h", "events": ["lot.full"]})),
    )
    .await;
    assert_eq!((a.status, a.code()), (409, "too_many_webhooks".to_owned()));
    // Another lot's operator sees none of them.
    let other = Who::Role("op-2", "operator", "shinjuku-east");
    let a = at(
        &lot,
        t("08:00:00"),
        &queues,
        Call::new("GET", hooks_path(), other),
    )
    .await;
    assert_eq!(a.status, 403);
    // A removed one is gone; an unknown id is 404.
    let listed = at(
        &lot,
        t("08:00:00"),
        &queues,
        Call::new("GET", hooks_path(), OP),
    )
    .await;
    let first = listed.json()["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = at(
        &lot,
        t("08:00:00"),
        &queues,
        Call::new("DELETE", format!("{}/{first}", hooks_path()), OP),
    )
    .await;
    assert_eq!(a.status, 204);
    let a = at(
        &lot,
        t("08:00:00"),
        &queues,
        Call::new("DELETE", format!("{}/{first}", hooks_path()), OP),
    )
    .await;
    assert_eq!(a.status, 404);
}

/// A signature header and the body it came with.
type Posted = (String, Vec<u8>);

/// The HTTP client against a real receiver on this machine: it posts the
/// body and headers; without the test allowance it refuses the address.
#[tokio::test]
async fn the_http_client_posts_and_refuses_private_addresses() {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<Posted>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/hooks",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let sig = headers
                        .get("seamless-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    kept.lock().expect("lock").push((sig, body.to_vec()));
                    axum::http::StatusCode::ACCEPTED
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/hooks");
    let secret = parking_app::hooks::Secret::from_text("whsec_local");
    let body = br#"{"id":"lot.full/x"}"#.to_vec();
    let now = Timestamp::now();
    let header = parking_app::hooks::sign(&secret, now, &body);
    let local = parking_aws::hook_client::HttpHookClient::for_local_tests().expect("client");
    let answer = local
        .post(
            &url,
            &[("seamless-signature", header.clone())],
            body.clone(),
        )
        .await;
    assert_eq!(answer, Answer::Status(202));
    let got = seen.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert!(parking_app::hooks::verify(
        &secret,
        &got[0].0,
        &got[0].1,
        Timestamp::now()
    ));
    // The deployed client: the loopback is not a public address.
    let deployed = parking_aws::hook_client::HttpHookClient::new().expect("client");
    let refused = deployed.post(&url, &[], body).await;
    assert!(matches!(refused, Answer::Unreachable(_)), "{refused:?}");
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

/// A device going offline is told once per time offline: disconnected (a
/// repeat or a late disconnect tells nothing more), or silent beyond the
/// lot's timeout; nothing else is queued for a lot that wants only this.
#[tokio::test]
async fn a_device_going_offline_is_told_once_each_time() {
    let lot = Lot::new().await;
    let receiver = Receiver::default();
    subscribe(&lot, json!(["device.offline"]), &receiver).await;
    let presence = |kind: &str, version: u64, at: Timestamp| {
        json!({"topic": format!("$aws/events/presence/{kind}/cam-out"), "clientid": "cam-out",
               "received_at": at.as_millisecond(), "clientId": "cam-out",
               "timestamp": at.as_millisecond(), "eventType": kind, "versionNumber": version})
    };
    lot.send(&presence("connected", 1, t("09:00:00"))).await;
    lot.send(&presence("disconnected", 1, t("14:00:00"))).await;
    lot.send(&presence("disconnected", 1, t("14:00:00"))).await;
    lot.send(&presence("connected", 2, t("16:00:00"))).await;
    let late = lot.send(&presence("disconnected", 1, t("14:00:00"))).await;
    assert_eq!(late.stale, 1);
    // A stay closes meanwhile: not wanted here.
    lot.send(&read("g-in", "in-1", AIKO, 0.97, t("15:00:00"), None))
        .await;
    lot.send(&read("g-out", "out-1", AIKO, 0.97, t("15:30:00"), None))
        .await;
    let told: Vec<(String, Value)> = events(&lot)
        .iter()
        .map(|m| (m.event().id.clone(), m.event().data.clone()))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].0.starts_with("device.offline/cam-out/1-"),
        "{told:?}"
    );
    assert_eq!(told[0].1["reason"], json!("disconnected"));
    // Silent past the timeout after its reconnection: told again.
    let swept = parking_app::usecases::sweeps::silent_devices(
        &lot.events.store,
        t("16:30:00"),
        parking_app::usecases::sweeps::BUDGET,
    )
    .await
    .expect("swept");
    assert!(swept.acted >= 1);
    let told: Vec<Value> = events(&lot)
        .iter()
        .map(|m| m.event().data.clone())
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[1]["reason"], json!("silent"));
    assert_eq!(told[1]["device_id"], json!("cam-out"));
}

/// A fake SQS visibility: the pauses asked for, by receipt.
#[derive(Default)]
struct Pauses(Mutex<Vec<(String, i32)>>);

impl parking_aws::lambda::Redelivery for Pauses {
    async fn delay(&self, receipt: &str, seconds: i32) {
        self.0
            .lock()
            .expect("lock")
            .push((receipt.to_owned(), seconds));
    }
}

/// The Lambda glue: a batch with two deliveries for one subscription and
/// one for another. The first fails: it comes back after the protocol's
/// pause, and the second of its group comes back untouched behind it;
/// the other subscription's is delivered; a body that is no message is
/// reported, never dropped.
#[tokio::test]
async fn a_batch_holds_back_a_subscriptions_later_deliveries_behind_a_failure() {
    let lot = Lot::new().await;
    let down = Receiver::answering(&[500]);
    let first = subscribe(&lot, json!(["stay.closed"]), &down).await;
    let second = subscribe(&lot, json!(["stay.closed"]), &down).await;
    let event = |n: u32| {
        parking_app::hooks::LotEvent::new(
            parking_app::hooks::EventType::StayClosed,
            LotId::parse(LOT).expect("lot"),
            &format!("s-{n}"),
            t("12:00:00"),
            json!({"session_id": format!("s-{n}")}),
        )
    };
    let delivery = |sub: &str, n: u32| {
        HookMessage::Delivery(parking_app::hooks::Delivery {
            lot_id: LotId::parse(LOT).expect("lot"),
            subscription_id: sub.to_owned(),
            event: event(n),
            replay: 0,
        })
    };
    let record = |id: &str, m: &HookMessage| {
        json!({"messageId": id, "receiptHandle": format!("r-{id}"),
               "body": serde_json::to_string(m).expect("json"),
               "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": m.group()},
               "messageAttributes": {}, "eventSource": "aws:sqs"})
    };
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(json!({"Records": [
            record("m1", &delivery(&first, 1)),
            record("m2", &delivery(&first, 2)),
            record("m3", &delivery(&second, 3)),
            {"messageId": "m4", "receiptHandle": "r-m4", "body": "{not a message",
             "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "x"},
             "messageAttributes": {}},
        ]}))
        .expect("an SQS event");
    let pauses = Pauses::default();
    let queues = MemoryQueues::default();
    let answer = parking_aws::lambda::deliver_webhooks(
        &lot.events.store,
        &down,
        &queues,
        &pauses,
        batch,
        t("12:00:05"),
    )
    .await;
    let failed: Vec<String> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["m1", "m2", "m4"]);
    assert_eq!(*pauses.0.lock().expect("lock"), [("r-m1".to_owned(), 60)]);
    // Posted: m1 (down) and m3 (up); m2 waits behind m1.
    let posted: Vec<String> = down.got().iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(posted, ["stay.closed/s-1", "stay.closed/s-3"]);
}
