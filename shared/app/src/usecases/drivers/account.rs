//! A driver's account: profile, vehicles and payment methods.
//!
//! A payment method is the payment provider's opaque token with the card's
//! brand and last four digits, never the card itself: anything that looks
//! like a card number (12 to 19 digits, spaces or dashes between them
//! allowed) is refused before it is stored or logged, in every field.

use sha2::{Digest, Sha256};

use crate::ids::*;
use crate::model::*;
use crate::store::prelude::*;
use crate::usecases::plates::{self, RegisterError};

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The driver has no profile yet.
    #[error("driver {0} has no profile")]
    UnknownDriver(DriverId),
    /// A field is not acceptable; `field` is its name in the request.
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// A field holds what looks like a card number; it is neither stored
    /// nor shown.
    #[error("{field}: looks like a card number; send the payment provider's token instead")]
    CardNumber { field: &'static str },
    /// The account cannot be erased now: why.
    #[error("{0}")]
    InUse(&'static str),
    /// A plate claim or proof refused: too many claims waiting, or the
    /// code.
    #[error(transparent)]
    Plate(RegisterError),
    /// The vehicle or payment method is not this driver's (or does not
    /// exist): the two are told apart to nobody.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The card was refused when it was saved (declined by its bank).
    #[error("the card was refused: {0}")]
    CardRefused(String),
    /// The payment provider could not save the card now (it is down, or
    /// refused our request): try again later.
    #[error("the payment provider cannot save the card now: {0}")]
    ProviderUnavailable(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

const MAX_NAME: usize = 100;

/// The driver's profile.
///
/// # Errors
///
/// [`AccountError::UnknownDriver`] before the first [`save_profile`].
pub async fn profile<S: DriverStore>(store: &S, driver: &DriverId) -> Result<Driver, AccountError> {
    match store.get_driver(driver).await {
        Ok(d) => Ok(d),
        Err(StoreError::NotFound { .. }) => Err(AccountError::UnknownDriver(driver.clone())),
        Err(e) => Err(e.into()),
    }
}

/// Creates the driver's profile or renames it; the creation time stays the
/// first one.
///
/// # Errors
///
/// [`AccountError::Invalid`] for an empty or over-long name; the store's.
pub async fn save_profile<S: DriverStore>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver: &DriverId,
    name: &str,
) -> Result<Driver, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(AccountError::Invalid {
            field: "name",
            problem: format!("must be 1 to {MAX_NAME} characters"),
        });
    }
    if looks_like_card_number(name) {
        return Err(AccountError::CardNumber { field: "name" });
    }
    let created_at = match store.get_driver(driver).await {
        Ok(d) => d.created_at,
        Err(StoreError::NotFound { .. }) => clock.now(),
        Err(e) => return Err(e.into()),
    };
    let d = Driver {
        id: driver.clone(),
        name: name.to_owned(),
        created_at,
    };
    store.put_driver(&d).await?;
    Ok(d)
}

/// Claims a plate as typed in the app (its canonical form is kept): it
/// is the driver's once proven ([`plates::prove_plate`]).
///
/// # Errors
///
/// [`AccountError::Invalid`] for a plate that does not parse;
/// [`AccountError::Plate`] when the driver has too many claims waiting.
pub async fn add_vehicle<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver: &DriverId,
    plate_text: &str,
) -> Result<plates::Vehicle, AccountError> {
    plates::claim_plate(store, clock, driver, plate_text)
        .await
        .map_err(AccountError::from)
}

/// Proves a claimed plate with the code its gate showed.
///
/// # Errors
///
/// [`AccountError::NotFound`] without such a claim; [`AccountError::Plate`]
/// for a code that is not live, wrong, or tried too often.
pub async fn prove_vehicle<S: Store>(
    store: &S,
    clock: &(impl Clock + ?Sized),
    driver: &DriverId,
    plate_text: &str,
    code: &str,
) -> Result<plates::Vehicle, AccountError> {
    plates::prove_plate(store, clock, driver, plate_text, code)
        .await
        .map_err(AccountError::from)
}

/// Releases one of the driver's plates, or withdraws a claim.
///
/// # Errors
///
/// [`AccountError::NotFound`] when the plate is not the driver's.
pub async fn remove_vehicle<S: Store>(
    store: &S,
    driver: &DriverId,
    plate_text: &str,
) -> Result<(), AccountError> {
    plates::release_plate(store, driver, plate_text)
        .await
        .map_err(AccountError::from)
}

