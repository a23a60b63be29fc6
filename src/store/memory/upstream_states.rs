//! `UpstreamStates` in memory: a state is claimed once, by its browser.

use crate::base::types::TokenHash;
use crate::store::upstream_states::{UpstreamState, UpstreamStates};
use crate::store::StoreResult;

use super::MemoryStore;

impl UpstreamStates for MemoryStore {
    async fn create_upstream_state(&self, s: &UpstreamState, _now: i64) -> StoreResult<()> {
        self.check()?;
        self.upstream.borrow_mut().insert(s.state_hash.as_str().into(), (s.clone(), false));
        Ok(())
    }

    async fn claim_upstream_state(&self, state_hash: &TokenHash, cookie_hash: &TokenHash, now: i64) -> StoreResult<Option<UpstreamState>> {
        self.check()?;
        let mut all = self.upstream.borrow_mut();
        match all.get_mut(state_hash.as_str()) {
            Some((s, used)) if !*used && &s.cookie_hash == cookie_hash && s.expires_at > now => {
                *used = true;
                Ok(Some(s.clone()))
            }
            _ => Ok(None),
        }
    }
}
