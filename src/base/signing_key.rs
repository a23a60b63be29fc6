//! Gatehouse's own Ed25519 signing keys (RFC 8037 `EdDSA`): built from the
//! `SIGNING_KEY` secrets, published as a JWK Set (RFC 7517 §5), identified by
//! `kid` (RFC 7515 §4.1.4), and the source of derived HMAC keys. Access tokens
//! (protocol) and gateway assertions are JWTs signed here (RFC 7515 §7.1
//! compact form); cookies, CSRF tokens and MCP session ids use derived keys.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

use super::ed25519::{Ed25519, PublicKey, Seed};
use super::encoding::{b64url, b64url_decode};
use super::error::{OAuthError, OAuthResult};

/// Clock skew tolerated when checking `exp`/`nbf`/`iat`.
pub const LEEWAY_SECS: i64 = 30;

/// The gateway's Ed25519 signing key, built from the `SIGNING_KEY` secret (a
/// base64url 32-byte seed). `Debug` shows only the key id.
pub struct SigningKey {
    seed: Seed,
    public: PublicKey,
    kid: String,
}

/// The seed a `SIGNING_KEY` secret holds, checked for form.
pub fn parse_seed(encoded: &str) -> Result<Seed, &'static str> {
    let raw = b64url_decode(encoded.trim_end_matches('=')).ok_or("is not base64url")?;
    let seed: Seed = raw.try_into().map_err(|_| "must decode to exactly 32 bytes")?;
    // Any 32 bytes are a valid Ed25519 seed (RFC 8032 §5.1.5); all zeros is
    // a placeholder someone forgot to replace.
    if seed == [0; 32] {
        return Err("must not be all zeros");
    }
    Ok(seed)
}

impl SigningKey {
    /// `public` is `seed`'s public key, computed by the `Ed25519` back end
    /// (asynchronously in the worker, hence not here).
    pub fn new(seed: Seed, public: PublicKey) -> Self {
        // RFC 7638-style thumbprint of the public key, shortened: stable across
        // restarts, changes when the key changes.
        let kid = b64url(&Sha256::digest(public)[..12]);
        SigningKey { seed, public, kid }
    }

    /// [`parse_seed`], with the public key computed natively.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_seed_b64(encoded: &str) -> Result<Self, &'static str> {
        let seed = parse_seed(encoded)?;
        let public = super::ed25519::Native::public_key(&seed).ok_or("is not an Ed25519 seed")?;
        Ok(SigningKey::new(seed, public))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> &PublicKey {
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

    /// A JWT of `claims` with `iat` = `now` and `exp` = `now + ttl_secs`,
    /// signed with this key (EdDSA) and naming it by `kid`; `typ` keeps one
    /// kind of token from passing for another (RFC 8725 §3.11).
    pub async fn sign_jwt<T: Serialize>(&self, crypto: &impl Ed25519, typ: &str, claims: &T, now: i64, ttl_secs: i64) -> OAuthResult<String> {
        let failed = || OAuthError::server_error("could not sign a token");
        let mut body = serde_json::to_string(claims).map_err(|_| failed())?;
        // A struct's fields, then the two times: `{…}` becomes `{…,"iat":…,"exp":…}`.
        if !(body.len() > 2 && body.ends_with('}')) {
            return Err(failed());
        }
        body.pop();
        body.push_str(&format!(",\"iat\":{now},\"exp\":{}}}", now + ttl_secs));
        // The kid is base64url and `typ` one of our constants: nothing to escape.
        let header = format!("{{\"alg\":\"EdDSA\",\"kid\":\"{}\",\"typ\":\"{typ}\"}}", self.kid);
        let mut token = format!("{}.{}", b64url(header.as_bytes()), b64url(body.as_bytes()));
        let signature = crypto.ed25519_sign(&self.seed, token.as_bytes()).await.ok_or_else(failed)?;
        token.push('.');
        token.push_str(&b64url(&signature));
        Ok(token)
    }

    /// RFC 7517 §4 public JWK (RFC 8037 §2 `OKP`).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(&self.public),
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
