//! Configuration from the environment, read once at start-up.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PARKING_TABLE` | the DynamoDB table | required |
//! | `PARKING_EVENT_RETENTION_DAYS` | days a processed device event is remembered | 30 |
//! | `PARKING_DYNAMODB_ATTEMPT_MS` | how long one DynamoDB request may take before the SDK gives up on it and tries again (the gate function: 300) | 1000 |
//! | `PARKING_DYNAMODB_TIMEOUT_MS` | how long one DynamoDB operation may take, its retries included | 3000 |
//! | `PARKING_LOT_CACHE_SECONDS` | how long a function keeps a lot's configuration and tariff | 60 |
//! | `PARKING_PAYMENTS_QUEUE_URL` | the payments FIFO queue (outbox forwarder) | required there |
//! | `PARKING_NOTIFICATIONS_QUEUE_URL` | the notifications FIFO queue (outbox forwarder) | required there |
//! | `PARKING_WEBHOOKS_QUEUE_URL` | the operator webhooks' FIFO queue (outbox forwarder; the webhooks function, which queues each event's deliveries) | required there |
//! | `PARKING_PAYMENTS_DLQ_URL`, `PARKING_NOTIFICATIONS_DLQ_URL` | the queues' dead-letter queues (staff API, `parkctl dead-letters`) | required there |
//! | `PARKING_IOT_ENDPOINT` | the account's IoT data endpoint (`https://…-ats.iot.{region}.amazonaws.com`) | the SDK's default |
//! | `PARKING_STRIPE_API` | the payment provider's API (payments) | `https://api.stripe.com` |
//! | `PARKING_STRIPE_SECRET_ID` | the Secrets Manager secret holding the provider's secret key, read once at start-up (payments, deployed) | — |
//! | `PARKING_STRIPE_SECRET_KEY` | the provider's secret key itself (payments, development only) | — |
//! | `PARKING_RETRY_BASE_SECONDS` | the first pause before a payments or notifications message is tried again; doubled each time, at most 900 | 30 |
//! | `AWS_REGION` | the AWS region | from the SDK's usual chain |
//! | `AWS_ENDPOINT_URL` | a local AWS endpoint (e.g. `http://127.0.0.1:5000`) instead of AWS | unset |
//!
//! With `AWS_ENDPOINT_URL` set, set credentials too (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, any values for a local endpoint) and
//! `AWS_EC2_METADATA_DISABLED=true`, so the SDK does not look for instance
//! credentials.

use aws_config::{BehaviorVersion, SdkConfig};
use jiff::SignedDuration;
use parking_app::rules::DEFAULT_EVENT_RETENTION;

use crate::DynamoStore;
use crate::iot::IotLink;
use crate::sqs::SqsQueues;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// The store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub table: String,
    pub event_retention: SignedDuration,
    /// The SDK's deadlines and retries for the store's requests.
    pub deadlines: Deadlines,
}

/// How long the SDK waits for AWS: a request that stalls is given up on
/// after `attempt` and tried again (at most three attempts in all), and
/// an operation with its retries takes at most `operation`; connecting
/// takes at most a second. Without them the SDK waits as long as the
/// function runs, and a driver waits at a closed barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub attempt: std::time::Duration,
    pub operation: std::time::Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            attempt: std::time::Duration::from_millis(1000),
            operation: std::time::Duration::from_millis(3000),
        }
    }
}

impl Deadlines {
    /// The SDK's timeout configuration.
    pub fn timeouts(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(1))
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK's retries: standard, three attempts in all, the first
    /// after at most 50 ms (DynamoDB answers in milliseconds; the SDK's
    /// default first pause of up to a second is most of a gate's budget).
    pub fn retries(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(std::time::Duration::from_millis(50))
    }

    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Deadlines, ConfigError> {
        let ms = |variable: &'static str, default: std::time::Duration| match get(variable) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (50..=60_000).contains(&n) => Ok(std::time::Duration::from_millis(n)),
                _ => Err(ConfigError {
                    variable,
                    problem: format!("expected milliseconds from 50 to 60000, got {v:?}"),
                }),
            },
        };
        let d = Deadlines::default();
        let attempt = ms("PARKING_DYNAMODB_ATTEMPT_MS", d.attempt)?;
        let operation = ms("PARKING_DYNAMODB_TIMEOUT_MS", d.operation)?;
        if operation < attempt {
            return Err(ConfigError {
                variable: "PARKING_DYNAMODB_TIMEOUT_MS",
                problem: "must be at least PARKING_DYNAMODB_ATTEMPT_MS".into(),
            });
        }
        Ok(Deadlines { attempt, operation })
    }
}

