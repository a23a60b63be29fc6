//! Every setting, parsed once from the worker's variables: one file per area.
//! Imports only `base` (the layering test in tests/layering.rs checks it).

pub mod vars;
pub mod github;
pub mod oidc;
pub mod cloudflare_access;
pub mod registration;
pub mod token_lifetimes;
pub mod forwarding;
pub mod tool_policy;
