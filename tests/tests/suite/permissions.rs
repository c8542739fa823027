//! Least privilege that still works: every DynamoDB action a function's
//! code performs (recorded from the requests it sends to the local
//! endpoint, transactions opened up into their item actions) is allowed by
//! that function's policy in the SAM template, and the gate function may
//! publish only to gate command topics.

use std::collections::BTreeSet;

use parking_app::scenario::{Scenario, set_up};
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::{BayId, Device, DeviceId, DeviceKind, GateId, LotId};
use parking_app::{LotStore, OutboxStore, SessionStore};
use parking_aws::{MemoryLink, MemoryQueues};
use parking_tests::{Sent, faulty_dynamo_store, faulty_http};
use serde_json::Value;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The IAM actions a list of requests needs.
fn actions(sent: &[Sent]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in sent {
        if s.operation == "TransactWriteItems" {
            let body: Value = serde_json::from_str(&s.body).expect("body");
            for item in body["TransactItems"].as_array().expect("items") {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if item.get(kind).is_some() {
                        out.insert(format!("dynamodb:{action}"));
                    }
                }
            }
        } else {
            out.insert(format!("dynamodb:{}", s.operation));
        }
    }
    out
}

/// The DynamoDB actions a function's policy statements allow.
fn allowed(function: &str) -> BTreeSet<String> {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let policies = &doc["Resources"][function]["Properties"]["Policies"];
    let mut out = BTreeSet::new();
    for p in policies.as_sequence().expect("policies") {
        for st in p["Statement"].as_sequence().into_iter().flatten() {
            match &st["Action"] {
                serde_norway::Value::String(a) => {
                    out.insert(a.clone());
                }
                serde_norway::Value::Sequence(v) => {
                    out.extend(v.iter().filter_map(|a| a.as_str().map(str::to_owned)));
                }
                _ => {}
            }
        }
    }
    out.retain(|a| a.starts_with("dynamodb:"));
    out
}

fn day_one() -> Scenario {
    Scenario::parse(include_str!("../../../fixtures/scenarios/day-one.json")).expect("scenario")
}

#[tokio::test]
async fn every_function_may_do_what_its_code_does_on_dynamodb() {
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let sc = day_one();
    let first = sc.messages[0].received_at;
    set_up(&events.store, &sc, first).await.expect("set up");
    faults.take();
    // Each message kind through the handler, as its function would run it.
    let mut by_kind: [(&str, Vec<Sent>); 4] = [
        ("GateEventsFunction", Vec::new()),
        ("BayEventsFunction", Vec::new()),
        ("DevicePresenceFunction", Vec::new()),
        ("GateBacklogFunction", Vec::new()),
    ];
    for m in &sc.messages {
        events
            .handle(&m.delivered(), m.received_at)
            .await
            .expect("handled");
        let sent = faults.take();
        let slot = if m.topic.contains("/bays/") {
            1
        } else if m.topic.starts_with("$aws/") {
            2
        } else if m.topic.ends_with("/backlog") {
            3
        } else {
            0
        };
        by_kind[slot].1.extend(sent);
    }
    for (function, sent) in &by_kind {
        let needed = actions(sent);
        assert!(!needed.is_empty(), "{function}");
        let allowed = allowed(function);
        let missing: Vec<&String> = needed.difference(&allowed).collect();
        assert!(missing.is_empty(), "{function} lacks {missing:?}");
    }
    // The forwarder: the stream's new outbox items, delivered and marked.
    let queues = MemoryQueues::default();
    let pending = events.store.outbox_pending(100).await.expect("pending");
    assert!(!pending.is_empty());
    faults.take();
    parking_app::usecases::outbox::forward(&events.store, &queues, &pending)
        .await
        .map_err(|(_, e)| e)
        .expect("forward");
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:BatchWriteItem"), "{needed:?}");
    let forwarder = allowed("OutboxForwarderFunction");
    let missing: Vec<&String> = needed.difference(&forwarder).collect();
    assert!(missing.is_empty(), "the forwarder lacks {missing:?}");

    // The allow-lists: the day's stays merged into their lots' lists and
    // sent to the gates, and a gate registered later sent its lot's list.
    use parking_app::usecases::allow_list;
    let link = MemoryLink::default();
    let marks: Vec<_> = events
        .store
        .lot_sessions(&sc.lot.id)
        .await
        .expect("stays")
        .iter()
        .filter_map(allow_list::mark_of_session)
        .collect();
    assert!(!marks.is_empty());
    faults.take();
    let last = sc.messages.last().expect("messages").received_at;
    let merged = allow_list::merge(&events.store, &link, &sc.lot.id, &marks, last)
        .await
        .expect("merged");
    assert!(merged.written, "{merged:?}");
    let gate = events
        .store
        .lot_config(&sc.lot.id)
        .await
        .expect("config")
        .devices
        .into_iter()
        .find(|d| d.gate_id.is_some())
        .expect("a gate device");
    allow_list::welcome(&events.store, &MemoryLink::default(), &gate, last)
        .await
        .expect("welcomed");
    let refreshed = allow_list::refresh_all(&events.store, &link, last)
        .await
        .expect("refreshed");
    assert!(refreshed.pushed > 0, "{refreshed:?}");
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:PutItem"), "{needed:?}");
    let lists = allowed("AllowListsFunction");
    let missing: Vec<&String> = needed.difference(&lists).collect();
    assert!(
        missing.is_empty(),
        "the allow-list function lacks {missing:?}"
    );
}

