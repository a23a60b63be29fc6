//! The protocol core. Each module maps to one concept and names its RFC.

// Moved to their layer (issue 13); these keep the old paths working for the
// code not yet moved. Layer code names the new paths (tests/layering.rs).
pub use crate::base::types;
pub use crate::base::random;
pub use crate::base::error;
pub use crate::base::http;
pub use crate::base::form;
pub use crate::base::pkce;
pub use crate::base::scope;
pub use crate::base::resource;
pub use crate::base::redirect_uri;
pub use crate::base::signature;
pub use crate::base::jws;
pub use crate::base::outbound;
pub use crate::base::security_headers;
pub use crate::base::normal_form;
pub use crate::base::key_set_cache;
pub use crate::base::source;
pub use crate::config;
pub use crate::store::audit;
pub use crate::operate::admin;
pub use crate::operate::maintenance;
pub use crate::operate::request_log;
pub use crate::protocol::access_token;
pub use crate::protocol::discovery as metadata;
pub use crate::protocol::token_lifetime;


#[cfg(test)]
pub(crate) mod flow_tests;
#[cfg(test)]
mod storage_fault_tests;
#[cfg(test)]
pub(crate) use crate::store::memory as testing;
#[cfg(test)]
pub(crate) mod testing_net;

/// A fixed configuration for native tests.
#[cfg(test)]
pub(crate) fn testing_config() -> config::Config {
    config::Config::from_lookup(|k| match k {
        "SIGNING_KEY" => Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".into()),
        "OWNER_PASSWORD" => Some("correct horse battery".into()),
        _ => None,
    })
    .expect("test config is valid")
}