impl StoreConfig {
    pub fn from_env() -> Result<StoreConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<StoreConfig, ConfigError> {
        let table = get("PARKING_TABLE")
            .filter(|t| !t.trim().is_empty())
            .ok_or(ConfigError {
                variable: "PARKING_TABLE",
                problem: "must name the DynamoDB table".into(),
            })?;
        let event_retention = match get("PARKING_EVENT_RETENTION_DAYS") {
            None => DEFAULT_EVENT_RETENTION,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(days) if (1..=3650).contains(&days) => SignedDuration::from_hours(days * 24),
                _ => {
                    return Err(ConfigError {
                        variable: "PARKING_EVENT_RETENTION_DAYS",
                        problem: format!("expected a number of days from 1 to 3650, got {v:?}"),
                    });
                }
            },
        };
        Ok(StoreConfig {
            table,
            event_retention,
            deadlines: Deadlines::from_lookup(&get)?,
        })
    }
}

fn required(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    what: &str,
) -> Result<String, ConfigError> {
    get(variable)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError {
            variable,
            problem: format!("must name {what}"),
        })
}

/// The device functions' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub lot_cache: SignedDuration,
    pub iot_endpoint: Option<String>,
}

impl DeviceConfig {
    pub fn from_env() -> Result<DeviceConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<DeviceConfig, ConfigError> {
        let lot_cache = match get("PARKING_LOT_CACHE_SECONDS") {
            None => SignedDuration::from_secs(60),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(s) if (0..=3600).contains(&s) => SignedDuration::from_secs(s),
                _ => {
                    return Err(ConfigError {
                        variable: "PARKING_LOT_CACHE_SECONDS",
                        problem: format!("expected seconds from 0 to 3600, got {v:?}"),
                    });
                }
            },
        };
        let iot_endpoint = get("PARKING_IOT_ENDPOINT").filter(|v| !v.trim().is_empty());
        if let Some(e) = &iot_endpoint
            && !e.starts_with("https://")
            && !e.starts_with("http://")
        {
            return Err(ConfigError {
                variable: "PARKING_IOT_ENDPOINT",
                problem: format!(
                    "expected a URL such as https://abc-ats.iot.ap-northeast-1.amazonaws.com, got {e:?}"
                ),
            });
        }
        Ok(DeviceConfig {
            lot_cache,
            iot_endpoint,
        })
    }
}

/// The queues the outbox forwarder sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub payments_url: String,
    pub notifications_url: String,
    pub webhooks_url: String,
}

impl QueueConfig {
    pub fn from_env() -> Result<QueueConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<QueueConfig, ConfigError> {
        Ok(QueueConfig {
            payments_url: required(&get, "PARKING_PAYMENTS_QUEUE_URL", "the payments queue")?,
            notifications_url: required(
                &get,
                "PARKING_NOTIFICATIONS_QUEUE_URL",
                "the notifications queue",
            )?,
            webhooks_url: required(&get, "PARKING_WEBHOOKS_QUEUE_URL", "the webhooks queue")?,
        })
    }
}

/// The link to the gates on a shared SDK configuration.
pub fn iot_link(sdk: &SdkConfig, config: &DeviceConfig) -> IotLink {
    // A command is worth publishing while its read is live: a second an
    // attempt, three attempts, five seconds in all.
    let mut b = aws_sdk_iotdataplane::config::Builder::from(sdk)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                .operation_attempt_timeout(std::time::Duration::from_secs(1))
                .operation_timeout(std::time::Duration::from_secs(5))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
    if let Some(e) = &config.iot_endpoint {
        b = b.endpoint_url(e);
    }
    IotLink::new(aws_sdk_iotdataplane::Client::from_conf(b.build()))
}

