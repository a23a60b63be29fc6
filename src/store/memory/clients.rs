//! `ClientStore` in memory.

use crate::base::types::ClientId;
use crate::store::clients::{ClientRecord, ClientStore};
use crate::store::StoreResult;

use super::MemoryStore;

impl ClientStore for MemoryStore {
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()> {
        self.check()?;
        self.clients.borrow_mut().insert(c.client_id.as_str().into(), c.clone());
        Ok(())
    }
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.check()?;
        Ok(self.clients.borrow().get(id.as_str()).cloned())
    }
}
