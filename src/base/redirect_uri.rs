//! Redirect URIs: OAuth 2.1 §2.3.1 / §7.5.1 (exact match, no fragments),
//! RFC 8252 §7.1 (private-use schemes) and §7.3 (loopback: any port), and
//! RFC 9700 §4.1 (no open redirectors).
//!
//! Parse to validate, compare the original string: the stored form is never
//! canonicalised, because canonicalisation is how bypasses are born. So the
//! original string must already be what the browser will use
//! (`normal_form`): no dot segments, backslashes or other spellings the
//! browser rewrites before it navigates.

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::normal_form;

const MAX_LEN: usize = 2000;

/// Schemes that could run code, read local data, reach a network share or
/// start an operating-system handler. Refused whatever their shape.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source",
    "ws", "wss", "ftp", "ftps", "sftp", "ssh", "telnet", "mailto", "tel", "sms", "callto", "facetime",
    "chrome", "chrome-extension", "resource", "smb", "cifs", "nfs", "afp", "ldap", "ldaps", "gopher",
    "news", "nntp", "webcal", "vnc", "rdp", "shell", "res", "its", "mk", "mhtml", "jar", "hcp", "help",
    "intent", "content", "android-app", "itms", "itms-apps",
];

/// Families of operating-system protocol handlers (`ms-msdt:`, `ms-officecmd:`,
/// `search-ms:`, `x-apple.systempreferences:`…), each abused through links before.
const FORBIDDEN_SCHEME_PREFIXES: &[&str] = &["ms-", "search", "x-apple", "microsoft", "windows"];

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
            s if is_forbidden_scheme(s) => return Err(bad("uses a forbidden scheme")),
            _ => private_use(&url).map_err(bad)?,
        }
        normal_form::check(raw, &url).map_err(|e| bad(&e.reason()))?;
        Ok(RedirectUri(raw.to_string()))
    }

    /// A value read back from storage, already validated when stored.
    pub fn from_stored(s: impl Into<String>) -> Self {
        RedirectUri(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the browser goes, for the consent page: the host of an http(s)
    /// URI; for a private-use scheme, the scheme too (`cursor://anysphere.cursor-mcp`),
    /// since the scheme picks the program that opens it.
    pub fn host(&self) -> String {
        match Url::parse(&self.0) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u.host_str().unwrap_or("").to_string(),
            Ok(u) => match u.host_str() {
                Some(h) if !h.is_empty() => format!("{}://{h}", u.scheme()),
                _ => format!("{}:", u.scheme()),
            },
            Err(_) => self.0.split(':').next().unwrap_or("").to_string(),
        }
    }

    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.0).map(|u| u.scheme() == "http" && is_loopback(&u)).unwrap_or(false)
    }

    /// Whether the browser hands a response for this URI only to the client
    /// that registered it: an https URI (its host is proven by TLS). Loopback
    /// ports and private-use schemes can be taken by any program on the
    /// device (RFC 8252 §8.6, §8.1).
    pub fn proves_client_identity(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// Whether `requested` (from /authorize or /token) matches this registered
    /// URI: the exact string, or for http loopback URIs the same URI on any
    /// port (RFC 8252 §7.3). For the latter the parsed parts must agree and
    /// both raw strings must be in normal form, so they are equal apart from
    /// the port: a string compare alone ends the host at `/` or `?`, the
    /// browser also at `\` (`http://127.0.0.1:1\evil/callback`).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match (normal_loopback(&self.0), normal_loopback(requested)) {
            // Both in normal form, so equal parts mean equal raw strings but for the port.
            (Some(a), Some(b)) => a.host_str() == b.host_str() && a.path() == b.path() && a.query() == b.query(),
            _ => false,
        }
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

fn is_forbidden_scheme(scheme: &str) -> bool {
    FORBIDDEN_SCHEMES.contains(&scheme) || FORBIDDEN_SCHEME_PREFIXES.iter().any(|p| scheme.starts_with(p))
}

/// A private-use scheme (RFC 8252 §7.1) in one of the two shapes clients
/// use: the RFC's reverse domain name as the scheme (`com.example.app:/cb`),
/// or the URI-handler shape of VS Code and its forks, where the scheme is the
/// program and the authority names the publisher and extension that take the
/// callback (`cursor://anysphere.cursor-mcp/oauth/callback`,
/// `vscode://publisher.extension/cb`). Cursor's scheme is not a reverse
/// domain, and refusing it fails Cursor's whole registration
/// (requirements.md §C): the clients win, but either way the app must name
/// itself with a dotted name and give a path. A bare word with an opaque
/// rest (`search-ms:query=…`, `foo:bar`) has neither.
fn private_use(url: &Url) -> Result<(), &'static str> {
    const SHAPE: &str = "a private-use scheme must be a reverse domain name (com.example.app:/callback) or name the app as publisher.name (cursor://anysphere.cursor-mcp/callback)";
    if url.cannot_be_a_base() || !url.path().starts_with('/') {
        return Err(SHAPE);
    }
    let reverse_domain = {
        let labels: Vec<&str> = url.scheme().split('.').collect();
        labels.len() >= 2
            && labels[0].len() >= 2
            && labels[0].bytes().all(|b| b.is_ascii_lowercase())
            && labels.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    };
    let named_handler = match url.host_str() {
        Some(h) => {
            let labels: Vec<&str> = h.split('.').collect();
            labels.len() >= 2 && labels.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        }
        None => false,
    };
    if reverse_domain || named_handler {
        Ok(())
    } else {
        Err(SHAPE)
    }
}

