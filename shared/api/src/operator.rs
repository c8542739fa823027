//! The operators' routes under `/v1/operator`: lot configuration with
//! `ETag`/`If-Match`, gates, devices, bays, tariff versions, the review
//! queue and its resolutions, refunds, the manual barrier open, monthly
//! passes, the daily report and the audit trail. An operator acts only on
//! the lots their `custom:scopes` claim gives the operator role: any other
//! lot is `403`, whether or not it exists.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use jiff::civil::Date;
use parking_app::usecases::adjust::{self, ActionError, Decision, NewPass};
use parking_app::usecases::availability::{BayView, bay_view};
use parking_app::usecases::dashboard::lot_dashboard;
use parking_app::usecases::forecast;
use parking_app::usecases::four_eyes;
use parking_app::usecases::lot_flags;
use parking_app::usecases::operator::{self as ops, LotChange};
use parking_app::*;
use parking_core::Plate;

use crate::driver::idempotency_key;
use crate::dto::*;
use crate::extract::{JsonBody, OperatorCaller, OperatorLot, Params, path_id};
use crate::page::{Page, PageQuery, paginate};
use crate::problem::ApiError;
use crate::{Api, json};

type St<S> = State<Arc<Api<S>>>;

/// Maps a use case's refusal; `prefix` is where its fields are
/// (`body`, `query`).
pub(crate) fn action_error(e: ActionError, prefix: &str) -> ApiError {
    match e {
        ActionError::NotFound(what) => ApiError::NotFound(what),
        ActionError::Invalid { field, problem } => {
            ApiError::invalid(format!("{prefix}.{field}"), problem)
        }
        ActionError::Conflict {
            code: "stale_revision",
            ..
        } => ApiError::PreconditionFailed,
        ActionError::Conflict { code, detail } => ApiError::Conflict { code, detail },
        ActionError::Store(e) => e.into(),
    }
}

fn body_error(e: ActionError) -> ApiError {
    action_error(e, "body")
}

fn etag(revision: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn with_etag(mut r: Response, revision: u64) -> Response {
    r.headers_mut().insert(header::ETAG, etag(revision));
    r
}

/// The revision an `If-Match` header names, read before the body.
pub(crate) struct IfMatch(u64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let v = parts
            .headers
            .get(header::IF_MATCH)
            .ok_or(ApiError::PreconditionRequired)?;
        let text = v.to_str().map_err(|_| ApiError::PreconditionFailed)?;
        text.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse::<u64>()
            .map(IfMatch)
            .map_err(|_| ApiError::PreconditionFailed)
    }
}

fn page_of<T, U: serde::Serialize>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    scope: &str,
    q: &PageQuery,
    out: impl Fn(T) -> U,
) -> Result<Response, ApiError> {
    let page = paginate(items, key, scope, q)?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items: page.items.into_iter().map(out).collect(),
            next_cursor: page.next_cursor,
        },
    ))
}

fn scope(actor: &Actor, lot: &LotId, list: &str) -> String {
    format!("operator:{}:{lot}:{list}", actor.subject)
}

pub(crate) async fn list_lots<S: Store>(
    State(api): St<S>,
    OperatorCaller(claims): OperatorCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let claims = &claims;
    let lots: Vec<Lot> = api
        .store
        .lots()
        .await?
        .into_iter()
        .filter(|l| claims.in_scope(crate::claims::Role::Operator, &l.id))
        .collect();
    page_of(
        lots,
        |l| l.id.to_string(),
        &format!("operator:{}:lots", claims.subject),
        &q,
        LotConfigOut::from,
    )
}

pub(crate) async fn get_lot<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let lot = ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    let revision = lot.revision;
    Ok(with_etag(
        json(StatusCode::OK, &LotConfigOut::from(lot)),
        revision,
    ))
}

