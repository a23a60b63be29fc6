//! Remembered consent (`login::remembered_consent`): one approval per
//! (subject, client), forgotten when a grant of the pair is revoked, and its
//! storage trait.

use crate::base::types::{ClientId, Subject};

use super::StoreResult;

/// One remembered approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedConsent {
    pub subject: Subject,
    pub client_id: ClientId,
    /// The scope approved, space-separated.
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Where remembered approvals are kept (D1: `edge::d1_consent`).
#[allow(async_fn_in_trait)]
pub trait ConsentMemory {
    /// The unexpired approval of `subject` for `client`, unless a grant of
    /// that pair was revoked since it was stored.
    async fn remembered_consent(&self, subject: &Subject, client: &ClientId, now: i64) -> StoreResult<Option<RememberedConsent>>;
    /// Stores it, replacing any earlier one for the same pair.
    async fn remember_consent(&self, r: &RememberedConsent) -> StoreResult<()>;
}
