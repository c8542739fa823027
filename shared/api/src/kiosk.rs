//! The pay kiosk's routes: unpaid stays in its lot by the plate's four
//! digits (a hint of the plate — its region and serial — and the entry
//! time, nothing else), and a payment taken at the kiosk for the whole
//! plate as typed, after which the exit gate lets the car out within the
//! lot's exit window.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use parking_app::Store;
use parking_app::ids::SessionId;
use parking_app::usecases::adjust;

use crate::driver::idempotency_key;
use crate::dto::*;
use crate::extract::{JsonBody, KioskLot, Params, path_id};
use crate::operator::action_error;
use crate::page::{Page, PageQuery, paginate};
use crate::problem::ApiError;
use crate::{Api, json};

type St<S> = State<Arc<Api<S>>>;

/// Counts the kiosk's request under `limit`: `429` with `Retry-After` when
/// it is over (counted in the store, so every instance agrees).
async fn within<S: Store>(
    api: &Api<S>,
    kiosk: &parking_app::Actor,
    limit: parking_app::rate_limits::Limit,
) -> Result<(), ApiError> {
    match parking_app::rate_limits::admit(&api.store, &kiosk.subject, limit, api.clock.now())
        .await?
    {
        None => Ok(()),
        Some(wait) => Err(ApiError::TooManyRequests {
            retry_after: u64::try_from(wait.as_secs()).unwrap_or(1).max(1),
        }),
    }
}

pub(crate) async fn find_sessions<S: Store>(
    State(api): St<S>,
    KioskLot(kiosk, lot_id): KioskLot,
    Params(q): Params<DigitsQuery>,
) -> Result<Response, ApiError> {
    within(&api, &kiosk, parking_app::rate_limits::KIOSK_LOOKUPS).await?;
    let digits = q.digits.as_deref().unwrap_or_default();
    let found = adjust::kiosk_lookup(
        &api.store,
        adjust::Staff {
            actor: &kiosk,
            lot_id: &lot_id,
            now: api.clock.now(),
        },
        digits,
    )
    .await
    .map_err(|e| match e {
        adjust::ActionError::Invalid { problem, .. } => {
            ApiError::bad_request("invalid_query", Some("query.digits".into()), problem)
        }
        e => action_error(e, "query"),
    })?;
    let page = paginate(
        found,
        |k| format!("{:025}#{}", k.entry_at.as_nanosecond(), k.session_id),
        &format!("kiosk:{}:{lot_id}:{digits}", kiosk.subject),
        &PageQuery {
            cursor: q.cursor,
            limit: q.limit,
        },
    )?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items: page
                .items
                .into_iter()
                .map(|k| KioskSessionOut {
                    session_id: k.session_id.to_string(),
                    plate_hint: k.hint,
                    lot_id: k.lot_id.to_string(),
                    entry_at: k.entry_at,
                    due: k.due.into(),
                })
                .collect(),
            next_cursor: page.next_cursor,
        },
    ))
}

pub(crate) async fn pay<S: Store>(
    State(api): St<S>,
    KioskLot(kiosk, lot_id): KioskLot,
    Path((_, session)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<KioskPaymentIn>,
) -> Result<Response, ApiError> {
    within(&api, &kiosk, parking_app::rate_limits::KIOSK_PAYMENTS).await?;
    let key = idempotency_key(&headers)?;
    let id = path_id(&session, SessionId::parse, "session")?;
    let plate = parking_core::Plate::parse(&body.plate)
        .map_err(|e| ApiError::invalid("body.plate", e.to_string()))?;
    let (done, exit_by, paid) = adjust::kiosk_pay(
        &api.store,
        adjust::Staff {
            actor: &kiosk,
            lot_id: &lot_id,
            now: api.clock.now(),
        },
        &id,
        &plate,
        body.amount,
        &key,
    )
    .await
    .map_err(|e| action_error(e, "body"))?;
    let s = done.session.ok_or(ApiError::NotFound("session"))?;
    Ok(json(
        StatusCode::OK,
        &KioskPaymentOut {
            session_id: s.id.to_string(),
            paid: paid.into(),
            exit_by,
        },
    ))
}
