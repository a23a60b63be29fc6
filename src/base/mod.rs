//! The bottom layer: value types and their parse rules, encodings, crypto,
//! HTTP values and the page frame. Imports nothing else of the crate.

pub mod ed25519;
pub mod encoding;
pub mod error;
pub mod form;
pub mod http;
pub mod jws;
pub mod key_set_cache;
pub mod login_method;
pub mod mac;
pub mod normal_form;
pub mod outbound;
pub mod page;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod resource;
pub mod scope;
pub mod security_headers;
pub mod signature;
pub mod signing_key;
pub mod source;
pub mod types;
