//! The configuration as this isolate holds it: read from `env` once (the
//! signing keys' public halves through WebCrypto), then kept for the
//! isolate's life. Deriving the Ed25519 key on every MCP request would be
//! wasted work on the hot path; changing a secret or variable deploys a new
//! version, hence a new isolate. Errors are not kept, so a fixed setting is
//! picked up at once.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::config::Config;

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The configuration if this isolate has read it (`hot` answers only then).
pub fn cached_config() -> Option<Rc<Config>> {
    CONFIG.with(|c| c.borrow().clone())
}

/// The configuration, read on the isolate's first request that needs it.
pub async fn load_config(env: &Env) -> Result<Rc<Config>, crate::config::vars::ConfigError> {
    if let Some(c) = cached_config() {
        return Ok(c);
    }
    // Secrets and plain vars are both string properties of `env`. Read directly rather than
    // through `Env::secret`/`Env::var` (the same read for both, plus a class-name check and
    // error texts this never shows): a binding that is not a string is unset either way.
    let get = |name: &str| js_sys::Reflect::get(env, &wasm_bindgen::JsValue::from_str(name)).ok().and_then(|v| v.as_string());
    // The signing keys' public halves come from WebCrypto, which only answers
    // asynchronously: computed first, then looked up while the rest is read.
    // A malformed secret has no seed here; reading the configuration reports it.
    let mut publics = Vec::new();
    if let Ok((current, previous)) = crate::config::signing_keys::seeds(&get) {
        for seed in std::iter::once(current).chain(previous) {
            if let Some(public) = super::webcrypto::ed25519_public(&seed).await {
                publics.push((seed, public));
            }
        }
    }
    let public_of = |seed: &crate::base::ed25519::Seed| publics.iter().find(|(s, _)| s == seed).map(|(_, p)| *p);
    let config = Rc::new(Config::from_lookup_with(get, &public_of)?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

