//! Registered clients (RFC 7591) and the storage trait they are kept behind.
//! Production uses D1 (`edge::d1`); tests use `store::memory`. Secrets are
//! stored only as SHA-256 hashes.

use serde::{Deserialize, Serialize};

use crate::base::redirect_uri::RedirectUri;
use crate::base::types::{ClientId, TokenHash};

use super::StoreResult;

/// RFC 7591 §2 `token_endpoint_auth_method`. `PrivateKeyJwt` (RFC 7523 §2.2)
/// only for metadata-document clients (`cimd::auth_methods`), never registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    None,
    ClientSecretPost,
    ClientSecretBasic,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub client_id: ClientId,
    pub secret_hash: Option<TokenHash>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    /// The registered metadata as returned to the client (RFC 7591 §3.2.1).
    pub metadata: serde_json::Value,
    pub created_at: i64,
}

/// An /authorize request waiting for the owner's login and consent.
/// Registered clients.
#[allow(async_fn_in_trait)]
pub trait ClientStore {
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>>;
}
