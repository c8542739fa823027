//! The operator dashboard's security headers: what `parkctl serve` sends
//! with the page and what the template's CloudFront response headers
//! policy sets for the deployed one (a test keeps the two equal).
//!
//! The page loads only its own script and style and calls only its own
//! origin (CloudFront forwards `/v1/*` to the API) and, where staff sign
//! in through a hosted sign-in (Cognito's, authorization code with PKCE),
//! that service's token endpoint; nothing may frame it.

/// `Content-Security-Policy` of a page with no sign-in service.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `Content-Security-Policy` of a page whose staff sign in at
/// `sign_in_origin` (the page exchanges the code there): the same, with
/// that origin added to `connect-src` only.
pub fn content_security_policy(sign_in_origin: Option<&str>) -> String {
    match sign_in_origin {
        None => CONTENT_SECURITY_POLICY.to_owned(),
        Some(origin) => CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self';",
            &format!("connect-src 'self' {origin};"),
        ),
    }
}

/// `Strict-Transport-Security`: two years, subdomains included.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Every header the page is served with.
pub const HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("strict-transport-security", STRICT_TRANSPORT_SECURITY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// Where the dashboard's staff sign in: `sign-in.json`, served beside the
/// page (written at deploy from the stack's outputs; `parkctl serve
/// --sign-in` serves one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignIn {
    pub authorize_url: String,
    pub token_url: String,
    pub logout_url: String,
    pub client_id: String,
}

impl SignIn {
    /// The endpoints of an OAuth 2.0 service at `base` (as Cognito's
    /// hosted UI lays them out: `/oauth2/authorize`, `/oauth2/token`,
    /// `/logout`).
    pub fn at(base: &str, client_id: &str) -> SignIn {
        let base = base.trim_end_matches('/');
        SignIn {
            authorize_url: format!("{base}/oauth2/authorize"),
            token_url: format!("{base}/oauth2/token"),
            logout_url: format!("{base}/logout"),
            client_id: client_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_service_is_reachable_for_the_token_exchange_only() {
        let csp = content_security_policy(Some("https://login.example"));
        assert!(
            csp.contains("connect-src 'self' https://login.example;"),
            "{csp}"
        );
        assert_eq!(
            csp.replace(" https://login.example", ""),
            CONTENT_SECURITY_POLICY,
            "nothing else changes"
        );
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let s = SignIn::at("https://login.example/", "c1");
        assert_eq!(s.token_url, "https://login.example/oauth2/token");
    }
}
