//! Reading ahead: what a `/token` request reads (its client, its code or
//! refresh token, that token's grant) in one storage round trip instead of
//! three. At the edge each D1 round trip can cost tens of milliseconds when
//! the database is far away (issue 14 counts them per endpoint).

use super::StoreResult;
use crate::base::types::{ClientId, TokenHash};

/// The token a `/token` request presents, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRead {
    Code(TokenHash),
    Refresh(TokenHash),
}

#[allow(async_fn_in_trait)]
pub trait ReadAhead {
    /// Reads `client` (a registered id, when the request names one) and
    /// `token` with its grant. The next read of each of them by key
    /// (`ClientStore::client`, `GrantStore::code`, `refresh`, `grant`) is
    /// answered from what was read, once, and only until the store writes
    /// anything: a second read, or a read after a write, goes to storage. A
    /// store without round trips keeps this default, which reads nothing.
    async fn read_ahead(&self, _client: Option<&ClientId>, _token: &TokenRead) -> StoreResult<()> {
        Ok(())
    }
}
