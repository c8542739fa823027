//! Seamless Parking's HTTP APIs: the driver app's routes (and, beside
//! them, the operators', merchants' and kiosks'), as one router that both
//! the Lambda functions and `parkctl serve` run.
//!
//! The crate knows HTTP and the use cases, nothing of AWS: the edge puts
//! the caller's verified [`Claims`] into the request's extensions (the
//! Lambda functions from API Gateway's JWT authorizer, `parkctl serve`
//! from a development header it reads only when told to), and the routes
//! authorize from them alone. Errors are RFC 9457 problem documents
//! ([`problem`]); every route is in the OpenAPI document ([`openapi`]),
//! because both are made from one table ([`routes`]).

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use http::{HeaderValue, Method, StatusCode, header};
use parking_app::commands::GateCommand;
use parking_app::ids::LotId;
use parking_app::usecases::{adjust, dead_letters};
use parking_app::{
    AuditEntry, AuditStore, Clock, DeviceLink, SendError, Store, StoreError, StoreResult,
};
use serde::Serialize;

pub mod claims;
pub mod datex;
mod driver;
pub mod dto;
pub mod extract;
mod kiosk;
mod merchant;
pub mod openapi;
mod operator;
pub mod page;
pub mod problem;
mod public;
mod receipt;
pub mod routes;
mod support;
pub mod web;

pub use claims::{Claims, Role};
pub use problem::ApiError;
pub use routes::Op;

/// What the routes work with.
pub struct Api<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    /// The gates' command topics, for the manual barrier open (without
    /// it, that route answers `503`).
    pub link: Option<Arc<dyn Publish>>,
    /// The dead-letter queues (without them, their routes answer `503`).
    pub dead_letters: Option<Arc<dyn DeadLetterAccess>>,
    /// The feature flags in force (the built-in defaults unless set).
    pub flags: Arc<dyn parking_app::flags::FlagReader>,
    /// The payment provider, to save cards at registration (without it,
    /// a card is saved with the provider at its first charge).
    pub cards: Option<Arc<dyn parking_app::settlement::CardSetup>>,
    /// The queues, for an operator's webhook replay (without them, that
    /// route answers `503`).
    pub queues: Option<Arc<dyn Enqueue>>,
    /// Links to the evidence frames (without it, frames are listed
    /// without a link).
    pub frames: Option<Arc<dyn FrameLinks>>,
}

/// How long a warm function keeps the flags it read.
pub const FLAGS_CACHE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

impl<S> Api<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Api {
            store,
            clock,
            link: None,
            dead_letters: None,
            flags: Arc::new(parking_app::flags::FixedFlags::default()),
            cards: None,
            queues: None,
            frames: None,
        }
    }

    /// The same, saving cards with the payment provider at registration.
    #[must_use]
    pub fn with_cards(mut self, cards: Arc<dyn parking_app::settlement::CardSetup>) -> Self {
        self.cards = Some(cards);
        self
    }

    /// The same, reading the flags from the store's flag document, kept
    /// for [`FLAGS_CACHE`] (the defaults when it cannot be read).
    #[must_use]
    pub fn with_store_flags(mut self) -> Self
    where
        S: parking_app::FlagStore + Clone + 'static,
    {
        self.flags = Arc::new(parking_app::flags::CachedFlags::new(
            parking_app::flags::StoreFlags(self.store.clone()),
            FLAGS_CACHE,
        ));
        self
    }

    /// The same, with the queues (an operator's webhook replay).
    #[must_use]
    pub fn with_queues(mut self, queues: Arc<dyn Enqueue>) -> Self {
        self.queues = Some(queues);
        self
    }

    /// The same, linking evidence frames through `frames`.
    #[must_use]
    pub fn with_frames(mut self, frames: Arc<dyn FrameLinks>) -> Self {
        self.frames = Some(frames);
        self
    }

    /// The same, publishing gate commands through `link`.
    pub fn with_link(mut self, link: Arc<dyn Publish>) -> Self {
        self.link = Some(link);
        self
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Short-lived links to evidence frames ([`parking_app::evidence`]): a
/// presigned GET of the evidence bucket on AWS.
pub trait FrameLinks: Send + Sync {
    /// A link to `key` that works from `now` for
    /// [`parking_app::evidence::LINK_SECONDS`].
    ///
    /// # Errors
    ///
    /// Why no link could be made (credentials unreadable), worded for the
    /// log; the frame is then listed without one.
    fn link<'a>(
        &'a self,
        key: &'a parking_app::evidence::FrameKey,
        now: jiff::Timestamp,
    ) -> BoxFuture<'a, Result<parking_app::evidence::FrameLink, String>>;
}

/// A [`DeviceLink`] the routes can hold behind a pointer.
pub trait Publish: Send + Sync {
    fn publish_command<'a>(
        &'a self,
        topic: &'a str,
        command: &'a GateCommand,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

impl<L: DeviceLink> Publish for L {
    fn publish_command<'a>(
        &'a self,
        topic: &'a str,
        command: &'a GateCommand,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(self.publish(topic, command))
    }
}

