//! Client authentication with a signed JWT, `private_key_jwt` (RFC 7523
//! §2.2 and §3, RFC 7521 §4.2 and §5.2), for metadata-document clients whose
//! document names keys (`cimd::auth_methods`). The client sends
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and a `client_assertion` at /token, /revoke and /introspect.
//!
//! The checks, cheapest first, so that garbage costs no fetch:
//! 1. the JWS: one of our algorithms (never `none`, never HMAC), no `crit`
//!    (`jws::parse`), and the document's `token_endpoint_auth_signing_alg`
//!    when it names one;
//! 2. the claims (§3): `iss` = `sub` = the client id; `aud` our token
//!    endpoint or our issuer (a list only of those: an assertion also meant
//!    for another server could be replayed by it, draft-ietf-oauth-rfc7523bis
//!    §4); `exp` required, not passed, and at most [`MAX_LIFETIME`] ahead;
//!    `iat`/`nbf` not in the future; `jti` required; skew [`LEEWAY`];
//! 3. the signature by a key of the document: chosen by `kid` when the
//!    header names one, the key's `alg`/`use`/`key_ops` respected; a
//!    `jwks_uri` is fetched under the document-fetch rules and kept per
//!    isolate (`key_set_cache`: HTTP caching, at most [`KEY_SET_MAX_AGE`];
//!    an unknown kid refetches at most once a minute);
//! 4. last, the `jti` is claimed in storage with one conditional insert and
//!    remembered until the assertion would be refused anyway (`exp` +
//!    [`LEEWAY`]): a replay is refused, and an assertion that failed 1–3
//!    burns nothing.
//!
//! Every refusal is `invalid_client` (RFC 6749 §5.2, RFC 7521 §4.2.1) and
//! happens before the endpoint reads or changes anything else.

use std::rc::Rc;

use serde_json::{Map, Value};

use super::cimd::auth_methods::{self, ClientKeys, JwksUri};
use super::cimd::{cache_policy, FetchError, FetchedDocument, FETCH_TIMEOUT_SECONDS};
use super::context::Ctx;
use crate::base::error::{OAuthError, OAuthResult};
use crate::base::form::Params;
use crate::base::jws::{self, Jws, JwsError};
use crate::base::key_set_cache::{Fetch, FetchedKeys, KeySetCache, KeysError, Refetch};
use crate::base::signature::{parse_jwk_set, SignatureVerifier};
use crate::store::clients::ClientRecord;
use crate::store::StoreResult;
use crate::base::types::{ClientId, TokenHash};

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest `exp` may lie ahead. A client makes a fresh assertion per
/// request; this bounds how long a `jti` must be remembered.
pub const MAX_LIFETIME: i64 = 300;
/// Clock skew allowed on `exp`, `iat` and `nbf`.
pub const LEEWAY: i64 = 60;
/// The largest key set read from a `jwks_uri`.
pub const MAX_KEY_SET_BYTES: usize = 16 * 1024;
/// A fetched key set is used at most this long, whatever its headers say.
pub const KEY_SET_MAX_AGE: i64 = 3600;
/// When an unknown kid may fetch a client's keys again.
pub const REFETCH: Refetch = Refetch { min_interval: 60, kid_backoff: 300 };
/// Client key sets kept per isolate.
pub const KEY_SETS_KEPT: usize = 64;

/// What the assertion checks need from storage and the network.
#[allow(async_fn_in_trait)]
pub trait ClientAssertionStore {
    /// Records that `client` used assertion id `jti` (hashed), remembered
    /// until `remember_until`; true only for the one caller that recorded it
    /// while no live record existed (one conditional insert).
    async fn claim_assertion_id(&self, client: &ClientId, jti: &TokenHash, remember_until: i64, now: i64) -> StoreResult<bool>;
    /// One GET of a client's `jwks_uri` as a metadata document is fetched
    /// (`cimd::ClientDocuments::fetch_document`: no redirects followed, the
    /// same timeout and egress binding), the body capped at [`MAX_KEY_SET_BYTES`].
    async fn fetch_key_set(&self, url: &JwksUri) -> Result<FetchedDocument, FetchError>;
}

/// An assertion as sent, parsed but not verified.
#[derive(Debug)]
pub struct Assertion {
    jws: Jws,
    client_id: String,
}

