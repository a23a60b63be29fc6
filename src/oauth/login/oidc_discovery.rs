//! The upstream provider's metadata (OpenID Connect Discovery 1.0 §4) and
//! signing keys (RFC 7517 JWK Set), cached per isolate like
//! `verified_cache`: a login costs two fetches to the provider only the first
//! time. The JWKS is fetched again when an ID token names a `kid` the cached
//! set lacks (the provider rotated its keys) — once per unknown kid per
//! `UNKNOWN_KID_BACKOFF`, so tokens naming made-up kids cannot make us hammer
//! the provider.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Deserialize;

use super::{upstream_url_allowed, LoginError};
use crate::oauth::outbound::{Outbound, OutboundRequest};
use crate::oauth::signature::{parse_jwk_set, PublicJwk};

/// Provider metadata and keys are trusted this long before fetching again.
pub const CACHE_SECONDS: i64 = 3600;
/// An unknown kid triggers at most one refresh in this time.
pub const UNKNOWN_KID_BACKOFF: i64 = 300;

/// The members of the discovery document we use.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Default)]
struct Entry {
    discovery: Option<(Discovery, i64)>,
    keys: Option<(Vec<PublicJwk>, i64)>,
    /// Unknown kids already refreshed for, and when.
    refreshed_for: HashMap<String, i64>,
}

thread_local! {
    /// Per issuer. A new deployment is a new isolate, so a changed setting
    /// starts empty.
    static CACHE: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
}

fn bad(why: impl Into<String>) -> LoginError {
    LoginError::Upstream(why.into())
}

/// The discovery URL of an issuer (Discovery §4.1: drop one trailing slash).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// The provider's metadata; its `issuer` must equal the configured one
/// exactly (Discovery §4.3) and every endpoint must be https (or loopback).
pub async fn discovery(net: &impl Outbound, issuer: &str, now: i64) -> Result<Discovery, LoginError> {
    let cached = CACHE.with(|c| c.borrow().get(issuer).and_then(|e| e.discovery.clone()));
    if let Some((d, at)) = cached {
        if now - at < CACHE_SECONDS {
            return Ok(d);
        }
    }
    let resp = net
        .send(OutboundRequest::get(discovery_url(issuer)))
        .await
        .map_err(|e| bad(format!("the provider's discovery document could not be fetched: {e}")))?;
    if resp.status != 200 {
        return Err(bad(format!("the provider's discovery document answered HTTP {}", resp.status)));
    }
    let d: Discovery = resp.json().ok_or_else(|| bad("the provider's discovery document is not valid JSON with the required members"))?;
    if d.issuer != issuer {
        return Err(bad("the provider's discovery document names another issuer than OIDC_ISSUER (they must match exactly, trailing slash included)"));
    }
    let endpoints = [Some(&d.authorization_endpoint), Some(&d.token_endpoint), Some(&d.jwks_uri), d.userinfo_endpoint.as_ref()];
    for e in endpoints.into_iter().flatten() {
        if !url::Url::parse(e).is_ok_and(|u| upstream_url_allowed(&u)) {
            return Err(bad("the provider's discovery document lists an endpoint that is not https"));
        }
    }
    CACHE.with(|c| c.borrow_mut().entry(issuer.to_string()).or_default().discovery = Some((d.clone(), now)));
    Ok(d)
}

async fn fetch_keys(net: &impl Outbound, issuer: &str, jwks_uri: &str, now: i64) -> Result<Vec<PublicJwk>, LoginError> {
    let resp = net.send(OutboundRequest::get(jwks_uri)).await.map_err(|e| bad(format!("the provider's keys could not be fetched: {e}")))?;
    if resp.status != 200 {
        return Err(bad(format!("the provider's keys (jwks_uri) answered HTTP {}", resp.status)));
    }
    let keys = parse_jwk_set(&resp.body).map_err(|_| bad("the provider's keys (jwks_uri) are not a valid JWK set"))?;
    CACHE.with(|c| c.borrow_mut().entry(issuer.to_string()).or_default().keys = Some((keys.clone(), now)));
    Ok(keys)
}

/// The provider's signing keys, from the cache while fresh.
pub async fn keys(net: &impl Outbound, issuer: &str, jwks_uri: &str, now: i64) -> Result<Vec<PublicJwk>, LoginError> {
    let cached = CACHE.with(|c| c.borrow().get(issuer).and_then(|e| e.keys.clone()));
    match cached {
        Some((k, at)) if now - at < CACHE_SECONDS => Ok(k),
        _ => fetch_keys(net, issuer, jwks_uri, now).await,
    }
}

/// The keys fetched again because a token names `kid`, which the cached set
/// lacks; `None` when this kid was refreshed for recently (no new fetch).
pub async fn refresh_for_kid(net: &impl Outbound, issuer: &str, jwks_uri: &str, kid: &str, now: i64) -> Result<Option<Vec<PublicJwk>>, LoginError> {
    let recent = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let e = c.entry(issuer.to_string()).or_default();
        e.refreshed_for.retain(|_, at| now - *at < UNKNOWN_KID_BACKOFF);
        if e.refreshed_for.contains_key(kid) || e.refreshed_for.len() >= 16 {
            return true;
        }
        e.refreshed_for.insert(kid.to_string(), now);
        false
    });
    if recent {
        return Ok(None);
    }
    fetch_keys(net, issuer, jwks_uri, now).await.map(Some)
}
