//! The driver app's routes under `/v1`: profile, vehicles, cards, lots and
//! quotes, reservations, sessions and receipts. A driver only ever reaches
//! their own records: every read is by the token's subject, and another
//! driver's id in a path answers `404`, exactly like an id that does not
//! exist.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use parking_app::usecases::account::{self, AccountError, NewPaymentMethod};
use parking_app::usecases::availability::lot_availability;
use parking_app::usecases::forecast;
use parking_app::usecases::plates::{self, RegisterError};
use parking_app::usecases::reservations::{self as res, DriverReservation, DriverReserveError};
use parking_app::usecases::trips::{self, TripError};
use parking_app::*;
use parking_core::{Stay, Tariff};

use crate::dto::*;
use crate::extract::{DriverCaller, JsonBody, Params, path_id};
use crate::page::{PageQuery, paginate};
use crate::problem::ApiError;
use crate::{Api, html, json, no_content};

type St<S> = State<Arc<Api<S>>>;

fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::UnknownDriver(_) => ApiError::NotFound("profile"),
        AccountError::Invalid { field, problem } => {
            ApiError::invalid(format!("body.{field}"), problem)
        }
        e @ AccountError::CardNumber { field } => {
            ApiError::invalid(format!("body.{field}"), e.to_string())
        }
        AccountError::Plate(e) => match e {
            RegisterError::TooManyPending => ApiError::Conflict {
                code: "too_many_pending_plates",
                detail: e.to_string(),
            },
            e => ApiError::invalid("body.code", e.to_string()),
        },
        AccountError::NotFound(what) => ApiError::NotFound(what),
        e @ AccountError::InUse(_) => ApiError::Conflict {
            code: "account_in_use",
            detail: e.to_string(),
        },
        e @ AccountError::CardRefused(_) => ApiError::invalid("body.token", e.to_string()),
        AccountError::ProviderUnavailable(_) => ApiError::Unavailable,
        AccountError::Store(e) => e.into(),
    }
}

fn trip_error(e: TripError) -> ApiError {
    match e {
        TripError::NotFound => ApiError::NotFound("session"),
        e @ TripError::NoReceipt(..) => ApiError::Conflict {
            code: "no_receipt",
            detail: e.to_string(),
        },
        TripError::Store(e) => e.into(),
    }
}

fn reserve_error(e: DriverReserveError) -> ApiError {
    match e {
        DriverReserveError::Invalid { field, problem } => {
            ApiError::invalid(format!("body.{field}"), problem)
        }
        DriverReserveError::UnknownLot(_) => ApiError::invalid("body.lot_id", "no such lot"),
        DriverReserveError::NotFound => ApiError::NotFound("reservation"),
        e @ DriverReserveError::Full { .. } => ApiError::Conflict {
            code: "slot_full",
            detail: e.to_string(),
        },
        e @ DriverReserveError::ReservationsOff(_) => ApiError::Conflict {
            code: "reservations_off",
            detail: e.to_string(),
        },
        e @ DriverReserveError::KeyReused => {
            ApiError::invalid("header.Idempotency-Key", e.to_string())
        }
        DriverReserveError::Store(e) => e.into(),
    }
}

fn scope(driver: &DriverId, list: &str) -> String {
    format!("driver:{driver}:{list}")
}

pub(crate) async fn get_profile<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
) -> Result<Response, ApiError> {
    let p = account::profile(&api.store, &d)
        .await
        .map_err(account_error)?;
    Ok(json(StatusCode::OK, &ProfileOut::from(p)))
}

pub(crate) async fn put_profile<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    JsonBody(body): JsonBody<ProfileIn>,
) -> Result<Response, ApiError> {
    let p = account::save_profile(&api.store, &*api.clock, &d, &body.name)
        .await
        .map_err(account_error)?;
    Ok(json(StatusCode::OK, &ProfileOut::from(p)))
}

