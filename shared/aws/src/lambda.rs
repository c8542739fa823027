//! The Lambda edge: events as the functions receive them, handed to the
//! use cases, and the outcome mapped once — logs without plates, a
//! retryable failure as an error (the event is retried, then kept in the
//! dead-letter queue), stream records that could not be delivered as
//! batch item failures.

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use parking_app::outbox::OutboxMessage;
use parking_app::usecases::device_events::DeviceEvents;
use parking_app::usecases::outbox::forward;
use parking_app::{Clock, DeviceLink, OutboxStore, Store};
use serde_json::{Value, json};

/// Handles one message an IoT rule delivered.
///
/// # Errors
///
/// The store or the device link failed in a way a retry may cure; the
/// rest of the message was applied and a retry finds it done.
pub async fn device_message<S: Store, L: DeviceLink>(
    events: &DeviceEvents<S, L>,
    clock: &impl Clock,
    payload: &Value,
) -> Result<Value, Error> {
    let bytes = serde_json::to_vec(payload)?;
    match events.handle(&bytes, clock.now()).await {
        Ok(report) => {
            for r in &report.rejected {
                tracing::warn!(event_id = r.event_id.as_deref().unwrap_or("-"), reason = %r.rejection, "rejected");
            }
            tracing::info!(
                applied = report.applied,
                duplicates = report.duplicates,
                stale = report.stale,
                rejected = report.rejected.len(),
                commands = report.commands.len(),
                "handled"
            );
            Ok(json!({
                "applied": report.applied,
                "duplicates": report.duplicates,
                "stale": report.stale,
                "rejected": report.rejected.len(),
                "commands": report.commands.len(),
            }))
        }
        Err(e) => {
            tracing::error!(error = %e, "will be retried");
            Err(e.into())
        }
    }
}

/// A stream record's new image: the item's kind and its record's own
/// attributes.
fn stream_item(
    image: serde_dynamo::Item,
) -> (
    Option<String>,
    std::collections::HashMap<String, serde_dynamo::AttributeValue>,
) {
    let mut map: std::collections::HashMap<String, serde_dynamo::AttributeValue> = image.into();
    let kind = match map.get("type") {
        Some(serde_dynamo::AttributeValue::S(k)) => Some(k.clone()),
        _ => None,
    };
    for k in crate::dynamo::keys::META {
        map.remove(k);
    }
    (kind, map)
}

/// Decodes a record from a stream image's attributes; the reason never
/// quotes a value.
fn stream_record<T: serde::de::DeserializeOwned>(
    map: std::collections::HashMap<String, serde_dynamo::AttributeValue>,
) -> Result<T, String> {
    serde_dynamo::from_item(map)
        .map_err(|e| parking_app::redact::without_quoted_values(&e.to_string()))
}

/// Decodes an outbox item from a stream record's new image.
///
/// # Errors
///
/// The image is no outbox message; the reason quotes no value.
pub fn outbox_message(image: serde_dynamo::Item) -> Result<OutboxMessage, String> {
    stream_record(stream_item(image).1)
}

/// Forwards the outbox items a DynamoDB stream batch inserted to their
/// queues, in order. A record that cannot be sent, and every record after
/// it, is reported as a batch item failure and comes again; an item that
/// cannot be decoded is logged and left in the table's outbox index.
pub async fn forward_outbox<S: OutboxStore, Q: parking_app::Queues>(
    store: &S,
    queues: &Q,
    event: StreamEvent,
) -> DynamoDbEventResponse {
    forward_outbox_of(store, queues, event).await.0
}

