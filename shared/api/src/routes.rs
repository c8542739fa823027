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
    ListVehicles = GET "/v1/me/vehicles" Driver "driver" "The driver's registered plates."
        query PAGE, headers &[], body None, ok Success::Json(200, schema::<Page<VehicleOut>>), errors &[400];
    AddVehicle = POST "/v1/me/vehicles" Driver "driver" "Registers a plate; 409 when another driver holds it."
        query &[], headers &[], body Some(schema::<VehicleIn>), ok Success::Json(201, schema::<VehicleOut>), errors &[400, 404, 409, 413, 415, 422];
    RemoveVehicle = DELETE "/v1/me/vehicles/{plate}" Driver "driver" "Releases one of the driver's plates (its canonical form)."
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
    GetReceipt = GET "/v1/me/sessions/{session_id}/receipt" Driver "sessions" "The receipt of a priced stay (a qualified invoice's fields)."
        query &[], headers &[], body None, ok Success::Json(200, schema::<ReceiptOut>), errors &[404, 409];
    GetReceiptHtml = GET "/v1/me/sessions/{session_id}/receipt.html" Driver "sessions" "The receipt as a printable page."
        query &[], headers &[], body None, ok Success::Html, errors &[404, 409];
}

/// The names of a path's parameters, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}
