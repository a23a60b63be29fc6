//! `PendingRequests` in memory.

use crate::store::pending::{PendingAuthorization, PendingRequests};
use crate::store::StoreResult;

use super::MemoryStore;

impl PendingRequests for MemoryStore {
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        self.check()?;
        self.pending.borrow_mut().insert(p.id.clone(), p.clone());
        Ok(())
    }
    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>> {
        self.check()?;
        Ok(self.pending.borrow().get(id).filter(|p| p.expires_at > now).cloned())
    }
    async fn consume_pending(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.check()?;
        let mut m = self.pending.borrow_mut();
        let live = m.get(id).is_some_and(|p| p.expires_at > now);
        if live {
            m.remove(id);
        }
        Ok(live)
    }
}