impl Assertion {
    /// The client it claims to come from (`sub`, equal to `iss`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

fn refused(why: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_client(format!("the client assertion was refused: {why}"))
}

/// The assertion of a request, if it carries one (RFC 7521 §4.2).
pub fn presented(p: &Params) -> OAuthResult<Option<Assertion>> {
    match (p.get("client_assertion_type"), p.get("client_assertion")) {
        (None, None) => Ok(None),
        (Some(ASSERTION_TYPE), Some(token)) => parse(token).map(Some),
        (Some(_), Some(_)) => Err(refused(format!("client_assertion_type must be {ASSERTION_TYPE}"))),
        (Some(_), None) => Err(refused("client_assertion_type was sent without client_assertion")),
        (None, Some(_)) => Err(refused("client_assertion was sent without client_assertion_type")),
    }
}

fn parse(token: &str) -> OAuthResult<Assertion> {
    let jws = jws::parse(token.trim()).map_err(refused)?;
    let (Some(iss), Some(sub)) = (jws.str_claim("iss"), jws.str_claim("sub")) else {
        return Err(refused("iss and sub are required"));
    };
    if iss != sub {
        return Err(refused("iss and sub must both be the client_id"));
    }
    let client_id = sub.to_string();
    Ok(Assertion { jws, client_id })
}

/// The accepted audiences: our token endpoint (RFC 7523 §3 item 3) and our
/// issuer identifier (rfc7523bis), whichever endpoint the assertion is sent to.
fn audiences(issuer: &str) -> [String; 2] {
    [format!("{issuer}/token"), issuer.to_string()]
}

/// Claims that passed: what to remember.
#[derive(Debug, PartialEq, Eq)]
struct Checked {
    jti: String,
    remember_until: i64,
}

/// RFC 7523 §3 items 1–5 and 7 (`iss` = `sub` was checked by [`presented`]).
fn check_claims(claims: &Map<String, Value>, client_id: &str, issuer: &str, now: i64) -> Result<Checked, String> {
    if claims.get("sub").and_then(Value::as_str) != Some(client_id) || claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err("iss and sub must both be the client_id".into());
    }
    let ours = audiences(issuer);
    let is_ours = |v: &Value| v.as_str().is_some_and(|a| ours.iter().any(|o| o == a));
    let aud_ok = match claims.get("aud") {
        Some(Value::Array(list)) => !list.is_empty() && list.iter().all(is_ours),
        Some(v) => is_ours(v),
        None => false,
    };
    if !aud_ok {
        return Err(format!("aud must be {} or {}", ours[0], ours[1]));
    }
    let exp = jws::check_times(claims, now, LEEWAY).map_err(|e| match e {
        JwsError::Claim(why) => why,
        other => other.to_string(),
    })?;
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(format!("exp is more than {MAX_LIFETIME} seconds ahead"));
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() => j.clone(),
        _ => return Err("jti is required".into()),
    };
    Ok(Checked { jti, remember_until: exp + LEEWAY })
}

thread_local! {
    /// Clients' `jwks_uri` sets, per isolate (a new deployment starts empty).
    static ISOLATE_KEY_SETS: Rc<KeySetCache> = Rc::new(KeySetCache::new(KEY_SETS_KEPT));
}

/// Authenticates `client` by `assertion`, which named it. Claims `jti` last.
pub async fn verify<S: ClientAssertionStore>(ctx: &Ctx<'_, S>, verifier: &impl SignatureVerifier, client: &ClientRecord, assertion: Assertion) -> OAuthResult<()> {
    let Some(keys) = auth_methods::of_client(client).assertion else {
        return Err(OAuthError::invalid_client(
            "this client does not authenticate with private_key_jwt (only a metadata document that offers it and names usable keys enables it)",
        ));
    };
    let jws = assertion.jws;
    if let Some(pinned) = keys.alg.filter(|a| *a != jws.alg) {
        return Err(refused(format!("it is signed with {}, but the client's metadata document asks for {}", jws.alg.name(), pinned.name())));
    }
    let checked = check_claims(&jws.claims, client.client_id.as_str(), &ctx.issuer, ctx.now).map_err(refused)?;
    match keys.keys {
        ClientKeys::Inline(set) => jws.verify_with(verifier, &set).await.map_err(refused)?,
        ClientKeys::Remote(uri) => {
            let cache = ISOLATE_KEY_SETS.with(Rc::clone);
            let fetch = || -> Fetch<'_> { Box::pin(fetch_keys(ctx.store, &uri, ctx.now)) };
            cache.verify(uri.as_str(), &jws, verifier, ctx.now, REFETCH, &fetch).await.map_err(|e| match e {
                KeysError::Jws(e) => refused(e),
                KeysError::Fetch(why) => {
                    OAuthError::invalid_client(format!("the client's keys could not be had from its jwks_uri {}: {why}", uri.as_str()))
                }
            })?;
        }
    }
    let jti = TokenHash::of(&checked.jti);
    if !ctx.store.claim_assertion_id(&client.client_id, &jti, checked.remember_until, ctx.now).await? {
        return Err(refused("it was already used (each jti is accepted once)"));
    }
    Ok(())
}