/// [`forward_outbox`], with the lot of the batch's first message and how
/// many were sent, for the function's usage.
pub async fn forward_outbox_of<S: OutboxStore, Q: parking_app::Queues>(
    store: &S,
    queues: &Q,
    event: StreamEvent,
) -> (DynamoDbEventResponse, Option<parking_app::LotId>, u64) {
    let mut messages = Vec::new();
    let mut sequence = Vec::new();
    for record in event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let id = record.change.sequence_number.clone().unwrap_or_default();
        match outbox_message(record.change.new_image) {
            Ok(m) => {
                messages.push(m);
                sequence.push(id);
            }
            Err(reason) => tracing::error!(sequence = %id, %reason, "outbox item cannot be read"),
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Err((failed_at, e)) = forward(store, queues, &messages).await {
        tracing::error!(error = %e, "outbox delivery stopped; the rest comes again");
        if let Some(id) = sequence.get(failed_at) {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id.clone());
            response.batch_item_failures.push(failure);
        }
    }
    tracing::info!(
        records = messages.len(),
        failed = response.batch_item_failures.len(),
        "forwarded"
    );
    let lot = messages.first().map(|m| match m {
        OutboxMessage::Payments(o) => o.lot_id.clone(),
        OutboxMessage::Notifications(n) => n.lot_id.clone(),
        OutboxMessage::Webhooks(m) => m.event().lot_id.clone(),
    });
    (response, lot, messages.len() as u64)
}

/// Brings the lots' allow-lists up to date from a stream batch: the
/// marks its stays, reservations and passes make, merged lot by lot
/// ([`parking_app::usecases::allow_list::merge`]), and the list sent to
/// each gate device registered in it. A lot whose marks could not be
/// written reports its first record as a batch item failure, and the batch
/// comes again from there (merging again finds the rest done); a gate that
/// could not be sent its list fails nothing (it is sent again later); a
/// record that cannot be decoded is logged and skipped. Returns the
/// batch's first lot and how many shadows were sent a list, for the
/// function's usage.
pub async fn merge_allow_lists<S: Store, L: parking_app::usecases::allow_list::AllowListLink>(
    store: &S,
    link: &L,
    event: StreamEvent,
    now: jiff::Timestamp,
) -> (DynamoDbEventResponse, Option<parking_app::LotId>, u64) {
    use parking_app::usecases::allow_list::{self, Mark};
    let mut lots: Vec<(parking_app::LotId, String, Vec<Mark>)> = Vec::new();
    let mut response = DynamoDbEventResponse::default();
    let mut pushed = 0;
    let failed = |id: &str, response: &mut DynamoDbEventResponse| {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(id.to_owned());
        response.batch_item_failures.push(failure);
    };
    for record in event.records {
        let id = record.change.sequence_number.clone().unwrap_or_default();
        // When the change was made (a reservation is marked then).
        let at =
            jiff::Timestamp::from_second(record.change.approximate_creation_date_time.timestamp())
                .ok()
                .filter(|t| t.as_second() > 0)
                .unwrap_or(now);
        let (kind, map) = stream_item(record.change.new_image);
        let mark = match kind.as_deref() {
            Some("session") => {
                stream_record::<parking_app::Session>(map).map(|s| allow_list::mark_of_session(&s))
            }
            Some("reservation") => stream_record::<parking_app::Reservation>(map)
                .map(|r| allow_list::mark_of_reservation(&r, at)),
            Some("pass") => {
                stream_record::<parking_app::Pass>(map).map(|p| allow_list::mark_of_pass(&p))
            }
            // A device's copy in its lot is inserted when it is
            // registered there.
            Some("lot_device") if record.event_name == "INSERT" => {
                match stream_record::<parking_app::Device>(map) {
                    Ok(device) => match allow_list::welcome(store, link, &device, now).await {
                        Ok(sent) => {
                            pushed += u64::from(sent);
                            Ok(None)
                        }
                        Err(allow_list::WelcomeError::Link(e)) => {
                            tracing::warn!(device = %device.id, error = %e, "a new gate's list was not sent; sent by the next refresh");
                            Ok(None)
                        }
                        Err(allow_list::WelcomeError::Store(e)) => {
                            tracing::error!(sequence = %id, error = %e, "a new gate's list was not read; the rest comes again");
                            failed(&id, &mut response);
                            break;
                        }
                    },
                    Err(e) => Err(e),
                }
            }
            _ => Ok(None),
        };
        match mark {
            Ok(Some(m)) => match lots.iter_mut().find(|(l, _, _)| *l == m.lot_id) {
                Some((_, _, marks)) => marks.push(m),
                None => lots.push((m.lot_id.clone(), id, vec![m])),
            },
            Ok(None) => {}
            Err(reason) => tracing::error!(sequence = %id, %reason, "stream record cannot be read"),
        }
    }
    for (lot, first, marks) in &lots {
        match allow_list::merge(store, link, lot, marks, now).await {
            Ok(m) => pushed += u64::from(m.pushed),
            Err(e) => {
                tracing::error!(lot = %lot, error = %e, "allow-list not merged; it comes again");
                failed(first, &mut response);
            }
        }
    }
    tracing::info!(
        lots = lots.len(),
        pushed,
        failed = response.batch_item_failures.len(),
        "allow-lists merged"
    );
    (response, lots.first().map(|(l, _, _)| l.clone()), pushed)
}

