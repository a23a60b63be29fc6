//! HTTP requests Gatehouse makes to parties it trusts by configuration: an
//! upstream identity provider (discovery, JWKS, token endpoint), GitHub, and
//! Cloudflare Access's certificate endpoint. Behind a trait so the login
//! logic runs natively against canned answers and in the worker over `fetch`.
//! Redirects are not followed: every endpoint is named by configuration or by
//! a document from the configured issuer, and a redirect is an answer to check.

use serde::de::DeserializeOwned;

use super::signature::SignatureVerifier;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl OutboundRequest {
    pub fn get(url: impl Into<String>) -> Self {
        OutboundRequest { method: Method::Get, url: url.into(), headers: vec![("accept".into(), "application/json".into())], body: None }
    }

    /// A form POST (`application/x-www-form-urlencoded`).
    pub fn post_form(url: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        OutboundRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![
                ("accept".into(), "application/json".into()),
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ],
            body: Some(body.into_bytes()),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    Timeout,
    TooLarge,
    Network(String),
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::Timeout => f.write_str("no answer in time"),
            OutboundError::TooLarge => f.write_str("the answer was too large"),
            OutboundError::Network(why) => write!(f, "unreachable ({why})"),
        }
    }
}

/// Longest wait for another party, and the largest answer read from one.
pub const TIMEOUT_SECONDS: u64 = 10;
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[allow(async_fn_in_trait)]
pub trait Outbound {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}

/// What login handlers are handed besides `Ctx`: the network and the crypto.
pub trait Net: Outbound + SignatureVerifier {}
impl<T: Outbound + SignatureVerifier> Net for T {}

/// Configured upstream URLs must be https; plain http only to a loopback
/// host (tests, or a provider on the same machine).
pub fn upstream_url_allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_for_loopback_only() {
        let ok = |s: &str| upstream_url_allowed(&url::Url::parse(s).unwrap());
        assert!(ok("https://auth.example.com"));
        assert!(ok("http://127.0.0.1:9000"));
        assert!(ok("http://localhost:9000"));
        assert!(ok("http://[::1]:9000"));
        assert!(!ok("http://auth.example.com"));
        assert!(!ok("http://10.0.0.1"));
        assert!(!ok("ftp://127.0.0.1"));
    }
}
