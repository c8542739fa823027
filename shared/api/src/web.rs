//! The operator dashboard's security headers: what `parkctl serve` sends
//! with the page and what the template's CloudFront response headers
//! policy sets for the deployed one (a test keeps the two equal).
//!
//! The page loads only its own script and style and calls only its own
//! origin (CloudFront forwards `/v1/*` to the API); nothing may frame it.

/// `Content-Security-Policy`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

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
