//! `AttemptLog` in memory.

use crate::store::attempts::{AttemptLog, SignInWrite};
use crate::store::StoreResult;

use super::MemoryStore;

impl AttemptLog for MemoryStore {
    async fn reserve_attempts(&self, limits: &[(String, u32)], since: i64, now: i64) -> StoreResult<usize> {
        self.check()?;
        let mut f = self.failures.borrow_mut();
        for (i, (key, max)) in limits.iter().enumerate() {
            let recorded = f.iter().filter(|(k, t)| k == key && *t >= since).count() as u32;
            if recorded >= *max {
                return Ok(i);
            }
            f.push((key.clone(), now));
        }
        Ok(limits.len())
    }

    async fn release_attempts(&self, keys: &[String], at: i64) -> StoreResult<()> {
        self.check()?;
        let mut f = self.failures.borrow_mut();
        for key in keys {
            if let Some(i) = f.iter().position(|(k, t)| k == key && *t == at) {
                f.remove(i);
            }
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Also part of `store_approval`'s and `store_denial`'s one write.
    pub(super) fn store_sign_in(&self, w: &SignInWrite<'_>) {
        let mut f = self.failures.borrow_mut();
        for key in w.release {
            if let Some(i) = f.iter().position(|(k, t)| k == key && *t == w.at) {
                f.remove(i);
            }
        }
        self.audit.borrow_mut().push(w.audit.clone());
    }
}
