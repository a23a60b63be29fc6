//! How a revoked grant (RFC 7009 §2.1, or refresh-token or code reuse)
//! reaches the MCP endpoint, whose access tokens are verified without a
//! storage read (RFC 9068). Each isolate keeps the set of grants revoked
//! recently enough to still have unexpired access tokens, and re-reads it
//! when it is older than `REVOCATION_CHECK_SECONDS`. So a revocation stops
//! the grant's tokens within that many seconds, while most MCP requests cost
//! no query at all.
//!
//! "Recently enough": an access token is accepted until `exp` + leeway, and
//! no token is issued from a grant after its revocation, so only grants
//! revoked at or after a token's `iat` can matter to it. The cached set
//! covers grants revoked since `now - ` the longest access-token lifetime
//! (`ACCESS_TOKEN_TTL` or a client's own, `token_lifetime::longest`)
//! `- leeway`; a token issued before that (a longer lifetime configured
//! earlier) is checked with a direct lookup instead.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::protocol::access_token::VerifiedToken;
use crate::base::signing_key::LEEWAY_SECS;
use crate::config::Config;
use crate::store::StoreResult;
use crate::base::types::GrantId;

use crate::store::revoked_grants::RevokedGrants;

/// One isolate's view of the recently revoked grants.
#[derive(Debug, Default)]
pub struct RevocationCache {
    /// When the set was read (milliseconds), `None` before the first read.
    fetched_at_ms: Option<i64>,
    /// The set holds every grant revoked at or after this (seconds).
    covers_since: i64,
    revoked: BTreeSet<String>,
}

impl RevocationCache {
    pub const fn new() -> Self {
        RevocationCache { fetched_at_ms: None, covers_since: i64::MAX, revoked: BTreeSet::new() }
    }

    /// Whether the set must be re-read: never read, as old as the interval
    /// (so always when it is 0), or the clock went backwards.
    pub fn is_stale(&self, now_ms: i64, interval_secs: i64) -> bool {
        match self.fetched_at_ms {
            None => true,
            Some(at) => now_ms < at || now_ms - at >= interval_secs.saturating_mul(1000),
        }
    }

    pub fn replace(&mut self, ids: Vec<GrantId>, covers_since: i64, now_ms: i64) {
        self.revoked = ids.into_iter().map(|g| g.as_str().to_string()).collect();
        self.covers_since = covers_since;
        self.fetched_at_ms = Some(now_ms);
    }

    /// `Some(revoked?)` when the set answers for a token issued at
    /// `issued_at`; `None` when the token predates what the set covers.
    pub fn verdict(&self, id: &GrantId, issued_at: i64) -> Option<bool> {
        if self.fetched_at_ms.is_none() || issued_at < self.covers_since {
            return None;
        }
        Some(self.revoked.contains(id.as_str()))
    }

    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }
}

/// The oldest revocation that can still matter to a token accepted now.
pub fn window_start(now_secs: i64, config: &Config) -> i64 {
    // One extra leeway for a token whose `iat` is itself in the tolerated future.
    now_secs - crate::protocol::token_lifetime::longest(config) - 2 * LEEWAY_SECS
}

