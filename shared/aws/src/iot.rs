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

impl DeviceLink for IotLink {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        let payload = serde_json::to_vec(command).map_err(|e| SendError {
            what: "encoding a gate command",
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

impl parking_app::usecases::notify::DriverLink for IotLink {
    async fn notify(
        &self,
        topic: &str,
        message: &parking_app::usecases::notify::Rendered,
    ) -> Result<(), SendError> {
        let payload = serde_json::to_vec(message).map_err(|e| SendError {
            what: "encoding a notification",
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
