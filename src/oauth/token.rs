//! The token endpoint, OAuth 2.1 §3.2 and §4.1.3 (authorization code with
//! PKCE, RFC 7636 §4.6) and §4.3 (refresh, rotated for public clients,
//! RFC 9700 §4.14), with client authentication per RFC 6749 §2.3.1.
//!
//! Every check reads; only the last step writes, and it is a conditional
//! claim, so a failed request changes nothing and of concurrent redemptions
//! exactly one wins.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::access_token::{self, AccessClaims};
use super::context::Ctx;
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::form::{is_form_content_type, Params};
use super::http::{HttpRequest, HttpResponse};
use super::random;
use super::resource::Resource;
use super::scope::Scopes;
use super::store::{AuthMethod, ClientRecord, GrantRecord, RefreshRecord, Store};
use super::types::{ClientId, Secret};

/// The refusal of a code redemption that passed every check but lost the
/// conditional claim to a concurrent redemption of the same code.
pub const LOST_RACE: &str = "the authorization code was just redeemed by a concurrent request";

/// `POST /token`.
pub async fn handle<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    match token(ctx, req).await {
        Ok(v) => HttpResponse::json(200, &v),
        Err(e) if e.code == ErrorCode::InvalidClient => HttpResponse::oauth_error(&e)
            .with_header("www-authenticate", "Basic realm=\"gatehouse\""),
        Err(e) => HttpResponse::oauth_error(&e),
    }
}

async fn token<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> OAuthResult<serde_json::Value> {
    if !is_form_content_type(req.header("content-type")) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let p = Params::parse(&req.body)?;
    let grant_type = p.require("grant_type")?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type must be authorization_code or refresh_token"));
    }
    let client = authenticate_client(ctx, req, &p).await?;
    if !client.grant_types.iter().any(|g| g == grant_type) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, format!("this client did not register the {grant_type} grant")));
    }
    match grant_type {
        "authorization_code" => authorization_code(ctx, &client, &p).await,
        _ => refresh_token(ctx, &client, &p).await,
    }
}

/// RFC 6749 §2.3.1: HTTP Basic (form-urlencoded id and secret), or the
/// `client_secret_post` parameters, or just `client_id` for public clients.
/// The method must be the one the client registered.
async fn authenticate_client<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, p: &Params) -> OAuthResult<ClientRecord> {
    let basic = match req.header("authorization") {
        Some(h) => Some(parse_basic(h).ok_or_else(|| OAuthError::invalid_client("malformed Basic authorization header"))?),
        None => None,
    };
    let (id, secret, method) = match (&basic, p.get("client_secret")) {
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("use one client authentication method, not two")),
        (Some((id, secret)), None) => (id.clone(), Some(Secret::new(secret.clone())), AuthMethod::ClientSecretBasic),
        (None, Some(secret)) => (p.require("client_id")?.to_string(), Some(Secret::new(secret)), AuthMethod::ClientSecretPost),
        (None, None) => (p.require("client_id")?.to_string(), None, AuthMethod::None),
    };
    if let (Some((basic_id, _)), Some(form_id)) = (&basic, p.get("client_id")) {
        if basic_id != form_id {
            return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
        }
    }
    let unknown = || OAuthError::invalid_client("unknown client; register again");
    if id.len() > 200 {
        return Err(unknown());
    }
    let client = ctx.store.client(&ClientId::new(id)).await?.ok_or_else(unknown)?;
    if client.auth_method != method {
        return Err(OAuthError::invalid_client(format!(
            "this client must authenticate with {}",
            client.auth_method.as_str()
        )));
    }
    if let (Some(given), Some(stored)) = (&secret, &client.secret_hash) {
        // Compare the hashes in constant time; only the hash is stored.
        if !Secret::new(stored.as_str()).ct_eq(given.hash().as_str()) {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
    }
    Ok(client)
}

