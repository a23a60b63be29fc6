//! The upstream provider's metadata (OpenID Connect Discovery 1.0 §4) and
//! signing keys (RFC 7517 JWK Set), cached per isolate like
//! `verified_cache`: a login costs two fetches to the provider only the first
//! time. The JWKS (`key_set_cache`) is fetched again when an ID token names a
//! `kid` the cached set lacks (the provider rotated its keys) — once per
//! unknown kid per `UNKNOWN_KID_BACKOFF`, so tokens naming made-up kids
//! cannot make us hammer the provider.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::Deserialize;

use super::LoginError;
use crate::base::outbound::upstream_url_allowed;
use crate::base::jws::Jws;
use crate::base::key_set_cache::{Fetch, FetchedKeys, KeySetCache, KeysError, Refetch};
use crate::base::outbound::{Net, Outbound, OutboundRequest};
use crate::base::signature::parse_jwk_set;

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

thread_local! {
    /// Discovery documents per issuer, and the keys per `jwks_uri`. A new
    /// deployment is a new isolate, so a changed setting starts empty.
    static CACHE: RefCell<HashMap<String, (Discovery, i64)>> = RefCell::new(HashMap::new());
    static KEYS: Rc<KeySetCache> = Rc::new(KeySetCache::new(4));
}

/// A new kid may refetch right away, each kid once per backoff.
const REFETCH: Refetch = Refetch { min_interval: 0, kid_backoff: UNKNOWN_KID_BACKOFF };

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
    let cached = CACHE.with(|c| c.borrow().get(issuer).cloned());
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
    CACHE.with(|c| c.borrow_mut().insert(issuer.to_string(), (d.clone(), now)));
    Ok(d)
}

/// The provider's keys, or why not (a `LoginError::Upstream` message).
async fn fetch_keys(net: &impl Outbound, jwks_uri: &str) -> Result<FetchedKeys, String> {
    let resp = net.send(OutboundRequest::get(jwks_uri)).await.map_err(|e| format!("the provider's keys could not be fetched: {e}"))?;
    if resp.status != 200 {
        return Err(format!("the provider's keys (jwks_uri) answered HTTP {}", resp.status));
    }
    let keys = parse_jwk_set(&resp.body).map_err(|_| "the provider's keys (jwks_uri) are not a valid JWK set".to_string())?;
    Ok(FetchedKeys { keys, lifetime: CACHE_SECONDS })
}

/// Verifies an ID token's signature with the provider's keys, from the cache
/// while fresh, fetched again once for a kid the cached set lacks.
pub async fn verify(net: &impl Net, jwks_uri: &str, token: &Jws, now: i64) -> Result<(), KeysError> {
    let keys = KEYS.with(Rc::clone);
    let fetch = || -> Fetch<'_> { Box::pin(fetch_keys(net, jwks_uri)) };
    keys.verify(jwks_uri, token, net, now, REFETCH, &fetch).await
}
