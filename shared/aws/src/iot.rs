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

/// Allow-lists go to each gate device's classic shadow, as its desired
/// `allow` state: `{"state": {"desired": {"allow": {…}}}, "version": n}`,
/// the shadow's version guarding the update (IoT Core refuses it with a
/// conflict when the shadow changed meanwhile).
impl parking_app::usecases::allow_list::AllowListLink for IotLink {
    async fn current(
        &self,
        device: &parking_app::DeviceId,
    ) -> Result<parking_app::usecases::allow_list::Held, SendError> {
        let got = self
            .client
            .get_thing_shadow()
            .thing_name(device.as_str())
            .send()
            .await;
        let out = match got {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(parking_app::usecases::allow_list::Held::default());
            }
            Err(e) => {
                return Err(SendError {
                    what: "reading a device shadow",
                    source: aws_sdk_iotdataplane::error::DisplayErrorContext(&e)
                        .to_string()
                        .into(),
                });
            }
        };
        let doc: serde_json::Value = out
            .payload
            .map(|b| serde_json::from_slice(b.as_ref()).unwrap_or_default())
            .unwrap_or_default();
        Ok(parking_app::usecases::allow_list::Held {
            list: serde_json::from_value(doc["state"]["desired"]["allow"].clone()).ok(),
            version: doc["version"].as_u64(),
        })
    }

    async fn push(
        &self,
        device: &parking_app::DeviceId,
        list: &parking_app::usecases::allow_list::AllowList,
        version: Option<u64>,
    ) -> Result<bool, SendError> {
        let mut doc = serde_json::json!({"state": {"desired": {"allow": list}}});
        if let Some(v) = version {
            doc["version"] = v.into();
        }
        let payload = serde_json::to_vec(&doc).map_err(|e| SendError {
            what: "encoding an allow-list",
            source: Box::new(e),
        })?;
        let sent = self
            .client
            .update_thing_shadow()
            .thing_name(device.as_str())
            .payload(Blob::new(payload))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(SendError {
                what: "updating a device shadow",
                source: aws_sdk_iotdataplane::error::DisplayErrorContext(&e)
                    .to_string()
                    .into(),
            }),
        }
    }
}
