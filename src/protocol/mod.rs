//! OAuth: one file per endpoint or RFC concept, with no sign-in and no pages
//! for people. Imports `base`, `config` and `store`.

pub mod access_token;
pub mod authorization_response;
pub mod discovery;
pub mod token_lifetime;
pub mod context;
pub mod store;
pub mod client_metadata;
pub mod register;
pub mod registration_policy;
pub mod clients;
pub mod client_auth;
pub mod client_assertion;
pub mod cimd;
pub mod token;
pub mod refresh_lifetime;
pub mod refresh_rotation;
pub mod introspect;
pub mod revoke;
pub mod source_budget;
pub mod attempt_limit;
