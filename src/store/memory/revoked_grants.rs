//! `RevokedGrants` in memory: read from the same grants the other traits
//! write, as D1's reader reads the `grants` table.

use crate::base::types::GrantId;
use crate::store::revoked_grants::RevokedGrants;
use crate::store::StoreResult;

use super::MemoryStore;

impl RevokedGrants for MemoryStore {
    async fn revoked_since(&self, since: i64) -> StoreResult<Vec<GrantId>> {
        self.check()?;
        Ok(self.grants.borrow().values().filter(|g| g.revoked_at.is_some_and(|at| at >= since)).map(|g| g.grant_id.clone()).collect())
    }
    async fn is_revoked(&self, id: &GrantId) -> StoreResult<bool> {
        self.check()?;
        // A grant that is gone (deleted with its client) counts as revoked.
        Ok(self.grants.borrow().get(id.as_str()).is_none_or(|g| g.revoked_at.is_some()))
    }
}