pub(crate) async fn delete_profile<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
) -> Result<Response, ApiError> {
    parking_app::usecases::erasure::erase(&api.store, api.cards.as_deref(), &*api.clock, &d)
        .await
        .map_err(account_error)?;
    Ok(no_content())
}

pub(crate) async fn list_vehicles<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let v: Vec<VehicleOut> = plates::vehicles(&api.store, &*api.clock, &d)
        .await
        .map_err(|e| account_error(e.into()))?
        .into_iter()
        .map(VehicleOut::from)
        .collect();
    let page = paginate(v, |v| v.plate.clone(), &scope(&d, "vehicles"), &q)?;
    Ok(json(StatusCode::OK, &page))
}

pub(crate) async fn add_vehicle<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    JsonBody(body): JsonBody<VehicleIn>,
) -> Result<Response, ApiError> {
    let v = account::add_vehicle(&api.store, &*api.clock, &d, &body.plate)
        .await
        .map_err(account_error)?;
    Ok(json(StatusCode::CREATED, &VehicleOut::from(v)))
}

pub(crate) async fn prove_vehicle<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(plate): Path<String>,
    JsonBody(body): JsonBody<ProofIn>,
) -> Result<Response, ApiError> {
    let v = account::prove_vehicle(&api.store, &*api.clock, &d, &plate, &body.code)
        .await
        .map_err(account_error)?;
    Ok(json(StatusCode::OK, &VehicleOut::from(v)))
}

pub(crate) async fn remove_vehicle<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(plate): Path<String>,
) -> Result<Response, ApiError> {
    account::remove_vehicle(&api.store, &d, &plate)
        .await
        .map_err(account_error)?;
    Ok(no_content())
}

pub(crate) async fn list_payment_methods<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let v: Vec<PaymentMethodOut> = api
        .store
        .payment_methods(&d)
        .await?
        .into_iter()
        .map(PaymentMethodOut::from)
        .collect();
    let page = paginate(v, |m| m.id.clone(), &scope(&d, "payment-methods"), &q)?;
    Ok(json(StatusCode::OK, &page))
}

pub(crate) async fn add_payment_method<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    JsonBody(body): JsonBody<PaymentMethodIn>,
) -> Result<Response, ApiError> {
    let new = NewPaymentMethod {
        token: body.token,
        brand: body.brand,
        last4: body.last4,
    };
    let m =
        account::add_payment_method(&api.store, api.cards.as_deref(), &d, &new, api.clock.now())
            .await
            .map_err(account_error)?;
    Ok(json(StatusCode::CREATED, &PaymentMethodOut::from(m)))
}

pub(crate) async fn remove_payment_method<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, PaymentMethodId::parse, "payment method")?;
    account::remove_payment_method(&api.store, &d, &id)
        .await
        .map_err(account_error)?;
    Ok(no_content())
}

async fn lot_out<S: Store>(api: &Api<S>, lot: Lot) -> Result<LotOut, ApiError> {
    let config = api.store.lot_config(&lot.id).await?;
    let now = api.clock.now();
    let flags = api.flags.flags_at(now).await;
    let (a, _) = lot_availability(&api.store, &lot, now, &flags).await?;
    let record = config.record_at(now).cloned().ok_or_else(|| {
        ApiError::from(StoreError::not_found(format!("tariff of lot {}", lot.id)))
    })?;
    let spec = record.spec;
    Ok(LotOut {
        id: lot.id.to_string(),
        name: lot.name,
        time_zone: lot.time_zone,
        capacity: lot.capacity,
        reservable: lot.reservable,
        slot_minutes: lot.slot_minutes,
        availability: a.into(),
        tariff: TariffSummary {
            id: record.id.to_string(),
            currency: spec.currency.clone(),
            tax_rate_bp: spec.tax.map(|t| t.rate_bp),
            tax_inclusive: spec.tax.map(|t| t.inclusive),
            free_minutes: spec.free_minutes,
            grace_minutes: spec.grace_minutes,
            max_stay_hours: spec.max_stay_hours,
            posted: serde_json::to_value(&spec).map_err(|_| ApiError::Internal)?,
        },
    })
}

