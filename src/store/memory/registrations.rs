//! `RegistrationCounter` in memory.

use crate::store::clients::ClientRecord;
use crate::store::registrations::RegistrationCounter;
use crate::store::StoreResult;

use super::MemoryStore;

impl RegistrationCounter for MemoryStore {
    async fn register_counted(&self, client: &ClientRecord, source: &str, window: i64, cap: u32) -> StoreResult<bool> {
        // One check for the pair, as D1 runs them as one batch.
        self.check()?;
        let mut m = self.registrations.borrow_mut();
        let n = m.entry((source.to_string(), window)).or_insert(0);
        *n += 1;
        if *n > cap {
            return Ok(false);
        }
        self.clients.borrow_mut().insert(client.client_id.as_str().into(), client.clone());
        Ok(true)
    }
}