/// An http loopback URI without user information or fragment, in normal form.
fn normal_loopback(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    let plain = url.scheme() == "http" && is_loopback(&url) && url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    (plain && normal_form::check(raw, &url).is_ok()).then_some(url)
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
        assert!(crate::base::resource::Resource::parse("https://MCP.Ex\u{e4}mple.com/mcp").is_err());
    }

    /// Found by the redirect_uri fuzz target: punycode that decodes to
    /// bidi controls reached idna 1.1's debug assertion. Both spellings
    /// parse as in release builds, never panicking: the upper-case one is
    /// refused as not normalised, the lower-case one kept in its ASCII form
    /// (never shown decoded; no browser resolves it).
    #[test]
    fn punycode_of_bidi_controls_parses_without_a_panic() {
        assert!(RedirectUri::parse("https://XN--htg9gaaaa/cb").is_err());
        let uri = RedirectUri::parse("https://xn--htg9gaaaa/cb").expect("kept in ASCII");
        assert_eq!(uri.as_str(), "https://xn--htg9gaaaa/cb");
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

    /// Issue 15 item 5: the browser resolves these before it navigates, so an
    /// owner's prefix (`REDIRECT_URI_ALLOWLIST`) or an exact match on the raw
    /// string would vouch for somewhere else.
    #[test]
    fn what_the_browser_rewrites_is_refused() {
        for uri in [
            "https://claude.ai/api/mcp/../../evil",
            "https://claude.ai/api/mcp/%2e%2e/evil",
            "https://claude.ai/api/mcp/%2E./evil",
            "https://claude.ai/api/mcp/./cb",
            "https://claude.ai/api/mcp/..\\evil",
            "https://claude.ai/api/mcp\\..\\evil",
            "https://claude.ai/api/mcp/..%2Fevil",
            "https://claude.ai/api/mcp/x%5c..%5cevil",
            "https://Claude.ai/api/mcp/auth_callback",
            "HTTPS://claude.ai/api/mcp/auth_callback",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai",
            "http://127.0.0.1",
            "http://127.0.0.1:1\\evil/callback",
            "http://127.0.0.1:80/callback",
            "cursor://anysphere.cursor-mcp/oauth/../../x",
        ] {
            let e = RedirectUri::parse(uri).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{uri}");
        }
    }

    /// Issue 15 item 6: RFC 8252 §7.1 private-use schemes in the two shapes
    /// clients use; operating-system handlers and bare words are refused.
    #[test]
    fn private_use_schemes_must_name_the_app() {
        for ok in [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app://callback/x",
            "io.github.someone.app:/cb",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok} should register");
        }
        for no in [
            "search-ms:query=x&crumb=location:\\\\evil.example\\share",
            "search-ms://a.b/?query=x",
            "search:query=x",
            "ms-msdt:/id PCWDiagnostic",
            "ms-msdt://a.b/x",
            "ms-officecmd:{}",
            "ms-settings://a.b/x",
            "x-apple.systempreferences:com.apple.preference",
            "x-apple.systempreferences://a.b/x",
            "file://evil.example/share/x",
            "smb://evil.example/share",
            "ftp://evil.example/x",
            "myapp:/callback",
            "myapp://callback",
            "myapp:callback",
            "com.example.app:callback",
            "cursor:anysphere.cursor-mcp/oauth/callback",
            "1com.example:/cb",
        ] {
            let e = RedirectUri::parse(no).map(|_| ()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{no}");
        }
    }

    #[test]
    fn the_consent_page_names_the_scheme_of_a_private_use_uri() {
        assert_eq!(RedirectUri::from_stored("cursor://anysphere.cursor-mcp/oauth/callback").host(), "cursor://anysphere.cursor-mcp");
        assert_eq!(RedirectUri::from_stored("com.example.app:/cb").host(), "com.example.app:");
        assert_eq!(RedirectUri::from_stored("https://claude.ai/api/mcp/auth_callback").host(), "claude.ai");
        assert_eq!(RedirectUri::from_stored("http://127.0.0.1:9/cb").host(), "127.0.0.1");
    }

    /// Issue 15 item 7: a backslash ends the host for the browser, not for a
    /// string split at `/` and `?`.
    #[test]
    fn loopback_matching_compares_parsed_parts_and_the_raw_string() {
        let reg = RedirectUri::parse("http://127.0.0.1:33418/callback").unwrap();
        for trick in [
            "http://127.0.0.1:5000\\evil/callback",
            "http://127.0.0.1\\evil/callback",
            "http://127.0.0.1:5000/evil/../callback",
            "http://127.0.0.1:5000/%2e%2e/callback",
            "http://127.0.0.1:5000//callback",
            "http://127.0.0.1:5000/callback?",
            "http://127.0.0.1:5000/callback#",
            "http://127.0.0.1:80/callback",
            "http://127.0.0.1.:5000/callback",
            "http://0x7f.0.0.1:5000/callback",
            "http://2130706433:5000/callback",
            "http://user@127.0.0.1:5000/callback",
            "HTTP://127.0.0.1:5000/callback",
        ] {
            assert!(!reg.matches(trick), "{trick} must not match");
        }
        assert!(reg.matches("http://127.0.0.1:5000/callback"));
        let out = reg.with_params("http://127.0.0.1:5000/callback", &[("code", "c")]);
        assert_eq!(out, "http://127.0.0.1:5000/callback?code=c");
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
