//! The operator webhooks' HTTP client: a `POST` within the protocol's
//! timeout, no redirects followed, and only to public addresses: a name
//! that resolves to the loopback, a private network or the metadata
//! service is refused when it is sent to, not only when it is subscribed
//! (a name may change what it points to).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_app::hooks::{Answer, HookClient, TIMEOUT_SECONDS, public};

/// Posts webhook deliveries.
#[derive(Debug, Clone)]
pub struct HttpHookClient {
    http: reqwest::Client,
    local: bool,
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl HttpHookClient {
    /// The client deliveries go out with.
    ///
    /// # Errors
    ///
    /// When the client cannot be built (no TLS roots).
    pub fn new() -> Result<Self, String> {
        Self::build(false)
    }

    /// The same, allowed to reach this machine and private networks: for
    /// tests and local development only.
    ///
    /// # Errors
    ///
    /// When the client cannot be built.
    pub fn for_local_tests() -> Result<Self, String> {
        Self::build(true)
    }

    fn build(local: bool) -> Result<Self, String> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(TIMEOUT_SECONDS))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none());
        if !local {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(HttpHookClient {
            local,
            http: b
                .build()
                .map_err(|e| format!("the webhooks' HTTP client: {}", e.without_url()))?,
        })
    }
}

impl HookClient for HttpHookClient {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        // An address given as an IP is not resolved: checked here.
        let literal = url::Url::parse(url).ok().and_then(|u| match u.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        });
        if !self.local && literal.is_some_and(|ip| !public(ip)) {
            return Answer::Unreachable("refused: not a public address".into());
        }
        let mut req = self.http.post(url).body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        match req.send().await {
            Ok(r) => Answer::Status(r.status().as_u16()),
            // Without the address: the operator knows it.
            Err(e) => Answer::Unreachable(e.without_url().to_string()),
        }
    }
}