async fn find_lot<S: Store>(api: &Api<S>, id: &str) -> Result<Lot, ApiError> {
    let id = path_id(id, LotId::parse, "lot")?;
    match api.store.get_lot(&id).await {
        Ok(l) => Ok(l),
        Err(StoreError::NotFound { .. }) => Err(ApiError::NotFound("lot")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn list_lots<S: Store>(
    State(api): St<S>,
    DriverCaller(_): DriverCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let lots = api.store.lots().await?;
    let page = paginate(lots, |l| l.id.to_string(), "lots", &q)?;
    let mut items = Vec::with_capacity(page.items.len());
    for lot in page.items {
        items.push(lot_out(&api, lot).await?);
    }
    Ok(json(
        StatusCode::OK,
        &crate::page::Page {
            items,
            next_cursor: page.next_cursor,
        },
    ))
}

pub(crate) async fn get_lot<S: Store>(
    State(api): St<S>,
    DriverCaller(_): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lot = find_lot(&api, &id).await?;
    Ok(json(StatusCode::OK, &lot_out(&api, lot).await?))
}

pub(crate) async fn get_forecast<S: Store>(
    State(api): St<S>,
    DriverCaller(_): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lot = find_lot(&api, &id).await?;
    let outlook = forecast::outlook(
        &api.store,
        &lot.id,
        api.clock.now(),
        forecast::OUTLOOK_SLOTS,
    )
    .await?;
    Ok(json(StatusCode::OK, &ForecastOut::new(&lot, outlook)))
}

fn time_param(value: Option<&str>, name: &str) -> Result<Timestamp, ApiError> {
    let field = Some(format!("query.{name}"));
    let text = value.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            field.clone(),
            format!("{name} is required"),
        )
    })?;
    text.parse::<Timestamp>().map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            field,
            format!("{name} must be an RFC 3339 time with an offset"),
        )
    })
}

pub(crate) async fn get_quote<S: Store>(
    State(api): St<S>,
    DriverCaller(_): DriverCaller,
    Path(id): Path<String>,
    Params(q): Params<QuoteQuery>,
) -> Result<Response, ApiError> {
    let lot = find_lot(&api, &id).await?;
    let entry = time_param(q.entry.as_deref(), "entry")?;
    let exit = time_param(q.exit.as_deref(), "exit")?;
    let tariff: Tariff = trips::lot_tariff(&api.store, &lot.id, entry).await?;
    let quote = tariff
        .quote(&Stay::new(entry, exit))
        .map_err(|e| ApiError::invalid("query.exit", e.to_string()))?;
    let lines = quote
        .lines
        .iter()
        .map(|l| QuoteLine {
            start: l.start,
            end: l.end,
            label: quote.band_label(l.kind).to_owned(),
            units: l.units,
            unit_price: l.unit_price,
            amount: l.amount,
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &QuoteOut {
            lot_id: lot.id.to_string(),
            tariff_id: quote.tariff_id.to_string(),
            entry,
            exit,
            currency: quote.currency.code().to_owned(),
            subtotal: quote.subtotal,
            discount: quote.discount,
            total: quote.total,
            tax: quote.tax,
            tax_inclusive: quote.tax_inclusive,
            lines,
        },
    ))
}

pub(crate) async fn list_reservations<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    let v = api.store.driver_reservations(&d).await?;
    let page = paginate(
        v,
        |r| format!("{:025}#{}", r.start.as_nanosecond(), r.id),
        &scope(&d, "reservations"),
        &q,
    )?;
    Ok(json(
        StatusCode::OK,
        &crate::page::Page {
            items: page.items.into_iter().map(ReservationOut::from).collect(),
            next_cursor: page.next_cursor,
        },
    ))
}

