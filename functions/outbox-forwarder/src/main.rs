//! `outbox-forwarder`: the table's stream, filtered to new outbox items,
//! delivered to the payments and notifications FIFO queues; each batch's
//! usage booked to its first message's lot.
//!
//! Composition root only; the behaviour is
//! `parking_app::usecases::outbox::forward`.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use parking_aws::config::{QueueConfig, sqs_queues, store_from_env};
use parking_aws::lambda;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let queue_config = QueueConfig::from_env()?;
    let (sdk, store) = store_from_env().await?;
    let queues = sqs_queues(&sdk, &queue_config);
    let (store, queues) = (&store, &queues);
    let metering = &lambda::Metering::from_env();
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let started = metering.start(store);
        let (answer, lot, sent) = lambda::forward_outbox_of(store, queues, event.payload).await;
        let extra = parking_app::usage::Usage {
            sqs_requests: sent,
            ..Default::default()
        };
        metering.finish(store, started, lot.as_ref(), extra).await;
        Ok::<_, Error>(answer)
    }))
    .await
}
