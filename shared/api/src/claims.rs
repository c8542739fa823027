//! Who is calling: the claims of the caller's verified token, as API
//! Gateway's JWT authorizer passes them (or, for local development only,
//! as a header `parkctl serve` reads when told to).
//!
//! - `sub`: the caller's id: a driver's id, a shop's, a kiosk's or an
//!   operator's.
//! - `cognito:groups`: the caller's roles: `driver`, `operator`,
//!   `merchant`, `kiosk`. API Gateway passes an array claim as text
//!   (`[operator merchant]`); a JSON array or a comma-separated list is
//!   read the same way.
//! - `custom:lots`: for operators, merchants and kiosks, the lots they act
//!   on, comma- or space-separated.

use std::collections::HashMap;
use std::fmt;

use parking_app::ids::LotId;

/// The claim holding the caller's roles.
pub const GROUPS_CLAIM: &str = "cognito:groups";
/// The claim holding the lots an operator, merchant or kiosk acts on.
pub const LOTS_CLAIM: &str = "custom:lots";

/// A role a caller may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Driver,
    Operator,
    Merchant,
    Kiosk,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Operator => "operator",
            Role::Merchant => "merchant",
            Role::Kiosk => "kiosk",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "driver" => Some(Role::Driver),
            "operator" => Some(Role::Operator),
            "merchant" => Some(Role::Merchant),
            "kiosk" => Some(Role::Kiosk),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verified claims of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subject: String,
    pub roles: Vec<Role>,
    pub lots: Vec<LotId>,
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '"'))
        .filter(|w| !w.is_empty())
}

impl Claims {
    /// Reads the claims an authorizer passed, each as text. Unknown roles
    /// and malformed lot ids are left out (they grant nothing).
    ///
    /// Returns `None` when there is no subject: the request is anonymous.
    pub fn from_text<'a>(claims: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Claims> {
        let map: HashMap<&str, &str> = claims.into_iter().collect();
        let subject = map.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty())?;
        let roles = map
            .get(GROUPS_CLAIM)
            .map(|g| words(g).filter_map(Role::parse).collect())
            .unwrap_or_default();
        let lots = map
            .get(LOTS_CLAIM)
            .map(|l| words(l).filter_map(|w| LotId::parse(w).ok()).collect())
            .unwrap_or_default();
        Some(Claims {
            subject: subject.to_owned(),
            roles,
            lots,
        })
    }

    /// Reads claims from a JSON object (values as text or arrays of text),
    /// the form the development header carries.
    pub fn from_json(json: &str) -> Option<Claims> {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
        let texts: Vec<(String, String)> = v
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        Claims::from_text(texts.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller acts on this lot.
    pub fn in_scope(&self, lot: &LotId) -> bool {
        self.lots.contains(lot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateway_array_claims_are_read() {
        let c = Claims::from_text([
            ("sub", "op-1"),
            ("cognito:groups", "[operator merchant]"),
            ("custom:lots", "lot-a,lot-b"),
        ])
        .expect("claims");
        assert_eq!(c.roles, vec![Role::Operator, Role::Merchant]);
        assert_eq!(c.lots.len(), 2);
        assert!(Claims::from_text([("cognito:groups", "driver")]).is_none());
        let c = Claims::from_json(r#"{"sub":"d-1","cognito:groups":["driver","admin"]}"#)
            .expect("claims");
        assert_eq!(c.roles, vec![Role::Driver]);
    }
}