/// The composition of a device function (gate events, bay events,
/// presence): configuration read once, one SDK configuration, the store
/// with its connection warmed, the link to the gates, then the handler.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_device_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{DeviceConfig, iot_link, store_from_env};
    lambda_runtime::tracing::init_default_subscriber();
    let device_config = DeviceConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    // Feature flags from the table's flag document, kept as long as the
    // lot configuration; the defaults when the table cannot be read.
    let flags = std::sync::Arc::new(parking_app::flags::CachedFlags::new(
        parking_app::flags::StoreFlags(store.clone()),
        device_config.lot_cache,
    ));
    let events = DeviceEvents::new(
        store,
        iot_link(&sdk, &device_config),
        device_config.lot_cache,
    )
    .with_flags(flags.clone());
    let flags = &flags;
    let events = &events;
    let metering = &Metering::from_env();
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let started = metering.start(&events.store);
        let answer = device_message(events, &SystemClock, &event.payload).await;
        let lot = lot_of(&event.payload);
        let commands = answer
            .as_ref()
            .ok()
            .and_then(|a| a["commands"].as_u64())
            .unwrap_or(0);
        let extra = parking_app::usage::Usage {
            iot_inbound_messages: 1,
            iot_outbound_messages: commands,
            ..Default::default()
        };
        metering
            .finish(&events.store, started, lot.as_ref(), extra)
            .await;
        if let Some(e) = flags.last_error() {
            tracing::warn!(error = %e, "feature flags unreadable: the last read or the defaults apply");
        }
        answer
    }))
    .await
}