pub(crate) async fn put_lot<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    IfMatch(revision): IfMatch,
    JsonBody(body): JsonBody<LotConfigIn>,
) -> Result<Response, ApiError> {
    let change = LotChange {
        name: body.name,
        time_zone: body.time_zone,
        capacity: body.capacity,
        reservable: body.reservable,
        slot_minutes: body.slot_minutes,
        settings: body.settings.into(),
    };
    let lot = ops::update_lot(
        &api.store,
        api.clock.now(),
        &actor,
        &lot_id,
        revision,
        change,
    )
    .await
    .map_err(body_error)?;
    let revision = lot.revision;
    Ok(with_etag(
        json(StatusCode::OK, &LotConfigOut::from(lot)),
        revision,
    ))
}

pub(crate) async fn list_gates<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let (gates, _) = ops::gates_and_devices(&api.store, &lot_id)
        .await
        .map_err(body_error)?;
    page_of(
        gates,
        |g| g.id.to_string(),
        &scope(&actor, &lot_id, "gates"),
        &q,
        GateOut::from,
    )
}

pub(crate) async fn put_gate<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, gate)): Path<(String, String)>,
    JsonBody(body): JsonBody<GateIn>,
) -> Result<Response, ApiError> {
    let gate_id = path_id(&gate, GateId::parse, "gate")?;
    let camera_id = DeviceId::parse(&body.camera_id)
        .map_err(|e| ApiError::invalid("body.camera_id", e.to_string()))?;
    let g = Gate {
        lot_id,
        id: gate_id,
        direction: match body.direction {
            DirectionDto::Entry => GateDirection::Entry,
            DirectionDto::Exit => GateDirection::Exit,
        },
        camera_id,
    };
    let g = ops::put_gate(&api.store, api.clock.now(), &actor, g)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &GateOut::from(g)))
}

pub(crate) async fn list_devices<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let (_, devices) = ops::gates_and_devices(&api.store, &lot_id)
        .await
        .map_err(body_error)?;
    page_of(
        devices,
        |d| d.id.to_string(),
        &scope(&actor, &lot_id, "devices"),
        &q,
        DeviceOut::from,
    )
}

pub(crate) async fn put_device<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, device)): Path<(String, String)>,
    JsonBody(body): JsonBody<DeviceIn>,
) -> Result<Response, ApiError> {
    let id = path_id(&device, DeviceId::parse, "device")?;
    let gate_id = body
        .gate_id
        .as_deref()
        .map(GateId::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("body.gate_id", e.to_string()))?;
    let bay_id = body
        .bay_id
        .as_deref()
        .map(BayId::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("body.bay_id", e.to_string()))?;
    let d = Device {
        id,
        lot_id,
        kind: match body.kind {
            DeviceKindDto::Camera => DeviceKind::Camera,
            DeviceKindDto::Barrier => DeviceKind::Barrier,
            DeviceKindDto::BaySensor => DeviceKind::BaySensor,
            DeviceKindDto::Kiosk => DeviceKind::Kiosk,
        },
        gate_id,
        bay_id,
        presence: None,
    };
    let d = ops::put_device(&api.store, api.clock.now(), &actor, d)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &DeviceOut::from(d)))
}

pub(crate) async fn enrol_device<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    JsonBody(body): JsonBody<EnrolmentIn>,
) -> Result<Response, ApiError> {
    let field = |name: &'static str| move |e: IdError| ApiError::invalid(name, e.to_string());
    let new = parking_app::usecases::provisioning::NewEnrolment {
        serial: SerialNumber::parse(&body.serial).map_err(field("body.serial"))?,
        kind: body.kind.into(),
        gate_id: body
            .gate_id
            .as_deref()
            .map(GateId::parse)
            .transpose()
            .map_err(field("body.gate_id"))?,
        bay_id: body
            .bay_id
            .as_deref()
            .map(BayId::parse)
            .transpose()
            .map_err(field("body.bay_id"))?,
        thing_name: body
            .thing_name
            .as_deref()
            .map(DeviceId::parse)
            .transpose()
            .map_err(field("body.thing_name"))?,
    };
    let e = parking_app::usecases::provisioning::enrol(
        &api.store,
        api.clock.now(),
        &actor,
        &lot_id,
        new,
    )
    .await
    .map_err(body_error)?;
    Ok(json(StatusCode::CREATED, &EnrolmentOut::from(e)))
}

