//! Signed-out browser sessions (`session`): by id, and "sign out
//! everywhere" up to a time, and their storage trait.

use crate::base::types::TokenHash;

use super::StoreResult;

/// Server-side sign-out. Session cookies are signed, not stored, so a copy
/// would stay valid until it expires; sign-out records the session as
/// revoked, and "sign out everywhere" records a time up to which every
/// session is (D1 `session_revocations`, migration 0011). Each check is one
/// primary-key lookup, on the pages only (`/authorize`, `/consent`,
/// `/admin`, `/passkeys`); `/mcp` never reads a session.
#[allow(async_fn_in_trait)]
pub trait SessionRevocations {
    /// Whether session `id`, issued at `issued_at`, was signed out: by
    /// itself, or by a "sign out everywhere" at or after `issued_at`.
    async fn session_revoked(&self, id: &TokenHash, issued_at: i64) -> StoreResult<bool>;
    /// Records session `id` as signed out until `expires_at`, when its cookie expires anyway.
    async fn revoke_session(&self, id: &TokenHash, now: i64, expires_at: i64) -> StoreResult<()>;
    /// Records every session issued at or before `now` as signed out.
    async fn revoke_all_sessions(&self, now: i64) -> StoreResult<()>;
}