/// The queues on a shared SDK configuration.
pub fn sqs_queues(sdk: &SdkConfig, config: &QueueConfig) -> SqsQueues {
    SqsQueues::new(
        aws_sdk_sqs::Client::new(sdk),
        config.payments_url.clone(),
        config.notifications_url.clone(),
    )
    .with_webhooks(config.webhooks_url.clone())
}

/// The SDK configuration, from the usual environment and profile chain.
/// Build it once and derive every client from it.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// What every function starts with: its store settings read once, one
/// SDK configuration, and the store on it with its connection warmed.
///
/// # Errors
///
/// A store setting is missing or malformed.
pub async fn store_from_env() -> Result<(SdkConfig, DynamoStore), ConfigError> {
    let config = StoreConfig::from_env()?;
    let sdk = sdk_config().await;
    let store = dynamo_store(&sdk, &config);
    store.warm().await;
    Ok((sdk, store))
}

/// The DynamoDB store for these settings on a shared SDK configuration.
pub fn dynamo_store(sdk: &SdkConfig, config: &StoreConfig) -> DynamoStore {
    DynamoStore::metered(dynamo_builder(sdk, &config.deadlines), &config.table)
        .with_event_retention(config.event_retention)
}

/// A DynamoDB client configuration on a shared SDK configuration, with
/// the store's deadlines and retries.
pub fn dynamo_builder(sdk: &SdkConfig, deadlines: &Deadlines) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(deadlines.timeouts())
        .retry_config(deadlines.retries())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_payment_api_is_https_or_a_loopback_fake() {
        for ok in [
            "https://api.stripe.com",
            "https://api.stripe.com/",
            "http://127.0.0.1:45124",
            "http://[::1]:8080",
        ] {
            assert!(provider_api_allowed(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1.evil",
            "http://api.stripe.com",
            "http://localhost.evil:80",
            "https://user:pass@api.stripe.com",
            "ftp://127.0.0.1",
            "127.0.0.1:45124",
            "",
        ] {
            assert!(!provider_api_allowed(bad), "{bad}");
        }
    }

    fn read(vars: &[(&str, &str)]) -> Result<StoreConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        StoreConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn settings_are_typed_and_errors_name_the_variable() {
        let c = read(&[
            ("PARKING_TABLE", "t"),
            ("PARKING_EVENT_RETENTION_DAYS", "7"),
        ])
        .expect("config");
        assert_eq!(c.event_retention, SignedDuration::from_hours(168));
        assert_eq!(
            read(&[("PARKING_TABLE", "t")]).map(|c| c.event_retention),
            Ok(DEFAULT_EVENT_RETENTION)
        );
        assert_eq!(read(&[]).map_err(|e| e.variable), Err("PARKING_TABLE"));
        let e = read(&[
            ("PARKING_TABLE", "t"),
            ("PARKING_EVENT_RETENTION_DAYS", "forever"),
        ])
        .expect_err("bad days");
        assert_eq!(
            e.to_string(),
            "PARKING_EVENT_RETENTION_DAYS: expected a number of days from 1 to 3650, got \"forever\""
        );
    }
}

/// The notifications function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// The queue it consumes (for the retries' back-off).
    pub queue_url: String,
    pub retry_base_seconds: i32,
}

impl NotificationsConfig {
    pub fn from_env() -> Result<NotificationsConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<NotificationsConfig, ConfigError> {
        Ok(NotificationsConfig {
            queue_url: required(
                &get,
                "PARKING_NOTIFICATIONS_QUEUE_URL",
                "the notifications queue's URL",
            )?,
            retry_base_seconds: retry_base(&get)?,
        })
    }
}

fn retry_base(get: &impl Fn(&str) -> Option<String>) -> Result<i32, ConfigError> {
    match get("PARKING_RETRY_BASE_SECONDS") {
        None => Ok(30),
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if (0..=900).contains(&n) => Ok(n),
            _ => Err(ConfigError {
                variable: "PARKING_RETRY_BASE_SECONDS",
                problem: format!("expected seconds from 0 to 900, got {v:?}"),
            }),
        },
    }
}

/// Where the payment provider's secret key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum ProviderSecret {
    /// A Secrets Manager secret's id, read once at start-up.
    SecretId(String),
    /// The key itself (development).
    Key(String),
}

impl std::fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderSecret::SecretId(id) => f.debug_tuple("SecretId").field(id).finish(),
            ProviderSecret::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

