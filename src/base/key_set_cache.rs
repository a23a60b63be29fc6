//! Remote JWK Sets (RFC 7517 §5) kept in memory between requests (one cache
//! per isolate in the worker; tests make their own): an identity provider's
//! `jwks_uri` (OpenID Connect Discovery §3), Cloudflare Access's certs, and
//! the `jwks_uri` of a client's metadata document (RFC 7591 §2, for
//! `private_key_jwt`). One set of rules for all three:
//!
//! - a set is used while younger than the lifetime its fetch reported;
//! - a token naming a `kid` the set lacks (the keys were rotated) fetches the
//!   set again, at most once per `Refetch::min_interval` for the URL and once
//!   per `Refetch::kid_backoff` for the kid (at most [`MAX_KIDS`] kids at a
//!   time), so that made-up kids cannot turn into a flood of fetches;
//! - at most `capacity` URLs are kept; the oldest fetch goes first.
//!
//! Failed fetches are never kept: the next request tries again.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use super::jws::{Jws, JwsError};
use super::signature::{PublicJwk, SignatureVerifier};

/// Unknown kids remembered per URL within `kid_backoff`; beyond, no refetch.
pub const MAX_KIDS: usize = 16;

/// A fetched set and how long it may be used, in seconds (0: not reused).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedKeys {
    pub keys: Vec<PublicJwk>,
    pub lifetime: i64,
}

/// When an unknown kid may fetch the set again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refetch {
    /// Least time between two fetches of the same URL.
    pub min_interval: i64,
    /// Least time between two fetches caused by the same kid.
    pub kid_backoff: i64,
}

struct Entry {
    url: String,
    keys: Vec<PublicJwk>,
    fetched_at: i64,
    fresh_until: i64,
    /// Unknown kids that caused a fetch, and when.
    refreshed_for: Vec<(String, i64)>,
}

/// Why a token could not be checked against a remote set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysError {
    /// The set could not be had; why, said to whoever is refused.
    Fetch(String),
    /// The token does not verify against it.
    Jws(JwsError),
}

/// One fetch of a set. Boxed, so that the cache is one piece of code for
/// all its users rather than one copy each.
pub type Fetch<'a> = Pin<Box<dyn Future<Output = Result<FetchedKeys, String>> + 'a>>;

/// A handful of entries: a list is smaller code than a map, and as fast.
pub struct KeySetCache {
    capacity: usize,
    entries: RefCell<Vec<Entry>>,
}

impl KeySetCache {
    pub fn new(capacity: usize) -> Self {
        KeySetCache { capacity: capacity.max(1), entries: RefCell::new(Vec::new()) }
    }

    /// The set at `url`, from memory while fresh, else from `fetch`.
    pub async fn keys(&self, url: &str, now: i64, fetch: Fetch<'_>) -> Result<Vec<PublicJwk>, String> {
        if let Some(keys) = self.fresh(url, now) {
            return Ok(keys);
        }
        let fetched = fetch.await?;
        self.remember(url, now, None, &fetched);
        Ok(fetched.keys)
    }

    /// The set fetched again because a token names `kid`, which the set in
    /// hand lacks; `None` when `policy` says not now (nothing is fetched).
    pub async fn refresh_for_kid(&self, url: &str, kid: &str, now: i64, policy: Refetch, fetch: Fetch<'_>) -> Result<Option<Vec<PublicJwk>>, String> {
        if !self.may_refetch(url, kid, now, policy) {
            return Ok(None);
        }
        let fetched = fetch.await?;
        self.remember(url, now, Some(kid), &fetched);
        Ok(Some(fetched.keys))
    }

