//! Delegated logins in flight (`oauth::login::upstream_state`) on D1,
//! migration 0005. The claim is one conditional UPDATE … RETURNING: the
//! state, the browser's cookie hash, unused and unexpired must all hold, so
//! only one callback in one browser can ever finish a login.

use super::{n, s, D1Row, D1Store, FromRow};
use crate::store::upstream_states::{UpstreamState, UpstreamStates};
use crate::store::StoreResult;
use crate::base::types::TokenHash;

struct Row {
    state_hash: String,
    cookie_hash: String,
    provider: String,
    pending_id: String,
    nonce: String,
    remember: i64,
    expires_at: i64,
}

impl FromRow for Row {
    fn from_row(r: &D1Row) -> Self {
        Row {
            state_hash: r.text("state_hash"),
            cookie_hash: r.text("cookie_hash"),
            provider: r.text("provider"),
            pending_id: r.text("pending_id"),
            nonce: r.text("nonce"),
            remember: r.int("remember"),
            expires_at: r.int("expires_at"),
        }
    }
}

impl UpstreamStates for D1Store {
    async fn create_upstream_state(&self, st: &UpstreamState, now: i64) -> StoreResult<()> {
        // Logins abandoned at the provider leave rows behind; starting a new
        // one sweeps the expired ones (indexed by expires_at).
        self.exec("DELETE FROM upstream_states WHERE expires_at <= ?1", &[n(now)]).await?;
        self.exec(
            "INSERT INTO upstream_states (state_hash, cookie_hash, provider, pending_id, nonce, remember, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[s(st.state_hash.as_str()), s(st.cookie_hash.as_str()), s(&st.provider), s(&st.pending_id), s(&st.nonce), n(i64::from(st.remember)), n(st.expires_at)],
        )
        .await?;
        Ok(())
    }

    async fn claim_upstream_state(&self, state_hash: &TokenHash, cookie_hash: &TokenHash, now: i64) -> StoreResult<Option<UpstreamState>> {
        let row: Option<Row> = self
            .first(
                "UPDATE upstream_states SET used_at = ?3 WHERE state_hash = ?1 AND cookie_hash = ?2 AND used_at IS NULL AND expires_at > ?3 \
                 RETURNING state_hash, cookie_hash, provider, pending_id, nonce, remember, expires_at",
                &[s(state_hash.as_str()), s(cookie_hash.as_str()), n(now)],
            )
            .await?;
        Ok(row.map(|r| UpstreamState {
            state_hash: TokenHash::from_stored(r.state_hash),
            cookie_hash: TokenHash::from_stored(r.cookie_hash),
            provider: r.provider,
            pending_id: r.pending_id,
            nonce: r.nonce,
            remember: r.remember != 0,
            expires_at: r.expires_at,
        }))
    }
}
