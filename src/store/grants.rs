//! Grants, their authorization codes and refresh tokens, and the storage
//! trait they are kept behind. Every state change that races (redeeming a
//! code, rotating a refresh token) is one conditional statement that reports
//! whether this caller won. Secrets are stored only as SHA-256 hashes.

use crate::base::pkce::CodeChallenge;
use crate::base::types::{ClientId, GrantId, Subject, TokenHash};

use super::attempts::SignInWrite;
use super::audit::AuditEvent;
use super::consents::RememberedConsent;
use super::StoreResult;

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

/// What one approval writes (`GrantStore::store_approval`).
#[derive(Debug, Clone, Copy)]
pub struct ApprovalWrite<'a> {
    pub grant: &'a GrantRecord,
    pub code: &'a CodeRecord,
    /// The pending request (id, now) this approval consumes: if it is no
    /// longer pending, nothing is written. None for a remembered approval,
    /// whose request was never stored.
    pub pending: Option<(&'a str, i64)>,
    /// "Remember", stored with the grant (replacing any earlier one of the pair).
    pub remember: Option<&'a RememberedConsent>,
    /// The approval's audit event, stored with the grant.
    pub audit: &'a AuditEvent,
    /// The password sign-in that came with the approval (POST /login's
    /// "Allow and sign in"): stored in the same write, whether or not the
    /// request was still pending.
    pub signed_in: Option<SignInWrite<'a>>,
}

/// Grants, codes and refresh tokens.
#[allow(async_fn_in_trait)]
pub trait GrantStore {
    /// Stores a new grant and its first authorization code together.
    async fn create_grant(&self, g: &GrantRecord, code: &CodeRecord) -> StoreResult<()>;
    /// Stores what an approval writes as one transaction: true only for the
    /// one caller whose request was still pending (`ApprovalWrite::pending`);
    /// nothing but `ApprovalWrite::signed_in` is written otherwise. One write, so that a storage failure
    /// leaves the request pending and the person's retry of the same page
    /// works, and a grant is never without its audit event.
    async fn store_approval(&self, a: &ApprovalWrite<'_>) -> StoreResult<bool>;
    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>>;
    async fn revoke_grant(&self, id: &GrantId, now: i64) -> StoreResult<()>;
    /// Whether `client` has a grant that is not revoked: the owner approved
    /// it and still trusts it (RFC 9700 §4.11.2, `authorize`).
    async fn client_approved(&self, client: &ClientId) -> StoreResult<bool>;

    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<CodeRecord>>;
    /// Marks an unused, unexpired code used and stores the grant's first
    /// refresh token (if any) with it, as one transaction; true only for the
    /// one caller that did, and nothing is written for the others. One write,
    /// so that a storage failure leaves the code redeemable: a claim followed
    /// by a failed second write would make the client's retry look like code
    /// reuse, which revokes the grant. The same write notes the code's
    /// client's use of tokens (as `record_token_use`), won or not.
    async fn claim_code(&self, hash: &TokenHash, now: i64, first_refresh: Option<&RefreshRecord>) -> StoreResult<bool>;

    /// Stores a refresh token; a second store of the same hash (a retried
    /// rotation storing the same successor) keeps the first and succeeds.
    async fn create_refresh(&self, r: &RefreshRecord) -> StoreResult<()>;
    async fn refresh(&self, hash: &TokenHash) -> StoreResult<Option<RefreshRecord>>;
    /// Rotates a refresh token: marks `hash` used with `successor` as its
    /// successor and, only if that marked it, stores `successor` (kept if
    /// already there); also notes the use (as `record_token_use`, with the
    /// successor's client and grant), won or not. One write: true only for
    /// the one caller whose claim marked the token.
    async fn rotate_refresh(&self, hash: &TokenHash, successor: &RefreshRecord, now: i64) -> StoreResult<bool>;

    /// Notes that tokens are being issued to `client` (and, for a refresh,
    /// from `refreshed`): the admin page's "last used" and "last refresh",
    /// and what the cron's stale-client cleanup goes by.
    async fn record_token_use(&self, client: &ClientId, refreshed: Option<&GrantId>, now: i64) -> StoreResult<()>;
}