    /// Verifies `token` with the set at `url`, fetching it again once when
    /// the token names a kid the cached set lacks (and `policy` allows).
    /// `fetch` makes one fetch; it is called at most twice.
    pub async fn verify<'a>(
        &self,
        url: &str,
        token: &Jws,
        verifier: &impl SignatureVerifier,
        now: i64,
        policy: Refetch,
        fetch: &dyn Fn() -> Fetch<'a>,
    ) -> Result<(), KeysError> {
        let keys = self.keys(url, now, fetch()).await.map_err(KeysError::Fetch)?;
        match token.verify_with(verifier, &keys).await {
            Err(JwsError::UnknownKid) => {
                let kid = token.kid.as_deref().unwrap_or_default();
                match self.refresh_for_kid(url, kid, now, policy, fetch()).await.map_err(KeysError::Fetch)? {
                    Some(fresh) => token.verify_with(verifier, &fresh).await.map_err(KeysError::Jws),
                    None => Err(KeysError::Jws(JwsError::UnknownKid)),
                }
            }
            other => other.map_err(KeysError::Jws),
        }
    }

    #[inline(never)]
    fn fresh(&self, url: &str, now: i64) -> Option<Vec<PublicJwk>> {
        self.entries.borrow().iter().find(|e| e.url == url && now < e.fresh_until).map(|e| e.keys.clone())
    }

    #[inline(never)]
    fn may_refetch(&self, url: &str, kid: &str, now: i64, policy: Refetch) -> bool {
        let mut entries = self.entries.borrow_mut();
        let Some(e) = entries.iter_mut().find(|e| e.url == url) else { return true };
        e.refreshed_for.retain(|(_, at)| now - *at < policy.kid_backoff);
        let too_soon = now - e.fetched_at < policy.min_interval;
        !(too_soon || e.refreshed_for.iter().any(|(k, _)| k == kid) || e.refreshed_for.len() >= MAX_KIDS)
    }

    #[inline(never)]
    fn remember(&self, url: &str, now: i64, kid: Option<&str>, fetched: &FetchedKeys) {
        let mut entries = self.entries.borrow_mut();
        let mut refreshed_for = match entries.iter().position(|e| e.url == url) {
            Some(i) => entries.swap_remove(i).refreshed_for,
            None => Vec::new(),
        };
        if let Some(kid) = kid {
            refreshed_for.push((kid.to_string(), now));
        }
        if entries.len() >= self.capacity {
            if let Some(oldest) = entries.iter().enumerate().min_by_key(|(_, e)| e.fetched_at).map(|(i, _)| i) {
                entries.swap_remove(oldest);
            }
        }
        let fresh_until = now.saturating_add(fetched.lifetime.max(0));
        entries.push(Entry { url: url.to_string(), keys: fetched.keys.clone(), fetched_at: now, fresh_until, refreshed_for });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::jws;
    use crate::store::memory::block_on;
    use crate::testing::net::{TestKey, TestNet};
    use std::cell::Cell;

    const URL: &str = "https://keys.example/jwks";
    const POLICY: Refetch = Refetch { min_interval: 60, kid_backoff: 300 };

    /// A key host that counts its fetches and serves what `published` holds.
    struct Host {
        published: RefCell<Vec<PublicJwk>>,
        fetches: Cell<usize>,
        lifetime: i64,
        down: Cell<bool>,
    }

    impl Host {
        fn new(keys: &[&TestKey], lifetime: i64) -> Host {
            Host { published: RefCell::new(keys.iter().map(|k| k.public_jwk()).collect()), fetches: Cell::new(0), lifetime, down: Cell::new(false) }
        }
        fn fetch(&self) -> Fetch<'_> {
            Box::pin(async move {
                self.fetches.set(self.fetches.get() + 1);
                if self.down.get() {
                    return Err("down".to_string());
                }
                Ok(FetchedKeys { keys: self.published.borrow().clone(), lifetime: self.lifetime })
            })
        }
    }

    fn check(cache: &KeySetCache, host: &Host, key: &TestKey, now: i64) -> Result<(), KeysError> {
        let token = jws::parse(&key.sign_jws(&serde_json::json!({}))).unwrap();
        block_on(cache.verify(URL, &token, &TestNet::default(), now, POLICY, &|| host.fetch()))
    }

    #[test]
    fn a_fresh_set_is_reused_and_a_stale_one_fetched_again() {
        let (cache, key) = (KeySetCache::new(4), TestKey::es256("k"));
        let host = Host::new(&[&key], 600);
        check(&cache, &host, &key, 1000).unwrap();
        check(&cache, &host, &key, 1599).unwrap();
        assert_eq!(host.fetches.get(), 1);
        check(&cache, &host, &key, 1600).unwrap();
        assert_eq!(host.fetches.get(), 2, "past its lifetime");
    }

    #[test]
    fn a_set_without_a_lifetime_is_fetched_every_time() {
        let (cache, key) = (KeySetCache::new(4), TestKey::eddsa("k"));
        let host = Host::new(&[&key], 0);
        check(&cache, &host, &key, 1000).unwrap();
        check(&cache, &host, &key, 1000).unwrap();
        assert_eq!(host.fetches.get(), 2);
    }

    #[test]
    fn an_unknown_kid_refetches_within_the_policy() {
        let (cache, old, new) = (KeySetCache::new(4), TestKey::es256("old"), TestKey::es256("new"));
        let host = Host::new(&[&old], 3600);
        check(&cache, &host, &old, 1000).unwrap();
        *host.published.borrow_mut() = vec![new.public_jwk(), old.public_jwk()];
        // Right after a fetch: not yet (min_interval).
        assert_eq!(check(&cache, &host, &new, 1010), Err(KeysError::Jws(JwsError::UnknownKid)));
        assert_eq!(host.fetches.get(), 1);
        check(&cache, &host, &new, 1060).unwrap();
        assert_eq!(host.fetches.get(), 2, "one refetch for the rotated key");
        check(&cache, &host, &old, 1061).unwrap();
        assert_eq!(host.fetches.get(), 2, "then both from memory");
        // A made-up kid: one refetch once the interval allows, then none for it.
        let stranger = TestKey::es256("stranger");
        assert!(check(&cache, &host, &stranger, 1120).is_err());
        assert!(check(&cache, &host, &stranger, 1200).is_err());
        assert_eq!(host.fetches.get(), 3, "the same unknown kid waits kid_backoff");
    }

    #[test]
    fn unknown_kids_are_bounded() {
        let (cache, key) = (KeySetCache::new(4), TestKey::es256("k"));
        let host = Host::new(&[&key], 3600);
        let policy = Refetch { min_interval: 0, kid_backoff: 300 };
        block_on(cache.keys(URL, 0, host.fetch())).unwrap();
        for i in 0..MAX_KIDS + 5 {
            let _ = block_on(cache.refresh_for_kid(URL, &format!("kid{i}"), 1, policy, host.fetch()));
        }
        assert_eq!(host.fetches.get(), 1 + MAX_KIDS);
    }

    #[test]
    fn failures_are_not_kept() {
        let (cache, key) = (KeySetCache::new(4), TestKey::es256("k"));
        let host = Host::new(&[&key], 3600);
        host.down.set(true);
        assert_eq!(check(&cache, &host, &key, 1000), Err(KeysError::Fetch("down".into())));
        host.down.set(false);
        check(&cache, &host, &key, 1001).unwrap();
        assert_eq!(host.fetches.get(), 2);
    }

    #[test]
    fn the_cache_is_bounded_and_drops_the_oldest() {
        let (cache, key) = (KeySetCache::new(2), TestKey::es256("k"));
        let host = Host::new(&[&key], 3600);
        for (i, url) in ["https://a/k", "https://b/k", "https://c/k"].iter().enumerate() {
            block_on(cache.keys(url, i as i64, host.fetch())).unwrap();
        }
        assert_eq!(cache.len(), 2);
        block_on(cache.keys("https://c/k", 10, host.fetch())).unwrap();
        block_on(cache.keys("https://b/k", 10, host.fetch())).unwrap();
        assert_eq!(host.fetches.get(), 3, "b and c kept");
        block_on(cache.keys("https://a/k", 10, host.fetch())).unwrap();
        assert_eq!(host.fetches.get(), 4, "a was dropped");
    }
}