/// Applies a batch of device messages from their queue — gate backlogs,
/// or bay readings — one message after another (each backlog's reads a
/// few at a time), and reports the
/// messages to deliver again (`ReportBatchItemFailures`): one whose store
/// write failed comes back, and what it applied is found done; one that is
/// no backlog at all comes back until the queue moves it to the
/// dead-letter queue; the rest of the batch is kept. A read that is
/// malformed is rejected on its own, as on the live path. Backlogs reach this function through their own queue,
/// never the live gate function: an upload of hours of reads is drained at
/// the queue's pace while the lot's live entries are answered at once.
pub async fn apply_queued<S: Store, L: DeviceLink>(
    events: &DeviceEvents<S, L>,
    clock: &impl Clock,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> (
    aws_lambda_events::event::sqs::SqsBatchResponse,
    Option<parking_app::LotId>,
) {
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    let mut response = SqsBatchResponse::default();
    let mut lot = None;
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        if lot.is_none() {
            lot = serde_json::from_str(body).ok().and_then(|v| lot_of(&v));
        }
        match events.handle(body.as_bytes(), clock.now()).await {
            Ok(report) => {
                for r in &report.rejected {
                    tracing::warn!(message = %id, event_id = r.event_id.as_deref().unwrap_or("-"), reason = %r.rejection, "rejected");
                }
                tracing::info!(
                    message = %id,
                    applied = report.applied,
                    duplicates = report.duplicates,
                    rejected = report.rejected.len(),
                    "backlog applied"
                );
                // A message refused whole (not a backlog at all) is kept:
                // it comes again and then waits in the dead-letter queue
                // for a person. A bad read among good ones is refused on
                // its own and the rest applied.
                let refused_whole = report.applied == 0
                    && report.duplicates == 0
                    && report.rejected.iter().any(|r| r.event_id.is_none());
                if refused_whole {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
            Err(e) => {
                tracing::error!(message = %id, received = receive_count(&record), error = %e, "backlog comes again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    (response, lot)
}

/// The lot of a device message: the topic's second level
/// (`parking/{lot}/…`); presence events (`$aws/events/…`) are no lot's.
fn lot_of(message: &Value) -> Option<parking_app::LotId> {
    message["topic"]
        .as_str()
        .and_then(|t| t.strip_prefix("parking/"))
        .and_then(|t| t.split('/').next())
        .and_then(|l| parking_app::LotId::parse(l).ok())
}

/// How a queued device function's messages reached IoT Core, for its
/// usage: through the message broker (each message charged), or through
/// Basic Ingest (no messaging charge; the rule and its action only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    Broker,
    BasicIngest,
}

/// The composition of a queued device function (gate backlogs, bay
/// readings): the device function's, with its queue's batches as its
/// events.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_queued_device_function(inbound: Inbound) -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{DeviceConfig, iot_link, store_from_env};
    use aws_lambda_events::event::sqs::SqsEvent;
    lambda_runtime::tracing::init_default_subscriber();
    let device_config = DeviceConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let flags = std::sync::Arc::new(parking_app::flags::CachedFlags::new(
        parking_app::flags::StoreFlags(store.clone()),
        device_config.lot_cache,
    ));
    let events = DeviceEvents::new(
        store,
        iot_link(&sdk, &device_config),
        device_config.lot_cache,
    )
    .with_flags(flags);
    let events = &events;
    let metering = &Metering::from_env();
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let started = metering.start(&events.store);
        let messages = event.payload.records.len() as u64;
        let (response, lot) = apply_queued(events, &SystemClock, event.payload).await;
        let extra = match inbound {
            Inbound::Broker => parking_app::usage::Usage {
                iot_inbound_messages: messages,
                ..Default::default()
            },
            Inbound::BasicIngest => parking_app::usage::Usage {
                iot_ingest_messages: messages,
                ..Default::default()
            },
        };
        metering
            .finish(&events.store, started, lot.as_ref(), extra)
            .await;
        Ok::<_, Error>(response)
    }))
    .await
}

/// The pre-provisioning hook: one claim, its answer. A request that is not
/// a hook request is refused (never an error: IoT Core would only retry
/// it); a store failure is an error, and the device claims again.
///
/// # Errors
///
/// The store's.
pub async fn provisioning_hook<S: Store>(
    store: &S,
    clock: &impl Clock,
    request: &Value,
) -> Result<Value, Error> {
    use parking_app::usecases::provisioning::{HookAnswer, HookRequest, admit};
    let answer = match serde_json::from_value::<HookRequest>(request.clone()) {
        Err(e) => {
            tracing::warn!(error = %e, "not a pre-provisioning hook request: refused");
            HookAnswer {
                allow: false,
                overrides: Default::default(),
            }
        }
        Ok(req) => {
            let (answer, refused) = admit(store, &req, clock.now()).await?;
            match refused {
                Some(why) => tracing::warn!(reason = %why, "claim refused"),
                None => tracing::info!(
                    thing = answer
                        .overrides
                        .get("ThingName")
                        .map_or("-", String::as_str),
                    "claim admitted"
                ),
            }
            answer
        }
    };
    Ok(serde_json::to_value(answer)?)
}

/// The composition of the pre-provisioning hook.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_provisioning_hook() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::store_from_env;
    lambda_runtime::tracing::init_default_subscriber();
    let (_, store) = store_from_env().await?;
    let store = &store;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        provisioning_hook(store, &SystemClock, &event.payload).await
    }))
    .await
}

/// The composition of the allow-list function: the table's stream,
/// filtered to stays, reservations and devices registered in a lot, merged
/// into each lot's allow-list and sent to its gates' shadows (counted as
/// outbound messages).
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_allow_lists() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{DeviceConfig, iot_link, store_from_env};
    lambda_runtime::tracing::init_default_subscriber();
    let device_config = DeviceConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let link = iot_link(&sdk, &device_config);
    let (store, link) = (&store, &link);
    let metering = &Metering::from_env();
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let started = metering.start(store);
        let now = SystemClock.now();
        // The table's stream, or the hourly refresh.
        let (answer, lot, pushed) = if event.payload.get("Records").is_some() {
            let batch: StreamEvent = serde_json::from_value(event.payload)?;
            let (answer, lot, pushed) = merge_allow_lists(store, link, batch, now).await;
            (serde_json::to_value(answer)?, lot, pushed)
        } else {
            let done = parking_app::usecases::allow_list::refresh_all(store, link, now).await?;
            tracing::info!(
                pushed = done.pushed,
                unsent = done.unsent,
                "allow-lists refreshed"
            );
            (Value::Null, None, u64::from(done.pushed))
        };
        let extra = parking_app::usage::Usage {
            iot_outbound_messages: pushed,
            ..Default::default()
        };
        metering.finish(store, started, lot.as_ref(), extra).await;
        Ok::<_, Error>(answer)
    }))
    .await
}

