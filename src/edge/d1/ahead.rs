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

/// The entry if it is for `key`, taken; otherwise None, and the entry stays.
pub(super) fn take<K: PartialEq, V>(slot: &mut Option<(K, V)>, key: &K) -> Option<V> {
    if slot.as_ref().is_some_and(|(k, _)| k == key) {
        slot.take().map(|(_, v)| v)
    } else {
        None
    }
}
