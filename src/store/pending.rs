//! /authorize requests waiting for the owner's sign-in and consent, and the
//! storage trait they are kept behind.

use crate::base::pkce::CodeChallenge;
use crate::base::types::{ClientId, TokenHash};

use super::attempts::SignInWrite;
use super::audit::AuditEvent;
use super::budgets::BudgetSpend;
use super::StoreResult;

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

/// A pending request lives this long: enough to type a password.
pub const PENDING_TTL: i64 = 10 * 60;

/// What one denial writes (`PendingRequests::store_denial`).
#[derive(Debug, Clone, Copy)]
pub struct DenialWrite<'a> {
    /// The pending request (id, now) this denial consumes.
    pub pending: (&'a str, i64),
    /// The denial's audit event: written only if the request was consumed.
    pub audit: &'a AuditEvent,
    /// The password sign-in that came with the denial (POST /login's
    /// "Deny"): written whether or not the request was still pending.
    pub signed_in: Option<SignInWrite<'a>>,
}

/// Pending /authorize requests. Consuming one is one conditional statement
/// that reports whether this caller won.
#[allow(async_fn_in_trait)]
pub trait PendingRequests {
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()>;
    /// Counts `spend` (as `BudgetCounter::count_spend` does) and stores `p`
    /// only if the count is within the spend's cap, as one write: a failure
    /// counts and stores nothing. True when `p` was stored.
    async fn create_pending_counted(&self, p: &PendingAuthorization, spend: &BudgetSpend<'_>) -> StoreResult<bool>;
    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>>;
    /// Deletes the pending request and stores the denial's audit event with
    /// it, as one write; true only for the one caller that deleted it, and
    /// the event is stored only then. `signed_in` is stored either way. One
    /// write, so that a denial is never without its event and a storage
    /// failure leaves the request pending for the person's retry.
    async fn store_denial(&self, d: &DenialWrite<'_>) -> StoreResult<bool>;
}
