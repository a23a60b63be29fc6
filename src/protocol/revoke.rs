//! Token revocation, RFC 7009. A client revokes its own refresh or access
//! token; either revokes the whole grant (§2.1: a refresh token SHOULD take
//! its access tokens with it; an access token MAY take its grant), which
//! stops the grant's refresh tokens at once and its access tokens at the MCP
//! endpoint within `REVOCATION_CHECK_SECONDS` (see `revocation`).
//!
//! §2.2: an unknown, malformed or another client's token is answered 200
//! and changes nothing, so the endpoint reveals nothing about other clients'
//! tokens and cannot be used to revoke them (the leading Workers OAuth
//! library once let any client revoke any grant).

use serde_json::json;

use crate::protocol::access_token;
use super::client_auth::{self, authenticate_client};
use crate::store::audit::{AuditEvent, RevokedBy};
use super::context::Ctx;
use crate::base::error::{OAuthError, OAuthResult};
use crate::base::form::form_body;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::ed25519::Ed25519;
use crate::base::signature::SignatureVerifier;
use super::store::Store;
use crate::store::clients::ClientRecord;
use crate::base::types::{GrantId, Secret};

/// `POST /revoke`.
pub async fn handle<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> HttpResponse {
    match revoke(ctx, verifier, req).await {
        // §2.2: the body is ignored by clients; `{}` keeps it JSON for those that parse it.
        Ok(()) => HttpResponse::json(200, &json!({})),
        Err(e) => client_auth::error_response(&e),
    }
}

async fn revoke<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> OAuthResult<()> {
    let p = form_body(req)?;
    if !client_auth::has_credentials(req, &p) && p.get("client_id").is_none() {
        return Err(OAuthError::invalid_client("identify the client: client_id, or its client credentials"));
    }
    let client = authenticate_client(ctx, verifier, req, &p).await?;
    let token = Secret::new(p.require("token")?);
    // `token_type_hint` only orders a search; both kinds are always tried and
    // cannot be confused (a JWT has dots, a refresh token never), so it is
    // not read at all, and an unknown hint is no error.
    if let Some(grant) = own_grant(ctx, verifier, &client, &token).await? {
        ctx.store.revoke_grant(&grant, ctx.now).await?;
        ctx.store.audit(&AuditEvent::grant_revoked(&grant, &client.client_id, RevokedBy::Client, None, ctx.now)).await;
    }
    Ok(())
}

/// The grant behind `token` if `client` holds it; `None` for anything else.
async fn own_grant<S: Store>(ctx: &Ctx<'_, S>, crypto: &impl Ed25519, client: &ClientRecord, token: &Secret) -> OAuthResult<Option<GrantId>> {
    // An access token of ours, expired or not: revoking one late is harmless.
    if let Ok(at) = access_token::verify_issued_by_us(crypto, ctx.config.verification_keys(), token.expose(), &ctx.issuer).await {
        let mine = at.claims.client_id == client.client_id.as_str();
        return Ok(mine.then(|| GrantId::new(at.claims.gid)));
    }
    match ctx.store.refresh(&token.hash()).await? {
        Some(r) if r.client_id == client.client_id => Ok(Some(r.grant_id)),
        _ => Ok(None),
    }
}