/// The queues, as the API holds them.
pub trait Enqueue: Send + Sync {
    fn enqueue<'a>(
        &'a self,
        message: &'a parking_app::outbox::OutboxMessage,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

impl<Q: parking_app::outbox::Queues> Enqueue for Q {
    fn enqueue<'a>(
        &'a self,
        message: &'a parking_app::outbox::OutboxMessage,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(self.send(message))
    }
}

/// A held [`Enqueue`] as [`parking_app::outbox::Queues`] again.
pub(crate) struct DynQueues<'a>(pub &'a dyn Enqueue);

impl parking_app::outbox::Queues for DynQueues<'_> {
    async fn send(&self, message: &parking_app::outbox::OutboxMessage) -> Result<(), SendError> {
        self.0.enqueue(message).await
    }
}

/// The dead-letter queues, as the API holds them.
pub trait DeadLetterAccess: Send + Sync {
    /// The lot's dead letters of `queue`.
    fn list_lot<'a>(
        &'a self,
        queue: parking_app::outbox::Queue,
        lot: &'a LotId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<dead_letters::DeadLetter>, SendError>>;
    /// Sends the lot's dead letters of `queue` back, with a note; audited.
    fn redrive_lot<'a>(
        &'a self,
        store: &'a dyn AuditSink,
        who: adjust::Staff<'a>,
        queue: parking_app::outbox::Queue,
        limit: usize,
        note: &'a str,
    ) -> BoxFuture<'a, Result<Vec<dead_letters::DeadLetter>, adjust::ActionError>>;
}

/// Where an audited action is recorded.
pub trait AuditSink: Send + Sync {
    fn record<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<()>>;
}

impl<S: AuditStore> AuditSink for S {
    fn record<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(self.record_audit(entry))
    }
}

impl<D: dead_letters::DeadLetterQueues> DeadLetterAccess for D {
    fn list_lot<'a>(
        &'a self,
        queue: parking_app::outbox::Queue,
        lot: &'a LotId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<dead_letters::DeadLetter>, SendError>> {
        Box::pin(dead_letters::list(self, queue, Some(lot), limit))
    }

    fn redrive_lot<'a>(
        &'a self,
        store: &'a dyn AuditSink,
        who: adjust::Staff<'a>,
        queue: parking_app::outbox::Queue,
        limit: usize,
        note: &'a str,
    ) -> BoxFuture<'a, Result<Vec<dead_letters::DeadLetter>, adjust::ActionError>> {
        Box::pin(async move {
            adjust::check_note(note)?;
            let sent = dead_letters::redrive(self, queue, Some(who.lot_id), limit)
                .await
                .map_err(|e| {
                    adjust::ActionError::Store(StoreError::Unavailable {
                        source: e.to_string().into(),
                    })
                })?;
            if let Some(entry) = dead_letters::redrive_audit(who, queue, &sent, note) {
                store.record(&entry).await?;
            }
            Ok(sent)
        })
    }
}

/// A held [`Publish`] as a [`DeviceLink`] again.
pub(crate) struct DynLink<'a>(pub &'a dyn Publish);

impl DeviceLink for DynLink<'_> {
    async fn publish(&self, topic: &str, command: &GateCommand) -> Result<(), SendError> {
        self.0.publish_command(topic, command).await
    }
}

pub(crate) fn redacted(text: &str) -> String {
    parking_app::redact::without_quoted_values(text)
}

pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(_) => ApiError::Internal.into_response(),
    }
}

pub(crate) fn html(page: String) -> Response {
    let mut r = (StatusCode::OK, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

pub(crate) fn csv(text: String) -> Response {
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    r
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Routes being added, each for an operation of the table.
pub struct Routes<S> {
    router: Router<Arc<Api<S>>>,
    added: Vec<Op>,
}

impl<S: Store + 'static> Routes<S> {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            added: Vec::new(),
        }
    }

    fn add(mut self, op: Op, handler: MethodRouter<Arc<Api<S>>>) -> Self {
        self.router = self.router.route(op.doc().path, handler);
        self.added.push(op);
        self
    }

    /// Adds an operation's handler at the operation's path and method.
    fn op<H, T>(self, op: Op, h: H) -> Self
    where
        H: axum::handler::Handler<T, Arc<Api<S>>>,
        T: 'static,
    {
        let m = match op.doc().method {
            Method::GET => get(h),
            Method::POST => post(h),
            Method::PUT => put(h),
            Method::PATCH => patch(h),
            _ => delete(h),
        };
        self.add(op, m)
    }

    /// The operations that have a handler.
    pub fn operations(&self) -> &[Op] {
        &self.added
    }
}

