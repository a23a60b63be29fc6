//! Test-only code shared by the native tests: the fixed configuration, the
//! network double (`net`: outbound calls answered by the test, keys to sign
//! with), a software passkey authenticator (`passkeys`), and the flow tests
//! (`flows`), which walk whole OAuth flows through
//! the endpoints over the in-memory store (`store::memory`). The storage
//! fault sweeps (`storage_faults`) are the native twin of
//! tests/e2e/storage_faults.test.mjs. Nothing here is built into the worker.

pub(crate) mod flows;
pub(crate) mod net;
pub(crate) mod passkeys;
mod storage_faults;

/// A fixed configuration for native tests.
pub(crate) fn testing_config() -> crate::config::Config {
    crate::config::Config::from_lookup(|k| match k {
        "SIGNING_KEY" => Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".into()),
        "OWNER_PASSWORD" => Some("correct horse battery".into()),
        _ => None,
    })
    .expect("test config is valid")
}