/// Whether the token's grant is revoked, as seen by this isolate: at most
/// `config.revocation_check_seconds` stale. A failed read is an error (the
/// caller refuses the request) rather than a stale "no".
pub async fn grant_revoked<R: RevokedGrants>(
    cache: &RefCell<RevocationCache>,
    source: &R,
    config: &Config,
    token: &VerifiedToken,
    now_ms: i64,
) -> StoreResult<bool> {
    if cache.borrow().is_stale(now_ms, config.revocation_check_seconds) {
        let since = window_start(now_ms.div_euclid(1000), config);
        let ids = source.revoked_since(since).await?;
        cache.borrow_mut().replace(ids, since, now_ms);
    }
    let gid = GrantId::new(token.claims.gid.as_str());
    let verdict = cache.borrow().verdict(&gid, token.issued_at);
    match verdict {
        Some(revoked) => Ok(revoked),
        None => source.is_revoked(&gid).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access_token::AccessClaims;
    use crate::base::error::StoreError;
    use crate::store::memory::block_on;
    use crate::testing::testing_config;
    use std::cell::Cell;

    const NOW_MS: i64 = 1_800_000_000_000;

    /// Grants with their revocation times; counts reads.
    #[derive(Default)]
    struct Source {
        revoked: RefCell<Vec<(String, i64)>>,
        set_reads: Cell<u32>,
        single_reads: Cell<u32>,
        fail: Cell<bool>,
    }

    impl RevokedGrants for Source {
        async fn revoked_since(&self, since: i64) -> StoreResult<Vec<GrantId>> {
            if self.fail.get() {
                return Err(StoreError("down".into()));
            }
            self.set_reads.set(self.set_reads.get() + 1);
            Ok(self.revoked.borrow().iter().filter(|(_, at)| *at >= since).map(|(g, _)| GrantId::new(g.as_str())).collect())
        }
        async fn is_revoked(&self, id: &GrantId) -> StoreResult<bool> {
            self.single_reads.set(self.single_reads.get() + 1);
            Ok(self.revoked.borrow().iter().any(|(g, _)| g == id.as_str()))
        }
    }

    fn token(gid: &str, issued_at: i64) -> VerifiedToken {
        let claims = AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            client_id: "c".into(),
            scope: "mcp".into(),
            jti: "j".into(),
            gid: gid.into(),
        };
        VerifiedToken { claims, expires_at: issued_at + 3600, issued_at }
    }

    fn secs(ms: i64) -> i64 {
        ms / 1000
    }

    #[test]
    fn staleness_follows_the_interval() {
        let mut c = RevocationCache::new();
        assert!(c.is_stale(NOW_MS, 10), "never read");
        c.replace(vec![], 0, NOW_MS);
        assert!(!c.is_stale(NOW_MS + 9_999, 10));
        assert!(c.is_stale(NOW_MS + 10_000, 10), "exactly the interval later");
        assert!(c.is_stale(NOW_MS, 0), "0 means every request");
        assert!(c.is_stale(NOW_MS - 1, 10), "clock went backwards");
        assert!(!c.is_stale(NOW_MS + 299_999, 300));
    }

    #[test]
    fn a_revocation_is_seen_once_the_interval_has_passed_and_not_a_query_sooner() {
        let config = testing_config(); // REVOCATION_CHECK_SECONDS = 10
        let cache = RefCell::new(RevocationCache::new());
        let src = Source::default();
        let t = token("g1", secs(NOW_MS) - 5);
        assert!(!block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS)).unwrap());
        assert_eq!(src.set_reads.get(), 1);

        src.revoked.borrow_mut().push(("g1".into(), secs(NOW_MS) + 1));
        // Within the interval: the isolate still answers from memory, no read.
        assert!(!block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS + 9_999)).unwrap());
        assert_eq!(src.set_reads.get(), 1, "no query inside the interval");
        // At the interval: re-read, and the revocation is seen.
        assert!(block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS + 10_000)).unwrap());
        assert_eq!(src.set_reads.get(), 2);
        assert!(!block_on(grant_revoked(&cache, &src, &config, &token("g2", secs(NOW_MS)), NOW_MS + 10_001)).unwrap());
        assert_eq!((src.set_reads.get(), src.single_reads.get()), (2, 0));
    }

    #[test]
    fn interval_zero_reads_on_every_request() {
        let mut config = testing_config();
        config.revocation_check_seconds = 0;
        let cache = RefCell::new(RevocationCache::new());
        let src = Source::default();
        let t = token("g1", secs(NOW_MS));
        assert!(!block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS)).unwrap());
        src.revoked.borrow_mut().push(("g1".into(), secs(NOW_MS)));
        assert!(block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS)).unwrap());
        assert_eq!(src.set_reads.get(), 2);
    }

    #[test]
    fn only_recent_revocations_are_read_and_older_tokens_are_looked_up() {
        let config = testing_config();
        let cache = RefCell::new(RevocationCache::new());
        let src = Source::default();
        let now = secs(NOW_MS);
        let start = window_start(now, &config);
        src.revoked.borrow_mut().push(("old".into(), start - 1));
        src.revoked.borrow_mut().push(("recent".into(), start));
        assert!(block_on(grant_revoked(&cache, &src, &config, &token("recent", now - 10), NOW_MS)).unwrap());
        assert_eq!(cache.borrow().len(), 1, "the grant revoked before the window is not kept");
        // A token issued before the window (ACCESS_TOKEN_TTL was longer then):
        // the set cannot answer, so its grant is looked up directly.
        assert!(block_on(grant_revoked(&cache, &src, &config, &token("old", start - 100), NOW_MS)).unwrap());
        assert_eq!(src.single_reads.get(), 1);
    }

    #[test]
    fn the_window_covers_the_longest_client_lifetime() {
        let mut config = testing_config();
        let plain = window_start(secs(NOW_MS), &config);
        config.client_token_lifetimes = crate::config::token_lifetimes::parse("redirect:claude.ai=172800").unwrap();
        assert_eq!(window_start(secs(NOW_MS), &config), plain - (172_800 - config.access_token_ttl));
        // A day-old token of that client is answered from the set, no lookup.
        let cache = RefCell::new(RevocationCache::new());
        let src = Source::default();
        src.revoked.borrow_mut().push(("long".into(), secs(NOW_MS) - 3600));
        assert!(block_on(grant_revoked(&cache, &src, &config, &token("long", secs(NOW_MS) - 86_400), NOW_MS)).unwrap());
        assert_eq!(src.single_reads.get(), 0);
    }

    #[test]
    fn a_failed_read_is_an_error_and_is_retried() {
        let config = testing_config();
        let cache = RefCell::new(RevocationCache::new());
        let src = Source::default();
        src.fail.set(true);
        let t = token("g1", secs(NOW_MS));
        assert!(block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS)).is_err());
        src.fail.set(false);
        src.revoked.borrow_mut().push(("g1".into(), secs(NOW_MS)));
        assert!(block_on(grant_revoked(&cache, &src, &config, &t, NOW_MS + 1)).unwrap(), "not cached as 'none revoked'");
    }
}
