//! The identity assertion the origin receives in `X-Gatehouse-Assertion`: a
//! short-lived JWT (RFC 7519) signed with the gateway's Ed25519 key (RFC 8037),
//! verifiable against the public `/.well-known/jwks.json`, with the origin as
//! its audience (RFC 7519 §4.1.3) so it is worthless anywhere else. It has no
//! `gid` claim, so it can never pass as a Gatehouse access token either.

use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::base::ed25519::Ed25519;
use crate::base::signing_key::SigningKey;
use crate::base::error::OAuthResult;
use crate::base::random;

/// `exp` = `iat` + this.
pub const LIFETIME_SECS: i64 = 60;
/// `typ` header of assertions (an access token's is `at+jwt`).
pub const TYP: &str = "gatehouse-assertion+jwt";
/// An assertion is reused for at most this long, so the origin always gets one
/// with at least `LIFETIME_SECS - REUSE_SECS` left.
pub const REUSE_SECS: i64 = 30;
/// Bound on cached assertions per isolate (one per active grant and scope).
const CACHE_MAX: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
}

/// Who an assertion speaks for; equal subjects get the same cached assertion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
}

pub async fn sign(crypto: &impl Ed25519, key: &SigningKey, who: &Identity<'_>, now: i64) -> OAuthResult<String> {
    let claims = AssertionClaims {
        iss: who.iss.to_string(),
        aud: who.aud.to_string(),
        sub: who.sub.to_string(),
        client_id: who.client_id.to_string(),
        scope: who.scope.to_string(),
        jti: random::id("ga_")?,
    };
    key.sign_jwt(crypto, TYP, &claims, now, LIFETIME_SECS).await
}

/// Assertions signed in the current `REUSE_SECS` window, per subject: signing
/// is cheap (~0.1 ms) but not free, and a busy session sends many requests.
#[derive(Default)]
pub struct AssertionCache {
    window: i64,
    entries: HashMap<(String, String, String, String, String), String>,
}

type Subject = (String, String, String, String, String);

fn subject(who: &Identity<'_>) -> Subject {
    (who.iss.to_string(), who.aud.to_string(), who.sub.to_string(), who.client_id.to_string(), who.scope.to_string())
}

impl AssertionCache {
    /// The assertion signed for `who` in the current window, if any.
    fn get(&mut self, who: &Identity<'_>, now: i64) -> Option<String> {
        let window = now.div_euclid(REUSE_SECS);
        if window != self.window || self.entries.len() >= CACHE_MAX {
            self.entries.clear();
            self.window = window;
        }
        self.entries.get(&subject(who)).cloned()
    }

    fn put(&mut self, who: &Identity<'_>, now: i64, assertion: String) {
        if now.div_euclid(REUSE_SECS) == self.window {
            self.entries.insert(subject(who), assertion);
        }
    }
}

/// The cached assertion for `who`, or a new one. The cache is not borrowed
/// while signing (an await): other requests of the isolate may use it meanwhile.
pub async fn get_or_sign(cache: &RefCell<AssertionCache>, crypto: &impl Ed25519, key: &SigningKey, who: &Identity<'_>, now: i64) -> OAuthResult<String> {
    if let Some(a) = cache.borrow_mut().get(who, now) {
        return Ok(a);
    }
    let a = sign(crypto, key, who, now).await?;
    cache.borrow_mut().put(who, now, a.clone());
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::access_token;
    use crate::base::encoding::b64url;
    use crate::base::resource::accepted_resources;
    use crate::base::ed25519::Native;
    use crate::store::memory::block_on;
    use jwt_compact::alg::Ed25519 as JcEd25519;
    use jwt_compact::prelude::*;

    const NOW: i64 = 1_800_000_010;

    fn key() -> SigningKey {
        SigningKey::from_seed_b64(&b64url(&[5u8; 32])).unwrap()
    }

    fn who() -> Identity<'static> {
        Identity { iss: "https://gh.example.com", aud: "https://origin.example.com", sub: "owner", client_id: "c1", scope: "mcp" }
    }

    fn payload(token: &str) -> serde_json::Value {
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&crate::base::encoding::b64url_decode(part).unwrap()).unwrap()
    }

    #[test]
    fn claims_and_signature() {
        let k = key();
        let t = block_on(sign(&Native, &k, &who(), NOW)).unwrap();
        let p = payload(&t);
        assert_eq!(p["iss"], "https://gh.example.com");
        assert_eq!(p["aud"], "https://origin.example.com");
        assert_eq!(p["sub"], "owner");
        assert_eq!(p["client_id"], "c1");
        assert_eq!(p["scope"], "mcp");
        assert_eq!(p["iat"], NOW);
        assert_eq!(p["exp"], NOW + LIFETIME_SECS);
        assert!(p["jti"].as_str().unwrap().starts_with("ga_"));
        let untrusted = UntrustedToken::new(&t).unwrap();
        assert_eq!(untrusted.header().key_id.as_deref(), Some(k.kid()));
        assert_eq!(untrusted.header().token_type.as_deref(), Some(TYP));
        let public = ed25519_compact::PublicKey::from_slice(
            &crate::base::encoding::b64url_decode(k.jwk()["x"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        assert!(JcEd25519.validator::<serde_json::Value>(&public).validate(&untrusted).is_ok());
    }

    #[test]
    fn an_assertion_is_not_an_access_token() {
        let k = key();
        let mut w = who();
        // Even with the audience set to the gateway's own resource.
        w.aud = "https://gh.example.com/mcp";
        let t = block_on(sign(&Native, &k, &w, NOW)).unwrap();
        assert!(block_on(access_token::verify(&Native, [&k], &t, NOW, "https://gh.example.com", &accepted_resources("https://gh.example.com"))).is_err());
    }

    #[test]
    fn cache_reuses_within_a_window_and_per_subject() {
        let k = key();
        let c = RefCell::new(AssertionCache::default());
        let get_or_sign = |who: &Identity<'_>, now| block_on(get_or_sign(&c, &Native, &k, who, now));
        let a = get_or_sign(&who(), NOW).unwrap();
        assert_eq!(get_or_sign(&who(), NOW + 5).unwrap(), a);
        let mut other = who();
        other.scope = "mcp read";
        assert_ne!(get_or_sign(&other, NOW + 5).unwrap(), a);
        let later = get_or_sign(&who(), NOW + REUSE_SECS).unwrap();
        assert_ne!(later, a, "a new window signs anew");
        // A reused assertion always has at least LIFETIME - REUSE seconds left.
        let p = payload(&later);
        assert!(p["exp"].as_i64().unwrap() - (NOW + REUSE_SECS + REUSE_SECS - 1) >= LIFETIME_SECS - REUSE_SECS);
    }
}
