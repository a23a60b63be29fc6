//! Reading ahead: what a request will read, by key, in one storage round
//! trip instead of one each. At the edge each D1 round trip can cost tens of
//! milliseconds when the database is far away (issue 14 counts them per
//! endpoint): `/token` reads its client, token and grant this way, the
//! browser pages their pending request, its client, the session's
//! revocation and a remembered consent.

use super::StoreResult;
use crate::base::types::{ClientId, Subject, TokenHash};

/// The token a `/token` request presents, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRead {
    Code(TokenHash),
    Refresh(TokenHash),
}

/// What a request is about to read; each field names the read it stands for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reads<'a> {
    /// `ClientStore::client(id)`.
    pub client: Option<&'a ClientId>,
    /// `GrantStore::code` or `refresh` of the hash, then `grant` of that token.
    pub token: Option<&'a TokenRead>,
    /// `PendingRequests::pending(id, now)`, then `ClientStore::client` of
    /// the client it names (when `client` is not given).
    pub pending: Option<(&'a str, i64)>,
    /// `SessionRevocations::session_revoked(session, issued_at)`.
    pub session: Option<(&'a TokenHash, i64)>,
    /// `ConsentMemory::remembered_consent(subject, client, now)`.
    pub consent: Option<(&'a Subject, &'a ClientId, i64)>,
}

impl Reads<'_> {
    pub fn is_empty(&self) -> bool {
        self.client.is_none() && self.token.is_none() && self.pending.is_none() && self.session.is_none() && self.consent.is_none()
    }
}

#[allow(async_fn_in_trait)]
pub trait ReadAhead {
    /// Reads everything `reads` names. The next read of each by the same
    /// key is answered from what was read, once, and only until the store
    /// writes anything: a second read, or a read after a write, goes to
    /// storage. A store without round trips keeps this default, which reads
    /// nothing.
    async fn read_ahead(&self, _reads: &Reads<'_>) -> StoreResult<()> {
        Ok(())
    }
}