/// The payment provider's API and where its secret key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub provider_api: String,
    pub secret: ProviderSecret,
}

/// Whether the payment provider's address may be used: parsed as a URL,
/// https anywhere, or http on a loopback address only (a host that merely
/// begins with `127.0.0.1`, such as `127.0.0.1.example`, is not one), and
/// never with credentials in it.
fn provider_api_allowed(text: &str) -> bool {
    let Ok(u) = url::Url::parse(text) else {
        return false;
    };
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    u.username().is_empty()
        && u.password().is_none()
        && u.host().is_some()
        && (u.scheme() == "https" || (u.scheme() == "http" && loopback))
}

impl ProviderConfig {
    pub fn from_env() -> Result<ProviderConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<ProviderConfig, ConfigError> {
        let provider_api = get("PARKING_STRIPE_API")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "https://api.stripe.com".into());
        if !provider_api_allowed(&provider_api) {
            return Err(ConfigError {
                variable: "PARKING_STRIPE_API",
                problem: "must be an https URL (or http on a loopback address, 127.0.0.1 or [::1], for a local fake), with no user or password".into(),
            });
        }
        let secret = match (
            get("PARKING_STRIPE_SECRET_ID").filter(|v| !v.trim().is_empty()),
            get("PARKING_STRIPE_SECRET_KEY").filter(|v| !v.trim().is_empty()),
        ) {
            (Some(id), _) => ProviderSecret::SecretId(id),
            (None, Some(key)) => ProviderSecret::Key(key),
            (None, None) => {
                return Err(ConfigError {
                    variable: "PARKING_STRIPE_SECRET_ID",
                    problem: "must name the secret holding the provider's key (or set PARKING_STRIPE_SECRET_KEY in development)".into(),
                });
            }
        };
        Ok(ProviderConfig {
            provider_api,
            secret,
        })
    }
}

/// The payments function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentsConfig {
    /// The queue it consumes (for the retries' back-off).
    pub queue_url: String,
    pub provider: ProviderConfig,
    pub retry_base_seconds: i32,
}

impl PaymentsConfig {
    pub fn from_env() -> Result<PaymentsConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<PaymentsConfig, ConfigError> {
        let queue_url = required(
            &get,
            "PARKING_PAYMENTS_QUEUE_URL",
            "the payments queue's URL",
        )?;
        let provider = ProviderConfig::from_lookup(&get)?;
        let retry_base_seconds = retry_base(&get)?;
        Ok(PaymentsConfig {
            queue_url,
            provider,
            retry_base_seconds,
        })
    }
}

/// The payment provider, with its secret read once (from Secrets Manager
/// when deployed).
///
/// # Errors
///
/// The secret cannot be read, or the HTTP client cannot be built.
#[cfg(feature = "stripe")]
pub async fn stripe_provider(
    sdk: &SdkConfig,
    config: &ProviderConfig,
) -> Result<crate::stripe::StripeProvider, ConfigError> {
    let key = match &config.secret {
        ProviderSecret::Key(k) => k.clone(),
        ProviderSecret::SecretId(id) => aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| ConfigError {
                variable: "PARKING_STRIPE_SECRET_ID",
                problem: format!(
                    "the secret cannot be read: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ),
            })?
            .secret_string
            .ok_or(ConfigError {
                variable: "PARKING_STRIPE_SECRET_ID",
                problem: "the secret holds no string".into(),
            })?,
    };
    crate::stripe::StripeProvider::new(&config.provider_api, crate::stripe::StripeKey::new(key))
        .map_err(|problem| ConfigError {
            variable: "PARKING_STRIPE_API",
            problem,
        })
}

/// Where the webhook's signing secrets come from: a Secrets Manager
/// secret (deployed) or the variable itself (development). Either holds
/// one secret, or two separated by a comma while one is being rotated.
#[derive(Clone, PartialEq, Eq)]
pub enum WebhookConfig {
    SecretId(String),
    Secrets(String),
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookConfig::SecretId(id) => f.debug_tuple("SecretId").field(id).finish(),
            WebhookConfig::Secrets(_) => f.write_str("Secrets(<redacted>)"),
        }
    }
}

