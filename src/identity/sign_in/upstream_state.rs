//! A delegated login in flight: the `state` sent to the upstream provider
//! (RFC 6749 §10.12, RFC 9700 §4.7.1) and what the callback needs to finish.
//! MCP security best practices ("confused deputy"): the state is single-use,
//! expires in about 10 minutes, and is bound to the browser that started it
//! by a `__Host-` cookie whose hash the record holds, so a callback carrying
//! a state started in another browser is refused.
//!
//! Nothing secret is stored: the state and the cookie only as hashes, and the
//! upstream PKCE verifier (RFC 7636) is derived from both at the callback
//! rather than kept (`pkce_verifier`).

use sha2::{Digest, Sha256};

use crate::base::encoding::b64url;
use crate::identity::browser_session;
use crate::base::types::Secret;

/// The cookie holding this browser's proof that it started the login.
pub const STATE_COOKIE: &str = "__Host-gatehouse-upstream";
/// How long a person may take at the provider.
pub const STATE_TTL: i64 = 10 * 60;

#[cfg(test)]
use crate::store::upstream_states::{UpstreamState, UpstreamStates};


/// The upstream PKCE verifier of one login: 43 base64url characters, only
/// computable with both the state (in the callback URL) and the browser's
/// state cookie (never sent upstream).
pub fn pkce_verifier(state: &Secret, cookie: &Secret) -> Secret {
    let mut h = Sha256::new();
    h.update(b"gatehouse upstream pkce\0");
    h.update(state.expose().as_bytes());
    h.update([0]);
    h.update(cookie.expose().as_bytes());
    Secret::new(b64url(&h.finalize()))
}

/// RFC 7636 §4.2 S256.
pub fn pkce_challenge(verifier: &Secret) -> String {
    b64url(&Sha256::digest(verifier.expose().as_bytes()))
}

pub fn set_state_cookie(cookie: &Secret) -> String {
    browser_session::set_cookie(STATE_COOKIE, cookie.expose(), STATE_TTL)
}

/// Spent at the callback, whatever the outcome.
pub fn clear_state_cookie() -> String {
    browser_session::set_cookie(STATE_COOKIE, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::types::TokenHash;
    use crate::store::memory::{block_on, MemoryStore};

    fn record(cookie: &Secret) -> UpstreamState {
        UpstreamState {
            state_hash: TokenHash::of("state"),
            cookie_hash: cookie.hash(),
            provider: "oidc".into(),
            pending_id: "req1".into(),
            nonce: "n".into(),
            remember: false,
            expires_at: 1000 + STATE_TTL,
        }
    }

    #[test]
    fn a_state_is_claimed_once_by_its_own_browser_before_it_expires() {
        let store = MemoryStore::default();
        let mine = Secret::new("cookie-mine");
        block_on(store.create_upstream_state(&record(&mine), 1000)).unwrap();
        let other = Secret::new("cookie-other").hash();
        assert_eq!(block_on(store.claim_upstream_state(&TokenHash::of("state"), &other, 1001)).unwrap(), None, "another browser");
        let late = 1000 + STATE_TTL;
        assert_eq!(block_on(store.claim_upstream_state(&TokenHash::of("state"), &mine.hash(), late)).unwrap(), None, "expired");
        assert!(block_on(store.claim_upstream_state(&TokenHash::of("state"), &mine.hash(), 1001)).unwrap().is_some());
        assert_eq!(block_on(store.claim_upstream_state(&TokenHash::of("state"), &mine.hash(), 1002)).unwrap(), None, "replay");
    }

    #[test]
    fn the_verifier_needs_both_state_and_cookie() {
        let (s, c) = (Secret::new("s"), Secret::new("c"));
        let v = pkce_verifier(&s, &c);
        assert_eq!(v.expose().len(), 43);
        assert_ne!(v.expose(), pkce_verifier(&s, &Secret::new("c2")).expose());
        assert_ne!(v.expose(), pkce_verifier(&Secret::new("s2"), &c).expose());
        assert_eq!(pkce_challenge(&v).len(), 43);
        assert!(crate::base::pkce::CodeChallenge::from_stored(pkce_challenge(&v)).verify(v.expose()).is_ok());
    }

    #[test]
    fn the_state_cookie_is_host_prefixed_and_cleared() {
        assert!(set_state_cookie(&Secret::new("v")).starts_with("__Host-gatehouse-upstream=v;"));
        assert!(clear_state_cookie().contains("Max-Age=0"));
    }
}
