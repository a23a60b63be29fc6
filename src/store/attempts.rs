//! Attempts at guessing a secret a person types (`attempt_limit`): one row
//! each, reserved by one conditional statement, and their storage trait.

use super::audit::AuditEvent;
use super::StoreResult;

/// Attempts, one row each (D1 `login_failures`, whose rows are attempts not
/// proven right since migration 0011).
#[allow(async_fn_in_trait)]
pub trait AttemptLog {
    /// For each `(key, max)` in order, records one attempt under `key` at
    /// `now` unless `max` attempts are recorded under it since `since`, and
    /// stops at the first key that is full; returns how many were recorded
    /// (the earlier ones stay recorded). One write of conditional statements:
    /// concurrent callers each see the others' attempts.
    async fn reserve_attempts(&self, limits: &[(String, u32)], since: i64, now: i64) -> StoreResult<usize>;
    /// Removes one attempt recorded at `at` under each of `keys`, in one write.
    async fn release_attempts(&self, keys: &[String], at: i64) -> StoreResult<()>;
}

/// What a secret that proved right writes once its request is answered: its
/// reserved attempts released (as `release_attempts`) and its sign-in's
/// audit event. Part of the write that answers the request
/// (`ApprovalWrite::signed_in`, `DenialWrite::signed_in`), so the sign-in
/// and the answer cost one round trip, not two; written whether or not that
/// request is still pending, since the sign-in happened either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignInWrite<'a> {
    /// The keys of the attempts reserved at `at`, one released under each.
    pub release: &'a [String],
    pub at: i64,
    pub audit: &'a AuditEvent,
}
