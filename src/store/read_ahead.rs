//! Reading ahead: what a request will read, by key, in one storage round
//! trip instead of one each. At the edge each D1 round trip can cost tens of
//! milliseconds when the database is far away (issue 14 counts them per
//! endpoint): `/token` reads its client, token and grant this way, the
//! browser pages their pending request, its client, the session's
//! revocation and a remembered consent. One write goes with them: the
//! password form's attempt reservation (`ReserveAhead`), which POST /login
//! makes next whatever the reads find.

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
    /// `AttemptLog::reserve_attempts`, made with the reads (see
    /// `ReserveAhead`); only with `pending`.
    pub reserve: Option<ReserveAhead<'a>>,
}

/// An attempt reservation (`AttemptLog::reserve_attempts(limits, since,
/// now)`) made in the read-ahead's round trip, and only while the pending
/// request `Reads::pending` names is there, unexpired, for `browser`: what
/// POST /login checks before it reserves, so the write is the one it would
/// make next, and a request id someone made up, or holds no browser of,
/// stores no attempt. The caller's `reserve_attempts` with the same
/// arguments is then answered by it, once; when the condition did not hold
/// nothing was reserved and that call goes to storage.
#[derive(Debug, Clone, Copy)]
pub struct ReserveAhead<'a> {
    pub limits: &'a [(String, u32)],
    pub since: i64,
    pub now: i64,
    pub browser: &'a TokenHash,
}

impl Reads<'_> {
    pub fn is_empty(&self) -> bool {
        self.client.is_none() && self.token.is_none() && self.pending.is_none() && self.session.is_none() && self.consent.is_none()
    }
}

#[allow(async_fn_in_trait)]
pub trait ReadAhead {
    /// Reads everything `reads` names (and makes its reservation, if the
    /// condition of `ReserveAhead` holds). The next read of each by the same
    /// key is answered from what was read, once, and only until the store
    /// writes anything: a second read, or a read after a write, goes to
    /// storage. A store without round trips keeps this default, which reads
    /// nothing and reserves nothing (the caller's `reserve_attempts` does).
    async fn read_ahead(&self, _reads: &Reads<'_>) -> StoreResult<()> {
        Ok(())
    }
}
