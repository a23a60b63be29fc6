//! Redirect URI rules: OAuth 2.1 §2.3.1 / §7.5.1 (exact match, no fragments),
//! RFC 8252 §7.1 (private-use schemes) and §7.3 (loopback: any port), and
//! RFC 9700 §4.1 (no open redirectors).
//!
//! Parse to validate, compare the original string: the stored form is never
//! canonicalised, because canonicalisation is how bypasses are born.

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::error::{ErrorCode, OAuthError, OAuthResult};

const MAX_LEN: usize = 2000;

/// Schemes that could run code or read local data in the browser.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source",
    "ws", "wss", "ftp", "mailto", "tel", "sms", "chrome", "chrome-extension", "resource",
];

/// A validated redirect URI, as the client registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates a redirect URI offered at registration.
    pub fn parse(raw: &str) -> OAuthResult<Self> {
        let bad = |why: &str| {
            OAuthError::new(ErrorCode::InvalidRedirectUri, format!("redirect URI {}: {why}", shorten(raw)))
        };
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(bad("must be 1 to 2000 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains whitespace or control characters"));
        }
        if raw.contains('#') {
            return Err(bad("must not contain a fragment"));
        }
        let url = Url::parse(raw).map_err(|_| bad("is not an absolute URI"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not contain user information"));
        }
        match url.scheme() {
            "https" => {
                if url.host().is_none() {
                    return Err(bad("needs a host"));
                }
            }
            "http" => {
                if !is_loopback(&url) {
                    return Err(bad("http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1])"));
                }
            }
            s if FORBIDDEN_SCHEMES.contains(&s) => return Err(bad("uses a forbidden scheme")),
            // RFC 8252 §7.1 private-use schemes (cursor://, vscode://...).
            _ => {}
        }
        Ok(RedirectUri(raw.to_string()))
    }

    /// A value read back from storage, already validated when stored.
    pub fn from_stored(s: impl Into<String>) -> Self {
        RedirectUri(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn host(&self) -> String {
        Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| self.0.split(':').next().unwrap_or("").to_string())
    }

    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.0).map(|u| u.scheme() == "http" && is_loopback(&u)).unwrap_or(false)
    }

    /// Whether `requested` (from /authorize or /token) matches this registered
    /// URI: the exact string, or for http loopback URIs the same URI on any port.
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        let (Ok(reg), Ok(req)) = (Url::parse(&self.0), Url::parse(requested)) else {
            return false;
        };
        if reg.scheme() != "http" || req.scheme() != "http" || !is_loopback(&reg) || !is_loopback(&req) {
            return false;
        }
        if requested.contains('#') || !req.username().is_empty() || req.password().is_some() {
            return false;
        }
        // Compare everything but the port, from the original strings so that
        // percent-encoding or case differences still count as different.
        strip_port(&self.0) == strip_port(requested)
    }

    /// Builds the authorization response URI with `params` appended to the
    /// registered query, as OAuth 2.1 §4.1.2 requires.
    pub fn with_params(&self, requested: &str, params: &[(&str, &str)]) -> String {
        // `requested` was matched against self already; it carries the real port.
        let base = if self.matches(requested) { requested } else { &self.0 };
        match Url::parse(base) {
            Ok(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in params {
                        q.append_pair(k, v);
                    }
                }
                url.to_string()
            }
            Err(_) => self.0.clone(),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Removes `:port` from the authority of an `http://host:port/...` string.
fn strip_port(s: &str) -> String {
    let Some(rest) = s.strip_prefix("http://") else { return s.to_string() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => &authority[..=i],
            None => authority,
        }
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let tail = if tail.is_empty() { "/" } else { tail };
    format!("http://{host}{tail}")
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).filter(|c| !c.is_control()).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every redirect URI seen in real DCR payloads (requirements.md §C).
    const REAL_CLIENTS: &[&str] = &[
        "https://claude.ai/api/mcp/auth_callback",
        "https://claude.com/api/mcp/auth_callback",
        "http://localhost:53682/callback",
        "http://127.0.0.1:41234/callback/3f9a1c",
        "http://localhost:6274/oauth/callback",
        "http://localhost:6274/oauth/callback/debug",
        "https://vscode.dev/redirect",
        "https://insiders.vscode.dev/redirect",
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
        "http://127.0.0.1:6276/oauth/callback",
        "http://[::1]:9000/callback",
    ];

    #[test]
    fn every_real_client_redirect_uri_registers() {
        for uri in REAL_CLIENTS {
            assert!(RedirectUri::parse(uri).is_ok(), "{uri} should be accepted");
        }
    }

    #[test]
    fn dangerous_redirect_uris_are_refused() {
        for uri in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "https://claude.ai/api/mcp/auth_callback#frag",
            "http://evil.example/callback",
            "http://10.0.0.1/callback",
            "https://user:pw@claude.ai/cb",
            "/relative/path",
            "https://claude.ai/cb with space",
            // Raw Unicode hosts (homographs): `url` is built with ASCII-only IDNA.
            "https://clаude.ai/api/mcp/auth_callback",
            "https://exämple.com/cb",
            "",
        ] {
            let e = RedirectUri::parse(uri).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{uri}");
        }
    }

    /// Found by the `redirect_uri` and `authorize_query` fuzz targets: an
    /// upper-case host with a non-ASCII byte reached idna_adapter 1.0's debug
    /// assertion (lower-case ASCII only). Refused, never a panic.
    #[test]
    fn mixed_case_non_ascii_hosts_are_refused_without_a_panic() {
        for uri in ["hTtps:j@avps:j@avA%EE", "https://avA%EE/cb", "https://EXAMPLE.com\u{e9}/cb", "https://clA\u{fc}de.ai/cb"] {
            assert!(RedirectUri::parse(uri).is_err(), "{uri}");
        }
        assert!(crate::oauth::resource::Resource::parse("https://MCP.Ex\u{e4}mple.com/mcp").is_err());
    }

    #[test]
    fn punycode_hosts_still_register() {
        assert!(RedirectUri::parse("https://xn--exmple-cua.com/cb").is_ok());
    }

    #[test]
    fn non_loopback_matching_is_exact() {
        let reg = RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").unwrap();
        assert!(reg.matches("https://claude.ai/api/mcp/auth_callback"));
        for near in [
            "https://claude.ai/api/mcp/auth_callback/",
            "https://claude.ai/api/mcp/auth_callbacK",
            "https://Claude.ai/api/mcp/auth_callback",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai:8443/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://claude.ai/api/mcp/auth_callback#x",
            "https://claude.ai/api/mcp/",
            "https://claude.ai.evil.com/api/mcp/auth_callback",
            "http://claude.ai/api/mcp/auth_callback",
        ] {
            assert!(!reg.matches(near), "{near} must not match");
        }
    }

    #[test]
    fn loopback_matches_on_any_port_only() {
        let reg = RedirectUri::parse("http://127.0.0.1:33418/").unwrap();
        assert!(reg.matches("http://127.0.0.1:51000/"));
        assert!(reg.matches("http://127.0.0.1/"));
        assert!(!reg.matches("http://127.0.0.1:51000/other"));
        assert!(!reg.matches("http://localhost:51000/"));
        assert!(!reg.matches("https://127.0.0.1:51000/"));
        assert!(!reg.matches("http://127.0.0.1:51000/#x"));

        let codex = RedirectUri::parse("http://127.0.0.1:1455/callback/abc").unwrap();
        assert!(codex.matches("http://127.0.0.1:60001/callback/abc"));
        assert!(!codex.matches("http://127.0.0.1:60001/callback/abd"));

        let v6 = RedirectUri::parse("http://[::1]:9000/cb").unwrap();
        assert!(v6.matches("http://[::1]:9100/cb"));
        assert!(!v6.matches("http://[::2]:9100/cb"));
    }

    #[test]
    fn private_use_scheme_matches_exactly() {
        let reg = RedirectUri::parse("cursor://anysphere.cursor-mcp/oauth/callback").unwrap();
        assert!(reg.matches("cursor://anysphere.cursor-mcp/oauth/callback"));
        assert!(!reg.matches("cursor://anysphere.cursor-mcp/oauth/callback2"));
    }

    #[test]
    fn response_keeps_registered_query_and_real_port() {
        let reg = RedirectUri::parse("http://localhost:1/cb?keep=1").unwrap();
        let out = reg.with_params("http://localhost:4567/cb?keep=1", &[("code", "c"), ("state", "s&t")]);
        assert_eq!(out, "http://localhost:4567/cb?keep=1&code=c&state=s%26t");
    }
}
