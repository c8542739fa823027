//! Every route: its method, path, who may call it and what it answers,
//! in one table. The router is built from this table (a handler can only
//! be added for an operation in it) and so is the OpenAPI document, so the
//! two cannot differ.

use http::Method;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::claims::Role;
use crate::dto::*;
use crate::page::Page;

/// A schema of a body.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A query or header parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
    /// `date-time` for times; plain text otherwise.
    pub format: Option<&'static str>,
}

/// What an operation answers when it succeeds.
#[derive(Debug, Clone, Copy)]
pub enum Success {
    Json(u16, SchemaFn),
    Html,
    Csv,
    NoContent,
}

/// One operation of the API.
#[derive(Debug, Clone)]
pub struct OpDoc {
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub role: Role,
    pub query: &'static [Param],
    pub headers: &'static [Param],
    pub body: Option<SchemaFn>,
    pub success: Success,
    /// The error statuses it may answer besides 401, 403 and 5xx.
    pub errors: &'static [u16],
}

const PAGE: &[Param] = &[
    Param {
        name: "cursor",
        required: false,
        description: "The next_cursor of the previous page.",
        format: None,
    },
    Param {
        name: "limit",
        required: false,
        description: "Items per page, 1 to 100 (default 20).",
        format: None,
    },
];

const QUOTE: &[Param] = &[
    Param {
        name: "entry",
        required: true,
        description: "The planned entry (RFC 3339).",
        format: Some("date-time"),
    },
    Param {
        name: "exit",
        required: true,
        description: "The planned exit (RFC 3339).",
        format: Some("date-time"),
    },
];

const IDEMPOTENCY: &[Param] = &[Param {
    name: "Idempotency-Key",
    required: true,
    description: "A key unique to this request (1 to 255 visible ASCII characters): the same request sent again with it returns the same reservation; another request with it is refused with 422.",
    format: None,
}];

const IF_MATCH: &[Param] = &[Param {
    name: "If-Match",
    required: true,
    description: "The ETag the lot was read with (its revision, quoted): a stale one is refused with 412, a missing one with 428.",
    format: None,
}];

const KEYED: &[Param] = &[Param {
    name: "Idempotency-Key",
    required: true,
    description: "A key unique to this request (1 to 255 visible ASCII characters): the same request sent again with it changes nothing more.",
    format: None,
}];

const DATE: &[Param] = &[
    Param {
        name: "date",
        required: true,
        description: "The lot's local date, YYYY-MM-DD: a day of its records, at most seven years back and not after today (else 422).",
        format: Some("date"),
    },
    Param {
        name: "cursor",
        required: false,
        description: "The next_cursor of the previous page.",
        format: None,
    },
    Param {
        name: "limit",
        required: false,
        description: "Items per page, 1 to 100 (default 20).",
        format: None,
    },
];

const QUEUE: &[Param] = &[
    Param {
        name: "queue",
        required: true,
        description: "payments or notifications.",
        format: None,
    },
    Param {
        name: "limit",
        required: false,
        description: "At most this many messages, 1 to 100 (default 100).",
        format: None,
    },
];

const DIGITS: &[Param] = &[
    Param {
        name: "digits",
        required: true,
        description: "The plate's serial digits (1 to 4, as on the plate: 12-34 is 1234).",
        format: None,
    },
    Param {
        name: "cursor",
        required: false,
        description: "The next_cursor of the previous page.",
        format: None,
    },
    Param {
        name: "limit",
        required: false,
        description: "Items per page, 1 to 100 (default 20).",
        format: None,
    },
];

macro_rules! ops {
    ($($name:ident = $method:ident $path:literal $role:ident $tag:literal $summary:literal
        query $query:expr, headers $headers:expr, body $body:expr, ok $ok:expr, errors $errors:expr;)*) => {
        /// The operations of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op { $($name,)* }

        impl Op {
            pub const ALL: &'static [Op] = &[$(Op::$name,)*];

            pub fn doc(self) -> OpDoc {
                match self {
                    $(Op::$name => OpDoc {
                        id: stringify!($name),
                        method: Method::$method,
                        path: $path,
                        summary: $summary,
                        tag: $tag,
                        role: Role::$role,
                        query: $query,
                        headers: $headers,
                        body: $body,
                        success: $ok,
                        errors: $errors,
                    },)*
                }
            }
        }
    };
}

