//! The revoked grants as the MCP endpoint reads them (`revocation`'s
//! per-isolate cache refills from here), and their storage trait.

use crate::base::types::GrantId;

use super::StoreResult;

/// Where the revoked grants are read from (D1 in the worker).
#[allow(async_fn_in_trait)]
pub trait RevokedGrants {
    /// Grants revoked at or after `since` (Unix seconds).
    async fn revoked_since(&self, since: i64) -> StoreResult<Vec<GrantId>>;
    /// Whether one grant is revoked (or gone).
    async fn is_revoked(&self, id: &GrantId) -> StoreResult<bool>;
}
