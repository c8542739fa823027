//! The Lambda handlers end to end on the local AWS endpoint: DynamoDB for
//! state, the IoT data plane for gate commands, SQS FIFO queues for the
//! outbox. Commands are also kept by the in-memory link beside the real
//! one, to check what was published.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use parking_app::commands::{CommandKind, GateCommand, Reason};
use parking_app::outbox::{Notification, PaymentKind, PaymentOrder};
use parking_app::scenario::set_up;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::{DeviceLink, FixedClock, OutboxStore, SendError, SessionStore};
use parking_aws::iot::IotLink;
use parking_aws::sqs::SqsQueues;
use parking_aws::{DynamoStore, MemoryLink, lambda};
use parking_core::SessionState;
use parking_tests::{RequestCounter, dynamo_client, fresh_table, local_sdk_config};
use serde_json::{Value, json};

use crate::devices::{AIKO, LOT, STRANGER, bay, read, scenario, t};

/// Publishes to IoT Core and keeps a copy.
struct Tee {
    iot: IotLink,
    copy: MemoryLink,
}

impl DeviceLink for Tee {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        self.iot.publish(topic, command).await?;
        self.copy.publish(topic, command).await
    }
}

async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let out = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue: {e:?}"));
    out.queue_url.expect("queue url")
}

async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, expected: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    // A FIFO queue hands out a group's next message once the one before
    // it is deleted; ask until the expected count or a few empty answers.
    let mut empty = 0;
    while bodies.len() < expected && empty < 5 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        for m in messages {
            bodies.push(m.body.unwrap_or_default());
            sqs.delete_message()
                .queue_url(url)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await
                .expect("delete");
        }
    }
    bodies
}

/// The stream event Lambda would deliver for the outbox items now in the
/// table: built from the items as DynamoDB holds them.
async fn stream_event(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> aws_lambda_events::event::dynamodb::Event {
    // Every outbox item still listed in one of the index's shards, in
    // the order they were written.
    let out = client
        .scan()
        .table_name(table)
        .filter_expression("begins_with(GSI1PK, :outbox)")
        .expression_attribute_values(":outbox", AttributeValue::S("OUTBOX#".into()))
        .send()
        .await
        .expect("outbox items");
    let mut items = out.items.unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("GSI1SK")));
    let records: Vec<Value> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let keys: HashMap<String, AttributeValue> = item
                .iter()
                .filter(|(k, _)| *k == "PK" || *k == "SK")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            parking_tests::stream_record(i, "INSERT", keys.into(), item.into())
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("stream event")
}