/// What each invocation of a function consumed: one log line per
/// invocation (for CloudWatch Logs Insights to sum), and the lot's day
/// (see [`parking_app::usecases::cost::UsageBuffer`]: written at most once
/// a minute per warm function; what a function holds when it is shut
/// down, at most a minute's, is lost).
pub struct Metering {
    buffer: parking_app::usecases::cost::UsageBuffer,
    memory_mb: u32,
}

/// Where an invocation started.
pub struct Started {
    before: parking_app::usecases::cost::StoreUse,
    at: std::time::Instant,
}

impl Metering {
    /// The function's configured memory from Lambda's environment.
    pub fn from_env() -> Self {
        Metering {
            buffer: parking_app::usecases::cost::UsageBuffer::new(jiff::SignedDuration::from_secs(
                60,
            )),
            memory_mb: std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        }
    }

    pub fn start(&self, store: &crate::DynamoStore) -> Started {
        Started {
            before: store.consumed().unwrap_or_default(),
            at: std::time::Instant::now(),
        }
    }

    /// Logs what the invocation consumed (DynamoDB's own figures, its
    /// time at the function's memory, and `extra`: messages and requests
    /// the function counts itself) and books it to `lot`.
    pub async fn finish(
        &self,
        store: &crate::DynamoStore,
        started: Started,
        lot: Option<&parking_app::LotId>,
        extra: parking_app::usage::Usage,
    ) {
        use parking_app::Clock;
        let used = store.consumed().unwrap_or_default().since(&started.before);
        let ms = started.at.elapsed().as_secs_f64() * 1000.0;
        let mut usage = parking_app::usage::Usage {
            lambda_invocations: 1,
            lambda_gb_seconds: parking_app::usecases::cost::gb_seconds(ms, self.memory_mb),
            ..extra
        };
        usage.add_store(&used);
        tracing::info!(
            lot = lot.map_or("-", parking_app::LotId::as_str),
            dynamodb_reads = used.reads,
            dynamodb_writes = used.writes,
            dynamodb_read_units = used.read_units,
            dynamodb_write_units = used.write_units,
            sqs_requests = usage.sqs_requests,
            iot_in = usage.iot_inbound_messages,
            iot_ingest = usage.iot_ingest_messages,
            iot_out = usage.iot_outbound_messages,
            handler_ms = ms,
            gb_seconds = usage.lambda_gb_seconds,
            "usage"
        );
        let now = crate::SystemClock.now();
        if let Some(lot) = lot {
            self.buffer.add(lot, now, &usage);
        }
        if let Err(e) = self.buffer.flush_if_due(store, now).await {
            tracing::warn!(error = %e, "usage not recorded yet");
        }
    }
}

/// Puts a failed queue message back after a pause (its visibility
/// timeout), so retries back off instead of hammering a provider that is
/// down.
pub trait Redelivery: Send + Sync {
    /// Makes the message with `receipt` visible again in `seconds`.
    fn delay(&self, receipt: &str, seconds: i32) -> impl std::future::Future<Output = ()> + Send;
}

/// The pause before the `n`th delivery of a message (n ≥ 1 is the one
/// that just failed): `base` doubled each time, at most 15 minutes.
pub fn backoff(base_seconds: i32, n: u32) -> i32 {
    let doubled = i64::from(base_seconds.max(0)) << n.saturating_sub(1).min(16);
    i32::try_from(doubled.min(900)).unwrap_or(900)
}

/// Redelivery on SQS: `ChangeMessageVisibility` on the consumed queue.
#[derive(Debug, Clone)]
pub struct SqsRedelivery {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Redelivery for SqsRedelivery {
    async fn delay(&self, receipt: &str, seconds: i32) {
        let changed = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        // Without the pause the message comes back after the queue's own
        // visibility timeout: sooner, never lost.
        if let Err(e) = changed {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "backoff not set");
        }
    }
}