pub(crate) async fn list_flags<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let f = lot_flags::lot_flags(&api.store, &lot_id)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &FlagsOut::from(f)))
}

pub(crate) async fn set_flag<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, flag)): Path<(String, String)>,
    JsonBody(body): JsonBody<FlagIn>,
) -> Result<Response, ApiError> {
    let flag = parking_app::flags::Flag::ALL
        .into_iter()
        .find(|f| f.name() == flag)
        .ok_or(ApiError::NotFound("flag"))?;
    let choice = match body.state {
        FlagState::On => lot_flags::FlagChoice::On,
        FlagState::Off => lot_flags::FlagChoice::Off,
        FlagState::Inherit => lot_flags::FlagChoice::Inherit,
    };
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let f = lot_flags::set_lot_flag(&api.store, who, flag, choice, &body.note)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &FlagsOut::from(f)))
}

pub(crate) async fn get_forecast<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let lot = ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    let outlook = forecast::outlook(
        &api.store,
        &lot_id,
        api.clock.now(),
        forecast::OUTLOOK_SLOTS,
    )
    .await?;
    Ok(json(StatusCode::OK, &ForecastOut::new(&lot, outlook)))
}

pub(crate) async fn list_bays<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    let bays = api.store.bays(&lot_id).await?;
    page_of(
        bays,
        |b| b.id.to_string(),
        &scope(&actor, &lot_id, "bays"),
        &q,
        |b| BayOut {
            id: b.id.to_string(),
            state: match bay_view(&b) {
                BayView::Occupied => "occupied",
                BayView::Free => "free",
                BayView::Unknown => "unknown",
            }
            .to_owned(),
            reported_at: b.reported_at,
        },
    )
}

fn version_out(v: ops::TariffVersion) -> TariffVersionOut {
    TariffVersionOut {
        tariff_id: v.record.id.to_string(),
        effective_from: v.effective_from,
        tariff: serde_json::to_value(&v.record.spec).unwrap_or_default(),
    }
}

pub(crate) async fn price_suggestion<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let s = parking_app::usecases::pricing::suggestion(&api.store, &lot_id, api.clock.now())
        .await
        .map_err(|e| action_error(e, "lot"))?;
    Ok(json(StatusCode::OK, &PriceSuggestionOut::new(&lot_id, s)))
}

pub(crate) async fn list_tariffs<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let versions = ops::tariff_versions(&api.store, &lot_id)
        .await
        .map_err(body_error)?;
    page_of(
        versions,
        |v| match v.effective_from {
            None => "0".to_owned(),
            Some(t) => format!("1{:015}", t.as_second().max(0)),
        },
        &scope(&actor, &lot_id, "tariffs"),
        &q,
        version_out,
    )
}

fn body_time(text: &str, field: &str) -> Result<jiff::Timestamp, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid(format!("body.{field}"), "an RFC 3339 time with an offset"))
}

pub(crate) async fn add_tariff<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    JsonBody(body): JsonBody<TariffVersionIn>,
) -> Result<Response, ApiError> {
    let from = body_time(&body.effective_from, "effective_from")?;
    let v = ops::schedule_tariff(
        &api.store,
        api.clock.now(),
        &actor,
        &lot_id,
        &body.tariff.to_string(),
        from,
    )
    .await
    .map_err(body_error)?;
    Ok(json(StatusCode::CREATED, &version_out(v)))
}

