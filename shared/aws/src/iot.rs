//! The device link on IoT Core: commands published to a gate's command
//! topic with the IoT data plane, at least once (QoS 1); a gate that gets
//! a command twice sees the same `event_id` and acts once.

use aws_sdk_iotdataplane::Client;
use aws_sdk_iotdataplane::primitives::Blob;
use parking_app::commands::GateCommand;
use parking_app::{DeviceLink, SendError};

#[derive(Clone)]
pub struct IotLink {
    client: Client,
}

impl IotLink {
    pub fn new(client: Client) -> Self {
        IotLink { client }
    }
}

impl IotLink {
    /// Publishes a JSON payload to `topic`, at least once (QoS 1).
    async fn publish_json<T: serde::Serialize>(
        &self,
        topic: &str,
        what: &'static str,
        payload: &T,
    ) -> Result<(), SendError> {
        let payload = serde_json::to_vec(payload).map_err(|e| SendError {
            what,
            source: Box::new(e),
        })?;
        self.client
            .publish()
            .topic(topic)
            .qos(1)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| SendError {
                what: "publishing to IoT Core",
                source: aws_sdk_iotdataplane::error::DisplayErrorContext(&e)
                    .to_string()
                    .into(),
            })?;
        Ok(())
    }
}

impl DeviceLink for IotLink {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        self.publish_json(topic, "encoding a gate command", command)
            .await
    }
}

impl parking_app::usecases::notify::DriverLink for IotLink {
    async fn notify(
        &self,
        topic: &str,
        message: &parking_app::usecases::notify::Rendered,
    ) -> Result<(), SendError> {
        self.publish_json(topic, "encoding a notification", message)
            .await
    }
}
