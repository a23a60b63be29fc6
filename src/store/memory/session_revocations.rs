//! `SessionRevocations` in memory, and the sessions' part of the memory store.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::base::types::TokenHash;
use crate::identity::browser_session::SESSION_TTL;
use crate::store::session_revocations::SessionRevocations;
use crate::store::StoreResult;

use super::MemoryStore;

/// Revoked sessions by id (until when), and the last "sign out everywhere" (at, until).
#[derive(Default)]
pub struct MemorySessions {
    pub revoked: RefCell<HashMap<String, i64>>,
    pub everywhere: RefCell<Option<(i64, i64)>>,
}

impl SessionRevocations for MemoryStore {
    async fn session_revoked(&self, id: &TokenHash, issued_at: i64) -> StoreResult<bool> {
        self.check()?;
        let one = self.sessions.revoked.borrow().contains_key(id.as_str());
        let all = self.sessions.everywhere.borrow().is_some_and(|(at, _)| at >= issued_at);
        Ok(one || all)
    }
    async fn revoke_session(&self, id: &TokenHash, _now: i64, expires_at: i64) -> StoreResult<()> {
        self.check()?;
        self.sessions.revoked.borrow_mut().insert(id.as_str().into(), expires_at);
        Ok(())
    }
    async fn revoke_all_sessions(&self, now: i64) -> StoreResult<()> {
        self.check()?;
        let mut e = self.sessions.everywhere.borrow_mut();
        let at = e.map_or(now, |(at, _)| at.max(now));
        *e = Some((at, at + SESSION_TTL));
        Ok(())
    }
}