pub(crate) async fn list_reviews<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    // Paged by the store: a page reads its own items from the lot's
    // review listing.
    let scope = scope(&actor, &lot_id, "reviews");
    let (limit, after) = crate::page::wanted_from_store(&scope, &q)?;
    let page = ops::review_queue(&api.store, &lot_id, after.as_deref(), limit)
        .await
        .map_err(body_error)?;
    // Linking signs locally: no request per frame.
    let mut items = Vec::with_capacity(page.sessions.len());
    for s in page.sessions {
        items.push(staff_out(&api, s).await);
    }
    Ok(json(
        StatusCode::OK,
        &Page {
            items,
            next_cursor: page
                .next
                .map(|k| crate::page::cursor(&scope, k))
                .transpose()?,
        },
    ))
}

pub(crate) async fn get_session<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Path((_, session)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = path_id(&session, SessionId::parse, "session")?;
    let s = adjust::lot_session(&api.store, &lot_id, &id)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &staff_out(&api, s).await))
}

async fn amended<S>(api: &Api<S>, a: adjust::Amended) -> Result<Response, ApiError> {
    let s = a.session.ok_or(ApiError::NotFound("session"))?;
    Ok(json(StatusCode::OK, &staff_out(api, s).await))
}

/// A session as staff see it, each of its frames with a short-lived link.
async fn staff_out<S>(api: &Api<S>, s: Session) -> StaffSessionOut {
    let keys = s.frames.clone();
    let mut out = StaffSessionOut::from(s);
    let Some(links) = &api.frames else {
        return out;
    };
    let now = api.clock.now();
    for (frame, key) in out.frames.iter_mut().zip(&keys) {
        match links.link(key, now).await {
            Ok(link) => {
                frame.url = Some(link.url);
                frame.expires_at = Some(link.expires_at);
            }
            Err(e) => tracing::warn!(error = %e, "no link to an evidence frame"),
        }
    }
    out
}

pub(crate) async fn resolve_session<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, session)): Path<(String, String)>,
    JsonBody(body): JsonBody<ResolutionIn>,
) -> Result<Response, ApiError> {
    let id = path_id(&session, SessionId::parse, "session")?;
    let decision = match (body.action, body.amount) {
        (ResolutionAction::Charge, amount) => Decision::Charge { amount },
        (ResolutionAction::Void, None) => Decision::Void,
        (ResolutionAction::Void, Some(_)) => {
            return Err(ApiError::invalid("body.amount", "a void takes no amount"));
        }
        (ResolutionAction::Adjust, Some(amount)) => Decision::Adjust { amount },
        (ResolutionAction::Adjust, None) => {
            return Err(ApiError::invalid("body.amount", "required to adjust"));
        }
    };
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    match four_eyes::request(&api.store, who, &id, decision, body.exit_at, &body.note)
        .await
        .map_err(body_error)?
    {
        four_eyes::Outcome::Done(a) => amended(&api, a).await,
        four_eyes::Outcome::Waiting(approval) => {
            Ok(json(StatusCode::ACCEPTED, &ApprovalOut::from(approval)))
        }
    }
}

pub(crate) async fn list_approvals<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    // Paged by the store, from the sparse index of pending requests.
    let scope = format!("approvals:{lot_id}");
    let (limit, after) = crate::page::wanted_from_store(&scope, &q)?;
    let (v, next) = four_eyes::pending(&api.store, &lot_id, after.as_deref(), limit)
        .await
        .map_err(body_error)?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items: v.into_iter().map(ApprovalOut::from).collect::<Vec<_>>(),
            next_cursor: next.map(|k| crate::page::cursor(&scope, k)).transpose()?,
        },
    ))
}

