//! What the protocol keeps, and the small storage trait it is kept behind.
//! Production uses D1 (`edge::d1`); tests use an in-memory implementation.
//! Secrets are stored only as SHA-256 hashes.

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::pkce::CodeChallenge;
use super::redirect_uri::RedirectUri;
use super::types::{ClientId, GrantId, Subject, TokenHash};

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
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAuthorization {
    pub id: String,
    pub client_id: ClientId,
    /// The redirect URI exactly as requested (it may carry a loopback port).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: CodeChallenge,
    pub scope: String,
    pub resource: String,
    /// Hash of the browser cookie that started it: consent from another
    /// browser is refused.
    pub browser: TokenHash,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub code_challenge: CodeChallenge,
    pub scope: String,
    pub resource: String,
    pub grant_id: GrantId,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub subject: Subject,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    pub token_hash: TokenHash,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Hash of the one token this one was rotated into (`refresh_rotation`).
    pub successor_hash: Option<TokenHash>,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage the protocol needs. Every state change that races (redeeming a
/// code, rotating a refresh token, consuming a consent) is one conditional
/// statement that reports whether this caller won. Client metadata documents
/// (fetch and cache) come with it: see `cimd::ClientDocuments`.
#[allow(async_fn_in_trait)]
pub trait Store:
    super::cimd::ClientDocuments
    + super::audit::AuditLog
    + super::login::upstream_state::UpstreamStates
    + super::login::remembered_consent::ConsentMemory
    + super::client_assertion::ClientAssertionStore
    + super::attempt_limit::AttemptLog
    + super::source_budget::BudgetCounter
    + super::session::SessionRevocations
{
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>>;

    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()>;
    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>>;
    /// Deletes the pending request; true only for the one caller that did.
    async fn consume_pending(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Stores a new grant and its first authorization code together.
    async fn create_grant(&self, g: &GrantRecord, code: &CodeRecord) -> StoreResult<()>;
    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>>;
    async fn revoke_grant(&self, id: &GrantId, now: i64) -> StoreResult<()>;
    /// Whether `client` has a grant that is not revoked: the owner approved
    /// it and still trusts it (RFC 9700 §4.11.2, `authorize`).
    async fn client_approved(&self, client: &ClientId) -> StoreResult<bool>;

    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<CodeRecord>>;
    /// Marks an unused, unexpired code used; true only for the one caller that did.
    async fn claim_code(&self, hash: &TokenHash, now: i64) -> StoreResult<bool>;

    /// Stores a refresh token; a second store of the same hash (a retried
    /// rotation storing the same successor) keeps the first and succeeds.
    async fn create_refresh(&self, r: &RefreshRecord) -> StoreResult<()>;
    async fn refresh(&self, hash: &TokenHash) -> StoreResult<Option<RefreshRecord>>;
    /// Marks an unused refresh token used, recording the hash of its
    /// successor; true only for the one caller that did.
    async fn claim_refresh(&self, hash: &TokenHash, successor: &TokenHash, now: i64) -> StoreResult<bool>;

    /// Notes that tokens are being issued to `client` (and, for a refresh,
    /// from `refreshed`): the admin page's "last used" and "last refresh",
    /// and what the cron's stale-client cleanup goes by.
    async fn record_token_use(&self, client: &ClientId, refreshed: Option<&GrantId>, now: i64) -> StoreResult<()>;
}
