//! The protocol core. Each module maps to one concept and names its RFC.

pub mod access_token;
pub mod admin;
pub mod admin_page;
pub mod attempt_limit;
pub mod audit;
pub mod authorize;
pub mod bearer_guard;
pub mod client_assertion;
pub mod client_auth;
pub mod cimd;
pub mod clients;
pub mod config;
pub mod consent;
pub mod context;
pub mod error;
pub mod form;
pub mod http;
pub mod maintenance;
pub mod introspect;
pub mod jws;
pub mod key_set_cache;
pub mod login;
pub mod metadata;
pub mod normal_form;
pub mod outbound;
pub mod pages;
pub mod pkce;
pub mod random;
pub mod request_log;
pub mod redirect_uri;
pub mod refresh_lifetime;
pub mod refresh_rotation;
pub mod register;
pub mod registration_policy;
pub mod resource;
pub mod revocation;
pub mod revoke;
pub mod scope;
pub mod security_headers;
pub mod session;
pub mod signature;
pub mod source;
pub mod source_budget;
pub mod store;
pub mod token;
pub mod token_lifetime;
pub mod types;
pub mod verified_cache;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
pub(crate) mod testing_net;
#[cfg(test)]
mod testing_admin;
#[cfg(test)]
mod admin_tests;

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