pub(crate) async fn decide_approval<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, approval)): Path<(String, String)>,
    JsonBody(body): JsonBody<ApprovalDecisionIn>,
) -> Result<Response, ApiError> {
    let id = path_id(&approval, ActionId::parse, "approval")?;
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let approve = matches!(body.decision, PlateDecision::Approve);
    let (approval, amended) = four_eyes::decide(&api.store, who, &id, approve, &body.note)
        .await
        .map_err(body_error)?;
    Ok(json(
        StatusCode::OK,
        &ApprovalDecisionOut {
            approval: ApprovalOut::from(approval),
            session: match amended.and_then(|a| a.session) {
                Some(s) => Some(staff_out(&api, s).await),
                None => None,
            },
        },
    ))
}

pub(crate) async fn refund_session<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, session)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefundIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let id = path_id(&session, SessionId::parse, "session")?;
    let a = adjust::refund(
        &api.store,
        adjust::Staff {
            actor: &actor,
            lot_id: &lot_id,
            now: api.clock.now(),
        },
        &id,
        body.amount,
        &body.note,
        &key,
    )
    .await
    .map_err(body_error)?;
    amended(&api, a).await
}

pub(crate) async fn open_barrier<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, gate)): Path<(String, String)>,
    JsonBody(body): JsonBody<BarrierOpenIn>,
) -> Result<Response, ApiError> {
    let gate_id = path_id(&gate, GateId::parse, "gate")?;
    let link = api.link.as_ref().ok_or(ApiError::Unavailable)?;
    let (topic, command) = ops::open_barrier(
        &api.store,
        &crate::DynLink(link.as_ref()),
        api.clock.now(),
        &actor,
        &lot_id,
        &gate_id,
        &body.note,
    )
    .await
    .map_err(body_error)?;
    Ok(json(
        StatusCode::OK,
        &BarrierOpenOut {
            topic,
            command: "open".into(),
            event_id: command.event_id.to_string(),
        },
    ))
}

pub(crate) async fn list_passes<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    // Paged by the store: a lot's passes grow with the years.
    let scope = scope(&actor, &lot_id, "passes");
    let (limit, after) = crate::page::wanted_from_store(&scope, &q)?;
    let (passes, next) = api
        .store
        .passes_page(&lot_id, after.as_deref(), limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items: passes.into_iter().map(PassOut::from).collect(),
            next_cursor: next.map(|k| crate::page::cursor(&scope, k)).transpose()?,
        },
    ))
}

pub(crate) async fn list_unpaid<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    OperatorCaller(claims): OperatorCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    let scope = scope(&actor, &lot_id, "unpaid");
    let (limit, after) = crate::page::wanted_from_store(&scope, &q)?;
    let page = parking_app::usecases::unpaid_register::page(
        &api.store,
        &lot_id,
        |lot| claims.in_scope(crate::claims::Role::Operator, lot),
        after.as_deref(),
        limit,
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items: page.debts.into_iter().map(DebtOut::from).collect(),
            next_cursor: page
                .next
                .map(|k| crate::page::cursor(&scope, k))
                .transpose()?,
        },
    ))
}

pub(crate) async fn add_pass<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PassIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let plate = Plate::parse(&body.plate)
        .map_err(|e| ApiError::invalid("body.plate", crate::redacted(&e.to_string())))?;
    let new = NewPass {
        plate,
        valid_from: body_time(&body.valid_from, "valid_from")?,
        valid_until: body_time(&body.valid_until, "valid_until")?,
    };
    ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    let (pass, _) = adjust::issue_pass(
        &api.store,
        adjust::Staff {
            actor: &actor,
            lot_id: &lot_id,
            now: api.clock.now(),
        },
        &new,
        &key,
    )
    .await
    .map_err(body_error)?;
    Ok(json(StatusCode::CREATED, &PassOut::from(pass)))
}

/// The day a report asks for: well formed, and a day of the lot's
/// records (422 before them or after today).
async fn lot_day<S: Store>(api: &Api<S>, lot_id: &LotId, q: &DateQuery) -> Result<Date, ApiError> {
    let date = date_param(q)?;
    let lot = ops::lot(&api.store, lot_id).await.map_err(body_error)?;
    ops::day_in_records(&lot, date, api.clock.now()).map_err(|e| action_error(e, "query"))?;
    Ok(date)
}

