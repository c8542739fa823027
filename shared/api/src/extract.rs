//! What handlers take from a request: the caller, a JSON body (within
//! 64 KB, as `application/json`, with no unknown fields), query
//! parameters, and ids from the path; each refusal a problem document.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
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

/// A caller who is not a driver: the claims, checked for a role when the
/// handler knows its lot.
#[derive(Debug, Clone)]
pub struct StaffCaller(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for StaffCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        claims(parts).cloned().map(StaffCaller)
    }
}

impl StaffCaller {
    /// The caller as `role` acting on the lot named in the path: `403`
    /// without the role or when the lot is not in the caller's scope (an
    /// unknown lot is out of scope too, so nothing is learnt of it).
    ///
    /// # Errors
    ///
    /// [`ApiError::Forbidden`].
    pub fn on_lot(&self, role: Role, lot: &str) -> Result<(parking_app::Actor, LotId), ApiError> {
        if !self.0.has(role) {
            return Err(ApiError::Forbidden(format!("this is for the {role} role")));
        }
        let lot = LotId::parse(lot)
            .ok()
            .filter(|l| self.0.in_scope(role, l))
            .ok_or_else(|| ApiError::Forbidden("the lot is not in the caller's scope".into()))?;
        Ok((
            parking_app::Actor {
                role: role.name().to_owned(),
                subject: self.0.subject.clone(),
            },
            lot,
        ))
    }

    /// The caller as an operator (lot lists: no lot in the path).
    ///
    /// # Errors
    ///
    /// [`ApiError::Forbidden`] without the role.
    pub fn operator(&self) -> Result<&Claims, ApiError> {
        if !self.0.has(Role::Operator) {
            return Err(ApiError::Forbidden("this is for the operator role".into()));
        }
        Ok(&self.0)
    }
}

/// An operator, whatever the lot (for the list of their lots), checked
/// before the query is read.
pub struct OperatorCaller(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let c = StaffCaller(claims(parts)?.clone());
        c.operator()?;
        Ok(OperatorCaller(c.0))
    }
}

/// Support staff, in no lot: plate claims.
pub struct SupportCaller(pub parking_app::Actor);

impl<S: Send + Sync> FromRequestParts<S> for SupportCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let c = claims(parts)?;
        if !c.has(Role::Support) {
            return Err(ApiError::Forbidden("this is for the support role".into()));
        }
        Ok(SupportCaller(parking_app::Actor {
            role: Role::Support.name().to_owned(),
            subject: c.subject.clone(),
        }))
    }
}

/// The caller as `role` acting on the lot in the path, checked before
/// anything of the request is read (so a caller out of scope learns
/// nothing, not even whether the body would have been acceptable).
async fn on_lot<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    role: Role,
) -> Result<(parking_app::Actor, LotId), ApiError> {
    let c = StaffCaller(claims(parts)?.clone());
    let Path(params): Path<std::collections::HashMap<String, String>> =
        Path::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NoRoute)?;
    let lot = params.get("lot_id").ok_or(ApiError::NoRoute)?;
    c.on_lot(role, lot)
}

macro_rules! lot_callers {
    ($($(#[$doc:meta])* $name:ident => $role:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name(pub parking_app::Actor, pub LotId);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let (actor, lot) = on_lot(parts, state, $role).await?;
                Ok($name(actor, lot))
            }
        }
    )*};
}

lot_callers! {
    /// An operator of the lot in the path.
    OperatorLot => Role::Operator;
    /// A shop of the lot in the path.
    MerchantLot => Role::Merchant;
    /// A kiosk of the lot in the path.
    KioskLot => Role::Kiosk;
}
