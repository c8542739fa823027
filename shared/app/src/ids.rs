//! Identifiers, one type each, so two ids can never be swapped. Each parses
//! from text: 1 to 128 ASCII letters, digits and `-_.:@`; never `#`, which
//! separates the parts of a store key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} must be at most {MAX_ID_LEN} characters (got {len})")]
    TooLong { kind: &'static str, len: usize },
    /// The position (from 1) of the first character not allowed; the
    /// character itself is not shown, as ids arrive from devices and may
    /// carry anything.
    #[error(
        "{kind} may hold only ASCII letters, digits and -_.:@ (not the character at position {position})"
    )]
    BadCharacter { kind: &'static str, position: usize },
}

/// The longest id.
pub const MAX_ID_LEN: usize = 128;

fn check(kind: &'static str, text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if text.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: text.len(),
        });
    }
    match text
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(c)))
    {
        Some(i) => Err(IdError::BadCharacter {
            kind,
            position: i + 1,
        }),
        None => Ok(()),
    }
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident => $kind:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id.
            ///
            /// # Errors
            ///
            /// [`IdError`] when the text is empty, too long or holds a
            /// character other than ASCII letters, digits and `-_.:@`.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check($kind, text)?;
                Ok($name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                check($kind, &text)?;
                Ok($name(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

ids! {
    /// A car park.
    LotId => "lot id";
    /// The business that runs lots: its lots share one unpaid register.
    OperatorId => "operator id";
    /// A gate of a lot.
    GateId => "gate id";
    /// A bay of a lot.
    BayId => "bay id";
    /// A device: a camera, barrier, bay sensor or kiosk (its IoT client id).
    DeviceId => "device id";
    /// An event as its device numbers it.
    EventId => "event id";
    /// A camera's name for the car it follows across frames: the reads
    /// of one track are one car passing the gate once.
    TrackId => "track id";
    /// A registered driver.
    DriverId => "driver id";
    /// A payment method on file.
    PaymentMethodId => "payment method id";
    /// A reservation.
    ReservationId => "reservation id";
    /// A parking session.
    SessionId => "session id";
    /// A tariff.
    TariffId => "tariff id";
    /// The key a payment is recorded under and sent to the processor with.
    IdempotencyKey => "idempotency key";
    /// A monthly pass.
    PassId => "pass id";
    /// An operator's, merchant's or kiosk's action on a plate's timeline.
    ActionId => "action id";
    /// A device's serial number, as its maker printed it and its firmware
    /// presents it when it claims its identity.
    SerialNumber => "serial number";
}

impl IdempotencyKey {
    /// The key named `text` when that is a valid key; for a name too long
    /// to be one (it is built from other ids), `k-` and a digest of it.
    /// Either way the same name always gives the same key.
    pub fn derived(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap_or_else(|_| {
            use sha2::{Digest, Sha256};
            let hex: String = Sha256::digest(text.as_bytes())[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            IdempotencyKey(format!("k-{hex}"))
        })
    }
}

/// A random number, fresh for every call (the standard library's
/// per-process random hash keys): for what must not repeat, such as a
/// commit attempt or an audit entry of a search.
pub fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_say_what_is_wrong() {
        assert_eq!(
            LotId::parse("lot-a").map(|l| l.to_string()),
            Ok("lot-a".into())
        );
        assert_eq!(LotId::parse(""), Err(IdError::Empty { kind: "lot id" }));
        assert_eq!(
            SessionId::parse("s#1").map_err(|e| e.to_string()),
            Err(
                "session id may hold only ASCII letters, digits and -_.:@ (not the character at position 2)"
                    .into()
            )
        );
        assert!(DriverId::parse(&"d".repeat(MAX_ID_LEN + 1)).is_err());
        let json = serde_json::to_string(&GateId::parse("g-1").expect("id")).expect("json");
        assert_eq!(json, "\"g-1\"");
        assert!(serde_json::from_str::<GateId>("\"bad id\"").is_err());
    }

    #[test]
    fn derived_keys_stay_valid_however_long_their_name() {
        let long = "r".repeat(MAX_ID_LEN);
        let k = IdempotencyKey::derived(&format!("{long}.cancel"));
        assert!(IdempotencyKey::parse(k.as_str()).is_ok());
        assert_eq!(k, IdempotencyKey::derived(&format!("{long}.cancel")));
        assert_eq!(IdempotencyKey::derived("s-1.a1").as_str(), "s-1.a1");
    }
}
