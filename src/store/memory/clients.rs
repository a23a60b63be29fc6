//! `ClientStore` in memory.

use crate::base::types::ClientId;
use crate::store::clients::{ClientRecord, ClientStore};
use crate::store::StoreResult;

use super::MemoryStore;

impl ClientStore for MemoryStore {
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()> {
        self.check()?;
        insert_new(self, c)
    }
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.check()?;
        Ok(self.clients.borrow().get(id.as_str()).cloned())
    }
}

/// Inserts a client whose id is new, as D1's primary key does.
pub(super) fn insert_new(store: &MemoryStore, c: &ClientRecord) -> StoreResult<()> {
    let mut clients = store.clients.borrow_mut();
    if clients.contains_key(c.client_id.as_str()) {
        return Err(crate::base::error::StoreError(format!("client {} exists", c.client_id.as_str())));
    }
    clients.insert(c.client_id.as_str().into(), c.clone());
    Ok(())
}