/// Parses an `Authorization: Basic` header into the client id and secret,
/// each form-urlencoded before base64 (RFC 6749 §2.3.1). `None` for anything
/// else. Public so the fuzz targets can reach it.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

async fn authorization_code<S: Store>(ctx: &Ctx<'_, S>, client: &ClientRecord, p: &Params) -> OAuthResult<serde_json::Value> {
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

    if !ctx.store.claim_code(&hash, ctx.now).await? {
        // Lost a race with a concurrent redemption of the same code. Its own
        // description lets the security suite tell this refusal (the claim)
        // from the read check above.
        return Err(OAuthError::invalid_grant(LOST_RACE));
    }
    issue_tokens(ctx, client, &grant, Scopes::from_config(&grant.scope)).await
}

async fn refresh_token<S: Store>(ctx: &Ctx<'_, S>, client: &ClientRecord, p: &Params) -> OAuthResult<serde_json::Value> {
    let token = Secret::new(p.require("refresh_token")?);
    let hash = token.hash();
    let bad = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let record = ctx.store.refresh(&hash).await?.ok_or_else(bad)?;
    if record.client_id != client.client_id {
        return Err(bad());
    }
    if record.expires_at <= ctx.now {
        return Err(bad());
    }
    let grant = live_grant(ctx, &record.grant_id).await?;
    // A refresh may narrow the scope, never widen it: only the grant's scopes are valid here.
    let scope = Scopes::from_request(p.get("scope"), &Scopes::from_config(&grant.scope))?;
    check_resource_param(p, &grant.resource)?;
    match record.used_at {
        Some(used) if ctx.now - used > ctx.config.refresh_grace => {
            // Reuse of a rotated token after the grace window: it leaked.
            ctx.store.revoke_grant(&grant.grant_id, ctx.now).await?;
            return Err(bad());
        }
        Some(_) => {} // within grace: a parallel or retried refresh
        None => {
            // Losing this race means a concurrent refresh won just now, which
            // is the parallel-refresh case the grace window exists for.
            ctx.store.claim_refresh(&hash, ctx.now).await?;
        }
    }
    issue_tokens(ctx, client, &grant, scope).await
}

fn check_resource_param(p: &Params, bound: &str) -> OAuthResult<()> {
    if let Some(r) = p.get("resource") {
        if Resource::parse(r)?.as_str() != bound {
            return Err(OAuthError::new(ErrorCode::InvalidTarget, "resource differs from the one authorized"));
        }
    }
    Ok(())
}

async fn live_grant<S: Store>(ctx: &Ctx<'_, S>, id: &super::types::GrantId) -> OAuthResult<GrantRecord> {
    match ctx.store.grant(id).await? {
        Some(g) if g.revoked_at.is_none() => Ok(g),
        _ => Err(OAuthError::invalid_grant("the grant was revoked")),
    }
}

async fn issue_tokens<S: Store>(ctx: &Ctx<'_, S>, client: &ClientRecord, grant: &GrantRecord, scope: Scopes) -> OAuthResult<serde_json::Value> {
    let ttl = ctx.config.access_token_ttl;
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: grant.subject.as_str().to_string(),
        aud: grant.resource.clone(),
        client_id: client.client_id.as_str().to_string(),
        scope: scope.to_string(),
        jti: random::id("at_")?,
        gid: grant.grant_id.as_str().to_string(),
    };
    let access = access_token::issue(&ctx.config.signing_key, claims, ctx.now, ttl)?;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope.to_string(),
    });
    if client.grant_types.iter().any(|g| g == "refresh_token") {
        let refresh = random::secret()?;
        ctx.store
            .create_refresh(&RefreshRecord {
                token_hash: refresh.hash(),
                grant_id: grant.grant_id.clone(),
                client_id: client.client_id.clone(),
                expires_at: ctx.now + ctx.config.refresh_token_ttl,
                used_at: None,
            })
            .await?;
        body["refresh_token"] = refresh.expose().into();
    }
    Ok(body)
}