impl WebhookConfig {
    pub fn from_env() -> Result<WebhookConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<WebhookConfig, ConfigError> {
        match (
            get("PARKING_STRIPE_WEBHOOK_SECRET_ID").filter(|v| !v.trim().is_empty()),
            get("PARKING_STRIPE_WEBHOOK_SECRETS").filter(|v| !v.trim().is_empty()),
        ) {
            (Some(id), _) => Ok(WebhookConfig::SecretId(id)),
            (None, Some(s)) => Ok(WebhookConfig::Secrets(s)),
            (None, None) => Err(ConfigError {
                variable: "PARKING_STRIPE_WEBHOOK_SECRET_ID",
                problem: "must name the secret holding the webhook signing secrets (or set PARKING_STRIPE_WEBHOOK_SECRETS in development)".into(),
            }),
        }
    }
}

/// The webhook's signing secrets, read once.
///
/// # Errors
///
/// The secret cannot be read, or holds none.
#[cfg(feature = "stripe")]
pub async fn webhook_secrets(
    sdk: &SdkConfig,
    config: &WebhookConfig,
) -> Result<Vec<parking_app::usecases::webhook::WebhookSecret>, ConfigError> {
    let text = match config {
        WebhookConfig::Secrets(s) => s.clone(),
        WebhookConfig::SecretId(id) => aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| ConfigError {
                variable: "PARKING_STRIPE_WEBHOOK_SECRET_ID",
                problem: format!(
                    "the secret cannot be read: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ),
            })?
            .secret_string
            .unwrap_or_default(),
    };
    let secrets: Vec<_> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parking_app::usecases::webhook::WebhookSecret::new)
        .collect();
    if secrets.is_empty() {
        return Err(ConfigError {
            variable: "PARKING_STRIPE_WEBHOOK_SECRET_ID",
            problem: "holds no signing secret".into(),
        });
    }
    Ok(secrets)
}

/// The evidence bucket the cameras' frames are uploaded to, linked from
/// the operator API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceConfig {
    pub bucket: String,
}

impl EvidenceConfig {
    pub fn from_env() -> Result<EvidenceConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<EvidenceConfig, ConfigError> {
        Ok(EvidenceConfig {
            bucket: required(&get, "PARKING_EVIDENCE_BUCKET", "the evidence bucket")?,
        })
    }
}

/// The queues and their dead-letter queues, for listing and redriving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterConfig {
    pub payments: (String, String),
    pub notifications: (String, String),
}

impl DeadLetterConfig {
    pub fn from_env() -> Result<DeadLetterConfig, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<DeadLetterConfig, ConfigError> {
        Ok(DeadLetterConfig {
            payments: (
                required(
                    &get,
                    "PARKING_PAYMENTS_QUEUE_URL",
                    "the payments queue's URL",
                )?,
                required(
                    &get,
                    "PARKING_PAYMENTS_DLQ_URL",
                    "the payments dead-letter queue's URL",
                )?,
            ),
            notifications: (
                required(
                    &get,
                    "PARKING_NOTIFICATIONS_QUEUE_URL",
                    "the notifications queue's URL",
                )?,
                required(
                    &get,
                    "PARKING_NOTIFICATIONS_DLQ_URL",
                    "the notifications dead-letter queue's URL",
                )?,
            ),
        })
    }
}

/// The device events dead-letter queue's URL
/// (`PARKING_DEVICE_EVENTS_DLQ_URL`).
///
/// # Errors
///
/// The variable is missing.
pub fn device_letters_url(get: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    required(
        &get,
        "PARKING_DEVICE_EVENTS_DLQ_URL",
        "the device events dead-letter queue's URL",
    )
}

/// The device events dead-letter queue on SQS.
pub fn device_letters(sdk: &SdkConfig, url: String) -> crate::sqs::SqsDeviceLetters {
    crate::sqs::SqsDeviceLetters::new(aws_sdk_sqs::Client::new(sdk), url)
}

/// The dead-letter queues on SQS.
pub fn dead_letters(sdk: &SdkConfig, config: &DeadLetterConfig) -> crate::sqs::SqsDeadLetters {
    crate::sqs::SqsDeadLetters::new(
        aws_sdk_sqs::Client::new(sdk),
        config.payments.clone(),
        config.notifications.clone(),
    )
}
