//! A driver's stays: their sessions, what an open one costs if the car
//! left now, and receipts for the ones that are done.

use jiff::Timestamp;
use parking_core::money::tax_within;
use parking_core::{SessionState, Tariff};
use serde::Serialize;

use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;

/// Why a stay could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum TripError {
    /// Not the driver's session, or none at all: the two look the same.
    #[error("session not found")]
    NotFound,
    /// The session has no receipt (yet): it is open, unpriced or voided.
    #[error("session {0} has no receipt: it is {1}")]
    NoReceipt(SessionId, SessionState),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of the driver's sessions, in entry order, after the listing
/// key `after` ([`crate::sessions::entry_key`]): read a page at a time
/// from the driver's copies, whatever the driver's history.
///
/// # Errors
///
/// The store's.
pub async fn sessions<S: SessionStore>(
    store: &S,
    driver: &DriverId,
    after: Option<&str>,
    limit: usize,
) -> Result<SessionPage, TripError> {
    Ok(store.driver_sessions_page(driver, after, limit).await?)
}

/// One of the driver's sessions.
///
/// # Errors
///
/// [`TripError::NotFound`] when it is not the driver's.
pub async fn session<S: SessionStore>(
    store: &S,
    driver: &DriverId,
    id: &SessionId,
) -> Result<Session, TripError> {
    match store.get_session(id).await {
        Ok(s) if s.driver_id.as_ref() == Some(driver) && s.state != SessionState::Superseded => {
            Ok(s)
        }
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(TripError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// The lot's tariff in force at `at`, compiled.
///
/// # Errors
///
/// The store's; a stored tariff that no longer compiles is corrupt.
pub async fn lot_tariff<S: LotStore>(
    store: &S,
    lot: &LotId,
    at: Timestamp,
) -> Result<Tariff, StoreError> {
    let config = store.lot_config(lot).await?;
    let tariffs = config.compiled()?;
    Ok(tariffs.at(&config.lot, at).1.clone())
}

pub use crate::usecases::adjust::fee_if_left;

/// The tax in an amount at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxLine {
    /// The rate in basis points (1000 = 10%).
    pub rate_bp: u32,
    /// The amount taxed at this rate, tax included.
    pub amount: i64,
    pub tax: i64,
}

/// A receipt with what a Japanese qualified invoice (適格請求書) needs: the
/// issuer and their registration number, the date, what was bought, the
/// amount, and per tax rate the amount and the tax.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// The receipt number: the session's id.
    pub number: SessionId,
    pub issuer_name: Option<String>,
    pub registration_number: Option<String>,
    /// The date of the stay's end, in the lot's time zone (`YYYY-MM-DD`).
    pub date: String,
    pub lot_id: LotId,
    pub lot_name: String,
    /// Entry and exit in the lot's time zone.
    pub entry_local: String,
    pub exit_local: String,
    pub entry_at: Timestamp,
    pub exit_at: Timestamp,
    pub description: String,
    /// The amount paid, tax included, in minor units.
    pub amount: i64,
    pub currency: String,
    pub tax_lines: Vec<TaxLine>,
    /// `card` or `kiosk`.
    pub paid_by: &'static str,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub state: SessionState,
    /// A return invoice (返還インボイス) for each refund of at least
    /// [`RETURN_INVOICE_FROM`] made to the card.
    pub returns: Vec<ReturnInvoice>,
}

/// From this refund (tax included, yen) a qualified return invoice is
/// required; a smaller refund is exempt (since October 2023).
pub const RETURN_INVOICE_FROM: i64 = 10_000;

/// A qualified return invoice (適格返還請求書): who issues it (with the
/// receipt's issuer and registration number), when the money went back,
/// when the stay it refunds was sold, what it was, and the refund by tax
/// rate with its tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnInvoice {
    /// The provider's refund id.
    pub number: String,
    /// The refund's date, in the lot's time zone (`YYYY-MM-DD`).
    pub refund_date: String,
    /// The date of the stay it refunds (the receipt's date).
    pub original_date: String,
    pub description: String,
    /// The refund, tax included, in minor units.
    pub amount: i64,
    pub tax_lines: Vec<TaxLine>,
}

