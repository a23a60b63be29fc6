//! Session revocations (`oauth::session::SessionRevocations`) on D1, table
//! `session_revocations` (migration 0011): one row per signed-out session, and
//! the row `*` for the last "sign out everywhere".

use super::ahead::take;
use super::{n, s, Count, D1Store};
use crate::identity::browser_session::SESSION_TTL;
use crate::store::session_revocations::SessionRevocations;
use crate::store::StoreResult;
use crate::base::types::TokenHash;

/// The row of "sign out everywhere"; session ids are base64url, never this.
pub(super) const EVERYONE: &str = "*";

/// Whether session ?1, issued at ?3, was signed out, alone or by "sign out everywhere" (?2).
pub(super) const SESSION_REVOKED: &str =
    "SELECT EXISTS (SELECT 1 FROM session_revocations WHERE session = ?1 OR (session = ?2 AND revoked_at >= ?3)) AS n";

impl SessionRevocations for D1Store {
    async fn session_revoked(&self, id: &TokenHash, issued_at: i64) -> StoreResult<bool> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().session, &(id.clone(), issued_at)) {
            return Ok(read);
        }
        let row = self.first::<Count>(SESSION_REVOKED, &[s(id.as_str()), s(EVERYONE), n(issued_at)]).await?;
        Ok(row.is_some_and(|r| r.n != 0))
    }

    async fn revoke_session(&self, id: &TokenHash, now: i64, expires_at: i64) -> StoreResult<()> {
        self.exec(
            "INSERT INTO session_revocations (session, revoked_at, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (session) DO NOTHING",
            &[s(id.as_str()), n(now), n(expires_at)],
        )
        .await
        .map(|_| ())
    }

    async fn revoke_all_sessions(&self, now: i64) -> StoreResult<()> {
        // Kept until every cookie it covers has expired.
        self.exec(
            "INSERT INTO session_revocations (session, revoked_at, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (session) DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = MAX(expires_at, excluded.expires_at)",
            &[s(EVERYONE), n(now), n(now + SESSION_TTL)],
        )
        .await
        .map(|_| ())
    }
}
