//! The routes anyone may call, with or without a token: the open-data
//! feed of the published lots' status ([`crate::datex`]). Answers are
//! cacheable by anyone for [`open_data::MAX_AGE_SECONDS`]; a lot that
//! does not exist and one that is not published answer the same `404`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use parking_app::usecases::open_data;
use parking_app::{Store, StoreError};

use crate::datex::D2Payload;
use crate::extract::path_id;
use crate::problem::ApiError;
use crate::{Api, json};

type St<S> = State<Arc<Api<S>>>;

fn cacheable(mut r: Response) -> Response {
    let value = format!("public, max-age={}", open_data::MAX_AGE_SECONDS);
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    r
}

/// Every published lot; `404` while none is.
pub(crate) async fn parking_status<S: Store>(State(api): St<S>) -> Result<Response, ApiError> {
    let now = api.clock.now();
    let flags = api.flags.flags_at(now).await;
    let lots = open_data::published(&api.store, &flags, now).await?;
    if lots.is_empty() {
        // DATEX II's publication holds at least one site.
        return Err(ApiError::NotFound("published lot"));
    }
    Ok(cacheable(json(
        StatusCode::OK,
        &D2Payload::parking_status(&lots, now),
    )))
}

/// One published lot.
pub(crate) async fn lot_parking_status<S: Store>(
    State(api): St<S>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, parking_app::ids::LotId::parse, "lot")?;
    let now = api.clock.now();
    let flags = api.flags.flags_at(now).await;
    match open_data::lot_status(&api.store, &id, &flags, now).await {
        Ok(status) => Ok(cacheable(json(
            StatusCode::OK,
            &D2Payload::parking_status(std::slice::from_ref(&status), now),
        ))),
        Err(StoreError::NotFound { .. }) => Err(ApiError::NotFound("lot")),
        Err(e) => Err(e.into()),
    }
}