impl From<RegisterError> for AccountError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::BadPlate(e) => AccountError::Invalid {
                field: "plate",
                problem: e.to_string(),
            },
            RegisterError::UnknownDriver(d) => AccountError::UnknownDriver(d),
            RegisterError::NoClaim => AccountError::NotFound("vehicle"),
            RegisterError::Store(e) => AccountError::Store(e),
            e => AccountError::Plate(e),
        }
    }
}

/// A payment method as the app sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPaymentMethod {
    pub token: String,
    pub brand: String,
    pub last4: String,
}

impl std::fmt::Debug for NewPaymentMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPaymentMethod")
            .field("token", &"<redacted>")
            .field("brand", &self.brand)
            .finish_non_exhaustive()
    }
}

/// Card brands the provider reports.
pub const BRANDS: [&str; 8] = [
    "visa",
    "mastercard",
    "amex",
    "jcb",
    "diners",
    "discover",
    "unionpay",
    "unknown",
];

/// Whether a text holds a run of 12 to 19 digits, spaces or dashes allowed
/// between them: what a card number looks like.
pub fn looks_like_card_number(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 12 {
                return true;
            }
        } else if c == ' ' || c == '-' {
            continue;
        } else {
            run = 0;
        }
    }
    false
}

/// Checks a new payment method, card numbers first, and names the first
/// bad field.
///
/// # Errors
///
/// [`AccountError::CardNumber`] or [`AccountError::Invalid`].
pub fn check_payment_method(m: &NewPaymentMethod) -> Result<(), AccountError> {
    for (field, text) in [
        ("token", m.token.as_str()),
        ("brand", m.brand.as_str()),
        ("last4", m.last4.as_str()),
    ] {
        if looks_like_card_number(text) {
            return Err(AccountError::CardNumber { field });
        }
    }
    let token_ok = (3..=255).contains(&m.token.len())
        && m.token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !token_ok {
        return Err(AccountError::Invalid {
            field: "token",
            problem: "must be the provider's token: 3 to 255 letters, digits, _ or -".into(),
        });
    }
    if !BRANDS.contains(&m.brand.as_str()) {
        return Err(AccountError::Invalid {
            field: "brand",
            problem: format!("must be one of {}", BRANDS.join(", ")),
        });
    }
    if m.last4.len() != 4 || !m.last4.chars().all(|c| c.is_ascii_digit()) {
        return Err(AccountError::Invalid {
            field: "last4",
            problem: "must be the card's last four digits".into(),
        });
    }
    Ok(())
}

/// The id a token is kept under for a driver: adding the same token again
/// names the same method.
fn method_id(driver: &DriverId, token: &str) -> PaymentMethodId {
    let mut h = Sha256::new();
    h.update(driver.as_str().as_bytes());
    h.update([0]);
    h.update(token.as_bytes());
    let hex: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    PaymentMethodId::parse(&format!("pm-{hex}"))
        .unwrap_or_else(|_| unreachable!("hex is a valid id"))
}

