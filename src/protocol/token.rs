//! The token endpoint, OAuth 2.1 §3.2 and §4.1.3 (authorization code with
//! PKCE, RFC 7636 §4.6) and §4.3 (refresh, rotated for public clients,
//! RFC 9700 §4.14; lifetimes in `refresh_lifetime`, one successor per token
//! in `refresh_rotation`), with client
//! authentication per RFC 6749 §2.3.1 (`client_auth`).
//!
//! Every check reads; only the last step writes, and it is a conditional
//! claim, so a failed request changes nothing and of concurrent redemptions
//! exactly one wins.

use serde_json::json;

use crate::protocol::access_token::{self, AccessClaims};
use super::client_auth::{self, authenticate_client};
use crate::store::audit::{AuditEvent, RevokedBy};
use super::context::Ctx;
use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::form::{form_body, Params};
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::ed25519::Ed25519;
use crate::base::signature::SignatureVerifier;
use crate::base::random;
use super::refresh_lifetime::{self, RefreshUse};
use super::refresh_rotation;
use crate::base::resource::Resource;
use crate::base::scope::Scopes;
use super::store::Store;
use crate::store::clients::ClientRecord;
use crate::store::grants::GrantRecord;
use crate::store::grants::RefreshRecord;
use crate::store::read_ahead::{Reads, TokenRead};
use crate::base::types::Secret;

/// The refusal of a code redemption that passed every check but lost the
/// conditional claim to a concurrent redemption of the same code.
pub const LOST_RACE: &str = "the authorization code was just redeemed by a concurrent request";

/// `POST /token`.
pub async fn handle<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> HttpResponse {
    match token(ctx, verifier, req).await {
        Ok(v) => HttpResponse::json(200, &v),
        Err(e) => client_auth::error_response(&e),
    }
}

async fn token<S: Store>(ctx: &Ctx<'_, S>, verifier: &(impl SignatureVerifier + Ed25519), req: &HttpRequest) -> OAuthResult<serde_json::Value> {
    let p = form_body(req)?;
    let grant_type = p.require("grant_type")?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type must be authorization_code or refresh_token"));
    }
    // The client, the code or refresh token and its grant in one round trip;
    // each is still checked below exactly as if read one by one.
    let presented = match grant_type {
        "authorization_code" => p.get("code").map(|c| TokenRead::Code(Secret::new(c).hash())),
        _ => p.get("refresh_token").map(|t| TokenRead::Refresh(Secret::new(t).hash())),
    };
    if let Some(token) = &presented {
        let client = client_auth::named_registered(req, &p);
        ctx.store.read_ahead(&Reads { client: client.as_ref(), token: Some(token), ..Reads::default() }).await?;
    }
    let client = authenticate_client(ctx, verifier, req, &p).await?;
    if !client.grant_types.iter().any(|g| g == grant_type) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, format!("this client did not register the {grant_type} grant")));
    }
    match grant_type {
        "authorization_code" => authorization_code(ctx, verifier, &client, &p).await,
        _ => refresh_token(ctx, verifier, &client, &p).await,
    }
}

async fn authorization_code<S: Store>(ctx: &Ctx<'_, S>, crypto: &impl Ed25519, client: &ClientRecord, p: &Params) -> OAuthResult<serde_json::Value> {
    let code = Secret::new(p.require("code")?);
    let verifier = p.get("code_verifier");
    let hash = code.hash();
    let bad_code = || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    let record = ctx.store.code(&hash).await?.ok_or_else(bad_code)?;

    let pkce = verifier.map(|v| record.code_challenge.verify(v));
    // Whether this caller is the code's rightful holder.
    let rightful = record.client_id == client.client_id && matches!(pkce, Some(Ok(())));

    if record.used_at.is_some() {
        // A replay by the rightful holder means the code leaked: revoke what
        // it issued (OAuth 2.1 §4.1.3). A stranger's replay revokes nothing.
        if rightful {
            ctx.store.revoke_grant(&record.grant_id, ctx.now).await?;
            ctx.store.audit(&AuditEvent::grant_revoked(&record.grant_id, &client.client_id, RevokedBy::CodeReuse, None, ctx.now)).await;
        }
        return Err(bad_code());
    }
    if record.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant("the authorization code expired"));
    }
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    pkce.unwrap_or_else(|| Err(OAuthError::invalid_grant("code_verifier is required")))?;
    if let Some(uri) = p.get("redirect_uri") {
        if uri != record.redirect_uri {
            return Err(OAuthError::invalid_grant("redirect_uri differs from the authorization request"));
        }
    }
    check_resource_param(p, &record.resource)?;
    let grant = live_grant(ctx, &record.grant_id).await?;

    let issued = mint(ctx, crypto, client, &grant, Scopes::from_config(&grant.scope), NextRefresh::Start).await?;
    // The claim, the first refresh token and the note of the client's use are one write (`claim_code`).
    if !ctx.store.claim_code(&hash, ctx.now, issued.refresh.as_ref()).await? {
        // Lost a race with a concurrent redemption of the same code. Its own
        // description lets the security suite tell this refusal (the claim)
        // from the read check above.
        return Err(OAuthError::invalid_grant(LOST_RACE));
    }
    Ok(issued.body)
}

