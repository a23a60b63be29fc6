//! Token introspection, RFC 7662. Only confidential clients registered here
//! may call it (§2.1: the endpoint MUST require authorization; a public
//! client could not keep that authorization to itself), and each learns only
//! about its own tokens: anything else is `{"active": false}` (§2.2), so the
//! endpoint cannot be used to probe other clients' tokens.

use serde_json::{json, Value};

use crate::protocol::access_token;
use super::client_auth::{self, authenticate_client};
use super::context::Ctx;
use crate::base::error::{OAuthError, OAuthResult};
use crate::base::form::form_body;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::ed25519::Ed25519;
use crate::base::signature::SignatureVerifier;
use super::refresh_lifetime::{self, RefreshUse};
use crate::base::resource::accepted_resources;
use super::store::Store;
use crate::store::clients::AuthMethod;
use crate::store::clients::ClientRecord;
use crate::base::types::{GrantId, Secret};

/// `POST /introspect`.
pub async fn handle<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> HttpResponse {
    match introspect(ctx, verifier, req).await {
        Ok(v) => HttpResponse::json(200, &v),
        Err(e) => client_auth::error_response(&e),
    }
}

fn inactive() -> Value {
    json!({"active": false})
}

async fn introspect<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> OAuthResult<Value> {
    let p = form_body(req)?;
    let refused = || OAuthError::invalid_client("introspection is for confidential clients: authenticate with client_secret_basic, client_secret_post or private_key_jwt");
    if !client_auth::has_credentials(req, &p) {
        return Err(refused());
    }
    let client = authenticate_client(ctx, verifier, req, &p).await?;
    // Unreachable while authenticate_client insists on the registered method
    // (a public client's secret is refused there); kept so this endpoint's
    // policy does not hang on that.
    if client.auth_method == AuthMethod::None {
        return Err(refused());
    }
    let token = Secret::new(p.require("token")?);
    // As at /revoke, `token_type_hint` is not needed: the two kinds cannot be confused.
    if token.expose().contains('.') {
        access(ctx, verifier, &client, &token).await
    } else {
        refresh(ctx, &client, &token).await
    }
}

/// An access token is active if the MCP endpoint would accept it now: the
/// full verification, plus its grant not revoked (read directly here, not
/// from the per-isolate cache).
async fn access<S: Store>(ctx: &Ctx<'_, S>, crypto: &impl Ed25519, client: &ClientRecord, token: &Secret) -> OAuthResult<Value> {
    let Ok(at) = access_token::verify(crypto, ctx.config.verification_keys(), token.expose(), ctx.now, &ctx.issuer, &accepted_resources(&ctx.issuer)).await else {
        return Ok(inactive());
    };
    if at.claims.client_id != client.client_id.as_str() || !grant_live(ctx, &GrantId::new(at.claims.gid.as_str())).await? {
        return Ok(inactive());
    }
    let c = at.claims;
    Ok(json!({
        "active": true,
        "scope": c.scope,
        "client_id": c.client_id,
        "sub": c.sub,
        "aud": c.aud,
        "iss": c.iss,
        "exp": at.expires_at,
        "iat": at.issued_at,
        "jti": c.jti,
        "token_type": "Bearer",
    }))
}

/// A refresh token is active while `/token` would accept it.
async fn refresh<S: Store>(ctx: &Ctx<'_, S>, client: &ClientRecord, token: &Secret) -> OAuthResult<Value> {
    let Some(record) = ctx.store.refresh(&token.hash()).await? else { return Ok(inactive()) };
    if record.client_id != client.client_id {
        return Ok(inactive());
    }
    let Some(grant) = ctx.store.grant(&record.grant_id).await? else { return Ok(inactive()) };
    if !matches!(refresh_lifetime::classify(&record, &grant, ctx.config, ctx.now), RefreshUse::Fresh | RefreshUse::WithinGrace) {
        return Ok(inactive());
    }
    Ok(json!({
        "active": true,
        "scope": grant.scope,
        "client_id": record.client_id.as_str(),
        "sub": grant.subject.as_str(),
        "aud": grant.resource,
        "iss": ctx.issuer,
        "exp": refresh_lifetime::expiry(&record, &grant, ctx.config),
    }))
}

async fn grant_live<S: Store>(ctx: &Ctx<'_, S>, id: &GrantId) -> OAuthResult<bool> {
    Ok(ctx.store.grant(id).await?.is_some_and(|g| g.revoked_at.is_none()))
}
