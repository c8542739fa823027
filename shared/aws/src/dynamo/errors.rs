//! How DynamoDB's errors map onto [`StoreError`], once for every operation:
//! only what may succeed when tried again is `Unavailable` (throttling,
//! server errors, time-outs, failed dispatch); everything else —
//! validation errors, a missing table, access denied — is `Rejected`, so a
//! queue consumer drops the message to its dead-letter queue instead of
//! retrying it forever.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use parking_app::StoreError;
use parking_app::redact::without_quoted_values;

/// Service error codes that say "try again later".
const RETRYABLE_CODES: [&str; 8] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
    "LimitExceededException",
];

/// Whether a service error with this code and HTTP status may succeed later.
pub(crate) fn is_retryable(code: Option<&str>, status: u16) -> bool {
    status >= 500 || code.is_some_and(|c| RETRYABLE_CODES.contains(&c))
}

/// A service's answer, worded with its error code and message (quoted
/// values and plates in keys left out: messages may repeat what was
/// sent), the SDK's error kept as the source.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    pub code: String,
    pub message: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The store error for a failed request.
pub(crate) fn from_sdk<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(ctx) = &e
        && ctx.err().code() == Some("ValidationException")
        && ctx.err().message().is_some_and(|m| m.contains("Item size"))
    {
        return too_large("item");
    }
    let retryable = match &e {
        SdkError::ServiceError(ctx) => is_retryable(ctx.err().code(), ctx.raw().status().as_u16()),
        SdkError::ConstructionFailure(_) => false,
        // Time-outs, dispatch failures and unreadable responses.
        _ => true,
    };
    let source: Box<dyn std::error::Error + Send + Sync> = match &e {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("unknown").to_owned();
            let message = super::keys::redact(&without_quoted_values(
                ctx.err().message().unwrap_or("no message"),
            ));
            Box::new(ServiceError {
                code,
                message,
                source: Box::new(e),
            })
        }
        _ => Box::new(e),
    };
    if retryable {
        StoreError::Unavailable { source }
    } else {
        StoreError::Rejected { source }
    }
}

/// DynamoDB's own refusal of an item over its limit, whose size it does
/// not say.
pub(crate) fn too_large(kind: &str) -> StoreError {
    StoreError::TooLarge {
        kind: kind.to_owned(),
        bytes: parking_app::ITEM_LIMIT_BYTES + 1,
        limit: parking_app::ITEM_LIMIT_BYTES,
    }
}

/// A request that could not even be built is a defect, never retried.
pub(crate) fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Rejected {
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(is_retryable(Some("ThrottlingException"), 400));
        assert!(is_retryable(
            Some("ProvisionedThroughputExceededException"),
            400
        ));
        assert!(is_retryable(None, 500));
        assert!(is_retryable(Some("InternalServerError"), 500));
        assert!(!is_retryable(Some("ValidationException"), 400));
        assert!(!is_retryable(Some("ResourceNotFoundException"), 400));
        assert!(!is_retryable(Some("AccessDeniedException"), 400));
        assert!(!is_retryable(Some("ConditionalCheckFailedException"), 400));
    }
}
