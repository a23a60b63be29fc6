//! `RegistrationCounter` in memory.

use crate::store::audit::AuditEvent;
use crate::store::clients::ClientRecord;
use crate::store::registrations::RegistrationCounter;
use crate::store::StoreResult;

use super::MemoryStore;

impl RegistrationCounter for MemoryStore {
    async fn register_counted(&self, client: &ClientRecord, event: &AuditEvent, source: &str, window: i64, cap: u32) -> StoreResult<bool> {
        // One check for the pair, as D1 runs them as one batch.
        self.check()?;
        let mut m = self.registrations.borrow_mut();
        let n = m.entry((source.to_string(), window)).or_insert(0);
        if *n + 1 > cap {
            *n += 1;
            return Ok(false);
        }
        // A failed insert counts nothing: the pair is one transaction.
        super::clients::insert_new(self, client)?;
        *n += 1;
        self.audit.borrow_mut().push(event.clone());
        Ok(true)
    }
}
