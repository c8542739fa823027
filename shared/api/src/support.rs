//! Support staff: the plate claims a code cannot prove.

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use parking_app::ids::DriverId;
use parking_app::usecases::plate_reviews::{self, Decision, ReviewError};

use crate::dto::*;
use crate::extract::{JsonBody, Params, SupportCaller};
use crate::page::{PageQuery, paginate};
use crate::problem::ApiError;
use crate::{Api, json, no_content};

type St<S> = State<std::sync::Arc<Api<S>>>;

fn review_error(e: ReviewError) -> ApiError {
    match e {
        ReviewError::NotFound => ApiError::NotFound("plate claim"),
        ReviewError::Note(problem) => ApiError::invalid("body.note", problem),
        ReviewError::Store(e) => e.into(),
    }
}

pub(crate) async fn list_plate_claims<S: parking_app::Store>(
    State(api): St<S>,
    SupportCaller(_): SupportCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let v: Vec<PlateReviewOut> =
        plate_reviews::queue(&api.store, &*api.clock, plate_reviews::MAX_PAGE)
            .await
            .map_err(review_error)?
            .into_iter()
            .map(|r| PlateReviewOut {
                plate: r.plate.key(),
                plate_display: r.plate.display(),
                driver_id: r.driver_id.to_string(),
                claimed_at: r.claimed_at,
            })
            .collect();
    let page = paginate(
        v,
        |r| format!("{}#{}#{}", r.claimed_at, r.plate, r.driver_id),
        "plate-claims",
        &q,
    )?;
    Ok(json(StatusCode::OK, &page))
}

pub(crate) async fn decide_plate_claim<S: parking_app::Store>(
    State(api): St<S>,
    SupportCaller(actor): SupportCaller,
    Path(plate): Path<String>,
    JsonBody(body): JsonBody<PlateDecisionIn>,
) -> Result<Response, ApiError> {
    let driver = DriverId::parse(&body.driver_id)
        .map_err(|e| ApiError::invalid("body.driver_id", e.to_string()))?;
    let decision = match body.decision {
        PlateDecision::Approve => Decision::Approve,
        PlateDecision::Reject => Decision::Reject,
    };
    plate_reviews::decide(
        &api.store,
        &*api.clock,
        &plate,
        &driver,
        decision,
        &actor,
        &body.note,
    )
    .await
    .map_err(review_error)?;
    Ok(no_content())
}
