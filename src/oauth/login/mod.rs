//! Who is logging in. The owner password and passkeys prove the single owner;
//! upstream providers (OpenID Connect, GitHub) and Cloudflare Access prove an
//! outside identity. Gatehouse keeps registration, PKCE and tokens on its own
//! side and delegates only the human login (MCP authorization spec §2.9,
//! "third-party authorization flow"; MCP security best practices on the
//! confused deputy: consent is asked here, before any upstream redirect).

pub mod access;
pub mod delegate;
pub mod github;
pub mod oidc;
pub mod oidc_discovery;
pub mod passkey;
pub mod password;
pub mod remembered_consent;
pub mod upstream_state;
#[cfg(test)]
mod flow_tests;

use super::http::HttpResponse;
use super::pages;
use super::types::Subject;

/// How the person proved who they are. Kept in the session: managing
/// passkeys needs a passkey login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMethod {
    Password,
    Passkey,
    Oidc,
    Github,
    Access,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::Passkey => "passkey",
            LoginMethod::Oidc => "oidc",
            LoginMethod::Github => "github",
            LoginMethod::Access => "access",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [LoginMethod::Password, LoginMethod::Passkey, LoginMethod::Oidc, LoginMethod::Github, LoginMethod::Access]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The person behind a session or grant. `subject` is what the grant stores
/// and the origin receives: "owner" for the password and passkeys,
/// "oidc:<sub>", "github:<account id>", "access:<email>".
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub subject: Subject,
    pub method: LoginMethod,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// How the provider names the account to people when the subject is an
    /// opaque id (GitHub's `@login`): shown beside it in the audit log.
    pub account: Option<String>,
}

/// Why a delegated login failed. Each is shown as a page in the browser; the
/// MCP client is redirected to only when the person denied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// The provider could not be reached or answered badly.
    Upstream(String),
    /// The identity is real but may not use this server.
    Refused(String),
    /// A malformed, forged or replayed callback.
    Invalid(String),
}

impl LoginError {
    pub fn page(&self) -> HttpResponse {
        match self {
            LoginError::Upstream(why) => pages::error_page(502, "The sign-in provider did not answer properly", why),
            LoginError::Refused(why) => pages::error_page(403, "This account may not use this server", why),
            LoginError::Invalid(why) => pages::error_page(400, "This sign-in cannot be completed", why),
        }
    }
}

/// What the sign-in page offers under this configuration.
pub fn options<S>(ctx: &super::context::Ctx<'_, S>, request_id: &str, csrf: &str) -> pages::LoginOptions {
    pages::LoginOptions {
        password: password::enabled(ctx.config),
        upstreams: delegate::buttons(ctx.config),
        passkey: passkey::handlers::consent_sign_in(ctx, request_id, csrf),
        remember_days: ctx.config.consent_remember_days,
    }
}

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

    #[test]
    fn methods_round_trip_and_errors_are_pages() {
        for m in [LoginMethod::Password, LoginMethod::Passkey, LoginMethod::Oidc, LoginMethod::Github, LoginMethod::Access] {
            assert_eq!(LoginMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(LoginError::Refused("no".into()).page().status, 403);
        assert_eq!(LoginError::Upstream("down".into()).page().status, 502);
        assert_eq!(LoginError::Invalid("bad".into()).page().status, 400);
    }
}
