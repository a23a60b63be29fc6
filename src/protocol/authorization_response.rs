//! The authorization response (OAuth 2.1 §4.1.2, RFC 6749 §4.1.2.1 for
//! errors): the redirect back to the client, with `state` and the issuer
//! (RFC 9207 §2, which lets a client tell which server answered).

use crate::base::redirect_uri::RedirectUri;

/// Builds the redirect back to the client (OAuth 2.1 §4.1.2, RFC 9207 §2).
pub fn redirect_to_client(registered: &RedirectUri, requested: &str, issuer: &str, state: Option<&str>, result: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = result.to_vec();
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    registered.with_params(requested, &params)
}
