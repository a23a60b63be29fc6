//! The network and the crypto for native tests of the login methods: canned
//! answers by (method, URL), every request sent kept for assertions, and a
//! signature verifier built on Rust crates (the worker uses WebCrypto).
//! `TestKey` makes real key pairs of each accepted algorithm.

use crate::base::ed25519::{Ed25519, Native, PublicKey, Seed};
use std::cell::RefCell;
use std::collections::HashMap;

use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde_json::Value;
use sha2::Sha256;

use crate::base::outbound::{Method, Outbound, OutboundError, OutboundRequest, OutboundResponse};
use crate::base::encoding::{b64url, b64url_decode};
use crate::base::signature::{Alg, PublicJwk, SignatureVerifier};

#[derive(Default)]
pub struct TestNet {
    pub web: RefCell<HashMap<(Method, String), OutboundResponse>>,
    pub sent: RefCell<Vec<OutboundRequest>>,
}

impl TestNet {
    /// From now on, `method url` answers `status` with this JSON body.
    pub fn respond(&self, method: Method, url: &str, status: u16, body: &Value) {
        let resp = OutboundResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        };
        self.web.borrow_mut().insert((method, url.to_string()), resp);
    }

    /// How many requests went to `url`.
    pub fn count(&self, url: &str) -> usize {
        self.sent.borrow().iter().filter(|r| r.url == url).count()
    }
}

impl Outbound for TestNet {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let key = (req.method, req.url.clone());
        self.sent.borrow_mut().push(req);
        self.web.borrow().get(&key).cloned().ok_or_else(|| OutboundError::Network("no canned answer".into()))
    }
}

impl SignatureVerifier for TestNet {
    async fn verify(&self, alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> bool {
        if !key.suits(alg) {
            return false;
        }
        let field = |v: &Option<String>| v.as_deref().and_then(b64url_decode);
        let rsa_key = || {
            let (Some(n), Some(e)) = (field(&key.n), field(&key.e)) else { return None };
            rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e)).ok()
        };
        match alg {
            Alg::Rs256 => {
                let Some(public) = rsa_key() else { return false };
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else { return false };
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public).verify(message, &sig).is_ok()
            }
            Alg::Ps256 => {
                let Some(public) = rsa_key() else { return false };
                let Ok(sig) = rsa::pss::Signature::try_from(signature) else { return false };
                rsa::pss::VerifyingKey::<Sha256>::new(public).verify(message, &sig).is_ok()
            }
            Alg::Es256 => {
                let (Some(x), Some(y)) = (field(&key.x), field(&key.y)) else { return false };
                if x.len() != 32 || y.len() != 32 {
                    return false;
                }
                let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
                let Ok(vk) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else { return false };
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else { return false };
                vk.verify(message, &sig).is_ok()
            }
            Alg::EdDsa => {
                let Some(x) = field(&key.x).and_then(|x| <[u8; 32]>::try_from(x).ok()) else { return false };
                Native::verify_now(&x, message, signature)
            }
        }
    }
}

/// Gatehouse's own keys, natively (the worker has WebCrypto).
impl Ed25519 for TestNet {
    async fn ed25519_sign(&self, seed: &Seed, message: &[u8]) -> Option<[u8; 64]> {
        Native.ed25519_sign(seed, message).await
    }
    async fn ed25519_verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        Native.ed25519_verify(public, message, signature).await
    }
}

/// A real key pair of one accepted algorithm, named by `kid`.
pub enum TestKey {
    Rsa { kid: String, key: Box<rsa::RsaPrivateKey> },
    /// The same kind of key, signing RSASSA-PSS (PS256).
    RsaPss { kid: String, key: Box<rsa::RsaPrivateKey> },
    Ec { kid: String, key: p256::ecdsa::SigningKey },
    Ed { kid: String, key: ed25519_compact::KeyPair },
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("test randomness");
    b
}

impl TestKey {
    pub fn rs256(kid: &str) -> Self {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key generation");
        TestKey::Rsa { kid: kid.into(), key: Box::new(key) }
    }

    pub fn ps256(kid: &str) -> Self {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key generation");
        TestKey::RsaPss { kid: kid.into(), key: Box::new(key) }
    }

