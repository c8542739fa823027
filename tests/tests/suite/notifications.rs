//! The notifications consumer, from the sample SQS event in `events/`: each
//! message rendered in both languages and published to its driver's
//! topic; a failure is reported with the rest of its driver's messages,
//! and nothing else.

use std::sync::Mutex;

use aws_lambda_events::event::sqs::SqsEvent;
use parking_aws::MemoryLink;
use parking_aws::lambda::{Redelivery, notify_drivers};

#[derive(Default)]
struct Paused(Mutex<Vec<(String, i32)>>);

impl Redelivery for Paused {
    async fn delay(&self, receipt: &str, seconds: i32) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((receipt.to_owned(), seconds));
    }
}

fn sample() -> SqsEvent {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/sqs-notifications.json"
    ))
    .expect("sample event");
    serde_json::from_str(&text).expect("an SQS event")
}

#[tokio::test]
async fn the_sample_batch_reaches_each_drivers_topic() {
    let link = MemoryLink::default();
    let paused = Paused::default();
    let response = notify_drivers(&link, &paused, 30, sample()).await;
    assert!(response.batch_item_failures.is_empty());
    let sent = link.notified();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, "parking/drivers/d-1/notifications");
    assert_eq!(sent[0].1.kind, "entry");
    assert!(sent[0].1.ja.body.contains("A-12"), "{:?}", sent[0].1);
    assert_eq!(sent[1].0, "parking/drivers/d-5/notifications");
    assert_eq!(sent[1].1.kind, "payment_failed");
    assert!(sent[1].1.ja.body.contains("¥1,200"), "{:?}", sent[1].1);
    assert!(
        sent[1].1.en.body.contains("We will try again"),
        "{:?}",
        sent[1].1
    );
}

#[tokio::test]
async fn a_failure_holds_back_only_its_drivers_messages_and_poison_is_reported() {
    let mut event = sample();
    // d-1 gets a second message, and a poison message joins the batch.
    let mut second = event.records[0].clone();
    second.message_id = Some("m-3".into());
    second.body = second
        .body
        .map(|b| b.replace("cam-in-1-000184/entry", "cam-in-1-000190/entry"));
    let mut poison = event.records[1].clone();
    poison.message_id = Some("m-4".into());
    poison.body = Some(r#"{"driver_id": 7}"#.into());
    poison
        .attributes
        .insert("MessageGroupId".into(), "d-9".into());
    event.records.push(second);
    event.records.push(poison);
    let link = MemoryLink::default();
    link.fail_next(1);
    let paused = Paused::default();
    let response = notify_drivers(&link, &paused, 30, event).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    // d-1's first failed, so its second waits; d-5's went out; the poison
    // message is reported for the dead-letter queue.
    assert_eq!(
        failed,
        vec![
            "0c9b2f0e-0001-4a55-9d1b-5a1f3c0e7a01".to_owned(),
            "m-3".to_owned(),
            "m-4".to_owned()
        ]
    );
    assert_eq!(link.notified().len(), 1);
    let pauses = paused.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(pauses.len(), 2, "the two held back wait; {pauses:?}");
    assert!(pauses.iter().all(|(_, s)| *s == 30));
}

#[test]
fn retries_back_off_to_at_most_fifteen_minutes() {
    use parking_aws::lambda::backoff;
    assert_eq!(
        (1..=7).map(|n| backoff(30, n)).collect::<Vec<_>>(),
        vec![30, 60, 120, 240, 480, 900, 900]
    );
    assert_eq!(backoff(0, 5), 0);
}