/// Every route, before the state is given.
pub fn routes<S: Store + 'static>() -> Routes<S> {
    use driver::*;
    Routes::new()
        .op(Op::GetProfile, get_profile::<S>)
        .op(Op::PutProfile, put_profile::<S>)
        .op(Op::DeleteProfile, delete_profile::<S>)
        .op(Op::ListVehicles, list_vehicles::<S>)
        .op(Op::AddVehicle, add_vehicle::<S>)
        .op(Op::ProveVehicle, prove_vehicle::<S>)
        .op(Op::RemoveVehicle, remove_vehicle::<S>)
        .op(Op::ListPaymentMethods, list_payment_methods::<S>)
        .op(Op::AddPaymentMethod, add_payment_method::<S>)
        .op(Op::RemovePaymentMethod, remove_payment_method::<S>)
        .op(Op::ListLots, list_lots::<S>)
        .op(Op::GetLot, get_lot::<S>)
        .op(Op::GetForecast, get_forecast::<S>)
        .op(Op::GetQuote, get_quote::<S>)
        .op(Op::ListReservations, list_reservations::<S>)
        .op(Op::CreateReservation, create_reservation::<S>)
        .op(Op::GetReservation, get_reservation::<S>)
        .op(Op::CancelReservation, cancel_reservation::<S>)
        .op(Op::ListSessions, list_sessions::<S>)
        .op(Op::GetSession, get_session::<S>)
        .op(Op::PayNow, pay_now::<S>)
        .op(Op::GetReceipt, get_receipt::<S>)
        .op(Op::GetReceiptHtml, get_receipt_html::<S>)
        .op(Op::PublicParkingStatus, public::parking_status::<S>)
        .op(Op::PublicLotParkingStatus, public::lot_parking_status::<S>)
        .staff()
}

impl<S: Store + 'static> Routes<S> {
    fn staff(self) -> Self {
        use {kiosk as k, merchant as m, operator as o};
        self.op(Op::OperatorListLots, o::list_lots::<S>)
            .op(Op::OperatorGetLot, o::get_lot::<S>)
            .op(Op::OperatorPutLot, o::put_lot::<S>)
            .op(Op::OperatorListGates, o::list_gates::<S>)
            .op(Op::OperatorPutGate, o::put_gate::<S>)
            .op(Op::OperatorListDevices, o::list_devices::<S>)
            .op(Op::OperatorPutDevice, o::put_device::<S>)
            .op(Op::OperatorEnrolDevice, o::enrol_device::<S>)
            .op(Op::OperatorDashboard, o::dashboard::<S>)
            .op(Op::OperatorListFlags, o::list_flags::<S>)
            .op(Op::OperatorSetFlag, o::set_flag::<S>)
            .op(Op::OperatorGetForecast, o::get_forecast::<S>)
            .op(Op::OperatorListBays, o::list_bays::<S>)
            .op(Op::OperatorPriceSuggestion, o::price_suggestion::<S>)
            .op(Op::OperatorListTariffs, o::list_tariffs::<S>)
            .op(Op::OperatorAddTariff, o::add_tariff::<S>)
            .op(Op::OperatorListReviews, o::list_reviews::<S>)
            .op(Op::OperatorGetSession, o::get_session::<S>)
            .op(Op::OperatorResolveSession, o::resolve_session::<S>)
            .op(Op::OperatorListApprovals, o::list_approvals::<S>)
            .op(Op::OperatorDecideApproval, o::decide_approval::<S>)
            .op(Op::OperatorRefundSession, o::refund_session::<S>)
            .op(Op::OperatorOpenBarrier, o::open_barrier::<S>)
            .op(Op::OperatorListPasses, o::list_passes::<S>)
            .op(Op::OperatorListUnpaid, o::list_unpaid::<S>)
            .op(Op::OperatorAddPass, o::add_pass::<S>)
            .op(Op::OperatorDailyReport, o::daily_report::<S>)
            .op(Op::OperatorReconciliation, o::reconciliation::<S>)
            .op(Op::OperatorReconciliationCsv, o::reconciliation_csv::<S>)
            .op(Op::OperatorListAudit, o::list_audit::<S>)
            .op(Op::OperatorListDeadLetters, o::list_dead_letters::<S>)
            .op(Op::OperatorRedriveDeadLetters, o::redrive_dead_letters::<S>)
            .op(Op::OperatorListWebhooks, o::list_webhooks::<S>)
            .op(Op::OperatorAddWebhook, o::add_webhook::<S>)
            .op(Op::OperatorDeleteWebhook, o::delete_webhook::<S>)
            .op(Op::OperatorEnableWebhook, o::enable_webhook::<S>)
            .op(Op::OperatorReplayWebhook, o::replay_webhook::<S>)
            .op(Op::MerchantValidate, m::validate::<S>)
            .op(Op::KioskFindSessions, k::find_sessions::<S>)
            .op(Op::KioskPay, k::pay::<S>)
            .op(Op::SupportListPlateClaims, support::list_plate_claims::<S>)
            .op(
                Op::SupportDecidePlateClaim,
                support::decide_plate_claim::<S>,
            )
    }
}

/// The API as one router: every route, and problem documents for paths and
/// methods that have none.
pub fn router<S: Store + 'static>(api: Arc<Api<S>>) -> Router {
    routes::<S>()
        .router
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(api)
}
