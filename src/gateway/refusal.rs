//! Every answer the MCP endpoint gives itself instead of the origin's, in
//! the shape its client understands. Before the origin is asked, OAuth's
//! (RFC 6750 §3.1): no token or an invalid one, and a revoked grant, are 401
//! with the `WWW-Authenticate` challenge that points at the protected
//! resource metadata (RFC 9728 §5.1), so clients refresh or re-authorize; a
//! token without a required scope is `insufficient_scope` (403). Never 403
//! for a token that is not valid: the TypeScript SDK re-authorizes only on
//! 401 (requirements.md §D). Everything else is JSON-RPC's (`jsonrpc`), so
//! MCP clients show the message.

use serde_json::json;

use super::jsonrpc;
use crate::base::http::HttpResponse;
use crate::base::scope::Scopes;
use crate::config::Config;
use crate::protocol::access_token::VerifiedToken;
use crate::protocol::discovery::{self as metadata, PRM_PATH};

/// A refusal, and what the edge should log about it (never a secret).
#[derive(Debug)]
pub struct Refusal {
    pub answer: HttpResponse,
    pub log: Option<serde_json::Value>,
}

impl From<HttpResponse> for Refusal {
    fn from(answer: HttpResponse) -> Self {
        Refusal { answer, log: None }
    }
}

/// 401 without an error code: the request had no bearer token (RFC 6750 §3.1).
pub fn no_token(issuer: &str, config: &Config) -> HttpResponse {
    HttpResponse::json(401, &json!({"error": "unauthorized", "error_description": "a bearer token is required"}))
        .with_header("www-authenticate", metadata::challenge(issuer, config, None))
}

/// 401 `invalid_token`: not ours, expired, for another resource, or its grant revoked.
pub fn invalid_token(issuer: &str, config: &Config, why: &str) -> HttpResponse {
    HttpResponse::json(401, &json!({"error": "invalid_token", "error_description": why}))
        .with_header("www-authenticate", metadata::challenge(issuer, config, Some(why)))
}

/// 401 `invalid_token` for a token whose grant was revoked.
pub fn revoked(issuer: &str, config: &Config) -> HttpResponse {
    invalid_token(issuer, config, "the token's grant was revoked")
}

/// 503 when the isolate's view of revocations is due and D1 cannot be read:
/// without it the bound the README promises would not hold (fail closed).
pub fn storage_unavailable(error: &str) -> Refusal {
    let body = jsonrpc::error(serde_json::Value::Null, jsonrpc::SERVER_ERROR, "Gatehouse storage is unavailable, try again");
    Refusal {
        answer: HttpResponse::json(503, &body).with_header("retry-after", "1"),
        log: Some(json!({"event": "revocation_check_failed", "error": error})),
    }
}

/// A JSON-RPC error answer with this HTTP status.
pub fn rpc(status: u16, code: i64, message: &str) -> HttpResponse {
    answer(status, String::from_utf8_lossy(&jsonrpc::error_body(code, message)).into_owned())
}

/// A JSON answer the gateway wrote itself (a policy's refusal, say).
pub fn answer(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(status, "application/json", body).with_header("cache-control", "no-store")
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
    use crate::testing::testing_config;

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
