//! Errors as `application/problem+json` (RFC 9457): a stable `code` a
//! client matches on, a title, the status, a detail, and for validation
//! errors the fields at fault. Each error is worded once, here.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use parking_app::StoreError;
use serde::Serialize;

/// One field that is wrong: its path in the request (`body.end`,
/// `query.limit`, `header.Idempotency-Key`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request carries no verified identity")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no such resource")]
    NoRoute,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The request is well formed but some fields are not acceptable.
    #[error("{}", summary(.0))]
    Invalid(Vec<FieldProblem>),
    /// The request is malformed: bad JSON, an unknown field, a wrong type,
    /// a bad cursor or parameter.
    #[error("{detail}")]
    BadRequest {
        code: &'static str,
        detail: String,
        field: Option<String>,
    },
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {} KB", crate::extract::MAX_BODY / 1024)]
    PayloadTooLarge,
    #[error("the resource changed since it was read; read it again")]
    PreconditionFailed,
    #[error("send If-Match with the ETag the resource was read with")]
    PreconditionRequired,
    #[error("too many requests; try again in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("the service is busy; try again shortly")]
    Unavailable,
    #[error("something went wrong on our side")]
    Internal,
}

fn summary(fields: &[FieldProblem]) -> String {
    match fields {
        [one] => format!("{}: {}", one.field, one.problem),
        _ => format!("{} fields are not acceptable", fields.len()),
    }
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldProblem::new(field, problem)])
    }

    pub fn bad_request(
        code: &'static str,
        field: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
            field,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::NoRoute => "no_route",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::Invalid(_) => "validation_failed",
            ApiError::BadRequest { code, .. } => code,
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PreconditionRequired => "precondition_required",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    fn title(&self) -> &'static str {
        self.status().canonical_reason().unwrap_or("Error")
    }
}

/// The problem document.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:problem:` and the code.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable code clients match on.
    pub code: String,
    /// The fields at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

impl From<&ApiError> for Problem {
    fn from(e: &ApiError) -> Self {
        let errors = match e {
            ApiError::Invalid(fields) => fields.clone(),
            ApiError::BadRequest {
                field: Some(field),
                detail,
                ..
            } => vec![FieldProblem::new(field.clone(), detail.clone())],
            _ => Vec::new(),
        };
        Problem {
            kind: format!("urn:problem:{}", e.code()),
            title: e.title().to_owned(),
            status: e.status().as_u16(),
            detail: e.to_string(),
            code: e.code().to_owned(),
            errors,
        }
    }
}

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Problem::from(&self)).unwrap_or_default();
        let mut r = (self.status(), body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthenticated) {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable) {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::TooManyRequests { retry_after } = self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        r
    }
}

impl From<StoreError> for ApiError {
    /// Store errors carry no plate or token, so they are logged whole.
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            tracing::warn!(error = %e, "store unavailable");
            ApiError::Unavailable
        } else {
            tracing::error!(error = %e, "store failed");
            ApiError::Internal
        }
    }
}
