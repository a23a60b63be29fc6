//! Gatehouse's own Ed25519 signing keys (RFC 8037 `EdDSA`): built from the
//! `SIGNING_KEY` secrets, published as a JWK Set (RFC 7517 §5), identified by
//! `kid` (RFC 7515 §4.1.4), and the source of derived HMAC keys. Access tokens
//! (protocol), cookies, CSRF tokens and MCP session ids all sign with them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_compact::{KeyPair, PublicKey, SecretKey, Seed};
use jwt_compact::alg::Ed25519;
use jwt_compact::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

use super::encoding::{b64url, b64url_decode};
use super::error::{OAuthError, OAuthResult};

/// Clock skew tolerated when checking `exp`/`nbf`/`iat`.
pub const LEEWAY_SECS: i64 = 30;

/// The gateway's Ed25519 signing key, built from the `SIGNING_KEY` secret (a
/// base64url 32-byte seed). `Debug` shows only the key id.
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
    kid: String,
    seed: [u8; 32],
}

impl SigningKey {
    pub fn from_seed_b64(encoded: &str) -> Result<Self, &'static str> {
        let raw = b64url_decode(encoded.trim_end_matches('=')).ok_or("is not base64url")?;
        let seed: [u8; 32] = raw.try_into().map_err(|_| "must decode to exactly 32 bytes")?;
        let pair = KeyPair::try_from_seed(Seed::new(seed)).map_err(|_| "must not be all zeros")?;
        // RFC 7638-style thumbprint of the public key, shortened: stable across
        // restarts, changes when the key changes.
        let kid = b64url(&Sha256::digest(pair.pk.as_ref())[..12]);
        Ok(SigningKey { secret: pair.sk, public: pair.pk, kid, seed })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// For signing access tokens (`protocol`'s RFC 9068 profile) with their own header.
    pub(crate) fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// A key for HMACs (cookies, CSRF) derived from the seed with a label, so
    /// one secret serves both without reusing key material across algorithms.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"gatehouse derive v1\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(self.seed);
        h.finalize().into()
    }

    /// Signs other claims with this key and kid (EdDSA), valid `ttl_secs` from
    /// `now`; `typ` keeps one kind of token from passing for another (RFC 8725 §3.11).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: T, now: i64, ttl_secs: i64) -> OAuthResult<String> {
        let claims = Claims::new(claims).set_duration_and_issuance(&time_options(now), Duration::seconds(ttl_secs));
        let header = Header::empty().with_key_id(self.kid.clone()).with_token_type(typ);
        Ed25519.token(&header, &claims, &self.secret).map_err(|_| OAuthError::server_error("could not sign a token"))
    }

    /// RFC 7517 §4 public JWK (RFC 8037 §2 `OKP`).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public.as_ref()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// RFC 7517 §5 JWK Set: every key a token may still be signed with.
pub fn jwk_set<'k>(keys: impl IntoIterator<Item = &'k SigningKey>) -> serde_json::Value {
    serde_json::json!({ "keys": keys.into_iter().map(SigningKey::jwk).collect::<Vec<_>>() })
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid={}, secret=[redacted])", self.kid)
    }
}

/// The clock a JWT's times are checked and set against: `now`, with `LEEWAY_SECS`.
pub fn time_options(now: i64) -> TimeOptions<impl Fn() -> DateTime<Utc>> {
    let at = Utc.timestamp_opt(now, 0).single().unwrap_or_default();
    TimeOptions::new(Duration::seconds(LEEWAY_SECS), move || at)
}