ops! {
    GetProfile = GET "/v1/me" Driver "driver" "The driver's profile."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ProfileOut>), errors &[404];
    PutProfile = PUT "/v1/me" Driver "driver" "Creates the driver's profile or renames it."
        query &[], headers &[], body Some(schema::<ProfileIn>), ok Success::Json(200, schema::<ProfileOut>), errors &[400, 413, 415, 422];
    DeleteProfile = DELETE "/v1/me" Driver "driver" "Erases the account: the customer and cards at the payment provider, the cards on file, every plate held or claimed, the profile. The stays and receipts stay as the lots' records, which tax law keeps seven years, naming the driver by nothing that maps to them; audited. 409 account_in_use while a stay is open or owes money, or a reservation is active."
        query &[], headers &[], body None, ok Success::NoContent, errors &[404, 409];
    ListVehicles = GET "/v1/me/vehicles" Driver "driver" "The driver's plates, proven or pending."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<VehicleOut>>), errors &[400];
    AddVehicle = POST "/v1/me/vehicles" Driver "driver" "Claims a plate: pending until proven by the code its entry gate shows at the car's next entry (or by support staff). Whoever else holds or claims it, the answer is the same; 409 too_many_pending_plates after five claims waiting."
        query &[], headers &[], body Some(schema::<VehicleIn>), ok Success::Json(201, schema::<VehicleOut>), errors &[400, 404, 409, 413, 415, 422];
    ProveVehicle = POST "/v1/me/vehicles/{plate}/proof" Driver "driver" "Proves a claimed plate with the six-digit code its entry gate showed, within ten minutes; a code that does not match (wrong, expired, none shown, or after the claimant's five wrong tries) is 422 on body.code, one answer for all."
        query &[], headers &[], body Some(schema::<ProofIn>), ok Success::Json(200, schema::<VehicleOut>), errors &[400, 404, 409, 413, 415, 422];
    RemoveVehicle = DELETE "/v1/me/vehicles/{plate}" Driver "driver" "Releases one of the driver's plates, or withdraws a claim (its canonical form)."
        query &[], headers &[], body None, ok Success::NoContent, errors &[404];
    ListPaymentMethods = GET "/v1/me/payment-methods" Driver "driver" "The driver's cards on file."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<PaymentMethodOut>>), errors &[400];
    AddPaymentMethod = POST "/v1/me/payment-methods" Driver "driver" "Adds a card as the payment provider's token; a card number is refused with 422."
        query &[], headers &[], body Some(schema::<PaymentMethodIn>), ok Success::Json(201, schema::<PaymentMethodOut>), errors &[400, 404, 413, 415, 422];
    RemovePaymentMethod = DELETE "/v1/me/payment-methods/{method_id}" Driver "driver" "Removes one of the driver's cards."
        query &[], headers &[], body None, ok Success::NoContent, errors &[404];
    ListLots = GET "/v1/lots" Driver "lots" "Lots with live availability and their tariff."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<LotOut>>), errors &[400];
    GetLot = GET "/v1/lots/{lot_id}" Driver "lots" "One lot with live availability and its tariff."
        query &[], headers &[], body None, ok Success::Json(200, schema::<LotOut>), errors &[404];
    GetForecast = GET "/v1/lots/{lot_id}/forecast" Driver "lots" "The lot's expected occupancy and free bays for the next 24 hours, per 15-minute slot."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ForecastOut>), errors &[404];
    GetQuote = GET "/v1/lots/{lot_id}/quote" Driver "lots" "The price of a planned stay at the lot's tariff."
        query QUOTE, headers &[], body None, ok Success::Json(200, schema::<QuoteOut>), errors &[400, 404, 422];
    ListReservations = GET "/v1/me/reservations" Driver "reservations" "The driver's reservations, in start order."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<ReservationOut>>), errors &[400];
    CreateReservation = POST "/v1/me/reservations" Driver "reservations" "Reserves a bay for one of the driver's plates."
        query &[], headers IDEMPOTENCY, body Some(schema::<ReservationIn>), ok Success::Json(201, schema::<ReservationOut>), errors &[400, 404, 409, 413, 415, 422];
    GetReservation = GET "/v1/me/reservations/{reservation_id}" Driver "reservations" "One of the driver's reservations."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ReservationOut>), errors &[404];
    CancelReservation = DELETE "/v1/me/reservations/{reservation_id}" Driver "reservations" "Cancels one of the driver's reservations and frees its slots."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ReservationOut>), errors &[404, 422];
    ListSessions = GET "/v1/me/sessions" Driver "sessions" "The driver's stays, open and past, in entry order."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<SessionOut>>), errors &[400];
    GetSession = GET "/v1/me/sessions/{session_id}" Driver "sessions" "One stay; an open one shows the fee if the car left now."
        query &[], headers &[], body None, ok Success::Json(200, schema::<SessionOut>), errors &[404];
    PayNow = POST "/v1/me/sessions/{session_id}/payment" Driver "sessions" "Pays what a stay still owes now with one of the driver's cards (after a failed payment); 409 when it owes nothing."
        query &[], headers IDEMPOTENCY, body Some(schema::<PayNowIn>), ok Success::Json(202, schema::<PayNowOut>), errors &[400, 404, 409, 413, 415, 422];
    GetReceipt = GET "/v1/me/sessions/{session_id}/receipt" Driver "sessions" "The receipt of a priced stay (a qualified invoice's fields)."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ReceiptOut>), errors &[404, 409];
    GetReceiptHtml = GET "/v1/me/sessions/{session_id}/receipt.html" Driver "sessions" "The receipt as a printable page."
        query &[], headers &[], body None, ok Success::Html, errors &[404, 409];
    PublicParkingStatus = GET "/v1/public/parking-status" Public "open data" "The live status of every lot its operator publishes (settings.open_data), as a DATEX II 3.5 ParkingStatusPublication in JSON: vacant and occupied bays, and the rate in force now. No token needed; cacheable for 30 s; 404 while no lot is published."
        query &[], headers &[], body None, ok Success::Json(200, schema::<crate::datex::D2Payload>), errors &[404];
    PublicLotParkingStatus = GET "/v1/public/lots/{lot_id}/parking-status" Public "open data" "One published lot's live status, as the feed gives it; a lot that is not published is 404 like one that does not exist."
        query &[], headers &[], body None, ok Success::Json(200, schema::<crate::datex::D2Payload>), errors &[404];
    OperatorListLots = GET "/v1/operator/lots" Operator "operator" "The lots in the operator's scope, with their configuration."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<LotConfigOut>>), errors &[400];
    OperatorGetLot = GET "/v1/operator/lots/{lot_id}" Operator "operator" "A lot's configuration; its ETag is its revision."
        query &[], headers &[], body None, ok Success::Json(200, schema::<LotConfigOut>), errors &[404];
    OperatorPutLot = PUT "/v1/operator/lots/{lot_id}" Operator "operator" "Changes a lot's configuration if it is still at the If-Match revision."
        query &[], headers IF_MATCH, body Some(schema::<LotConfigIn>), ok Success::Json(200, schema::<LotConfigOut>), errors &[400, 404, 412, 413, 415, 422, 428];
    OperatorListGates = GET "/v1/operator/lots/{lot_id}/gates" Operator "operator" "The lot's gates."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<GateOut>>), errors &[400, 404];
    OperatorPutGate = PUT "/v1/operator/lots/{lot_id}/gates/{gate_id}" Operator "operator" "Adds or replaces a gate; its camera must be a camera of the lot."
        query &[], headers &[], body Some(schema::<GateIn>), ok Success::Json(200, schema::<GateOut>), errors &[400, 404, 413, 415, 422];
    OperatorListDevices = GET "/v1/operator/lots/{lot_id}/devices" Operator "operator" "The lot's devices (IoT client ids) with their connection state."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<DeviceOut>>), errors &[400, 404];
    OperatorPutDevice = PUT "/v1/operator/lots/{lot_id}/devices/{device_id}" Operator "operator" "Adds or replaces a device of the lot; a device of another lot is refused."
        query &[], headers &[], body Some(schema::<DeviceIn>), ok Success::Json(200, schema::<DeviceOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorEnrolDevice = POST "/v1/operator/lots/{lot_id}/enrolments" Operator "operator" "Enrols a device's serial number for a gate or bay of the lot, before it claims its identity; a serial is enrolled once."
        query &[], headers &[], body Some(schema::<EnrolmentIn>), ok Success::Json(201, schema::<EnrolmentOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorDashboard = GET "/v1/operator/lots/{lot_id}/dashboard" Operator "operator" "A lot at a glance: live availability, offline devices, today's figures, the review queue, failed card payments, and today's occupancy by hour against the forecast."
        query &[], headers &[], body None, ok Success::Json(200, schema::<DashboardOut>), errors &[404];
    OperatorListFlags = GET "/v1/operator/lots/{lot_id}/flags" Operator "operator" "The feature flags at the lot: on or off, and why."
        query &[], headers &[], body None, ok Success::Json(200, schema::<FlagsOut>), errors &[404];
    OperatorSetFlag = PUT "/v1/operator/lots/{lot_id}/flags/{flag}" Operator "operator" "Turns a feature flag on or off at the lot, or leaves it to the rollout and the default, with a note; audited."
        query &[], headers &[], body Some(schema::<FlagIn>), ok Success::Json(200, schema::<FlagsOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorGetForecast = GET "/v1/operator/lots/{lot_id}/forecast" Operator "operator" "The lot's expected occupancy for the next 24 hours, per 15-minute slot."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ForecastOut>), errors &[404];
    OperatorListBays = GET "/v1/operator/lots/{lot_id}/bays" Operator "operator" "The lot's bays as their sensors last reported."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<BayOut>>), errors &[400, 404];
    OperatorPriceSuggestion = GET "/v1/operator/lots/{lot_id}/pricing/suggestion" Operator "operator" "The next tariff version the lot's occupancy suggests, band by band (settings.demand_pricing); nothing is applied until an operator posts it to the lot's tariffs."
        query &[], headers &[], body None, ok Success::Json(200, schema::<PriceSuggestionOut>), errors &[404, 409, 422];
    OperatorListTariffs = GET "/v1/operator/lots/{lot_id}/tariffs" Operator "operator" "The lot's tariff versions, oldest first."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<TariffVersionOut>>), errors &[400, 404];
    OperatorAddTariff = POST "/v1/operator/lots/{lot_id}/tariffs" Operator "operator" "Schedules a tariff version from a time not in the past; stays are priced by the version in force at their entry."
        query &[], headers &[], body Some(schema::<TariffVersionIn>), ok Success::Json(201, schema::<TariffVersionOut>), errors &[400, 404, 409, 412, 413, 415, 422];
    OperatorListReviews = GET "/v1/operator/lots/{lot_id}/reviews" Operator "operator" "Sessions that need a person: missed entries and exits, unreadable plates, stays the tariff cannot price."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<StaffSessionOut>>), errors &[400, 404];
    OperatorGetSession = GET "/v1/operator/lots/{lot_id}/sessions/{session_id}" Operator "operator" "One session of the lot."
        query &[], headers &[], body None, ok Success::Json(200, schema::<StaffSessionOut>), errors &[404];
    OperatorResolveSession = POST "/v1/operator/lots/{lot_id}/sessions/{session_id}/resolution" Operator "operator" "Charges, voids or adjusts a session that has left, or closes one whose exit no camera saw at `exit_at`, with a note; audited. A charge or fee above the lot's approval_limit is not applied: it answers 202 with a request a second operator decides."
        query &[], headers &[], body Some(schema::<ResolutionIn>), ok Success::Json(200, schema::<StaffSessionOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorListApprovals = GET "/v1/operator/lots/{lot_id}/approvals" Operator "operator" "Charges and fees asked above the lot's approval_limit, waiting for a second operator, oldest first."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<ApprovalOut>>), errors &[400, 404];
    OperatorDecideApproval = POST "/v1/operator/lots/{lot_id}/approvals/{approval_id}" Operator "operator" "A second operator approves a request (it is applied as asked) or rejects it, with a note; the operator who asked gets 409 same_operator. Both are in the audit trail."
        query &[], headers &[], body Some(schema::<ApprovalDecisionIn>), ok Success::Json(200, schema::<ApprovalDecisionOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorRefundSession = POST "/v1/operator/lots/{lot_id}/sessions/{session_id}/refunds" Operator "operator" "Refunds part or all of what was paid, with a note; audited."
        query &[], headers KEYED, body Some(schema::<RefundIn>), ok Success::Json(200, schema::<StaffSessionOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorOpenBarrier = POST "/v1/operator/lots/{lot_id}/gates/{gate_id}/open" Operator "operator" "Opens a gate's barrier by hand, with a note: audited and published to the gate's command topic."
        query &[], headers &[], body Some(schema::<BarrierOpenIn>), ok Success::Json(200, schema::<BarrierOpenOut>), errors &[400, 404, 413, 415, 422];
    OperatorListUnpaid = GET "/v1/operator/lots/{lot_id}/unpaid" Operator "operator" "The unpaid register of the operator that runs the lot: stays left owing at those of its lots in the caller's scope (kiosk_unpaid: no card, not paid at the kiosk; card_failed: the card payment was given up), by the plates' four digits, with the lot, the plate, the reason and what is owed. A stay leaves it when it is paid, at any of the operator's kiosks or in the app, or resolved."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<DebtOut>>), errors &[400, 404];
    OperatorListPasses = GET "/v1/operator/lots/{lot_id}/passes" Operator "operator" "The lot's monthly passes."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<PassOut>>), errors &[400, 404];
    OperatorAddPass = POST "/v1/operator/lots/{lot_id}/passes" Operator "operator" "Issues a monthly pass: stays inside it cost nothing; a stay running past it pays for the part outside."
        query &[], headers KEYED, body Some(schema::<PassIn>), ok Success::Json(201, schema::<PassOut>), errors &[400, 404, 413, 415, 422];
    OperatorDailyReport = GET "/v1/operator/lots/{lot_id}/reports/daily" Operator "operator" "A lot's day: sessions, revenue, refunds, occupancy by hour, turnover, sessions needing review."
        query DATE, headers &[], body None, ok Success::Json(200, schema::<DailyReportOut>), errors &[400, 404, 422];
    OperatorReconciliation = GET "/v1/operator/lots/{lot_id}/reports/reconciliation" Operator "operator" "A lot's day of money at the payment provider for reconciliation: each charge, refund and fee made or failed, with the provider's id, amount, stay and status."
        query DATE, headers &[], body None, ok Success::Json(200, schema::<ReconciliationOut>), errors &[400, 404, 422];
    OperatorReconciliationCsv = GET "/v1/operator/lots/{lot_id}/reports/reconciliation.csv" Operator "operator" "The reconciliation export as CSV, with a header line."
        query DATE, headers &[], body None, ok Success::Csv, errors &[400, 404, 422];
    OperatorListAudit = GET "/v1/operator/lots/{lot_id}/audit" Operator "operator" "The lot's audit trail for a day: who did what, when and why."
        query DATE, headers &[], body None, ok Success::Json(200, schema::<Page<AuditOut>>), errors &[400, 404, 422];
    OperatorListDeadLetters = GET "/v1/operator/lots/{lot_id}/dead-letters" Operator "operator" "The lot's messages a queue's consumer gave up on after its retries (payments or notifications), without their bodies."
        query QUEUE, headers &[], body None, ok Success::Json(200, schema::<DeadLettersOut>), errors &[400, 404];
    OperatorRedriveDeadLetters = POST "/v1/operator/lots/{lot_id}/dead-letters/redrive" Operator "operator" "Sends the lot's dead letters of a queue back to it once the cause is fixed, with a note; audited."
        query &[], headers &[], body Some(schema::<RedriveIn>), ok Success::Json(200, schema::<DeadLettersOut>), errors &[400, 404, 413, 415, 422];
    OperatorListWebhooks = GET "/v1/operator/lots/{lot_id}/webhooks" Operator "operator" "The lot's webhook subscriptions and their health: on or switched off, failures in a row, the last success and failure, the events missed."
        query &[], headers &[], body None, ok Success::Json(200, schema::<WebhooksOut>), errors &[404];
    OperatorAddWebhook = POST "/v1/operator/lots/{lot_id}/webhooks" Operator "operator" "Subscribes an https address to event types of the lot (stay.closed, payment.failed, lot.full, device.offline, dispute.opened); the answer holds the signing secret, shown this once. At most 10 a lot (409 too_many_webhooks); audited."
        query &[], headers &[], body Some(schema::<WebhookIn>), ok Success::Json(201, schema::<WebhookCreatedOut>), errors &[400, 404, 409, 413, 415, 422];
    OperatorDeleteWebhook = DELETE "/v1/operator/lots/{lot_id}/webhooks/{webhook_id}" Operator "operator" "Removes a subscription; audited."
        query &[], headers &[], body None, ok Success::NoContent, errors &[404];
    OperatorEnableWebhook = POST "/v1/operator/lots/{lot_id}/webhooks/{webhook_id}/enable" Operator "operator" "Switches a subscription on again after repeated failure, its failures forgotten; audited."
        query &[], headers &[], body None, ok Success::Json(200, schema::<WebhookOut>), errors &[404];
    OperatorReplayWebhook = POST "/v1/operator/lots/{lot_id}/webhooks/{webhook_id}/replay" Operator "operator" "Sends a subscription's missed events again, each with its own id (a receiver that had one drops it); 409 webhook_disabled while it is off; audited."
        query &[], headers &[], body None, ok Success::Json(200, schema::<WebhookReplayOut>), errors &[404, 409];
    MerchantValidate = POST "/v1/merchant/lots/{lot_id}/validations" Merchant "merchant" "Validates a customer's open stay by plate (free minutes or an amount off), once per shop and stay; audited."
        query &[], headers &[], body Some(schema::<ValidationIn>), ok Success::Json(201, schema::<ValidationOut>), errors &[400, 404, 409, 413, 415, 422];
    KioskFindSessions = GET "/v1/kiosk/lots/{lot_id}/sessions" Kiosk "kiosk" "Unpaid stays in the kiosk's lot by the plate's digits, then those the plate left unpaid at its operator's other lots (the unpaid register): a hint of the plate (its region and serial), the lot, the entry time and what is due. Ten lookups a minute per kiosk, then 429 with Retry-After."
        query DIGITS, headers &[], body None, ok Success::Json(200, schema::<Page<KioskSessionOut>>), errors &[400, 429];
    KioskPay = POST "/v1/kiosk/lots/{lot_id}/sessions/{session_id}/payments" Kiosk "kiosk" "Records a payment taken at the kiosk, for a stay of its lot or one on its operator's unpaid register, for the whole plate as typed (another plate is 422; after three wrong plates for a stay in a day, 409 too_many_tries even for the right one); the car may leave within the lot's exit window. Ten payments a minute per kiosk, then 429 with Retry-After."
        query &[], headers KEYED, body Some(schema::<KioskPaymentIn>), ok Success::Json(200, schema::<KioskPaymentOut>), errors &[400, 404, 409, 413, 415, 422, 429];
    SupportListPlateClaims = GET "/v1/support/plate-claims" Support "support" "Plate claims waiting for staff (a plate another driver has proven), oldest first: check the claimant's registration document, then decide."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<PlateReviewOut>>), errors &[400];
    SupportDecidePlateClaim = POST "/v1/support/plate-claims/{plate}/decision" Support "support" "Approves a driver's claim of a plate (it moves to them from any former holder) or rejects it, with a note; audited in the account trail."
        query &[], headers &[], body Some(schema::<PlateDecisionIn>), ok Success::NoContent, errors &[400, 404, 413, 415, 422];
}

/// The names of a path's parameters, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}
