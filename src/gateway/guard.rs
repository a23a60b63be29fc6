//! Whether an MCP request may go on to the origin, read top to bottom: the
//! checks of the MCP authorization spec (§Token Handling: a bearer token in
//! `Authorization` only, issued by us for this resource, RFC 8707 §2) and
//! Gatehouse's own (grant not revoked, required scopes, session bound to the
//! grant, size). Plain Rust: the edge hands in the request's head and gets
//! back either what to forward or the answer to give instead.

use super::headers::{self, TooLarge};
use super::jsonrpc;
use super::refusal::{self, Refusal};
use super::revoked_grants::grant_revoked;
use super::state::GatewayState;
use super::verified_tokens;
use crate::base::ed25519::Ed25519;
use crate::base::resource::accepted_resources;
use crate::base::types::GrantId;
use crate::config::Config;
use crate::protocol::access_token::VerifiedToken;
use crate::store::revoked_grants::RevokedGrants;

/// What the guard reads of a request: its method and headers.
pub trait RequestHead {
    /// One header's value (a repeated field comma-joined), by lower-case name.
    fn header(&self, name: &str) -> Option<String>;
    /// Every (name, value) pair.
    fn entries(&self) -> Vec<(String, String)>;
}

/// A request head already read into (lower-case name, value) pairs, a
/// repeated field once and comma-joined (as the Fetch `Headers` iterates).
pub struct HeaderPairs(pub Vec<(String, String)>);

impl RequestHead for HeaderPairs {
    fn header(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    fn entries(&self) -> Vec<(String, String)> {
        self.0.clone()
    }
}

/// Everything the guard needs besides the request.
pub struct Guard<'a, R, C> {
    pub config: &'a Config,
    pub issuer: &'a str,
    /// Seconds, for token times; milliseconds, for the revocation view's age.
    pub now: i64,
    pub now_ms: i64,
    pub state: &'a GatewayState,
    pub revoked: &'a R,
    /// Checks the token's signature.
    pub crypto: &'a C,
}

/// A request the guard let through.
#[derive(Debug)]
pub struct Admitted {
    pub token: VerifiedToken,
    pub grant: GrantId,
    /// The client's headers that go on to the origin, `Mcp-Session-Id`
    /// already turned back into the origin's own id.
    pub forwarded: Vec<(String, String)>,
    pub body: BodyPlan,
}

/// How the edge takes the request body.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyPlan {
    /// Hand the runtime's stream to the origin request as is: its bytes never
    /// enter wasm. Only for a body framed by `Content-Length` (within the
    /// limit, checked here) and no tool policy to read it.
    Pipe,
    /// Read it, refusing it once it passes `limit` bytes.
    Read { declared: Option<u64>, limit: usize },
}

/// The checks, in order. `client_id` receives the token's client as soon as
/// the token verifies, for the request log, whether or not a later check refuses.
pub async fn admit<R: RevokedGrants, C: Ed25519>(g: &Guard<'_, R, C>, head: &dyn RequestHead, client_id: &mut Option<String>) -> Result<Admitted, Refusal> {
    let (config, issuer) = (g.config, g.issuer);
    let authorization = head.header("authorization");
    let Some(bearer) = bearer(authorization.as_deref()) else {
        return Err(refusal::no_token(issuer, config).into());
    };
    let verified = verified_tokens::verify(&g.state.verified, g.crypto, config.verification_keys(), bearer, g.now, issuer, &accepted_resources(issuer)).await;
    let token = verified.map_err(|e| refusal::invalid_token(issuer, config, &e.description))?;
    *client_id = Some(token.claims.client_id.clone());

    match grant_revoked(&g.state.revoked, g.revoked, config, &token, g.now_ms).await {
        Ok(false) => {}
        Ok(true) => return Err(refusal::revoked(issuer, config).into()),
        Err(e) => return Err(refusal::storage_unavailable(&e.0)),
    }
    refusal::check_scope(&token, issuer, config)?;

    let grant = GrantId::new(token.claims.gid.as_str());
    let mut forwarded = headers::forward_request(head.entries())
        .map_err(|TooLarge(why)| refusal::rpc(431, jsonrpc::SERVER_ERROR, &format!("Request Header Fields Too Large: {why}")))?;
    // Session ids are bound to the grant: anything else is an unknown session.
    // A request without one (every 2026-07-28 request) is forwarded without.
    if let Some((_, value)) = forwarded.iter_mut().find(|(name, _)| name == "mcp-session-id") {
        let Some(origin_id) = g.state.session_key(&config.signing_key).unwrap(&grant, value) else {
            return Err(refusal::rpc(404, jsonrpc::SESSION_NOT_FOUND, SESSION_NOT_OURS).into());
        };
        *value = origin_id;
    }
    let body = body_plan(config, head)?;
    Ok(Admitted { token, grant, forwarded, body })
}

const SESSION_NOT_OURS: &str = "Session not found: this session id does not belong to this authorization; send initialize to start a new session";

/// The bearer token from `Authorization` only: tokens in the query string or
/// body are ignored (OAuth 2.1 §5.1.1).
fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Refuses a body declared too large before any of it is read, and picks how
/// to take the rest. The runtime frames an incoming body by its
/// `Content-Length` (with `Transfer-Encoding` also sent, workerd drops the
/// length, and the body is read), so a piped body cannot exceed the limit.
fn body_plan(config: &Config, head: &dyn RequestHead) -> Result<BodyPlan, Refusal> {
    let limit = config.forward.max_body_bytes;
    let declared = head.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit).into());
    }
    let framed = declared.is_some_and(|n| n > 0) && head.header("transfer-encoding").is_none();
    // Without a tool policy the body is not looked at.
    Ok(if framed && config.forward.tool_policy.is_none() { BodyPlan::Pipe } else { BodyPlan::Read { declared, limit } })
}

/// 413, for a body over the limit whether declared or found while reading.
pub fn too_large(limit: usize) -> crate::base::http::HttpResponse {
    refusal::rpc(413, jsonrpc::SERVER_ERROR, &format!("request body too large: the gateway accepts at most {limit} bytes"))
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
