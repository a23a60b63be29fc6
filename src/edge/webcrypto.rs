//! Signature verification with the runtime's WebCrypto (`crypto.subtle`), so
//! the worker carries no RSA or P-256 code of its own. Ed25519 uses the
//! `ed25519-compact` crate the worker already has for its own tokens.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

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
        let pk = key.x.as_deref().and_then(b64url_decode).and_then(|x| ed25519_compact::PublicKey::from_slice(&x).ok());
        let sig = ed25519_compact::Signature::from_slice(signature).ok();
        return matches!((pk, sig), (Some(pk), Some(sig)) if pk.verify(message, &sig).is_ok());
    }
    subtle_verify(alg, key, message, signature).await.unwrap_or(false)
}

async fn subtle_verify(alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> Result<bool, JsValue> {
    let (import, check) = match alg {
        Alg::Rs256 => (json!({"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}), json!({"name": "RSASSA-PKCS1-v1_5"})),
        // RFC 7518 §3.5: the salt is as long as the hash.
        Alg::Ps256 => (json!({"name": "RSA-PSS", "hash": "SHA-256"}), json!({"name": "RSA-PSS", "saltLength": 32})),
        Alg::Es256 => (json!({"name": "ECDSA", "namedCurve": "P-256"}), json!({"name": "ECDSA", "hash": "SHA-256"})),
        Alg::EdDsa => return Ok(false),
    };
    let jwk = match alg {
        Alg::Es256 => json!({"kty": "EC", "crv": "P-256", "x": key.x, "y": key.y}),
        _ => json!({"kty": "RSA", "n": key.n, "e": key.e}),
    };
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle"))?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let imported = call(&subtle, "importKey", &[JsValue::from_str("jwk"), js(jwk)?, js(import)?, JsValue::FALSE, usages.into()]).await?;
    let ok = call(&subtle, "verify", &[js(check)?, imported, Uint8Array::from(signature).into(), Uint8Array::from(message).into()]).await?;
    Ok(ok.as_bool() == Some(true))
}
