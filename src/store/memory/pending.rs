//! `PendingRequests` in memory.

use crate::store::pending::{DenialWrite, PendingAuthorization, PendingRequests};
use crate::store::budgets::BudgetSpend;
use crate::store::StoreResult;

use super::MemoryStore;

impl PendingRequests for MemoryStore {
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        self.check()?;
        self.pending.borrow_mut().insert(p.id.clone(), p.clone());
        Ok(())
    }
    async fn create_pending_counted(&self, p: &PendingAuthorization, spend: &BudgetSpend<'_>) -> StoreResult<bool> {
        // One call, so a failure injected here counts nothing (as D1's one batch).
        self.check()?;
        let mut spends = self.spends.borrow_mut();
        let n = spends.entry((spend.kind.to_string(), spend.source.to_string(), spend.window)).or_insert(0);
        *n += 1;
        if *n > spend.cap {
            return Ok(false);
        }
        self.pending.borrow_mut().insert(p.id.clone(), p.clone());
        Ok(true)
    }
    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>> {
        self.check()?;
        Ok(self.pending.borrow().get(id).filter(|p| p.expires_at > now).cloned())
    }
    async fn store_denial(&self, d: &DenialWrite<'_>) -> StoreResult<bool> {
        self.check()?;
        if let Some(w) = &d.signed_in {
            self.store_sign_in(w);
        }
        let (id, now) = d.pending;
        let mut m = self.pending.borrow_mut();
        let live = m.get(id).is_some_and(|p| p.expires_at > now);
        if live {
            m.remove(id);
            self.audit.borrow_mut().push(d.audit.clone());
        }
        Ok(live)
    }
}
