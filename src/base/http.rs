//! Plain request and response values that the endpoints speak, so the
//! protocol core never touches `worker` types.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::OAuthError;

/// Largest request body an OAuth endpoint reads.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The origin the request arrived on, e.g. `http://127.0.0.1:8787`.
    pub origin: String,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    pub fn client_ip(&self) -> &str {
        self.header("cf-connecting-ip").unwrap_or("unknown")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        HttpResponse { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }

    /// JSON that may hold a token or a secret: never cached (RFC 6749 §5.1).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string()).no_store()
    }

    pub fn oauth_error(e: &OAuthError) -> Self {
        Self::new(e.status(), "application/json", e.to_json()).no_store().retry_after_if_unavailable()
    }

    pub fn html(status: u16, body: String) -> Self {
        Self::new(status, "text/html; charset=utf-8", body).no_store().retry_after_if_unavailable()
    }

    /// 303 See Other: after a form POST the browser must GET the target
    /// (requirements.md §D: 303, not 307).
    pub fn see_other(location: &str) -> Self {
        let mut r = Self::new(303, "text/plain; charset=utf-8", "");
        r.headers.push(("location".into(), location.into()));
        r.no_store()
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A 503 here is storage briefly unavailable: RFC 9110 §10.2.3 lets it
    /// say when to try again, and a second is enough for D1 to come back or
    /// for the client to give up politely.
    fn retry_after_if_unavailable(self) -> Self {
        if self.status == 503 {
            self.with_header("retry-after", "1")
        } else {
            self
        }
    }

    fn no_store(self) -> Self {
        self.with_header("cache-control", "no-store").with_header("pragma", "no-cache")
    }
}

/// HTTP Basic credentials (RFC 7617 §2), each half form-decoded as RFC 6749
/// §2.3.1 asks of client credentials.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

/// Hop-by-hop fields (RFC 9110 §7.6.1, plus the legacy ones proxies still see).
pub const HOP_BY_HOP: &[&str] = &[
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
];

/// A header name as RFC 9110 §5.1 allows (a token), for configured names.
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("gh%3Aid:s%20ecret"));
        assert_eq!(parse_basic(&h), Some(("gh:id".into(), "s ecret".into())));
        assert_eq!(parse_basic(&format!("basic  {}", STANDARD.encode("a:b"))), Some(("a".into(), "b".into())));
    }

    #[test]
    fn malformed_basic_headers_are_none() {
        for h in ["Bearer abc", "Basic", "Basic !!!", &format!("Basic {}", STANDARD.encode("no-colon"))] {
            assert_eq!(parse_basic(h), None, "{h}");
        }
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(is_token("X-Gatehouse-Secret"));
        assert!(!is_token("bad header"));
        assert!(!is_token(""));
        assert!(!is_token("x:y"));
    }
}