    pub fn es256(kid: &str) -> Self {
        let key = p256::ecdsa::SigningKey::from_slice(&random32()).expect("P-256 key");
        TestKey::Ec { kid: kid.into(), key }
    }

    pub fn eddsa(kid: &str) -> Self {
        let key = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(random32()));
        TestKey::Ed { kid: kid.into(), key }
    }

    pub fn alg(&self) -> Alg {
        match self {
            TestKey::Rsa { .. } => Alg::Rs256,
            TestKey::RsaPss { .. } => Alg::Ps256,
            TestKey::Ec { .. } => Alg::Es256,
            TestKey::Ed { .. } => Alg::EdDsa,
        }
    }

    pub fn kid(&self) -> &str {
        match self {
            TestKey::Rsa { kid, .. } | TestKey::RsaPss { kid, .. } | TestKey::Ec { kid, .. } | TestKey::Ed { kid, .. } => kid,
        }
    }

    pub fn public_jwk(&self) -> PublicJwk {
        let mut jwk = PublicJwk { kty: String::new(), kid: Some(self.kid().into()), alg: Some(self.alg().name().into()), crv: None, n: None, e: None, x: None, y: None, use_: Some("sig".into()) };
        match self {
            TestKey::Rsa { key, .. } | TestKey::RsaPss { key, .. } => {
                use rsa::traits::PublicKeyParts;
                jwk.kty = "RSA".into();
                jwk.n = Some(b64url(&key.n().to_bytes_be()));
                jwk.e = Some(b64url(&key.e().to_bytes_be()));
            }
            TestKey::Ec { key, .. } => {
                let point = key.verifying_key().to_encoded_point(false);
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = point.x().map(|x| b64url(x));
                jwk.y = point.y().map(|y| b64url(y));
            }
            TestKey::Ed { key, .. } => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(b64url(key.pk.as_ref()));
            }
        }
        jwk
    }

    /// A signature in JWS form.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Rsa { key, .. } => rsa::pkcs1v15::SigningKey::<Sha256>::new((**key).clone()).sign(message).to_vec(),
            TestKey::RsaPss { key, .. } => {
                use rsa::signature::RandomizedSigner;
                rsa::pss::SigningKey::<Sha256>::new((**key).clone()).sign_with_rng(&mut rand_core::OsRng, message).to_vec()
            }
            TestKey::Ec { key, .. } => {
                let sig: p256::ecdsa::Signature = key.sign(message);
                sig.to_bytes().to_vec()
            }
            TestKey::Ed { key, .. } => key.sk.sign(message, None).to_vec(),
        }
    }

    /// An ES256 signature in DER, as WebAuthn authenticators make it.
    pub fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Ec { key, .. } => {
                let sig: p256::ecdsa::Signature = key.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            _ => self.sign(message),
        }
    }

    /// A compact JWS of `claims` with `alg` and `kid` in the header.
    pub fn sign_jws(&self, claims: &Value) -> String {
        self.sign_jws_with_header(&serde_json::json!({"alg": self.alg().name(), "kid": self.kid(), "typ": "JWT"}), claims)
    }

    /// A compact JWS with this exact header, signed by this key whatever the header says.
    pub fn sign_jws_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64url(&sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::signature::ecdsa_der_to_raw;
    use crate::store::memory::block_on;

    #[test]
    fn der_signatures_verify_after_conversion() {
        let net = TestNet::default();
        let key = TestKey::es256("k");
        let der = key.sign_der(b"msg");
        let raw = ecdsa_der_to_raw(&der).unwrap();
        assert!(block_on(net.verify(Alg::Es256, &key.public_jwk(), b"msg", &raw)));
        assert!(!block_on(net.verify(Alg::Es256, &key.public_jwk(), b"other", &raw)));
    }

    #[test]
    fn canned_answers_and_records() {
        let net = TestNet::default();
        net.respond(Method::Get, "https://idp/x", 200, &serde_json::json!({"a": 1}));
        let r = block_on(net.send(OutboundRequest::get("https://idp/x"))).unwrap();
        assert_eq!(r.json::<Value>().unwrap()["a"], 1);
        assert!(block_on(net.send(OutboundRequest::get("https://idp/y"))).is_err());
        assert_eq!(net.count("https://idp/x"), 1);
    }
}
