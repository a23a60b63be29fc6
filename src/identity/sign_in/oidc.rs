//! Sign-in with a generic OpenID Connect provider (OpenID Connect Core 1.0
//! §3.1, authorization code flow) as the upstream of a delegated login:
//! Authelia, Authentik, Pocket ID, Keycloak… Code + PKCE S256 (RFC 7636) +
//! `state` + `nonce`; the ID token is verified against the provider's JWKS
//! (§3.1.3.7: signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`). Who may
//! pass is decided by allow-lists, at least one of which must be configured:
//! a public provider would otherwise let anyone in.

use serde_json::{Map, Value};

use super::oidc_discovery::{self, Discovery};
use super::{Identity, LoginError};
use crate::base::login_method::LoginMethod;
use crate::config::oidc::OidcConfig;
use crate::base::jws::{self, ClaimChecks, JwsError};
use crate::base::key_set_cache::KeysError;
use crate::base::outbound::{Net, Outbound, OutboundRequest};
use crate::base::encoding::b64url;
use crate::base::types::{Secret, Subject};

/// Clock skew tolerated between us and the provider, seconds.
pub const LEEWAY: i64 = 60;

/// The authorization request (Core §3.1.2.1) the browser is sent with.
pub async fn authorize_url(
    net: &impl Outbound,
    cfg: &OidcConfig,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    nonce: &str,
    now: i64,
) -> Result<String, LoginError> {
    let d = oidc_discovery::discovery(net, &cfg.issuer, now).await?;
    let mut url = url::Url::parse(&d.authorization_endpoint).map_err(|_| LoginError::Upstream("the provider's authorization_endpoint is not a URL".into()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &cfg.scopes)
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", code_challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url.into())
}

/// Redeems the code, verifies the ID token and applies the allow-lists.
pub async fn identify(
    net: &impl Net,
    cfg: &OidcConfig,
    code: &str,
    redirect_uri: &str,
    code_verifier: &Secret,
    nonce: &str,
    now: i64,
) -> Result<Identity, LoginError> {
    let d = oidc_discovery::discovery(net, &cfg.issuer, now).await?;
    let tokens = redeem(net, cfg, &d, code, redirect_uri, code_verifier).await?;
    let id_token = tokens.get("id_token").and_then(Value::as_str).ok_or_else(|| LoginError::Upstream("the provider's token response has no id_token".into()))?;
    let mut claims = verify_id_token(net, cfg, &d, id_token, nonce, now).await?;
    let sub = claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let sub = sub.ok_or_else(|| LoginError::Invalid("the provider's ID token has no subject".into()))?;
    // Some providers (Authelia's default claims policy among them) put email
    // and groups only in UserInfo; ask it when the ID token alone does not
    // admit the person and a list that UserInfo could satisfy is configured.
    let userinfo_helps = !cfg.allowed_emails.is_empty() || !cfg.allowed_groups.is_empty();
    if !allowed(cfg, &claims) && userinfo_helps {
        if let (Some(endpoint), Some(access)) = (&d.userinfo_endpoint, tokens.get("access_token").and_then(Value::as_str)) {
            merge_userinfo(net, endpoint, access, &sub, &mut claims).await?;
        }
    }
    if !allowed(cfg, &claims) {
        return Err(LoginError::Refused(format!("The account {sub} at {} is not on this server's allow-list.", cfg.label)));
    }
    Ok(Identity {
        subject: Subject::new(format!("oidc:{sub}")),
        method: LoginMethod::Oidc,
        email: verified_email(&claims),
        name: claims.get("name").and_then(Value::as_str).map(str::to_string),
        groups: groups(cfg, &claims),
        account: None,
    })
}

/// Core §3.1.3.1–3: the token request, authenticated as discovery allows
/// (`client_secret_basic` when listed or unlisted — its default — else `client_secret_post`).
async fn redeem(net: &impl Outbound, cfg: &OidcConfig, d: &Discovery, code: &str, redirect_uri: &str, verifier: &Secret) -> Result<Map<String, Value>, LoginError> {
    let methods = d.token_endpoint_auth_methods_supported.as_deref().unwrap_or(&[]);
    let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
    let post = !basic && methods.iter().any(|m| m == "client_secret_post");
    if !basic && !post {
        return Err(LoginError::Upstream("the provider supports neither client_secret_basic nor client_secret_post at its token endpoint".into()));
    }
    let mut fields = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri), ("code_verifier", verifier.expose())];
    if post {
        fields.push(("client_id", &cfg.client_id));
        fields.push(("client_secret", cfg.client_secret.expose()));
    }
    let mut req = OutboundRequest::post_form(&d.token_endpoint, &fields);
    if basic {
        // RFC 6749 §2.3.1: each part form-urlencoded before base64.
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", enc(&cfg.client_id), enc(cfg.client_secret.expose()));
        req = req.with_header("authorization", format!("Basic {}", base64_std(pair.as_bytes())));
    }
    let resp = net.send(req).await.map_err(|e| LoginError::Upstream(format!("the provider's token endpoint could not be reached: {e}")))?;
    let body: Option<Map<String, Value>> = resp.json();
    if resp.status != 200 {
        // The provider's own error code is a short ASCII word (RFC 6749 §5.2); nothing else is repeated.
        let code = body.as_ref().and_then(|b| b.get("error")).and_then(Value::as_str).filter(|e| e.len() <= 40 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        return Err(LoginError::Upstream(format!("the provider's token endpoint refused the sign-in (HTTP {}{})", resp.status, code.map(|c| format!(", {c}")).unwrap_or_default())));
    }
    body.ok_or_else(|| LoginError::Upstream("the provider's token response is not JSON".into()))
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Core §3.1.3.7. Signature first (refreshing the keys once on an unknown
/// kid), then the claims.
async fn verify_id_token(net: &impl Net, cfg: &OidcConfig, d: &Discovery, token: &str, nonce: &str, now: i64) -> Result<Map<String, Value>, LoginError> {
    let refused = |e: JwsError| LoginError::Invalid(format!("The provider's ID token was refused: {e}."));
    let jws = jws::parse(token).map_err(refused)?;
    oidc_discovery::verify(net, &d.jwks_uri, &jws, now).await.map_err(|e| match e {
        KeysError::Fetch(why) => LoginError::Upstream(why),
        KeysError::Jws(e) => refused(e),
    })?;
    jws::check_claims(&jws.claims, &ClaimChecks { issuer: &cfg.issuer, audience: &cfg.client_id, now, leeway: LEEWAY }).map_err(refused)?;
    // §3.1.3.7 item 3: iat is required in an ID token.
    if !jws.claims.get("iat").is_some_and(Value::is_number) {
        return Err(refused(JwsError::Claim("no iat".into())));
    }
    if jws.str_claim("nonce") != Some(nonce) {
        return Err(refused(JwsError::Claim("the nonce is not the one this sign-in sent".into())));
    }
    // §3.1.3.7 items 4–5: with several audiences, azp must name us; if present, always.
    let several = jws.claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match jws.str_claim("azp") {
        Some(azp) if azp != cfg.client_id => return Err(refused(JwsError::Claim("azp names another client".into()))),
        None if several => return Err(refused(JwsError::Claim("several audiences but no azp".into()))),
        _ => {}
    }
    Ok(jws.claims)
}

/// Core §5.3.2: UserInfo's `sub` must equal the ID token's, else its claims
/// are about someone else and are ignored. Other claims fill what the ID
/// token lacks, but `email` and `email_verified` travel as a pair (Core
/// §5.1: `email_verified` speaks of that `email`): both from the ID token
/// when it names an email, else both from UserInfo. Filled one by one, an
/// ID token's `email_verified: true` would vouch for UserInfo's unverified
/// address.
async fn merge_userinfo(net: &impl Outbound, endpoint: &str, access_token: &str, sub: &str, claims: &mut Map<String, Value>) -> Result<(), LoginError> {
    let req = OutboundRequest::get(endpoint).with_header("authorization", format!("Bearer {access_token}"));
    let resp = net.send(req).await.map_err(|e| LoginError::Upstream(format!("the provider's userinfo endpoint could not be reached: {e}")))?;
    let Some(info) = resp.json::<Map<String, Value>>().filter(|_| resp.status == 200) else {
        return Err(LoginError::Upstream(format!("the provider's userinfo endpoint answered HTTP {}", resp.status)));
    };
    if info.get("sub").and_then(Value::as_str) != Some(sub) {
        return Err(LoginError::Invalid("the provider's userinfo is about another subject than its ID token".into()));
    }
    fill_from_userinfo(claims, info);
    Ok(())
}

fn fill_from_userinfo(claims: &mut Map<String, Value>, info: Map<String, Value>) {
    // Inserting over the ID token's lone email_verified rather than removing
    // it: a map removal would add kilobytes of B-tree code to the wasm.
    let pair_from_userinfo = !claims.contains_key("email");
    if pair_from_userinfo {
        claims.insert("email_verified".into(), Value::Null);
    }
    for (k, v) in info {
        if k == "email" || k == "email_verified" {
            if pair_from_userinfo {
                claims.insert(k, v);
            }
        } else {
            claims.entry(k).or_insert(v);
        }
    }
}

/// The email, only when the provider vouches for it (`email_verified: true`).
fn verified_email(claims: &Map<String, Value>) -> Option<String> {
    let verified = claims.get("email_verified").and_then(Value::as_bool) == Some(true);
    claims.get("email").and_then(Value::as_str).filter(|_| verified).map(str::to_ascii_lowercase)
}

fn groups(cfg: &OidcConfig, claims: &Map<String, Value>) -> Vec<String> {
    match claims.get(&cfg.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// On any configured list: `sub`, a verified email, or a group.
fn allowed(cfg: &OidcConfig, claims: &Map<String, Value>) -> bool {
    let sub = claims.get("sub").and_then(Value::as_str);
    sub.is_some_and(|s| cfg.allowed_subs.iter().any(|a| a == s))
        || verified_email(claims).is_some_and(|e| cfg.allowed_emails.contains(&e))
        || groups(cfg, claims).iter().any(|g| cfg.allowed_groups.contains(g))
}

/// A random `nonce` (Core §3.1.2.1), 128 bits.
pub fn new_nonce() -> Result<String, crate::base::error::OAuthError> {
    Ok(b64url(&crate::base::random::bytes::<16>()?))
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
