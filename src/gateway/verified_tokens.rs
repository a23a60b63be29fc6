//! A per-isolate memo of access tokens already verified (RFC 9068 JWTs, see
//! `access_token::verify`). An MCP client sends the same token on every
//! request for its whole lifetime, and the Ed25519 check is most of the
//! gateway's CPU per request (bench/NOTES.md), so an exact string seen before
//! under the same issuer is answered from memory until it expires.
//!
//! Only the time check is repeated on a hit, and more strictly than
//! `verify` (no leeway past `exp`): past that the token is verified again
//! and refused as usual. Revocation is not this module's concern: the
//! caller checks the grant on every request either way (`revocation`).

use std::cell::RefCell;
use std::collections::HashMap;

use crate::base::ed25519::Ed25519;
use crate::protocol::access_token::{self, VerifiedToken};
use crate::base::signing_key::SigningKey;
use crate::base::error::OAuthResult;
use crate::base::resource::Resource;

/// Entries kept at most; beyond that, expired ones are dropped, then all.
/// A few hundred concurrent clients per isolate is already a busy homelab.
pub const CAPACITY: usize = 512;

#[derive(Default)]
pub struct VerifiedTokens {
    /// (issuer, token) → what `verify` returned for it.
    entries: HashMap<(String, String), VerifiedToken>,
}

impl VerifiedTokens {
    pub fn new() -> Self {
        Self::default()
    }

    fn lookup(&mut self, key: &(String, String), now: i64) -> Option<VerifiedToken> {
        let hit = self.entries.get(key)?;
        if now < hit.expires_at {
            return Some(hit.clone());
        }
        self.entries.remove(key);
        None
    }

    fn remember(&mut self, key: (String, String), verified: &VerifiedToken, now: i64) {
        if now < verified.expires_at {
            self.make_room(now);
            self.entries.insert(key, verified.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self, now: i64) {
        if self.entries.len() < CAPACITY {
            return;
        }
        self.entries.retain(|_, v| now < v.expires_at);
        if self.entries.len() >= CAPACITY {
            self.entries.clear();
        }
    }
}

/// `access_token::verify`, remembered. Failures are never remembered: a
/// refused token costs a full check each time, as without the cache. The
/// cache is not borrowed during the check (an await in the worker).
pub async fn verify<'k>(
    cache: &RefCell<VerifiedTokens>,
    crypto: &impl Ed25519,
    keys: impl IntoIterator<Item = &'k SigningKey>,
    token: &str,
    now: i64,
    issuer: &str,
    accepted_audiences: &[Resource],
) -> OAuthResult<VerifiedToken> {
    let key = (issuer.to_string(), token.to_string());
    if let Some(hit) = cache.borrow_mut().lookup(&key, now) {
        return Ok(hit);
    }
    let verified = access_token::verify(crypto, keys, token, now, issuer, accepted_audiences).await?;
    cache.borrow_mut().remember(key, &verified, now);
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access_token::{issue, AccessClaims};
    use crate::base::error::ErrorCode;
    use crate::base::encoding::b64url;
    use crate::base::ed25519::Native;
    use crate::base::resource::accepted_resources;
    use crate::store::memory::block_on;

    const ISS: &str = "https://mcp.example.com";
    const NOW: i64 = 1_800_000_000;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_seed_b64(&b64url(&[byte; 32])).unwrap()
    }

    fn token(k: &SigningKey, jti: &str, ttl: i64) -> String {
        let claims = AccessClaims {
            iss: ISS.into(),
            sub: "owner".into(),
            aud: format!("{ISS}/mcp"),
            client_id: "c".into(),
            scope: "mcp".into(),
            jti: jti.into(),
            gid: "g".into(),
        };
        block_on(issue(&Native, k, claims, NOW, ttl)).unwrap()
    }

    fn check(c: &RefCell<VerifiedTokens>, k: &SigningKey, tok: &str, now: i64, iss: &str) -> OAuthResult<VerifiedToken> {
        block_on(verify(c, &Native, [k], tok, now, iss, &accepted_resources(iss)))
    }

    #[test]
    fn a_verified_token_is_remembered_and_answers_the_same() {
        let (k, c) = (key(7), RefCell::new(VerifiedTokens::new()));
        let t = token(&k, "j1", 3600);
        let first = check(&c, &k, &t, NOW, ISS).unwrap();
        assert_eq!(c.borrow().len(), 1);
        // Another key would refuse it: a hit must not have verified again.
        let again = check(&c, &key(8), &t, NOW + 10, ISS).unwrap();
        assert_eq!(again.claims, first.claims);
    }

    #[test]
    fn refusals_are_not_remembered_and_nothing_else_rides_on_a_hit() {
        let (k, c) = (key(7), RefCell::new(VerifiedTokens::new()));
        let t = token(&k, "j1", 3600);
        assert!(check(&c, &key(8), &t, NOW, ISS).is_err());
        assert!(c.borrow().is_empty());
        check(&c, &k, &t, NOW, ISS).unwrap();
        let tampered = format!("{}x", &t[..t.len() - 1]);
        assert_eq!(check(&c, &k, &tampered, NOW, ISS).unwrap_err().code, ErrorCode::InvalidToken);
        assert!(check(&c, &k, &t, NOW, "https://other.example.com").is_err(), "keyed by issuer too");
    }

    #[test]
    fn an_expired_entry_is_verified_again_and_refused() {
        let (k, c) = (key(7), RefCell::new(VerifiedTokens::new()));
        let t = token(&k, "j1", 60);
        check(&c, &k, &t, NOW, ISS).unwrap();
        let late = NOW + 60 + crate::base::signing_key::LEEWAY_SECS + 1;
        assert_eq!(check(&c, &k, &t, late, ISS).unwrap_err().code, ErrorCode::InvalidToken);
        assert!(c.borrow().is_empty());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let (k, c) = (key(7), RefCell::new(VerifiedTokens::new()));
        for i in 0..CAPACITY + 5 {
            check(&c, &k, &token(&k, &format!("j{i}"), 3600), NOW, ISS).unwrap();
            assert!(c.borrow().len() <= CAPACITY);
        }
    }
}
