//! OAuth: one file per endpoint or RFC concept, with no sign-in and no pages
//! for people. Imports `base`, `config` and `store`.

pub mod access_token;
pub mod authorization_response;
pub mod discovery;
pub mod token_lifetime;
