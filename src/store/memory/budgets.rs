//! `BudgetCounter` in memory.

use crate::store::budgets::BudgetCounter;
use crate::store::StoreResult;

use super::MemoryStore;

impl BudgetCounter for MemoryStore {
    async fn count_spend(&self, kind: &str, source: &str, window: i64) -> StoreResult<u32> {
        self.check()?;
        let mut m = self.spends.borrow_mut();
        let n = m.entry((kind.to_string(), source.to_string(), window)).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}