fn date_param(q: &DateQuery) -> Result<Date, ApiError> {
    let text = q.date.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            Some("query.date".into()),
            "date is required",
        )
    })?;
    text.parse::<Date>().map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            Some("query.date".into()),
            "date must be YYYY-MM-DD",
        )
    })
}

pub(crate) async fn daily_report<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Params(q): Params<DateQuery>,
) -> Result<Response, ApiError> {
    let date = lot_day(&api, &lot_id, &q).await?;
    let r = ops::daily_report(&api.store, &lot_id, date)
        .await
        .map_err(|e| action_error(e, "query"))?;
    Ok(json(StatusCode::OK, &DailyReportOut::from(r)))
}

pub(crate) async fn reconciliation<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Params(q): Params<DateQuery>,
) -> Result<Response, ApiError> {
    let date = lot_day(&api, &lot_id, &q).await?;
    let rows = parking_app::usecases::reconciliation::reconciliation(&api.store, &lot_id, date)
        .await
        .map_err(|e| action_error(e, "query"))?;
    Ok(json(
        StatusCode::OK,
        &ReconciliationOut {
            lot_id: lot_id.to_string(),
            date: date.to_string(),
            items: rows.into_iter().map(ReconRowOut::from).collect(),
        },
    ))
}

pub(crate) async fn reconciliation_csv<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Params(q): Params<DateQuery>,
) -> Result<Response, ApiError> {
    let date = lot_day(&api, &lot_id, &q).await?;
    let rows = parking_app::usecases::reconciliation::reconciliation(&api.store, &lot_id, date)
        .await
        .map_err(|e| action_error(e, "query"))?;
    Ok(crate::csv(parking_app::usecases::reconciliation::to_csv(
        &rows,
    )))
}

pub(crate) async fn dashboard<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let now = api.clock.now();
    let flags = api.flags.flags_at(now).await;
    let d = lot_dashboard(&api.store, &lot_id, now, &flags)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &DashboardOut::from(d)))
}

pub(crate) async fn list_audit<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Params(q): Params<DateQuery>,
) -> Result<Response, ApiError> {
    let date = date_param(&q)?;
    let lot = ops::lot(&api.store, &lot_id).await.map_err(body_error)?;
    ops::day_in_records(&lot, date, api.clock.now()).map_err(|e| action_error(e, "query"))?;
    let tz = jiff::tz::TimeZone::get(&lot.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let start = date
        .to_zoned(tz)
        .map_err(|e| ApiError::invalid("query.date", e.to_string()))?;
    let end = start
        .checked_add(jiff::ToSpan::day(1))
        .map_err(|e| ApiError::invalid("query.date", e.to_string()))?;
    let entries = api
        .store
        .audit_trail(&lot_id, start.timestamp(), end.timestamp())
        .await?;
    let page = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    page_of(
        entries,
        |e| format!("{:015}#{}", e.at.as_millisecond(), e.id),
        &scope(&actor, &lot_id, &format!("audit:{date}")),
        &page,
        AuditOut::from,
    )
}

fn queue_param(q: &QueueQuery) -> Result<(QueueName, usize), ApiError> {
    let bad = |field: &str, detail: &str| {
        ApiError::bad_request("invalid_query", Some(format!("query.{field}")), detail)
    };
    let queue = match q.queue.as_deref() {
        Some("payments") => QueueName::Payments,
        Some("notifications") => QueueName::Notifications,
        Some(_) => return Err(bad("queue", "queue must be payments or notifications")),
        None => return Err(bad("queue", "queue is required")),
    };
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(bad("limit", "limit must be a number from 1 to 100")),
        },
    };
    Ok((queue, limit))
}

