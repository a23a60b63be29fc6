//! Verifying signatures made by other parties: identity providers' ID tokens
//! (OpenID Connect Core §10.1), Cloudflare Access assertions, and passkeys
//! (WebAuthn L2 §6.5.6), and clients' `private_key_jwt` assertions (RFC 7523
//! §2.2). Keys arrive as JWKs (RFC 7517); the algorithms are RS256, PS256,
//! ES256 (RFC 7518 §3.3–3.5) and EdDSA (RFC 8037 §3.1). `none` and the HMAC
//! family are never accepted: a party that shares no secret with us cannot use
//! them honestly (and HMAC "keyed" with a public key is the classic forgery).
//!
//! The verification itself sits behind [`SignatureVerifier`] so the wasm build
//! can use the runtime's WebCrypto (no RSA or P-256 code in the worker) while
//! native tests use Rust crates.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    /// RSASSA-PSS with SHA-256 and a 32-byte salt (RFC 7518 §3.5).
    Ps256,
    Es256,
    EdDsa,
}

impl Alg {
    /// Every algorithm we verify.
    pub const ALL: [Alg; 4] = [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa];

    pub fn from_name(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "PS256" => Some(Alg::Ps256),
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// A public JWK, only the members we use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl PublicJwk {
    /// Whether this key can check a signature made with `alg`: the key type
    /// and curve fit, its own `alg` (if any) agrees, and it is not an
    /// encryption key (RFC 7517 §4.2, §4.4).
    pub fn suits(&self, alg: Alg) -> bool {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return false;
        }
        if self.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return false;
        }
        match alg {
            Alg::Rs256 | Alg::Ps256 => self.kty == "RSA" && self.n.is_some() && self.e.is_some(),
            Alg::Es256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256") && self.x.is_some() && self.y.is_some(),
            Alg::EdDsa => self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519") && self.x.is_some(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The document is not a JWK Set.
    NotAJwkSet,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::NotAJwkSet => f.write_str("the key set is not a JSON Web Key Set"),
        }
    }
}

/// The keys of a JWK Set (RFC 7517 §5) that could verify one of our
/// algorithms. Keys of other types, encryption keys (`use` other than `sig`,
/// or `key_ops` without `verify`, §4.2–4.3) and keys carrying private members
/// are skipped rather than failing the set: providers publish mixed sets, and
/// a private key in a public document is the provider's mistake, not
/// something to use.
pub fn parse_jwk_set(body: &[u8]) -> Result<Vec<PublicJwk>, SignatureError> {
    let set: serde_json::Value = serde_json::from_slice(body).map_err(|_| SignatureError::NotAJwkSet)?;
    jwk_set_keys(&set)
}

