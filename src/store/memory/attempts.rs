//! `AttemptLog` in memory.

use crate::store::attempts::AttemptLog;
use crate::store::StoreResult;

use super::MemoryStore;

impl AttemptLog for MemoryStore {
    async fn reserve_attempt(&self, key: &str, since: i64, max: u32, now: i64) -> StoreResult<bool> {
        self.check()?;
        let mut f = self.failures.borrow_mut();
        let recorded = f.iter().filter(|(k, t)| k == key && *t >= since).count() as u32;
        if recorded >= max {
            return Ok(false);
        }
        f.push((key.into(), now));
        Ok(true)
    }

    async fn release_attempt(&self, key: &str, at: i64) -> StoreResult<()> {
        self.check()?;
        let mut f = self.failures.borrow_mut();
        if let Some(i) = f.iter().position(|(k, t)| k == key && *t == at) {
            f.remove(i);
        }
        Ok(())
    }
}