/// One fetch of a client's key set, judged like a metadata document's:
/// only a 200, never a redirect, the size capped; kept as HTTP caching says.
async fn fetch_keys(store: &impl ClientAssertionStore, uri: &JwksUri, now: i64) -> Result<FetchedKeys, String> {
    let fetched = store.fetch_key_set(uri).await.map_err(|e| match e {
        FetchError::TooLarge => format!("the key set is larger than {MAX_KEY_SET_BYTES} bytes"),
        FetchError::Timeout => format!("no answer within {FETCH_TIMEOUT_SECONDS} seconds"),
        FetchError::Unreachable => "the connection failed".to_string(),
    })?;
    match fetched.status {
        200 => {}
        s @ 300..=399 => return Err(format!("it answered with a redirect (HTTP {s}); redirects are not followed")),
        s => return Err(format!("it answered HTTP {s}, not 200")),
    }
    if fetched.body.len() > MAX_KEY_SET_BYTES {
        return Err(format!("the key set is larger than {MAX_KEY_SET_BYTES} bytes"));
    }
    let keys = parse_jwk_set(&fetched.body).map_err(|e| e.to_string())?;
    let lifetime = cache_policy::lifetime(fetched.cache_control.as_deref(), fetched.expires.as_deref(), fetched.date.as_deref(), now);
    Ok(FetchedKeys { keys, lifetime: lifetime.unwrap_or(0).min(KEY_SET_MAX_AGE) })
}

/// The in-memory side of [`ClientAssertionStore`] for native tests: spent
/// ids as D1 keeps them, and key sets "on the web" by URL.
#[cfg(test)]
pub(crate) mod memory {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::store::memory::MemoryStore;

    #[derive(Default)]
    pub struct MemoryAssertions {
        /// (client, jti hash) → remembered until.
        pub ids: RefCell<HashMap<(String, String), i64>>,
        pub key_sets: RefCell<HashMap<String, Result<FetchedDocument, FetchError>>>,
        /// Every key set URL fetched, in order.
        pub fetched: RefCell<Vec<String>>,
    }

    impl MemoryAssertions {
        /// Serves `set` at `url` with status 200 and the given Cache-Control.
        pub fn serve(&self, url: &str, set: &Value, cache_control: Option<&str>) {
            let doc = FetchedDocument { status: 200, body: set.to_string().into_bytes(), cache_control: cache_control.map(str::to_string), expires: None, date: None };
            self.key_sets.borrow_mut().insert(url.to_string(), Ok(doc));
        }
        pub fn fetch_count(&self, url: &str) -> usize {
            self.fetched.borrow().iter().filter(|u| *u == url).count()
        }
    }

    impl ClientAssertionStore for MemoryStore {
        async fn claim_assertion_id(&self, client: &ClientId, jti: &TokenHash, remember_until: i64, now: i64) -> StoreResult<bool> {
            self.check()?;
            let mut ids = self.assertions.ids.borrow_mut();
            ids.retain(|_, until| *until > now);
            let key = (client.as_str().to_string(), jti.as_str().to_string());
            if ids.contains_key(&key) {
                return Ok(false);
            }
            ids.insert(key, remember_until);
            Ok(true)
        }
        async fn fetch_key_set(&self, url: &JwksUri) -> Result<FetchedDocument, FetchError> {
            self.assertions.fetched.borrow_mut().push(url.as_str().into());
            self.assertions.key_sets.borrow().get(url.as_str()).cloned().unwrap_or(Err(FetchError::Unreachable))
        }
    }
}

#[cfg(test)]
#[path = "client_assertion_tests.rs"]
mod tests;
