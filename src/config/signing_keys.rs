//! `SIGNING_KEY` / `SIGNING_KEYS`, read once: the key that signs new tokens
//! and cookies, and the older ones still trusted during a rotation.

use crate::base::ed25519::{PublicKey, Seed};
use crate::base::signing_key::{parse_seed, SigningKey};
use super::vars::ConfigError;

/// Most keys `SIGNING_KEYS` may name: a rotation needs two; more is a
/// forgotten retirement.
const MAX_SIGNING_KEYS: usize = 4;

/// The signing keys. Without `SIGNING_KEYS`, the one secret `SIGNING_KEY`.
/// With it, `SIGNING_KEYS` lists the names of the secrets that hold the keys,
/// newest first: `npm run rotate-key` adds a secret and prepends its name, so
/// rotation never needs to read a secret back (Cloudflare cannot).
///
/// `public_of` gives a seed's public key: the worker computes them with
/// WebCrypto, asynchronously, before the configuration is read (from
/// [`seeds`]), and hands them in here.
pub fn signing_keys(get: &impl Fn(&str) -> Option<String>, public_of: &dyn Fn(&Seed) -> Option<PublicKey>) -> Result<(SigningKey, Vec<SigningKey>), ConfigError> {
    let (current, previous) = seeds(get)?;
    let key = |seed: Seed| {
        let public = public_of(&seed).ok_or(ConfigError { variable: "SIGNING_KEY", problem: "could not compute a signing key's public key".into() })?;
        Ok(SigningKey::new(seed, public))
    };
    Ok((key(current)?, previous.into_iter().map(key).collect::<Result<_, _>>()?))
}

/// The seeds the secrets hold, current first, each checked for form.
pub fn seeds(get: &impl Fn(&str) -> Option<String>) -> Result<(Seed, Vec<Seed>), ConfigError> {
    let err = |variable: &'static str, problem: String| ConfigError { variable, problem };
    let Some(list) = get("SIGNING_KEYS").filter(|s| !s.trim().is_empty()) else {
        let key = match get("SIGNING_KEY") {
            None => return Err(err("SIGNING_KEY", "is not set; it must be a secret holding base64url of 32 random bytes (an Ed25519 seed), e.g. `openssl rand 32 | basenc --base64url`".into())),
            Some(v) => parse_seed(v.trim()).map_err(|why| err("SIGNING_KEY", format!("{why}; it must be base64url of 32 random bytes")))?,
        };
        return Ok((key, Vec::new()));
    };
    let names: Vec<&str> = list.split_whitespace().collect();
    if names.len() > MAX_SIGNING_KEYS {
        return Err(err("SIGNING_KEYS", format!("names {} secrets; at most {MAX_SIGNING_KEYS} (retire old keys with `npm run rotate-key -- --retire`)", names.len())));
    }
    let mut keys: Vec<Seed> = Vec::with_capacity(names.len());
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
            Some(v) => parse_seed(v.trim())
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
