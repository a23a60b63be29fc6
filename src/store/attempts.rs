//! Attempts at guessing a secret a person types (`attempt_limit`): one row
//! each, reserved by one conditional statement, and their storage trait.

use super::StoreResult;

/// Attempts, one row each (D1 `login_failures`, whose rows are attempts not
/// proven right since migration 0011).
#[allow(async_fn_in_trait)]
pub trait AttemptLog {
    /// Records one attempt under `key` at `now` unless `max` attempts are
    /// recorded under it since `since`; true when recorded. One conditional
    /// statement: concurrent callers each see the others' attempts.
    async fn reserve_attempt(&self, key: &str, since: i64, max: u32, now: i64) -> StoreResult<bool>;
    /// Removes one attempt recorded under `key` at `at`.
    async fn release_attempt(&self, key: &str, at: i64) -> StoreResult<()>;
}
