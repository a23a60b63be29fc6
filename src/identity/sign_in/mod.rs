//! Who is logging in. The owner password and passkeys prove the single owner;
//! upstream providers (OpenID Connect, GitHub) and Cloudflare Access prove an
//! outside identity. Gatehouse keeps registration, PKCE and tokens on its own
//! side and delegates only the human login (MCP authorization spec §2.9,
//! "third-party authorization flow"; MCP security best practices on the
//! confused deputy: consent is asked here, before any upstream redirect).

pub mod cloudflare_access;
pub mod delegate;
pub mod github;
pub mod oidc;
pub mod oidc_discovery;
pub mod page;
pub mod passkey;
pub mod password;
pub mod remembered_consent;
pub mod upstream_state;

use crate::base::page::error_page;
use crate::base::http::HttpResponse;
use crate::base::types::Subject;
use crate::base::login_method::LoginMethod;

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
            LoginError::Upstream(why) => error_page(502, "The sign-in provider did not answer properly", why),
            LoginError::Refused(why) => error_page(403, "This account may not use this server", why),
            LoginError::Invalid(why) => error_page(400, "This sign-in cannot be completed", why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_pages() {
        assert_eq!(LoginError::Refused("no".into()).page().status, 403);
        assert_eq!(LoginError::Upstream("down".into()).page().status, 502);
        assert_eq!(LoginError::Invalid("bad".into()).page().status, 400);
    }
}
