//! What a `/token` request read ahead (`read_ahead.rs`), held by the
//! request's `D1Store` until each entry is read once.

use crate::base::types::{ClientId, GrantId, TokenHash};
use crate::store::clients::ClientRecord;
use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};

/// What was read ahead, by key; each entry answers one read.
#[derive(Default)]
pub(super) struct Ahead {
    pub(super) client: Option<(ClientId, Option<ClientRecord>)>,
    pub(super) code: Option<(TokenHash, Option<CodeRecord>)>,
    pub(super) refresh: Option<(TokenHash, Option<RefreshRecord>)>,
    pub(super) grant: Option<(GrantId, Option<GrantRecord>)>,
}

/// The entry if it is for `key`, taken; otherwise None, and the entry stays.
fn take<K: PartialEq, V>(slot: &mut Option<(K, V)>, key: &K) -> Option<V> {
    if slot.as_ref().is_some_and(|(k, _)| k == key) {
        slot.take().map(|(_, v)| v)
    } else {
        None
    }
}

impl Ahead {
    pub(super) fn client(&mut self, id: &ClientId) -> Option<Option<ClientRecord>> {
        take(&mut self.client, id)
    }
    pub(super) fn code(&mut self, hash: &TokenHash) -> Option<Option<CodeRecord>> {
        take(&mut self.code, hash)
    }
    pub(super) fn refresh(&mut self, hash: &TokenHash) -> Option<Option<RefreshRecord>> {
        take(&mut self.refresh, hash)
    }
    pub(super) fn grant(&mut self, id: &GrantId) -> Option<Option<GrantRecord>> {
        take(&mut self.grant, id)
    }
}