#[test]
fn the_gate_function_publishes_only_to_gate_command_topics() {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let statements =
        doc["Resources"]["GateEventsFunction"]["Properties"]["Policies"][0]["Statement"]
            .as_sequence()
            .expect("statements")
            .clone();
    let publish: Vec<&serde_norway::Value> = statements
        .iter()
        .filter(|s| s["Action"].as_str() == Some("iot:Publish"))
        .collect();
    assert_eq!(publish.len(), 1);
    let resource = format!("{:?}", publish[0]["Resource"]);
    assert!(
        resource.contains("topic/parking/*/gates/*/commands"),
        "{resource}"
    );
    for other in [
        "BayEventsFunction",
        "OutboxForwarderFunction",
        "AllowListsFunction",
    ] {
        assert!(
            !format!("{:?}", doc["Resources"][other]).contains("iot:Publish"),
            "{other}"
        );
    }
}

#[tokio::test]
async fn the_driver_api_may_do_what_its_routes_do_on_dynamodb() {
    use crate::api::{Call, Who, call};
    use serde_json::json;
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let sc = day_one();
    for m in std::iter::once(&sc.messages[0]) {
        set_up(&events.store, &sc, m.received_at)
            .await
            .expect("set up");
    }
    for m in &sc.messages {
        events
            .handle(&m.delivered(), m.received_at)
            .await
            .expect("handled");
    }
    let clock = parking_app::FixedClock("2026-12-01T00:00:00Z".parse().expect("time"));
    let app = parking_api::router(std::sync::Arc::new(parking_api::Api::new(
        events.store,
        std::sync::Arc::new(clock),
    )));
    faults.take();
    let d = Who::Driver("d-1");
    let calls = vec![
        Call::new("PUT", "/v1/me", d.clone()).json(json!({"name": "Aiko"})),
        Call::new("GET", "/v1/me", d.clone()),
        Call::new("POST", "/v1/me/vehicles", d.clone()).json(json!({"plate": "品川 300 さ 55-55"})),
        Call::new("GET", "/v1/me/vehicles", d.clone()),
        Call::new(
            "DELETE",
            "/v1/me/vehicles/%E5%93%81%E5%B7%9D300%E3%81%955555",
            d.clone(),
        ),
        Call::new("POST", "/v1/me/payment-methods", d.clone())
            .json(json!({"token": "pm_card_jcb", "brand": "jcb", "last4": "0000"})),
        Call::new("GET", "/v1/me/payment-methods", d.clone()),
        Call::new("GET", "/v1/lots", d.clone()),
        Call::new(
            "GET",
            "/v1/lots/shinjuku-west/quote?entry=2026-12-02T10:00:00Z&exit=2026-12-02T11:00:00Z",
            d.clone(),
        ),
        Call::new("POST", "/v1/me/reservations", d.clone())
            .header("idempotency-key", "perm-1")
            .json(
                json!({"lot_id": "shinjuku-west", "plate": "品川 300 さ 12-34",
                         "start": "2026-12-02T10:00:00Z", "end": "2026-12-02T11:00:00Z"}),
            ),
        Call::new("GET", "/v1/me/reservations", d.clone()),
        Call::new("GET", "/v1/me/sessions", d.clone()),
    ];
    for c in calls {
        let a = call(&app, c).await;
        assert!(a.status < 300, "{} {}", a.status, a.text);
    }
    // Cancel and remove what was made, and read a receipt.
    let r = call(&app, Call::new("GET", "/v1/me/reservations", d.clone())).await;
    let id = r.json()["items"][0]["id"].as_str().expect("id").to_owned();
    let a = call(
        &app,
        Call::new("DELETE", format!("/v1/me/reservations/{id}"), d.clone()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let m = call(&app, Call::new("GET", "/v1/me/payment-methods", d.clone())).await;
    for item in m.json()["items"].as_array().cloned().unwrap_or_default() {
        let id = item["id"].as_str().expect("id");
        if id != "pm-1" {
            let a = call(
                &app,
                Call::new("DELETE", format!("/v1/me/payment-methods/{id}"), d.clone()),
            )
            .await;
            assert_eq!(a.status, 204);
        }
    }
    let s = call(&app, Call::new("GET", "/v1/me/sessions", d.clone())).await;
    let id = s.json()["items"][0]["id"].as_str().expect("id").to_owned();
    call(
        &app,
        Call::new("GET", format!("/v1/me/sessions/{id}/receipt"), d.clone()),
    )
    .await;
    // A claim's proof, and a driver with a claim erasing the account.
    let gone = Who::Driver("d-gone");
    for c in [
        Call::new("PUT", "/v1/me", gone.clone()).json(json!({"name": "Gone"})),
        Call::new("POST", "/v1/me/vehicles", gone.clone())
            .json(json!({"plate": "品川 300 さ 66-66"})),
    ] {
        assert!(call(&app, c).await.status < 300);
    }
    let proof = call(
        &app,
        Call::new(
            "POST",
            "/v1/me/vehicles/%E5%93%81%E5%B7%9D300%E3%81%956666/proof",
            gone.clone(),
        )
        .json(json!({"code": "123456"})),
    )
    .await;
    assert_eq!(proof.status, 422, "no code was shown: {}", proof.text);
    let a = call(&app, Call::new("DELETE", "/v1/me", gone)).await;
    assert_eq!(a.status, 204, "{}", a.text);
    let needed = actions(&faults.take());
    assert!(
        needed.contains("dynamodb:Query") && needed.contains("dynamodb:DeleteItem"),
        "{needed:?}"
    );
    let allowed = allowed("DriverApiFunction");
    let missing: Vec<&String> = needed.difference(&allowed).collect();
    assert!(missing.is_empty(), "the driver API lacks {missing:?}");
}

#[tokio::test]
async fn the_operator_api_may_do_what_its_routes_do_on_dynamodb() {
    use crate::api::{Call, Who, call};
    use serde_json::json;
    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let sc = day_one();
    set_up(&events.store, &sc, sc.messages[0].received_at)
        .await
        .expect("set up");
    for m in &sc.messages {
        events
            .handle(&m.delivered(), m.received_at)
            .await
            .expect("handled");
    }
    let clock = parking_app::FixedClock("2026-11-30T23:00:00Z".parse().expect("time"));
    let api = parking_api::Api::new(events.store, std::sync::Arc::new(clock))
        .with_link(std::sync::Arc::new(MemoryLink::default()));
    let app = parking_api::router(std::sync::Arc::new(api));
    faults.take();
    let op = Who::Role("op-1", "operator", "shinjuku-west");
    let lot = "/v1/operator/lots/shinjuku-west";
    let got = call(&app, Call::new("GET", lot, op.clone())).await;
    let body = got.json();
    let mut calls = vec![
        Call::new("GET", "/v1/operator/lots", op.clone()),
        Call::new("PUT", lot, op.clone())
            .header("if-match", "\"0\"")
            .json(json!({"name": body["name"], "time_zone": body["time_zone"],
                         "capacity": body["capacity"], "reservable": body["reservable"],
                         "slot_minutes": body["slot_minutes"], "settings": body["settings"]})),
        Call::new("GET", format!("{lot}/gates"), op.clone()),
        Call::new("PUT", format!("{lot}/devices/cam-in-9"), op.clone())
            .json(json!({"kind": "camera", "gate_id": "g-in-9"})),
        Call::new("PUT", format!("{lot}/gates/g-in-9"), op.clone())
            .json(json!({"direction": "entry", "camera_id": "cam-in-9"})),
        Call::new("GET", format!("{lot}/devices"), op.clone()),
        Call::new("GET", format!("{lot}/bays"), op.clone()),
        Call::new("GET", format!("{lot}/tariffs"), op.clone()),
        Call::new("POST", format!("{lot}/tariffs"), op.clone()).json(json!({
            "effective_from": "2026-12-05T00:00:00+09:00",
            "tariff": serde_json::to_value(&sc.tariff).expect("json"),
        })),
        Call::new("GET", format!("{lot}/reviews"), op.clone()),
        Call::new("GET", format!("{lot}/dashboard"), op.clone()),
        Call::new("GET", format!("{lot}/forecast"), op.clone()),
        Call::new("GET", format!("{lot}/flags"), op.clone()),
        Call::new("PUT", format!("{lot}/flags/reservations"), op.clone())
            .json(json!({"state": "off", "note": "pilot"})),
        Call::new("POST", format!("{lot}/gates/g-out/open"), op.clone())
            .json(json!({"note": "stuck barrier"})),
        Call::new("POST", format!("{lot}/passes"), op.clone())
            .header("idempotency-key", "perm-pass")
            .json(
                json!({"plate": "品川 500 あ 77-01", "valid_from": "2026-12-01T00:00:00+09:00",
                         "valid_until": "2026-12-31T00:00:00+09:00"}),
            ),
        Call::new("GET", format!("{lot}/passes"), op.clone()),
        Call::new(
            "GET",
            format!("{lot}/reports/daily?date=2026-11-30"),
            op.clone(),
        ),
        Call::new("GET", format!("{lot}/audit?date=2026-12-01"), op.clone()),
        Call::new(
            "GET",
            "/v1/kiosk/lots/shinjuku-west/sessions?digits=1122",
            Who::Role("kiosk-1", "kiosk", "shinjuku-west"),
        ),
        Call::new("GET", format!("{lot}/approvals"), op.clone()),
        Call::new(
            "GET",
            "/v1/support/plate-claims",
            Who::Role("help-1", "support", ""),
        ),
    ];
    let s = call(&app, Call::new("GET", format!("{lot}/reviews"), op.clone())).await;
    if let Some(id) = s.json()["items"][0]["id"].as_str() {
        calls.push(
            Call::new(
                "POST",
                format!("{lot}/sessions/{id}/resolution"),
                op.clone(),
            )
            .json(json!({"action": "void", "note": "duplicate read"})),
        );
    }
    for c in calls {
        let a = call(&app, c).await;
        assert!(a.status < 300, "{} {}", a.status, a.text);
    }
    let needed = actions(&faults.take());
    assert!(
        needed.contains("dynamodb:Query") && needed.contains("dynamodb:BatchGetItem"),
        "{needed:?}"
    );
    let allowed = allowed("OperatorApiFunction");
    let missing: Vec<&String> = needed.difference(&allowed).collect();
    assert!(missing.is_empty(), "the operator API lacks {missing:?}");
}

/// The payments function (charges that succeed and fail, a refund) and the
/// sweeps (every one of them with work to do) and the forecasts may do
/// what their code does.
#[tokio::test]
async fn settlement_the_sweeps_and_the_forecasts_may_do_what_their_code_does_on_dynamodb() {
    use parking_app::outbox::{OutboxMessage, PaymentKind};
    use parking_app::usecases::settle::settle_order;
    use parking_app::usecases::sweeps::sweep_all;
    use parking_app::*;

    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let events = DeviceEvents::new(
        store,
        MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let sc = day_one();
    let first = sc.messages[0].received_at;
    set_up(&events.store, &sc, first).await.expect("set up");
    let mut lot = events.store.lot_config(&sc.lot.id).await.expect("lot").lot;
    lot.settings.no_show_fee = 500;
    events.store.put_lot(&lot).await.expect("lot");
    for m in &sc.messages {
        events
            .handle(&m.delivered(), m.received_at)
            .await
            .expect("handled");
    }
    let orders: Vec<_> = events
        .store
        .outbox_pending(100)
        .await
        .expect("pending")
        .into_iter()
        .filter_map(|m| match m {
            OutboxMessage::Payments(o) => Some(o),
            OutboxMessage::Notifications(_) | OutboxMessage::Webhooks(_) => None,
        })
        .collect();
    assert!(orders.iter().any(|o| o.kind == PaymentKind::Charge));
    let provider = parking_aws::DevProvider::default();
    let last = sc.messages.last().map_or(first, |m| m.received_at);
    faults.take();
    for o in &orders {
        settle_order(&events.store, &provider, o, last)
            .await
            .expect("settled");
    }
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:PutItem"), "{needed:?}");
    let payments = allowed("PaymentsFunction");
    let missing: Vec<&String> = needed.difference(&payments).collect();
    assert!(
        missing.is_empty(),
        "the payments function lacks {missing:?}"
    );

    // A week later every sweep has something to look at.
    let later = last + jiff::SignedDuration::from_hours(24 * 7);
    faults.take();
    sweep_all(&events.store, &MemoryQueues::default(), later)
        .await
        .expect("swept");
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:Query"), "{needed:?}");
    let sweeps = allowed("SweepsFunction");
    let missing: Vec<&String> = needed.difference(&sweeps).collect();
    assert!(missing.is_empty(), "the sweeps lack {missing:?}");

    // The forecasts function learns from the day's stays and stores the
    // forecast; its second run that day finds it made.
    use parking_app::usecases::forecast::refresh_all;
    faults.take();
    let report = refresh_all(&events.store, last).await.expect("forecasts");
    assert_eq!((report.made, report.failed.len()), (1, 0), "{report:?}");
    let again = refresh_all(&events.store, last).await.expect("forecasts");
    assert_eq!(again.fresh, 1);
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:PutItem"), "{needed:?}");
    let forecasts = allowed("ForecastsFunction");
    let missing: Vec<&String> = needed.difference(&forecasts).collect();
    assert!(
        missing.is_empty(),
        "the forecasts function lacks {missing:?}"
    );
}

/// The functions that book their usage to a lot's day (the gate and bay
/// functions, the outbox forwarder, the payments function; presence
/// events are no lot's) may do what the booking does.
#[tokio::test]
async fn the_functions_that_record_usage_may_do_what_recording_does_on_dynamodb() {
    use parking_app::usecases::cost::{Usage, UsageBuffer};

    let faults = faulty_http().await;
    let store = faulty_dynamo_store(&faults, None).await;
    let sc = day_one();
    let first = sc.messages[0].received_at;
    set_up(&store, &sc, first).await.expect("set up");
    let buffer = UsageBuffer::new(jiff::SignedDuration::from_secs(60));
    buffer.add(
        &sc.lot.id,
        first,
        &Usage {
            dynamodb_read_units: 3.0,
            lambda_invocations: 1,
            ..Usage::default()
        },
    );
    faults.take();
    assert_eq!(buffer.flush_if_due(&store, first).await.expect("flush"), 1);
    let needed = actions(&faults.take());
    assert!(needed.contains("dynamodb:UpdateItem"), "{needed:?}");
    for function in [
        "GateEventsFunction",
        "BayEventsFunction",
        "OutboxForwarderFunction",
        "AllowListsFunction",
        "PaymentsFunction",
    ] {
        let allowed = allowed(function);
        let missing: Vec<&String> = needed.difference(&allowed).collect();
        assert!(missing.is_empty(), "{function} lacks {missing:?}");
    }
}

/// CloudWatch can publish the alarms: their topic is under a key of the
/// stack's own whose policy lets CloudWatch use it (the AWS managed
/// `alias/aws/sns` key cannot), and the topic lets CloudWatch publish.
#[test]
fn cloudwatch_may_publish_to_the_alarm_topic() {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let r = &doc["Resources"];
    let key = format!("{:?}", r["AlarmTopic"]["Properties"]["KmsMasterKeyId"]);
    assert!(key.contains("AlarmKey"), "{key}");
    assert!(!key.contains("alias/aws/sns"), "{key}");
    let statements = r["AlarmKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("key policy");
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com"))
        .expect("a statement for CloudWatch");
    let actions = format!("{:?}", cloudwatch["Action"]);
    assert!(actions.contains("kms:Decrypt") && actions.contains("kms:GenerateDataKey*"));
    let topic_policy = format!("{:?}", r["AlarmTopicPolicy"]["Properties"]);
    assert!(
        topic_policy.contains("cloudwatch.amazonaws.com") && topic_policy.contains("sns:Publish")
    );
    // Every alarm publishes to that topic.
    for (name, resource) in r.as_mapping().expect("resources") {
        if resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm") {
            let actions = format!("{:?}", resource["Properties"]["AlarmActions"]);
            assert!(actions.contains("AlarmTopic"), "{name:?}: {actions}");
        }
    }
}

/// Every string in a template value, through `!Sub` and other tags.
fn strings(v: &serde_norway::Value) -> Vec<String> {
    match v {
        serde_norway::Value::String(s) => vec![s.clone()],
        serde_norway::Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        serde_norway::Value::Mapping(m) => m.values().flat_map(strings).collect(),
        serde_norway::Value::Tagged(t) => strings(&t.value),
        _ => Vec::new(),
    }
}

/// A device is its certificate's thing: every statement of every device
/// policy names its resources through the connection's thing (its name
/// or its `lot`, `gate`, `bay` attributes), connecting needs the thing
/// attached, and no device policy lets a device publish on a command
/// topic. The device rules carry the broker's identity, never a payload's
/// (a payload that brings its own `topic`, `clientid` or `received_at`
/// is dropped), and presence comes from device clients only.
#[test]
fn device_policies_bind_every_device_to_its_own_thing_and_topics() {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let r = doc["Resources"].as_mapping().expect("resources");
    let mut policies = 0;
    for (name, resource) in r {
        if resource["Type"].as_str() != Some("AWS::IoT::Policy") {
            continue;
        }
        if name.as_str() == Some("ClaimPolicy") {
            // The fleet's claim certificate: connect as `claim-…`, and
            // only the provisioning topics; nothing of the lots'.
            let statements = resource["Properties"]["PolicyDocument"]["Statement"]
                .as_sequence()
                .expect("statements");
            for st in statements {
                for res in strings(&st["Resource"]) {
                    let tail = res
                        .rsplit_once(":client/")
                        .or_else(|| res.split_once(":topic/"))
                        .or_else(|| res.split_once(":topicfilter/"))
                        .map(|(_, t)| t.to_owned())
                        .expect("a client or topic");
                    assert!(
                        tail == "claim-*"
                            || tail.starts_with("$aws/certificates/create/")
                            || tail.starts_with(
                                "$aws/provisioning-templates/seamless-parking-${Stage}-"
                            ),
                        "the claim policy grants {res}"
                    );
                }
            }
            continue;
        }
        policies += 1;
        let statements = resource["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("statements");
        for st in statements {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{name:?}");
            let actions = strings(&st["Action"]);
            let resources = strings(&st["Resource"]);
            assert!(!resources.is_empty(), "{name:?}: {actions:?}");
            if actions == ["iot:AssumeRoleWithCertificate"] {
                // A camera's credentials to upload frames: the role alias's
                // role allows only the thing's own prefix.
                assert_eq!(name.as_str(), Some("GateDevicePolicy"));
                assert_eq!(resources, ["FrameUploadRoleAlias.RoleAliasArn"]);
                let role = &r["FrameUploadRole"]["Properties"];
                assert_eq!(
                    strings(&role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]),
                    ["credentials.iot.amazonaws.com"]
                );
                let granted = strings(&role["Policies"][0]["PolicyDocument"]["Statement"]);
                assert_eq!(
                    granted,
                    [
                        "Allow",
                        "s3:PutObject",
                        "${EvidenceBucket.Arn}/frames/*/${!credentials-iot:ThingName}/*"
                    ],
                    "a camera uploads under its own name only"
                );
                continue;
            }
            for res in &resources {
                assert!(
                    res.contains("${!iot:Connection.Thing.ThingName}")
                        || (res.contains("${!iot:Connection.Thing.Attributes[lot]}")
                            && (res.contains("${!iot:Connection.Thing.Attributes[gate]}")
                                || res.contains("${!iot:Connection.Thing.Attributes[bay]}"))),
                    "{name:?}: {res} is not bound to the connection's thing"
                );
                assert!(!res.contains('*') && !res.contains('+'), "{name:?}: {res}");
            }
            if actions.iter().any(|a| a == "iot:Publish") {
                for res in &resources {
                    assert!(
                        !res.ends_with("/commands"),
                        "{name:?} lets a device publish a command: {res}"
                    );
                }
            }
            if actions.iter().any(|a| a == "iot:Connect") {
                let condition = format!("{:?}", st["Condition"]);
                assert!(
                    condition.contains("iot:Connection.Thing.IsAttached"),
                    "{name:?}: {condition}"
                );
            }
        }
    }
    assert_eq!(policies, 2, "a gate policy and a bay sensor policy");
    // The policies grant exactly what `device_access::grants` says, which
    // the local broker's access list is made from.
    for (policy, kind) in [
        ("GateDevicePolicy", DeviceKind::Camera),
        ("BaySensorPolicy", DeviceKind::BaySensor),
    ] {
        let device = Device {
            id: DeviceId::parse("thing-a").expect("id"),
            lot_id: LotId::parse("lot-1").expect("id"),
            kind,
            gate_id: Some(GateId::parse("in-1").expect("id")),
            bay_id: Some(BayId::parse("b-7").expect("id")),
            presence: None,
        };
        let want = parking_app::device_access::grants(&device, "dev").expect("grants");
        let rule = parking_app::device_access::bay_rule("dev");
        let statements = r[policy]["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("statements");
        let granted = |action: &str, prefix: &str| -> Vec<String> {
            let mut out: Vec<String> = statements
                .iter()
                .filter(|st| strings(&st["Action"]).iter().any(|a| a == action))
                .flat_map(|st| strings(&st["Resource"]))
                .map(|res| {
                    let (_, tail) = res.split_once(prefix).expect("resource of its kind");
                    tail.replace("${BayEventsRule}", &rule)
                        .replace("${!iot:Connection.Thing.ThingName}", "thing-a")
                        .replace("${!iot:Connection.Thing.Attributes[lot]}", "lot-1")
                        .replace("${!iot:Connection.Thing.Attributes[gate]}", "in-1")
                        .replace("${!iot:Connection.Thing.Attributes[bay]}", "b-7")
                })
                .collect();
            out.sort();
            out
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(
            granted("iot:Connect", ":client/"),
            vec![want.client_id.clone()]
        );
        assert_eq!(
            granted("iot:Publish", ":topic/"),
            sorted(want.publish.clone()),
            "{policy}"
        );
        assert_eq!(
            granted("iot:Subscribe", ":topicfilter/"),
            sorted(want.subscribe.clone()),
            "{policy}"
        );
        assert_eq!(
            granted("iot:Receive", ":topic/"),
            sorted(want.subscribe),
            "{policy}"
        );
    }
    // The rules.
    for (name, resource) in r {
        if resource["Type"].as_str() != Some("AWS::IoT::TopicRule") {
            continue;
        }
        let sql = resource["Properties"]["TopicRulePayload"]["Sql"]
            .as_str()
            .expect("sql");
        assert!(
            sql.contains("isUndefined(received_at)"),
            "{name:?}: a payload may bring its own receive time: {sql}"
        );
        if sql.contains("'parking/") {
            assert!(
                sql.contains("isUndefined(topic)") && sql.contains("isUndefined(clientid)"),
                "{name:?}: a payload may bring its own identity: {sql}"
            );
        } else {
            assert!(
                sql.contains("indexof(clientId, ':') = -1"),
                "{name:?}: presence of app clients too: {sql}"
            );
        }
    }
    // Live reads: their own concurrency, and an age cap that leaves room
    // for Lambda's two retries (about one and two minutes).
    let gate = &r[&serde_norway::Value::from("GateEventsFunction")]["Properties"];
    assert!(gate.get("ReservedConcurrentExecutions").is_some());
    let age = gate["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
        .as_u64()
        .expect("an age cap");
    assert!((150..=600).contains(&age), "{age}");
}

/// The deployed dashboard is served with the security headers
/// `parkctl serve` sends (`parking_api::web`): the same content security
/// policy, HSTS, no framing, no sniffing, no referrer.
#[test]
fn the_dashboard_has_the_same_security_headers_deployed_and_local() {
    let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).expect("template");
    let r = &doc["Resources"];
    let h = &r["DashboardHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    // `!Sub` names the hosted sign-in's origin, the only one added.
    let csp = match &h["ContentSecurityPolicy"]["ContentSecurityPolicy"] {
        serde_norway::Value::Tagged(t) if t.tag == "Sub" => t.value.as_str(),
        _ => None,
    };
    assert_eq!(
        csp.map(str::to_owned),
        Some(parking_api::web::content_security_policy(Some(
            "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
        )))
    );
    let hsts = format!(
        "max-age={}{}",
        h["StrictTransportSecurity"]["AccessControlMaxAgeSec"]
            .as_u64()
            .expect("max age"),
        if h["StrictTransportSecurity"]["IncludeSubdomains"].as_bool() == Some(true) {
            "; includeSubDomains"
        } else {
            ""
        }
    );
    assert_eq!(hsts, parking_api::web::STRICT_TRANSPORT_SECURITY);
    let local = |name: &str| {
        parking_api::web::HEADERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    assert_eq!(
        h["FrameOptions"]["FrameOption"].as_str(),
        local("x-frame-options")
    );
    assert_eq!(
        h["ReferrerPolicy"]["ReferrerPolicy"].as_str(),
        local("referrer-policy")
    );
    assert_eq!(local("x-content-type-options"), Some("nosniff"));
    assert_eq!(h["ContentTypeOptions"]["Override"].as_bool(), Some(true));
    let behaviour = format!(
        "{:?}",
        r["DashboardDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    );
    assert!(behaviour.contains("DashboardHeadersPolicy"), "{behaviour}");
}