/// [`parse_jwk_set`] of a set already parsed (a `jwks` member inline in a
/// client's metadata, RFC 7591 §2).
pub fn jwk_set_keys(set: &serde_json::Value) -> Result<Vec<PublicJwk>, SignatureError> {
    let Some(keys) = set.get("keys").and_then(serde_json::Value::as_array) else {
        return Err(SignatureError::NotAJwkSet);
    };
    let verifies = |k: &serde_json::Value| match k.get("key_ops") {
        None => true,
        Some(ops) => ops.as_array().is_some_and(|ops| ops.iter().any(|o| o == "verify")),
    };
    Ok(keys
        .iter()
        .filter(|k| !["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| k.get(m).is_some()))
        .filter(|k| verifies(k))
        .filter_map(public_jwk)
        .filter(|k| Alg::ALL.iter().any(|a| k.suits(*a)))
        .collect())
}

/// One key of a set as a [`PublicJwk`], or `None` when it is not a JSON object,
/// lacks a string `kty`, or has a member of ours that is neither a string nor
/// null. What `serde_json::from_value::<PublicJwk>` accepted for an object,
/// read by hand: its derive, instantiated for `Value`, was 4.6 KB of wasm.
/// (The derive also took a JSON array positionally, `["RSA", …]`; no JWK Set
/// holds one, and such an entry is now skipped like any other malformed key.)
fn public_jwk(k: &serde_json::Value) -> Option<PublicJwk> {
    let k = k.as_object()?;
    let member = |name: &str| match k.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    };
    Some(PublicJwk {
        kty: member("kty").ok()??,
        kid: member("kid").ok()?,
        alg: member("alg").ok()?,
        crv: member("crv").ok()?,
        n: member("n").ok()?,
        e: member("e").ok()?,
        x: member("x").ok()?,
        y: member("y").ok()?,
        use_: member("use").ok()?,
    })
}

#[allow(async_fn_in_trait)]
pub trait SignatureVerifier {
    /// `signature` in JWS form: RS256 PKCS#1 v1.5; PS256 RSASSA-PSS (SHA-256,
    /// MGF1-SHA-256, 32-byte salt); ES256 the 64-byte `r||s`
    /// (convert WebAuthn's DER first with [`ecdsa_der_to_raw`]); EdDSA 64
    /// bytes. False on any mismatch or unusable key.
    async fn verify(&self, alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> bool;
}

/// A P-256 ECDSA signature in DER (`Ecdsa-Sig-Value`, RFC 3279 §2.2.3), as
/// WebAuthn authenticators produce it, to the fixed-size `r||s` of JWS
/// (RFC 7518 §3.4). None for anything that is not exactly that structure.
pub fn ecdsa_der_to_raw(der: &[u8]) -> Option<[u8; 64]> {
    // SEQUENCE { INTEGER r, INTEGER s }, short-form lengths only (≤ 72 bytes).
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len as usize != body.len() || len > 0x7f {
        return None;
    }
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    Some(out)
}

/// One positive DER INTEGER of at most 32 significant bytes, without its
/// sign-padding zero; and what follows it.
fn der_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = len as usize;
    if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
        return None;
    }
    let (mut value, rest) = rest.split_at(len);
    if value[0] & 0x80 != 0 {
        return None; // negative: not an ECDSA component
    }
    if value.len() > 1 && value[0] == 0 {
        if value[1] & 0x80 == 0 {
            return None; // non-minimal encoding
        }
        value = &value[1..];
    }
    (value.len() <= 32).then_some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = vec![0x02, r.len() as u8];
        body.extend_from_slice(r);
        body.extend_from_slice(&[0x02, s.len() as u8]);
        body.extend_from_slice(s);
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn der_signatures_become_fixed_width() {
        let mut r = vec![0u8];
        r.extend([0x80; 32]);
        let s = vec![0x01, 0x02];
        let raw = ecdsa_der_to_raw(&der(&r, &s)).unwrap();
        assert_eq!(&raw[..32], &[0x80; 32]);
        assert_eq!(&raw[32..62], &[0u8; 30]);
        assert_eq!(&raw[62..], &[1, 2]);
    }

    #[test]
    fn malformed_der_is_refused() {
        assert_eq!(ecdsa_der_to_raw(&[]), None);
        assert_eq!(ecdsa_der_to_raw(&der(&[0x80], &[1])), None, "negative r");
        assert_eq!(ecdsa_der_to_raw(&der(&[0, 1], &[1])), None, "non-minimal r");
        assert_eq!(ecdsa_der_to_raw(&der(&[1; 33], &[1])), None, "r too long");
        let mut trailing = der(&[1], &[1]);
        trailing.push(0);
        assert_eq!(ecdsa_der_to_raw(&trailing), None, "bytes after the sequence");
    }

    #[test]
    fn keys_read_by_hand_as_serde_read_objects() {
        let cases = [
            serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k1", "alg": "RS256", "use": "sig"}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ", "extra": [1, 2], "key_ops": ["verify"]}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "eA", "kid": null, "y": null}),
            serde_json::json!({"kty": "RSA", "n": 1, "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": {"a": 1}}),
            serde_json::json!({"kty": null}),
            serde_json::json!({"kty": 7}),
            serde_json::json!({"n": "AQAB"}),
            serde_json::json!({}),
            serde_json::json!("RSA"),
            serde_json::json!(null),
        ];
        for k in cases {
            assert_eq!(public_jwk(&k), serde_json::from_value::<PublicJwk>(k.clone()).ok(), "{k}");
        }
    }

    #[test]
    fn jwk_sets_keep_only_usable_public_keys() {
        let set = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AA"},
            {"kty": "OKP", "kid": "private", "crv": "Ed25519", "x": "AA", "d": "AA"},
            {"kty": "oct", "kid": "hmac", "k": "AA"},
            {"kty": "RSA", "kid": "ops-verify", "key_ops": ["verify"], "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ops-encrypt", "key_ops": ["encrypt", "wrapKey"], "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ops-malformed", "key_ops": "verify", "n": "AQAB", "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_jwk_set(set.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        assert_eq!(kids, ["r", "e", "ed", "ops-verify"]);
        assert_eq!(jwk_set_keys(&set).unwrap(), keys, "the same rules inline");
        assert_eq!(parse_jwk_set(b"{\"keys\": 1}"), Err(SignatureError::NotAJwkSet));
    }

    #[test]
    fn a_key_suits_only_its_own_algorithm() {
        let rsa = PublicJwk { kty: "RSA".into(), kid: None, alg: Some("RS256".into()), crv: None, n: Some("n".into()), e: Some("e".into()), x: None, y: None, use_: None };
        assert!(rsa.suits(Alg::Rs256));
        assert!(!rsa.suits(Alg::Es256));
        let pinned_elsewhere = PublicJwk { alg: Some("PS256".into()), ..rsa.clone() };
        assert!(!pinned_elsewhere.suits(Alg::Rs256));
        assert!(pinned_elsewhere.suits(Alg::Ps256), "an RSA key serves PS256 when it says so");
        assert!(PublicJwk { alg: None, ..rsa.clone() }.suits(Alg::Ps256), "or says nothing");
        assert_eq!(Alg::from_name("none"), None);
        assert_eq!(Alg::from_name("HS256"), None);
    }
}