/// Settles a batch of payments messages from SQS and reports the ones to
/// deliver again (`ReportBatchItemFailures`): those that will settle
/// later come back after a growing pause; one that can never settle comes
/// back until the queue moves it to its dead-letter queue. Nothing in the
/// batch is lost, and a message that settled is never reported.
pub async fn settle_payments<S, P, R>(
    store: &S,
    provider: &P,
    redelivery: &R,
    base_backoff: i32,
    event: aws_lambda_events::event::sqs::SqsEvent,
    now: jiff::Timestamp,
) -> aws_lambda_events::event::sqs::SqsBatchResponse
where
    S: Store,
    P: parking_app::settlement::PaymentProvider,
    R: Redelivery,
{
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    use parking_app::usecases::settle::{Delivered, Verdict, settle_batch};
    let records = event.records;
    let batch: Vec<Delivered<'_>> = records.iter().map(delivered).collect();
    let verdicts = settle_batch(store, provider, &batch, now).await;
    let mut response = SqsBatchResponse::default();
    for (record, verdict) in records.iter().zip(verdicts) {
        let id = record.message_id.clone().unwrap_or_default();
        let received = receive_count(record);
        match verdict {
            Verdict::Done(settled) => {
                tracing::info!(message = %id, outcome = ?settled, "settled");
                continue;
            }
            Verdict::Again(why) => {
                tracing::warn!(message = %id, received, reason = %why, "settle again later");
                if let Some(receipt) = &record.receipt_handle {
                    redelivery
                        .delay(receipt, backoff(base_backoff, received))
                        .await;
                }
            }
            Verdict::Poison(why) => {
                tracing::error!(message = %id, received, reason = %why, "cannot settle; bound for the dead-letter queue");
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The composition of the payments function: configuration read once,
/// one SDK configuration, the store with its connection warmed, the
/// payment provider with its secret read once, then the handler.
///
/// # Errors
///
/// A setting is missing or malformed, the secret cannot be read, or the
/// runtime stopped.
#[cfg(feature = "stripe")]
pub async fn run_payments_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{PaymentsConfig, store_from_env, stripe_provider};
    use aws_lambda_events::event::sqs::SqsEvent;
    use parking_app::Clock;
    lambda_runtime::tracing::init_default_subscriber();
    let config = PaymentsConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let provider = stripe_provider(&sdk, &config.provider).await?;
    let redelivery = SqsRedelivery {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url: config.queue_url.clone(),
    };
    let (store, provider, redelivery) = (&store, &provider, &redelivery);
    let base = config.retry_base_seconds;
    let metering = &Metering::from_env();
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = SystemClock.now();
        let started = metering.start(store);
        // A batch of one order: booked to its lot, with the queue's
        // receive and delete.
        let lot = event
            .payload
            .records
            .first()
            .and_then(|r| r.body.as_deref())
            .and_then(lot_of_body);
        let answer = settle_payments(store, provider, redelivery, base, event.payload, now).await;
        let extra = parking_app::usage::Usage {
            sqs_requests: 2,
            ..Default::default()
        };
        metering.finish(store, started, lot.as_ref(), extra).await;
        Ok::<_, Error>(answer)
    }))
    .await
}