async fn deliver(events: &DeviceEvents<DynamoStore, Tee>, message: &Value) -> Value {
    let at = message["received_at"]
        .as_i64()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .expect("received_at");
    lambda::device_message(events, &FixedClock(at), message)
        .await
        .unwrap_or_else(|e| panic!("handler: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handlers_run_a_stay_end_to_end_on_dynamodb_sqs_and_iot() {
    let sdk = local_sdk_config().await;
    let table = fresh_table().await;
    let counter = RequestCounter::default();
    let client = dynamo_client(Some(counter.clone()), None).await;
    let store = DynamoStore::new(client.clone(), &table);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let suffix = table.replace("parking-test-", "");
    let payments = fifo_queue(&sqs, &format!("payments-{suffix}")).await;
    let notifications = fifo_queue(&sqs, &format!("notifications-{suffix}")).await;
    let queues = SqsQueues::new(sqs.clone(), payments.clone(), notifications.clone());
    let link = Tee {
        iot: IotLink::new(aws_sdk_iotdataplane::Client::new(&sdk)),
        copy: MemoryLink::default(),
    };
    let events = DeviceEvents::new(store, link, jiff::SignedDuration::from_mins(1));
    set_up(&events.store, &scenario(), t("08:00:00"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A bay reading first: it also loads the lot's configuration.
    deliver(
        &events,
        &bay("A-01", "b-1", Some(false), 0.95, 1, t("08:59:30")),
    )
    .await;
    counter.take();

    let entry = deliver(
        &events,
        &read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None),
    )
    .await;
    assert_eq!(entry["applied"], 1);
    let entry_requests = counter.take();
    assert_eq!(
        entry_requests.len(),
        5,
        "an entry: the plate with the lot's live state and the plate's unpaid stays beside it, the driver, the commit: {entry_requests:?}"
    );
    let mut first_three = entry_requests[..3].to_vec();
    first_three.sort();
    assert_eq!(
        first_three,
        ["BatchGetItem", "Query", "Query"],
        "made together"
    );
    assert_eq!(entry_requests[3..], ["Query", "TransactWriteItems"]);
    let duplicate = deliver(
        &events,
        &read("g-in", "in-1", AIKO, 0.97, t("09:00:00"), None),
    )
    .await;
    assert_eq!(duplicate["duplicates"], 1);
    let mut reads = counter.take();
    reads.sort();
    assert_eq!(
        reads,
        ["BatchGetItem", "Query", "Query"],
        "a duplicate live entry reads the plate (and the lot and its unpaid stays, beside it) and writes nothing"
    );
    deliver(
        &events,
        &read("g-in", "in-2", STRANGER, 0.97, t("09:00:20"), None),
    )
    .await;
    assert_eq!(
        counter.take().len(),
        4,
        "an unregistered entry: plate, live state, unpaid stays, commit"
    );

    deliver(
        &events,
        &bay("A-02", "b-2", Some(false), 0.95, 1, t("10:59:30")),
    )
    .await;
    counter.take();
    deliver(
        &events,
        &read("g-out", "out-1", AIKO, 0.97, t("11:00:00"), None),
    )
    .await;
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "Query", "TransactWriteItems"],
        "an exit: the plate, the driver, the commit"
    );

    // What the gates were told, published through IoT Core.
    let published = events.link.copy.published();
    let reasons: Vec<(CommandKind, Reason)> = published
        .iter()
        .map(|(_, c)| (c.command, c.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (CommandKind::Open, Reason::Welcome),
            (CommandKind::Open, Reason::Welcome),
            (CommandKind::Open, Reason::Welcome),
            (CommandKind::Open, Reason::Charged),
        ]
    );
    assert_eq!(published[0].0, format!("parking/{LOT}/gates/g-in/commands"));
    let bays: Vec<&str> = published[0].1.bays.iter().map(|b| b.as_str()).collect();
    assert_eq!(bays, ["A-01"], "the one bay known free");
    assert_eq!(published[3].1.amount, Some(1100));

    // What the table holds.
    let sessions = events
        .store
        .lot_sessions(&crate::devices::fx_id(LOT))
        .await
        .expect("sessions");
    let states: Vec<SessionState> = sessions.iter().map(|s| s.state).collect();
    assert_eq!(states, [SessionState::Priced, SessionState::Open]);
    assert_eq!(sessions[0].fee.map(|f| f.minor), Some(1100));

    // The outbox, forwarded from its stream records to the FIFO queues.
    let pending = events.store.outbox_pending(100).await.expect("outbox");
    assert_eq!(
        pending.len(),
        3,
        "a charge and two notifications: {pending:?}"
    );
    let records = stream_event(&client, &table).await;
    let response = lambda::forward_outbox(&events.store, &queues, records.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(
        events
            .store
            .outbox_pending(100)
            .await
            .expect("outbox")
            .is_empty(),
        "delivered items leave the outbox"
    );
    let charges: Vec<PaymentOrder> = receive(&sqs, &payments, 1)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).expect("payment order"))
        .collect();
    assert_eq!(charges.len(), 1);
    assert_eq!(
        (charges[0].kind, charges[0].amount.minor),
        (PaymentKind::Charge, 1100)
    );
    assert_eq!(charges[0].session_id.as_ref(), Some(&sessions[0].id));
    let notes: Vec<Notification> = receive(&sqs, &notifications, 2)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).expect("notification"))
        .collect();
    assert_eq!(notes.len(), 2);
    // The stream delivering the same records again (a retried batch) sends
    // nothing new: the forwarder skips what it already delivered (moto's
    // FIFO queues would not drop the repeat once the first was deleted).
    let again = lambda::forward_outbox(&events.store, &queues, records).await;
    assert!(again.batch_item_failures.is_empty());
    assert!(receive(&sqs, &payments, 1).await.is_empty());
    assert!(receive(&sqs, &notifications, 1).await.is_empty());
}

/// Every sample in `events/` through the function's handler, on the
/// day-one lot after its scenario ran (the outbox sample is that day's
/// first charge, still waiting in the outbox).
#[tokio::test]
async fn the_sample_events_run_through_the_handler() {
    use parking_aws::MemoryStore;
    let events = DeviceEvents::new(
        MemoryStore::default(),
        MemoryLink::default(),
        jiff::SignedDuration::from_mins(1),
    );
    let text = include_str!("../../../fixtures/scenarios/day-one.json");
    let day_one = parking_app::scenario::Scenario::parse(text).expect("scenario");
    let provider = parking_aws::Faulty::new(parking_aws::DevProvider::default());
    parking_app::scenario::replay(&events, &provider, &day_one)
        .await
        .expect("replay");
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("events/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 7);
    for path in names {
        let payload: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("sqs-") {
            // A queue consumer's event: notifications.rs runs it.
            continue;
        }
        if payload.get("Records").is_some() {
            let event: aws_lambda_events::event::dynamodb::Event =
                serde_json::from_value(payload).expect("stream event");
            let queues = parking_aws::MemoryQueues::default();
            let r = lambda::forward_outbox(&events.store, &queues, event.clone()).await;
            assert!(r.batch_item_failures.is_empty());
            let sent = queues.all();
            assert!(
                matches!(&sent[..], [parking_app::outbox::OutboxMessage::Payments(o)] if o.amount.minor == 1100),
                "{}: {sent:?}",
                path.display()
            );
            // Delivered: the same record again sends nothing.
            lambda::forward_outbox(&events.store, &queues, event).await;
            assert_eq!(queues.all().len(), 1);
            continue;
        }
        let clock = FixedClock(
            payload["received_at"]
                .as_i64()
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .expect("received_at"),
        );
        let out = lambda::device_message(&events, &clock, &payload)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(out["rejected"], 0, "{}: {out}", path.display());
    }
}
