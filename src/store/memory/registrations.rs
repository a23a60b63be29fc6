//! `RegistrationCounter` in memory.

use crate::store::registrations::RegistrationCounter;
use crate::store::StoreResult;

use super::MemoryStore;

impl RegistrationCounter for MemoryStore {
    async fn count_registration(&self, source: &str, window: i64) -> StoreResult<u32> {
        let mut m = self.registrations.borrow_mut();
        let n = m.entry((source.to_string(), window)).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}