/// The longest idempotency key.
const MAX_KEY: usize = 255;

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let field = Some("header.Idempotency-Key".to_owned());
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                field.clone(),
                "send an Idempotency-Key header",
            )
        })?
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_header",
                field,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(key.to_owned())
}

pub(crate) async fn create_reservation<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ReservationIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let lot_id =
        LotId::parse(&body.lot_id).map_err(|e| ApiError::invalid("body.lot_id", e.to_string()))?;
    let ask = DriverReservation {
        lot_id,
        plate_text: body.plate,
        start: body.start,
        end: body.end,
    };
    let now = api.clock.now();
    let flags = api.flags.flags_at(now).await;
    let r = res::reserve_for_driver(&api.store, now, &flags, &d, &key, &ask)
        .await
        .map_err(reserve_error)?;
    Ok(json(StatusCode::CREATED, &ReservationOut::from(r)))
}

pub(crate) async fn get_reservation<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, ReservationId::parse, "reservation")?;
    let r = res::driver_reservation(&api.store, &d, &id)
        .await
        .map_err(reserve_error)?;
    Ok(json(StatusCode::OK, &ReservationOut::from(r)))
}

pub(crate) async fn cancel_reservation<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, ReservationId::parse, "reservation")?;
    let r = res::cancel_for_driver(&api.store, api.clock.now(), &d, &id)
        .await
        .map_err(reserve_error)?;
    Ok(json(StatusCode::OK, &ReservationOut::from(r)))
}

async fn session_out<S: Store>(api: &Api<S>, s: Session) -> Result<SessionOut, ApiError> {
    let now_fee = trips::fee_if_left(&api.store, &s, api.clock.now()).await?;
    Ok(SessionOut::new(s, now_fee))
}

pub(crate) async fn list_sessions<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Params(q): Params<PageQuery>,
) -> Result<Response, ApiError> {
    // Paged by the store: a page reads its own stays.
    let scope = scope(&d, "sessions");
    let (limit, after) = crate::page::wanted_from_store(&scope, &q)?;
    let page = trips::sessions(&api.store, &d, after.as_deref(), limit)
        .await
        .map_err(trip_error)?;
    let mut items = Vec::with_capacity(page.sessions.len());
    for s in page.sessions {
        items.push(session_out(&api, s).await?);
    }
    Ok(json(
        StatusCode::OK,
        &crate::page::Page {
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
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, SessionId::parse, "session")?;
    let s = trips::session(&api.store, &d, &id)
        .await
        .map_err(trip_error)?;
    Ok(json(StatusCode::OK, &session_out(&api, s).await?))
}

pub(crate) async fn pay_now<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PayNowIn>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let id = path_id(&id, SessionId::parse, "session")?;
    let method = PaymentMethodId::parse(&body.method_id)
        .map_err(|e| ApiError::invalid("body.method_id", e.to_string()))?;
    let paid =
        parking_app::usecases::pay::pay_now(&api.store, &d, &id, &method, &key, api.clock.now())
            .await
            .map_err(|e| crate::operator::action_error(e, "body"))?;
    let currency = paid
        .session
        .fee
        .map_or(parking_core::Currency::JPY, |f| f.currency);
    let out = PayNowOut {
        amount: Amount::from(parking_core::Money::new(paid.owed, currency)),
        session: session_out(&api, paid.session).await?,
    };
    Ok(json(StatusCode::ACCEPTED, &out))
}

async fn receipt<S: Store>(api: &Api<S>, d: &DriverId, id: &str) -> Result<ReceiptOut, ApiError> {
    let id = path_id(id, SessionId::parse, "session")?;
    Ok(trips::receipt(&api.store, d, &id)
        .await
        .map_err(trip_error)?
        .into())
}

pub(crate) async fn get_receipt<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &receipt(&api, &d, &id).await?))
}

pub(crate) async fn get_receipt_html<S: Store>(
    State(api): St<S>,
    DriverCaller(d): DriverCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = receipt(&api, &d, &id).await?;
    Ok(html(crate::receipt::render(&r)))
}
