//! `SIGNING_KEY` / `SIGNING_KEYS`, read once: the key that signs new tokens
//! and cookies, and the older ones still trusted during a rotation.

use crate::base::signing_key::SigningKey;
use super::vars::ConfigError;

/// Most keys `SIGNING_KEYS` may name: a rotation needs two; more is a
/// forgotten retirement.
const MAX_SIGNING_KEYS: usize = 4;

/// The signing keys. Without `SIGNING_KEYS`, the one secret `SIGNING_KEY`.
/// With it, `SIGNING_KEYS` lists the names of the secrets that hold the keys,
/// newest first: `npm run rotate-key` adds a secret and prepends its name, so
/// rotation never needs to read a secret back (Cloudflare cannot).
pub fn signing_keys(get: &impl Fn(&str) -> Option<String>) -> Result<(SigningKey, Vec<SigningKey>), ConfigError> {
    let err = |variable: &'static str, problem: String| ConfigError { variable, problem };
    let Some(list) = get("SIGNING_KEYS").filter(|s| !s.trim().is_empty()) else {
        let key = match get("SIGNING_KEY") {
            None => return Err(err("SIGNING_KEY", "is not set; it must be a secret holding base64url of 32 random bytes (an Ed25519 seed), e.g. `openssl rand 32 | basenc --base64url`".into())),
            Some(v) => SigningKey::from_seed_b64(v.trim()).map_err(|why| err("SIGNING_KEY", format!("{why}; it must be base64url of 32 random bytes")))?,
        };
        return Ok((key, Vec::new()));
    };
    let names: Vec<&str> = list.split_whitespace().collect();
    if names.len() > MAX_SIGNING_KEYS {
        return Err(err("SIGNING_KEYS", format!("names {} secrets; at most {MAX_SIGNING_KEYS} (retire old keys with `npm run rotate-key -- --retire`)", names.len())));
    }
    let mut keys: Vec<SigningKey> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let valid_name = name.starts_with("SIGNING_KEY") && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(err("SIGNING_KEYS", format!("must list secret names starting with SIGNING_KEY (newest first, space-separated), such as \"SIGNING_KEY_20260101_000000 SIGNING_KEY\"; entry {} is not one", i + 1)));
        }
        if names[..i].contains(name) {
            return Err(err("SIGNING_KEYS", format!("lists {name} twice")));
        }
        let key = match get(name) {
            None => return Err(err("SIGNING_KEYS", format!("names the secret {name}, which is not set; set it (`wrangler secret put {name}`) or remove it from SIGNING_KEYS"))),
            Some(v) => SigningKey::from_seed_b64(v.trim())
                .map_err(|why| err("SIGNING_KEYS", format!("names the secret {name}, which {why}; each must be base64url of 32 random bytes")))?,
        };
        keys.push(key);
    }
    let mut keys = keys.into_iter();
    match keys.next() {
        Some(current) => Ok((current, keys.collect())),
        None => Err(err("SIGNING_KEYS", "is empty".into())),
    }
}