async fn refresh_token<S: Store>(ctx: &Ctx<'_, S>, crypto: &impl Ed25519, client: &ClientRecord, p: &Params) -> OAuthResult<serde_json::Value> {
    let token = Secret::new(p.require("refresh_token")?);
    let hash = token.hash();
    let bad = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let record = ctx.store.refresh(&hash).await?.ok_or_else(bad)?;
    // Bound to its client: another client's token is refused and harms nothing.
    if record.client_id != client.client_id {
        return Err(bad());
    }
    let grant = ctx.store.grant(&record.grant_id).await?.ok_or_else(bad)?;
    let usage = refresh_lifetime::classify(&record, &grant, ctx.config, ctx.now);
    if usage == RefreshUse::Expired {
        return Err(bad());
    }
    // A refresh may narrow the scope, never widen it: only the grant's scopes are valid here.
    let scope = Scopes::from_request(p.get("scope"), &Scopes::from_config(&grant.scope))?;
    check_resource_param(p, &grant.resource)?;
    let next = match usage {
        RefreshUse::Replayed => {
            // Reuse of a rotated token after the grace window: it leaked.
            // Any retired member of the family counts, and revokes all of it.
            ctx.store.revoke_grant(&grant.grant_id, ctx.now).await?;
            ctx.store.audit(&AuditEvent::grant_revoked(&grant.grant_id, &client.client_id, RevokedBy::RefreshReuse, None, ctx.now)).await;
            return Err(bad());
        }
        RefreshUse::Fresh => {
            // Signed first, then the claim, the successor and the note of the
            // use as one write (`rotate_refresh`): a failure leaves the token
            // unused, and the client's retry is a fresh refresh again.
            let successor = refresh_rotation::successor(&ctx.config.signing_key, &token);
            let issued = mint(ctx, crypto, client, &grant, scope.clone(), NextRefresh::Successor(successor)).await?;
            let next = issued.refresh.as_ref().ok_or_else(|| OAuthError::server_error("no refresh token to rotate into"))?;
            if ctx.store.rotate_refresh(&hash, next, ctx.now).await? {
                return Ok(issued.body);
            }
            // A concurrent refresh won just now (the parallel-refresh case
            // the grace window exists for): answer with the successor it recorded.
            let winner = ctx.store.refresh(&hash).await?.ok_or_else(bad)?;
            grace_successor(ctx, &token, &winner)
        }
        RefreshUse::WithinGrace => grace_successor(ctx, &token, &record),
        RefreshUse::Expired => return Err(bad()),
    };
    // Within the grace window: the successor is recorded already. Failing
    // here is safe: the client's retry gets the same successor.
    ctx.store.record_token_use(&client.client_id, Some(&grant.grant_id), ctx.now).await?;
    let issued = mint(ctx, crypto, client, &grant, scope, next).await?;
    if let Some(r) = &issued.refresh {
        ctx.store.create_refresh(r).await?;
    }
    Ok(issued.body)
}

/// A used token's one successor, for a use inside the grace window.
fn grace_successor<S>(ctx: &Ctx<'_, S>, token: &Secret, record: &RefreshRecord) -> NextRefresh {
    match refresh_rotation::recorded_successor(ctx.config.verification_keys(), token, record.successor_hash.as_ref()) {
        Some(s) => NextRefresh::Successor(s),
        None => NextRefresh::Omit,
    }
}

/// Which refresh token a token response carries.
enum NextRefresh {
    /// A new family: the first token of a grant.
    Start,
    /// The one successor of the token presented (stored once, however often sent).
    Successor(Secret),
    /// None: the successor cannot be recomputed (`refresh_rotation`).
    Omit,
}

fn check_resource_param(p: &Params, bound: &str) -> OAuthResult<()> {
    if let Some(r) = p.get("resource") {
        if Resource::parse(r)?.as_str() != bound {
            return Err(OAuthError::new(ErrorCode::InvalidTarget, "resource differs from the one authorized"));
        }
    }
    Ok(())
}

async fn live_grant<S: Store>(ctx: &Ctx<'_, S>, id: &crate::base::types::GrantId) -> OAuthResult<GrantRecord> {
    match ctx.store.grant(id).await? {
        Some(g) if g.revoked_at.is_none() => Ok(g),
        _ => Err(OAuthError::invalid_grant("the grant was revoked")),
    }
}

/// A token response, and the refresh token it reveals, still to be stored.
struct Issued {
    body: serde_json::Value,
    refresh: Option<RefreshRecord>,
}

/// Signs the access token and picks the refresh token; stores nothing.
async fn mint<S: Store>(ctx: &Ctx<'_, S>, crypto: &impl Ed25519, client: &ClientRecord, grant: &GrantRecord, scope: Scopes, next: NextRefresh) -> OAuthResult<Issued> {
    let ttl = crate::protocol::token_lifetime::for_client(ctx.config, client);
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: grant.subject.as_str().to_string(),
        aud: grant.resource.clone(),
        client_id: client.client_id.as_str().to_string(),
        scope: scope.to_string(),
        jti: random::id("at_")?,
        gid: grant.grant_id.as_str().to_string(),
    };
    let access = access_token::issue(crypto, &ctx.config.signing_key, claims, ctx.now, ttl).await?;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope.to_string(),
    });
    if !client.grant_types.iter().any(|g| g == "refresh_token") {
        return Ok(Issued { body, refresh: None });
    }
    let refresh = match next {
        NextRefresh::Start => random::secret()?,
        NextRefresh::Successor(s) => s,
        NextRefresh::Omit => return Ok(Issued { body, refresh: None }),
    };
    let record = RefreshRecord {
        token_hash: refresh.hash(),
        grant_id: grant.grant_id.clone(),
        client_id: client.client_id.clone(),
        expires_at: refresh_lifetime::new_token_expiry(grant, ctx.config, ctx.now),
        used_at: None,
        successor_hash: None,
    };
    body["refresh_token"] = refresh.expose().into();
    Ok(Issued { body, refresh: Some(record) })
}
