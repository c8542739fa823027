//! What handlers take from a request: the caller, a JSON body (within
//! 64 KB, as `application/json`, with no unknown fields), query
//! parameters, and ids from the path; each refusal a problem document.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use http::header;
use http::request::Parts;
use parking_app::ids::*;
use serde::de::DeserializeOwned;

use crate::claims::{Claims, Role};
use crate::problem::ApiError;

/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

fn claims(parts: &Parts) -> Result<&Claims, ApiError> {
    parts
        .extensions
        .get::<Claims>()
        .ok_or(ApiError::Unauthenticated)
}

/// A driver: the caller's subject is their driver id.
#[derive(Debug, Clone)]
pub struct DriverCaller(pub DriverId);

impl<S: Send + Sync> FromRequestParts<S> for DriverCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let c = claims(parts)?;
        if !c.has(Role::Driver) {
            return Err(ApiError::Forbidden("this is for drivers".into()));
        }
        DriverId::parse(&c.subject)
            .map(DriverCaller)
            .map_err(|_| ApiError::Forbidden("the token's subject is not a driver id".into()))
    }
}

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, naming the field at fault (`body.start`).
///
/// # Errors
///
/// `400 malformed_json` for text that is not JSON, `400 invalid_body` for
/// an unknown field, a missing one or a wrong type.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path == "." {
                "body".to_owned()
            } else {
                format!("body.{path}")
            };
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::bad_request(
                    "malformed_json",
                    None,
                    "the body is not valid JSON",
                ))
            } else {
                // serde's message names the field or type, never the value
                // of a string (which might be a plate or a card).
                let detail = crate::redacted(&inner.to_string());
                Err(ApiError::bad_request("invalid_body", Some(field), detail))
            }
        }
    }
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| Params(v))
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_query",
                    Some("query".into()),
                    crate::redacted(&e.body_text()),
                )
            })
    }
}

/// An id from the path; one that cannot be an id names nothing.
pub fn path_id<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, IdError>,
    what: &'static str,
) -> Result<T, ApiError> {
    parse(text).map_err(|_| ApiError::NotFound(what))
}