/// A card added: the method, and while the bank wants its holder to
/// confirm it (3-D Secure), the secret the app confirms it with.
#[derive(Clone, PartialEq, Eq)]
pub struct AddedCard {
    pub method: PaymentMethod,
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for AddedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddedCard")
            .field("method", &self.method.id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Adds a payment method; adding the same token again returns it. With
/// the provider (`cards`), the card is saved there first, with a setup
/// intent for off-session charges and the driver's customer (created now
/// if there is none); the bank may want its holder to confirm it, and the
/// answer carries the secret the app confirms it with. A new card pays
/// the driver's stays whose card payment failed
/// ([`crate::usecases::pay::retry_failed_on`]).
///
/// # Errors
///
/// [`AccountError::CardNumber`], [`AccountError::Invalid`],
/// [`AccountError::UnknownDriver`], [`AccountError::CardRefused`],
/// [`AccountError::ProviderUnavailable`], or the store's.
pub async fn add_payment_method<S: Store>(
    store: &S,
    cards: Option<&dyn crate::settlement::CardSetup>,
    driver: &DriverId,
    new: &NewPaymentMethod,
    now: jiff::Timestamp,
) -> Result<AddedCard, AccountError> {
    check_payment_method(new)?;
    profile(store, driver).await?;
    let mut m = PaymentMethod {
        id: method_id(driver, &new.token),
        driver_id: driver.clone(),
        brand: new.brand.clone(),
        last4: new.last4.clone(),
        token: PaymentToken::new(new.token.clone()),
        customer: None,
    };
    let methods = store.payment_methods(driver).await?;
    // The same card again is the card as saved, with its provider's
    // customer kept.
    if let Some(saved) = methods.iter().find(|held| held.id == m.id) {
        return Ok(AddedCard {
            method: saved.clone(),
            client_secret: None,
        });
    }
    let mut client_secret = None;
    if let Some(cards) = cards {
        let known = methods.iter().find_map(|x| x.customer.as_deref());
        let key = format!("setup-{}", m.id);
        let request = crate::settlement::SetupRequest {
            key: &key,
            driver,
            customer: known,
            token: &m.token,
        };
        match cards.setup(&request).await {
            Ok(outcome) => {
                m.customer = Some(outcome.customer);
                client_secret = outcome.client_secret;
            }
            Err(e) if e.cause() == crate::settlement::Cause::Card => {
                return Err(AccountError::CardRefused(e.to_string()));
            }
            Err(e) => return Err(AccountError::ProviderUnavailable(e.to_string())),
        }
    }
    match store.add_payment_method(&m).await {
        Ok(()) => {
            // A new card pays the driver's failed stays (once its holder
            // confirmed it, if the bank asked).
            if client_secret.is_none() {
                crate::usecases::pay::retry_failed_on(store, driver, &m.id, now)
                    .await
                    .map_err(|e| match e {
                        crate::usecases::adjust::ActionError::Store(e) => AccountError::Store(e),
                        other => AccountError::Store(StoreError::invalid(other.to_string())),
                    })?;
            }
            Ok(AddedCard {
                method: m,
                client_secret,
            })
        }
        // Ids are derived from the driver: another driver's cannot match.
        Err(StoreError::Conflict(Refusal::PaymentMethodOfAnother { .. })) => {
            Err(AccountError::NotFound("payment method"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes one of the driver's payment methods.
///
/// # Errors
///
/// [`AccountError::NotFound`] when it is not the driver's.
pub async fn remove_payment_method<S: DriverStore>(
    store: &S,
    driver: &DriverId,
    method: &PaymentMethodId,
) -> Result<(), AccountError> {
    let mine = store
        .payment_methods(driver)
        .await?
        .iter()
        .any(|m| &m.id == method);
    if !mine {
        return Err(AccountError::NotFound("payment method"));
    }
    match store.remove_payment_method(driver, method).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(Refusal::PaymentMethodOfAnother { .. })) => {
            Err(AccountError::NotFound("payment method"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(token: &str, brand: &str, last4: &str) -> NewPaymentMethod {
        NewPaymentMethod {
            token: token.into(),
            brand: brand.into(),
            last4: last4.into(),
        }
    }

    #[test]
    fn card_numbers_are_refused_in_every_field() {
        assert!(looks_like_card_number("4242 4242 4242 4242"));
        assert!(looks_like_card_number("4242-4242-4242-4242"));
        assert!(looks_like_card_number("x378282246310005"));
        assert!(!looks_like_card_number("pm_card_visa"));
        assert!(!looks_like_card_number("4242"));
        let e = check_payment_method(&card("4111111111111111", "visa", "1111"));
        assert!(matches!(
            e,
            Err(AccountError::CardNumber { field: "token" })
        ));
        let e = check_payment_method(&card("pm_1", "visa 4111 1111 1111 1111", "1111"));
        assert!(matches!(
            e,
            Err(AccountError::CardNumber { field: "brand" })
        ));
        assert!(check_payment_method(&card("pm_card_visa", "visa", "4242")).is_ok());
        let e = check_payment_method(&card("pm_card_visa", "visa", "42a2"));
        assert!(matches!(
            e,
            Err(AccountError::Invalid { field: "last4", .. })
        ));
        let shown = format!("{:?}", card("pm_secret_token", "visa", "4242"));
        assert!(!shown.contains("pm_secret_token"));
    }
}