/// The receipt of one of the driver's sessions that is priced (paid or
/// due).
///
/// # Errors
///
/// [`TripError::NotFound`] when it is not the driver's,
/// [`TripError::NoReceipt`] while it is open or when it owes nothing.
pub async fn receipt<S: Store>(
    store: &S,
    driver: &DriverId,
    id: &SessionId,
) -> Result<Receipt, TripError> {
    let s = session(store, driver, id).await?;
    // Refunds made to the card (a returned one is not): a voided stay
    // that was paid still has its receipt, and its return invoices.
    let refunds: Vec<crate::timeline::SettlementRecord> =
        match crate::history::of_session(store, &s).await? {
            Some(t) => {
                let returned: Vec<&String> = t
                    .settlements
                    .iter()
                    .filter_map(|r| r.reverses.as_ref())
                    .collect();
                t.settlements
                    .iter()
                    .filter(|r| {
                        r.session_id == s.id
                            && r.kind == crate::outbox::PaymentKind::Refund
                            && r.charge_id
                                .as_ref()
                                .is_some_and(|id| !returned.contains(&id))
                    })
                    .cloned()
                    .collect()
            }
            None => Vec::new(),
        };
    let billable = matches!(
        s.state,
        SessionState::Priced
            | SessionState::Paid
            | SessionState::EntryMissing
            | SessionState::PaymentFailed
    ) || (s.state == SessionState::Voided && !refunds.is_empty());
    let (Some(fee), Some(exit_at), true) = (s.fee, s.exit_at, billable) else {
        return Err(TripError::NoReceipt(s.id.clone(), s.state));
    };
    let config = store.lot_config(&s.lot_id).await?;
    let tariffs = config.compiled()?;
    let tariff = tariffs.at(&config.lot, s.entry_at).1;
    let tz = tariff.time_zone().clone();
    let local = |t: Timestamp| {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    let tax = tariff.spec().tax;
    // The fee is what is payable, tax included whether the tariff's tax
    // is inclusive or added on top: the receipt shows the tax within it.
    let tax_lines = tax
        .map(|t| {
            vec![TaxLine {
                rate_bp: t.rate_bp,
                amount: fee.minor,
                tax: tax_within(fee.minor, Some(t)),
            }]
        })
        .unwrap_or_default();
    let amount = fee.minor;
    let card = match &s.method_id {
        Some(m) => store
            .payment_methods(driver)
            .await?
            .into_iter()
            .find(|pm| &pm.id == m),
        None => None,
    };
    let issuer = config.lot.settings.issuer.clone();
    let date = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string();
    let returns = refunds
        .iter()
        .filter(|r| r.amount.minor >= RETURN_INVOICE_FROM)
        .map(|r| ReturnInvoice {
            number: r.charge_id.clone().unwrap_or_default(),
            refund_date: date(r.at),
            original_date: date(exit_at),
            description: format!(
                "駐車料金の返還 Refund of a parking fee ({})",
                config.lot.name
            ),
            amount: r.amount.minor,
            tax_lines: tax
                .map(|t| {
                    vec![TaxLine {
                        rate_bp: t.rate_bp,
                        amount: r.amount.minor,
                        tax: tax_within(r.amount.minor, Some(t)),
                    }]
                })
                .unwrap_or_default(),
        })
        .collect();
    Ok(Receipt {
        number: s.id.clone(),
        issuer_name: issuer.as_ref().map(|i| i.name.clone()),
        registration_number: issuer.map(|i| i.registration_number),
        date: exit_at
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d")
            .to_string(),
        lot_id: s.lot_id.clone(),
        lot_name: config.lot.name.clone(),
        entry_local: local(s.entry_at),
        exit_local: local(exit_at),
        entry_at: s.entry_at,
        exit_at,
        description: format!("駐車料金 Parking fee ({})", config.lot.name),
        amount,
        currency: fee.currency.code().to_owned(),
        tax_lines,
        paid_by: if s.method_id.is_some() {
            "card"
        } else {
            "kiosk"
        },
        card_brand: card.as_ref().map(|c| c.brand.clone()),
        card_last4: card.map(|c| c.last4),
        state: s.state,
        returns,
    })
}