pub(crate) async fn list_dead_letters<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
    Params(q): Params<QueueQuery>,
) -> Result<Response, ApiError> {
    let (queue, limit) = queue_param(&q)?;
    let dlq = api.dead_letters.as_ref().ok_or(ApiError::Unavailable)?;
    let items = dlq
        .list_lot(queue.into(), &lot_id, limit)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(json(
        StatusCode::OK,
        &DeadLettersOut {
            queue,
            items: items.into_iter().map(DeadLetterOut::from).collect(),
        },
    ))
}

pub(crate) async fn redrive_dead_letters<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    JsonBody(body): JsonBody<RedriveIn>,
) -> Result<Response, ApiError> {
    let limit = match body.limit {
        None => 100,
        Some(n @ 1..=100) => n as usize,
        Some(_) => return Err(ApiError::invalid("limit", "must be from 1 to 100")),
    };
    let dlq = api.dead_letters.as_ref().ok_or(ApiError::Unavailable)?;
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let sent = dlq
        .redrive_lot(&api.store, who, body.queue.into(), limit, &body.note)
        .await
        .map_err(body_error)?;
    Ok(json(
        StatusCode::OK,
        &DeadLettersOut {
            queue: body.queue,
            items: sent.into_iter().map(DeadLetterOut::from).collect(),
        },
    ))
}

fn webhook_id(text: &str) -> Result<String, ApiError> {
    // Ids the service made: `wh-` and hex.
    if text.len() <= 64
        && text.starts_with("wh-")
        && text[3..].chars().all(|c| c.is_ascii_hexdigit())
    {
        Ok(text.to_owned())
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

pub(crate) async fn list_webhooks<S: Store>(
    State(api): St<S>,
    OperatorLot(_, lot_id): OperatorLot,
) -> Result<Response, ApiError> {
    let subs = parking_app::usecases::hooks::list(&api.store, &lot_id)
        .await
        .map_err(body_error)?;
    Ok(json(
        StatusCode::OK,
        &WebhooksOut {
            items: subs.iter().map(WebhookOut::from).collect(),
        },
    ))
}

pub(crate) async fn add_webhook<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    JsonBody(body): JsonBody<WebhookIn>,
) -> Result<Response, ApiError> {
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let new = parking_app::usecases::hooks::NewSubscription {
        url: body.url,
        events: body.events,
    };
    let sub = parking_app::usecases::hooks::subscribe(&api.store, who, &new)
        .await
        .map_err(body_error)?;
    Ok(json(
        StatusCode::CREATED,
        &WebhookCreatedOut {
            webhook: WebhookOut::from(&sub),
            secret: sub.secret.expose().to_owned(),
        },
    ))
}

pub(crate) async fn delete_webhook<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = webhook_id(&id)?;
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    parking_app::usecases::hooks::remove(&api.store, who, &id)
        .await
        .map_err(body_error)?;
    Ok(crate::no_content())
}

pub(crate) async fn enable_webhook<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = webhook_id(&id)?;
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let sub = parking_app::usecases::hooks::enable(&api.store, who, &id)
        .await
        .map_err(body_error)?;
    Ok(json(StatusCode::OK, &WebhookOut::from(&sub)))
}

pub(crate) async fn replay_webhook<S: Store>(
    State(api): St<S>,
    OperatorLot(actor, lot_id): OperatorLot,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = webhook_id(&id)?;
    let queues = api.queues.as_ref().ok_or(ApiError::Unavailable)?;
    let who = adjust::Staff {
        actor: &actor,
        lot_id: &lot_id,
        now: api.clock.now(),
    };
    let replayed = parking_app::usecases::hooks::replay(
        &api.store,
        &crate::DynQueues(queues.as_ref()),
        who,
        &id,
    )
    .await
    .map_err(body_error)?;
    Ok(json(StatusCode::OK, &WebhookReplayOut { replayed }))
}
