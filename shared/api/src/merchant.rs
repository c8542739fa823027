//! The shops' route: a shop account of a lot validates a customer's open
//! session by plate, once per shop and session.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use parking_app::Store;
use parking_app::usecases::adjust::{self, Validation};
use parking_core::Plate;

use crate::dto::*;
use crate::extract::{JsonBody, MerchantLot};
use crate::operator::action_error;
use crate::problem::ApiError;
use crate::{Api, json};

type St<S> = State<Arc<Api<S>>>;

pub(crate) async fn validate<S: Store>(
    State(api): St<S>,
    MerchantLot(shop, lot_id): MerchantLot,
    JsonBody(body): JsonBody<ValidationIn>,
) -> Result<Response, ApiError> {
    let plate = Plate::parse(&body.plate)
        .map_err(|e| ApiError::invalid("body.plate", crate::redacted(&e.to_string())))?;
    let now = api.clock.now();
    let v = Validation {
        minutes: body.minutes,
        amount: body.amount,
    };
    let done = adjust::validate(
        &api.store,
        adjust::Staff {
            actor: &shop,
            lot_id: &lot_id,
            now,
        },
        &plate,
        v,
    )
    .await
    .map_err(|e| action_error(e, "body"))?;
    let s = done.session.ok_or(ApiError::NotFound("open session"))?;
    let fee = adjust::fee_if_left(&api.store, &s, now).await?;
    Ok(json(
        StatusCode::CREATED,
        &ValidationOut {
            session_id: s.id.to_string(),
            entry_at: s.entry_at,
            minutes: v.minutes,
            amount: v.amount,
            fee_if_left_now: fee.map(Amount::from),
        },
    ))
}
