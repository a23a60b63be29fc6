//! `ConsentMemory` in memory.

use crate::base::types::{ClientId, Subject};
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::StoreResult;

use super::MemoryStore;

/// Same rules as D1: the record goes when a grant of the pair is revoked
/// at or after it was stored (D1's trigger deletes it then).
impl ConsentMemory for MemoryStore {
    async fn remembered_consent(&self, subject: &Subject, client: &ClientId, now: i64) -> StoreResult<Option<RememberedConsent>> {
        self.check()?;
        let key = (subject.as_str().to_string(), client.as_str().to_string());
        let Some(r) = self.remembered.borrow().get(&key).cloned() else { return Ok(None) };
        let revoked_since = self.grants.borrow().values().any(|g| {
            g.subject == r.subject && g.client_id == r.client_id && g.revoked_at.is_some_and(|at| at >= r.created_at)
        });
        Ok((r.expires_at > now && !revoked_since).then_some(r))
    }

    async fn remember_consent(&self, r: &RememberedConsent) -> StoreResult<()> {
        self.check()?;
        self.store_remembered(r);
        Ok(())
    }
}

impl MemoryStore {
    /// Also part of `store_approval`'s one write.
    pub(super) fn store_remembered(&self, r: &RememberedConsent) {
        let key = (r.subject.as_str().to_string(), r.client_id.as_str().to_string());
        self.remembered.borrow_mut().insert(key, r.clone());
    }
}
