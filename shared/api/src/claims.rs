//! Who is calling: the claims of the caller's verified token, as API
//! Gateway's JWT authorizer passes them (or, for local development only,
//! as a header `parkctl serve` reads when told to).
//!
//! - `sub`: the caller's id: a driver's id, a shop's, a kiosk's or an
//!   operator's.
//! - `cognito:groups`: the caller's roles: `driver`, `operator`,
//!   `merchant`, `kiosk`, `support` (decides plate claims, in no lot). API Gateway passes an array claim as text
//!   (`[operator merchant]`); a JSON array or a comma-separated list is
//!   read the same way.
//! - `custom:scopes`: for operators, merchants and kiosks, what they may
//!   do where, as `role:lot` words, comma- or space-separated
//!   (`operator:demo-1 merchant:demo-2`): each role acts only on its own
//!   lots, so a shop at one lot that operates another is a shop at the
//!   first. A scope counts only with its role's group; an unknown role or
//!   a malformed lot grants nothing. (`custom:lots`, the lots every role
//!   acted on, is no longer read.)

use std::collections::HashMap;
use std::fmt;

use parking_app::ids::LotId;

/// The claim holding the caller's roles.
pub const GROUPS_CLAIM: &str = "cognito:groups";
/// The claim holding the lots each of a caller's staff roles acts on.
pub const SCOPES_CLAIM: &str = "custom:scopes";

/// A role a caller may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Driver,
    Operator,
    Merchant,
    Kiosk,
    /// Support staff: decide plate claims a code cannot prove. Not bound
    /// to a lot.
    Support,
    /// Anyone, signed in or not: the open-data feed. No token grants it
    /// and none is needed.
    Public,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Operator => "operator",
            Role::Merchant => "merchant",
            Role::Kiosk => "kiosk",
            Role::Support => "support",
            Role::Public => "anyone",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "driver" => Some(Role::Driver),
            "operator" => Some(Role::Operator),
            "merchant" => Some(Role::Merchant),
            "kiosk" => Some(Role::Kiosk),
            "support" => Some(Role::Support),
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
    /// The lots each role acts on (only roles the caller has).
    pub scopes: Vec<(Role, LotId)>,
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '"'))
        .filter(|w| !w.is_empty())
}

impl Claims {
    /// Reads the claims an authorizer passed, each as text. Unknown roles,
    /// malformed lot ids and scopes of a role the caller does not have are
    /// left out (they grant nothing).
    ///
    /// Returns `None` when there is no subject: the request is anonymous.
    pub fn from_text<'a>(claims: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Claims> {
        let map: HashMap<&str, &str> = claims.into_iter().collect();
        let subject = map.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty())?;
        let roles: Vec<Role> = map
            .get(GROUPS_CLAIM)
            .map(|g| words(g).filter_map(Role::parse).collect())
            .unwrap_or_default();
        let scopes = map
            .get(SCOPES_CLAIM)
            .map(|l| {
                words(l)
                    .filter_map(|w| {
                        let (role, lot) = w.split_once(':')?;
                        let role = Role::parse(role).filter(|r| roles.contains(r))?;
                        Some((role, LotId::parse(lot).ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Claims {
            subject: subject.to_owned(),
            roles,
            scopes,
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

    /// Whether the caller acts on this lot in this role.
    pub fn in_scope(&self, role: Role, lot: &LotId) -> bool {
        self.scopes.iter().any(|(r, l)| *r == role && l == lot)
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
            ("custom:scopes", "operator:lot-a,merchant:lot-b"),
        ])
        .expect("claims");
        assert_eq!(c.roles, vec![Role::Operator, Role::Merchant]);
        assert_eq!(c.scopes.len(), 2);
        assert!(Claims::from_text([("cognito:groups", "driver")]).is_none());
        let c = Claims::from_json(r#"{"sub":"d-1","cognito:groups":["driver","admin"]}"#)
            .expect("claims");
        assert_eq!(c.roles, vec![Role::Driver]);
    }

    #[test]
    fn each_role_acts_only_on_its_own_lots() {
        let lot = |l: &str| LotId::parse(l).expect("lot");
        let c = Claims::from_text([
            ("sub", "s-1"),
            ("cognito:groups", "merchant operator"),
            (
                "custom:scopes",
                "merchant:lot-a operator:lot-b kiosk:lot-a admin:lot-a operator:Bad/Lot",
            ),
            // No longer read: every role on every lot.
            ("custom:lots", "lot-a lot-b"),
        ])
        .expect("claims");
        assert!(c.in_scope(Role::Merchant, &lot("lot-a")));
        assert!(c.in_scope(Role::Operator, &lot("lot-b")));
        assert!(!c.in_scope(Role::Operator, &lot("lot-a")), "a shop there");
        assert!(!c.in_scope(Role::Merchant, &lot("lot-b")));
        assert!(
            !c.in_scope(Role::Kiosk, &lot("lot-a")),
            "not in the kiosk group"
        );
        assert_eq!(c.scopes.len(), 2);
    }
}