/// Publishes a batch of notifications messages from SQS to the drivers'
/// topics and reports the ones to deliver again
/// (`ReportBatchItemFailures`), with a growing pause; one that is not a
/// notification comes back until the queue moves it to its dead-letter
/// queue. Nothing in the batch is lost.
pub async fn notify_drivers<L, R>(
    link: &L,
    redelivery: &R,
    base_backoff: i32,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse
where
    L: parking_app::usecases::notify::DriverLink,
    R: Redelivery,
{
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    use parking_app::usecases::notify::{Told, notify_batch};
    use parking_app::usecases::settle::Delivered;
    let records = event.records;
    let batch: Vec<Delivered<'_>> = records.iter().map(delivered).collect();
    let told = notify_batch(link, &batch).await;
    let mut response = SqsBatchResponse::default();
    for (record, told) in records.iter().zip(told) {
        let id = record.message_id.clone().unwrap_or_default();
        let received = receive_count(record);
        match told {
            Told::Sent => continue,
            Told::Again(why) => {
                tracing::warn!(message = %id, received, reason = %why, "notify again later");
                if let Some(receipt) = &record.receipt_handle {
                    redelivery
                        .delay(receipt, backoff(base_backoff, received))
                        .await;
                }
            }
            Told::Poison(why) => {
                tracing::error!(message = %id, received, reason = %why, "cannot notify; bound for the dead-letter queue");
            }
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The lot a queued message (a payment order or a notification) is for.
#[cfg(feature = "stripe")]
fn lot_of_body(body: &str) -> Option<parking_app::LotId> {
    let v: Value = serde_json::from_str(body).ok()?;
    parking_app::LotId::parse(v["lot_id"].as_str()?).ok()
}

fn delivered(
    r: &aws_lambda_events::event::sqs::SqsMessage,
) -> parking_app::usecases::settle::Delivered<'_> {
    parking_app::usecases::settle::Delivered {
        id: r.message_id.as_deref().unwrap_or_default(),
        group: r.attributes.get("MessageGroupId").map(String::as_str),
        body: r.body.as_deref().unwrap_or_default(),
    }
}

fn receive_count(r: &aws_lambda_events::event::sqs::SqsMessage) -> u32 {
    r.attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The composition of the notifications function: the IoT data plane
/// client once, then the handler.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped.
pub async fn run_notifications_function() -> Result<(), Error> {
    use crate::config::{DeviceConfig, NotificationsConfig, iot_link, sdk_config};
    use aws_lambda_events::event::sqs::SqsEvent;
    lambda_runtime::tracing::init_default_subscriber();
    let device_config = DeviceConfig::from_env()?;
    let config = NotificationsConfig::from_env()?;
    let sdk = sdk_config().await;
    let link = iot_link(&sdk, &device_config);
    let redelivery = SqsRedelivery {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url: config.queue_url.clone(),
    };
    let (link, redelivery) = (&link, &redelivery);
    let base = config.retry_base_seconds;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(notify_drivers(link, redelivery, base, event.payload).await)
    }))
    .await
}

/// Handles a batch of the webhooks queue ([`parking_app::hooks`]): each
/// event handed to its lot's subscriptions, each delivery posted. A
/// delivery to try again comes back after the protocol's pause (its
/// visibility timeout, within the 12 hours SQS counts from its receipt);
/// one whose store or queue failed, after a growing pause; a message that
/// is not one goes on to the dead-letter queue after its receives. Once a
/// message of a group (a subscription's deliveries) is to come back, the
/// batch's later messages of that group come back untouched with it, so a
/// subscription's deliveries keep their order and a receiver that is down
/// is tried once a batch. Nothing in the batch is lost
/// (`ReportBatchItemFailures`).
#[cfg(feature = "webhooks")]
pub async fn deliver_webhooks<S, C, Q, R>(
    store: &S,
    client: &C,
    queues: &Q,
    redelivery: &R,
    event: aws_lambda_events::event::sqs::SqsEvent,
    now: jiff::Timestamp,
) -> aws_lambda_events::event::sqs::SqsBatchResponse
where
    S: Store,
    C: parking_app::hooks::HookClient,
    Q: parking_app::outbox::Queues,
    R: Redelivery,
{
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    use parking_app::hooks::HookMessage;
    use parking_app::usecases::hook_delivery::{Handled, handle};
    let mut response = SqsBatchResponse::default();
    let mut held: std::collections::HashSet<String> = std::collections::HashSet::new();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let received = receive_count(record);
        let group = record.attributes.get("MessageGroupId").cloned();
        if group.as_ref().is_some_and(|g| held.contains(g)) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
            continue;
        }
        let message = record
            .body
            .as_deref()
            .map(serde_json::from_str::<HookMessage>);
        let pause = match message {
            Some(Ok(m)) => match handle(store, client, queues, &m, received, now).await {
                Ok(Handled::Done(outcome)) => {
                    tracing::info!(message = %id, ?outcome, "webhook message done");
                    continue;
                }
                Ok(Handled::Again(p)) => {
                    tracing::warn!(message = %id, received, "webhook delivery failed; again later");
                    Some(
                        i32::try_from(p.as_secs())
                            .unwrap_or(MAX_VISIBILITY)
                            .min(MAX_VISIBILITY),
                    )
                }
                Err(e) => {
                    tracing::warn!(message = %id, received, error = %e, "webhook message not handled; again later");
                    Some(backoff(30, received))
                }
            },
            _ => {
                tracing::error!(message = %id, received, "not a webhooks message; bound for the dead-letter queue");
                None
            }
        };
        if let (Some(p), Some(receipt)) = (pause, &record.receipt_handle) {
            redelivery.delay(receipt, p).await;
        }
        held.extend(group);
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The longest pause a received message can be given: SQS counts at most
/// 12 hours from its receipt, and some of them have gone by.
#[cfg(feature = "webhooks")]
const MAX_VISIBILITY: i32 = 43_200 - 300;

/// The composition of the webhooks function: configuration read once,
/// one SDK configuration, the store warmed, the queues, the HTTP client,
/// then the handler.
///
/// # Errors
///
/// A setting is missing or malformed, the client cannot be built, or the
/// runtime stopped.
#[cfg(feature = "webhooks")]
pub async fn run_webhooks_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{QueueConfig, sqs_queues, store_from_env};
    use aws_lambda_events::event::sqs::SqsEvent;
    use parking_app::Clock;
    lambda_runtime::tracing::init_default_subscriber();
    let queue_config = QueueConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let queues = sqs_queues(&sdk, &queue_config);
    let client = crate::hook_client::HttpHookClient::new()?;
    let redelivery = SqsRedelivery {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url: queue_config.webhooks_url.clone(),
    };
    let (store, client, queues, redelivery) = (&store, &client, &queues, &redelivery);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = SystemClock.now();
        Ok::<_, Error>(
            deliver_webhooks(store, client, queues, redelivery, event.payload, now).await,
        )
    }))
    .await
}

