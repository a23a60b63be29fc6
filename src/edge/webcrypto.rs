//! Signatures with the runtime's WebCrypto (`crypto.subtle`), so the worker
//! carries no RSA, P-256 or Ed25519 code of its own: verifying other parties'
//! tokens and passkeys, and Gatehouse's own Ed25519 keys (`base::ed25519`):
//! signing, verifying, and finding a seed's public key.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::base::ed25519::{PublicKey, Seed};
use crate::base::encoding::b64url_decode;
use crate::base::signature::{Alg, PublicJwk};

async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    let list = Array::new();
    for a in args {
        list.push(a);
    }
    let promise: Promise = f.apply(target, &list)?.dyn_into()?;
    JsFuture::from(promise).await
}

fn js(v: serde_json::Value) -> Result<JsValue, JsValue> {
    JSON::parse(&v.to_string())
}

pub async fn verify(alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> bool {
    if !key.suits(alg) {
        return false;
    }
    if alg == Alg::EdDsa {
        let x = key.x.as_deref().and_then(b64url_decode).and_then(|x| PublicKey::try_from(x).ok());
        return match x {
            Some(x) => ed25519_verify(&x, message, signature).await,
            None => false,
        };
    }
    subtle_verify(alg, key, message, signature).await.unwrap_or(false)
}

async fn subtle_verify(alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> Result<bool, JsValue> {
    // Constant algorithm objects as JSON text for the runtime to parse: the
    // same objects (keys in the order `json!` wrote them) without a map built
    // and serialized in wasm for each.
    let (import, check) = match alg {
        Alg::Rs256 => (r#"{"hash":"SHA-256","name":"RSASSA-PKCS1-v1_5"}"#, r#"{"name":"RSASSA-PKCS1-v1_5"}"#),
        // RFC 7518 §3.5: the salt is as long as the hash.
        Alg::Ps256 => (r#"{"hash":"SHA-256","name":"RSA-PSS"}"#, r#"{"name":"RSA-PSS","saltLength":32}"#),
        Alg::Es256 => (r#"{"name":"ECDSA","namedCurve":"P-256"}"#, r#"{"hash":"SHA-256","name":"ECDSA"}"#),
        Alg::EdDsa => return Ok(false),
    };
    let jwk = match alg {
        Alg::Es256 => json!({"kty": "EC", "crv": "P-256", "x": key.x, "y": key.y}),
        _ => json!({"kty": "RSA", "n": key.n, "e": key.e}),
    };
    let subtle = subtle()?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let imported = call(&subtle, "importKey", &[JsValue::from_str("jwk"), js(jwk)?, JSON::parse(import)?, JsValue::FALSE, usages.into()]).await?;
    let ok = call(&subtle, "verify", &[JSON::parse(check)?, imported, Uint8Array::from(signature).into(), Uint8Array::from(message).into()]).await?;
    Ok(ok.as_bool() == Some(true))
}

fn subtle() -> Result<JsValue, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Reflect::get(&crypto, &JsValue::from_str("subtle"))
}

fn ed25519() -> JsValue {
    let alg = js_sys::Object::new();
    let _ = Reflect::set(&alg, &JsValue::from_str("name"), &JsValue::from_str("Ed25519"));
    alg.into()
}

/// A seed as PKCS #8 (RFC 8410 §7): the fixed DER prefix, then the 32 bytes.
/// WebCrypto imports private Ed25519 keys only in this form or as a JWK,
/// and a JWK would need the public key we are about to ask for.
fn pkcs8(seed: &Seed) -> Uint8Array {
    const PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    Uint8Array::from(der.as_slice())
}

async fn private_key(seed: &Seed, extractable: bool) -> Result<JsValue, JsValue> {
    let usages = Array::of1(&JsValue::from_str("sign"));
    call(&subtle()?, "importKey", &[JsValue::from_str("pkcs8"), pkcs8(seed).into(), ed25519(), JsValue::from_bool(extractable), usages.into()]).await
}

/// The public key of `seed`: imported, then exported as a JWK, whose `x` it is (RFC 8037 §2).
pub async fn ed25519_public(seed: &Seed) -> Option<PublicKey> {
    let key = private_key(seed, true).await.ok()?;
    let jwk = call(&subtle().ok()?, "exportKey", &[JsValue::from_str("jwk"), key]).await.ok()?;
    let x = Reflect::get(&jwk, &JsValue::from_str("x")).ok()?.as_string()?;
    b64url_decode(&x)?.try_into().ok()
}

pub async fn ed25519_sign(seed: &Seed, message: &[u8]) -> Option<[u8; 64]> {
    let key = private_key(seed, false).await.ok()?;
    let sig = call(&subtle().ok()?, "sign", &[ed25519(), key, Uint8Array::from(message).into()]).await.ok()?;
    Uint8Array::new(&sig).to_vec().try_into().ok()
}

pub async fn ed25519_verify(public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let check = async {
        let subtle = subtle()?;
        let usages = Array::of1(&JsValue::from_str("verify"));
        let key = call(&subtle, "importKey", &[JsValue::from_str("raw"), Uint8Array::from(&public[..]).into(), ed25519(), JsValue::FALSE, usages.into()]).await?;
        call(&subtle, "verify", &[ed25519(), key, Uint8Array::from(signature).into(), Uint8Array::from(message).into()]).await
    };
    matches!(check.await, Ok(ok) if ok.as_bool() == Some(true))
}

