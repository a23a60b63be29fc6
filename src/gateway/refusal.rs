//! What the MCP endpoint refuses after an access token's signature, time and
//! audience check out (RFC 6750 §3.1): a revoked grant is `invalid_token`
//! (401, so clients refresh or re-authorize), a token without a required
//! scope is `insufficient_scope` (403). Never 403 for a token that is not
//! valid: the TypeScript SDK re-authorizes only on 401 (requirements.md §D).

use serde_json::json;

use crate::protocol::access_token::VerifiedToken;
use crate::config::Config;
use crate::base::http::HttpResponse;
use crate::protocol::discovery::{self as metadata, PRM_PATH};
use crate::base::scope::Scopes;

/// 401 `invalid_token` for a token whose grant was revoked.
pub fn revoked(issuer: &str, config: &Config) -> HttpResponse {
    let why = "the token's grant was revoked";
    HttpResponse::json(401, &json!({"error": "invalid_token", "error_description": why}))
        .with_header("www-authenticate", metadata::challenge(issuer, config, Some(why)))
}

/// 403 `insufficient_scope` unless the token holds every `REQUIRED_SCOPES`.
pub fn check_scope(token: &VerifiedToken, issuer: &str, config: &Config) -> Result<(), HttpResponse> {
    let required = &config.required_scopes;
    if Scopes::from_config(&token.claims.scope).includes(required) {
        return Ok(());
    }
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{required}\", resource_metadata=\"{issuer}{PRM_PATH}/mcp\", error_description=\"the token lacks a required scope\""
    );
    let body = json!({
        "error": "insufficient_scope",
        "error_description": format!("this endpoint requires the scope(s) {required}; authorize again with them"),
        "scope": required.to_string(),
    });
    Err(HttpResponse::json(403, &body).with_header("www-authenticate", challenge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access_token::AccessClaims;
    use crate::oauth::testing_config;

    const ISS: &str = "https://mcp.example.com";

    fn token(scope: &str) -> VerifiedToken {
        let claims = AccessClaims {
            iss: ISS.into(),
            sub: "owner".into(),
            aud: format!("{ISS}/mcp"),
            client_id: "c".into(),
            scope: scope.into(),
            jti: "j".into(),
            gid: "g".into(),
        };
        VerifiedToken { claims, expires_at: 0, issued_at: 0 }
    }

    #[test]
    fn a_token_without_the_required_scope_gets_403_with_the_challenge() {
        let mut c = testing_config();
        c.scopes = Scopes::from_config("mcp extra");
        c.required_scopes = Scopes::from_config("mcp");
        assert!(check_scope(&token("extra mcp"), ISS, &c).is_ok());
        let r = check_scope(&token("extra"), ISS, &c).unwrap_err();
        assert_eq!(r.status, 403);
        let h = r.header("www-authenticate").unwrap();
        assert!(h.starts_with("Bearer error=\"insufficient_scope\", scope=\"mcp\", resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""), "{h}");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }

    #[test]
    fn nothing_required_lets_any_scope_through() {
        let mut c = testing_config();
        c.required_scopes = Scopes::from_config("");
        assert!(check_scope(&token(""), ISS, &c).is_ok());
    }

    #[test]
    fn revoked_is_401_invalid_token_with_the_usual_challenge() {
        let c = testing_config();
        let r = revoked(ISS, &c);
        assert_eq!(r.status, 401);
        let h = r.header("www-authenticate").unwrap();
        assert!(h.contains("resource_metadata=") && h.contains("error=\"invalid_token\""), "{h}");
    }
}