/// The composition of the sweeps function: configuration read once, one
/// SDK configuration, the store with its connection warmed, the queues,
/// then the handler, which runs every sweep once per scheduled event and
/// answers what each did.
///
/// # Errors
///
/// A setting is missing or malformed, or the runtime stopped; a sweep that
/// failed fails the invocation (the schedule's retry runs it again, and
/// every sweep is idempotent).
pub async fn run_sweeps_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::{QueueConfig, sqs_queues, store_from_env};
    use parking_app::usecases::sweeps::sweep_all;
    lambda_runtime::tracing::init_default_subscriber();
    let queue_config = QueueConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let queues = sqs_queues(&sdk, &queue_config);
    let (store, queues) = (&store, &queues);
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = sweep_all(store, queues, SystemClock.now()).await?;
        tracing::info!(?report, "swept");
        Ok::<_, Error>(json!({
            "no_shows": report.no_shows.acted,
            "overstays": report.overstays.acted,
            "uncounted": report.uncounted.acted,
            "silent_devices": report.silent_devices.acted,
            "payment_retries": report.payment_retries.acted,
            "reminders": report.reminders.acted,
            "stale_outbox": report.stale_outbox.acted,
            "plates_forgotten": report.retention.acted,
            "more": report.no_shows.more || report.overstays.more || report.uncounted.more
                || report.silent_devices.more
                || report.payment_retries.more || report.reminders.more
                || report.stale_outbox.more || report.retention.more,
        }))
    }))
    .await
}

/// The forecasts function: every lot's occupancy forecast refreshed (see
/// [`parking_app::usecases::forecast::refresh_all`]); a lot that fails is
/// logged by id and tried again on the next run, the others go on.
///
/// # Errors
///
/// Configuration missing at start-up; listing the lots failed.
pub async fn run_forecasts_function() -> Result<(), Error> {
    use crate::SystemClock;
    use crate::config::store_from_env;
    use parking_app::usecases::forecast::refresh_all;
    lambda_runtime::tracing::init_default_subscriber();
    let (_, store) = store_from_env().await?;
    let store = &store;
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = refresh_all(store, SystemClock.now()).await?;
        for (lot, why) in &report.failed {
            tracing::error!(lot = %lot, error = %why, "forecast failed");
        }
        tracing::info!(made = report.made, fresh = report.fresh, "forecasts");
        Ok::<_, Error>(json!({
            "made": report.made,
            "fresh": report.fresh,
            "no_history": report.no_history,
            "failed": report.failed.len(),
        }))
    }))
    .await
}
