//! What a request read ahead (`read_ahead.rs`), held by the request's
//! `D1Store` until each entry is read once.

use crate::base::types::{ClientId, GrantId, Subject, TokenHash};
use crate::store::clients::ClientRecord;
use crate::store::consents::RememberedConsent;
use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};
use crate::store::pending::PendingAuthorization;

/// What was read ahead, by the key of the read it answers; each entry answers one read.
#[derive(Default)]
pub(super) struct Ahead {
    pub(super) client: Option<(ClientId, Option<ClientRecord>)>,
    pub(super) code: Option<(TokenHash, Option<CodeRecord>)>,
    pub(super) refresh: Option<(TokenHash, Option<RefreshRecord>)>,
    pub(super) grant: Option<(GrantId, Option<GrantRecord>)>,
    pub(super) pending: Option<((String, i64), Option<PendingAuthorization>)>,
    pub(super) session: Option<((TokenHash, i64), bool)>,
    pub(super) consent: Option<((Subject, ClientId, i64), Option<RememberedConsent>)>,
}

/// An attempt reservation made with the reads (`ReserveAhead`): its
/// arguments and how many it recorded. Not ended by writes, unlike `Ahead`:
/// it is a write already made, which answers the one `reserve_attempts`
/// call that asks for it (asked again, it would reserve twice).
pub(super) struct ReservedAhead {
    pub(super) limits: Vec<(String, u32)>,
    pub(super) since: i64,
    pub(super) now: i64,
    pub(super) recorded: usize,
}

/// The entry if it is for `key`, taken; otherwise None, and the entry stays.
pub(super) fn take<K: PartialEq, V>(slot: &mut Option<(K, V)>, key: &K) -> Option<V> {
    if slot.as_ref().is_some_and(|(k, _)| k == key) {
        slot.take().map(|(_, v)| v)
    } else {
        None
    }
}
