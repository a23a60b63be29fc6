//! `GrantStore` in memory: codes and refresh tokens are claimed once.

use crate::base::types::{ClientId, GrantId, TokenHash};
use crate::store::grants::{ApprovalWrite, CodeRecord, GrantRecord, GrantStore, RefreshRecord};
use crate::store::StoreResult;

use super::MemoryStore;

impl GrantStore for MemoryStore {
    async fn create_grant(&self, g: &GrantRecord, code: &CodeRecord) -> StoreResult<()> {
        self.check()?;
        self.grants.borrow_mut().insert(g.grant_id.as_str().into(), g.clone());
        self.codes.borrow_mut().insert(code.code_hash.as_str().into(), code.clone());
        Ok(())
    }
    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        self.check()?;
        Ok(self.grants.borrow().get(id.as_str()).cloned())
    }
    async fn revoke_grant(&self, id: &GrantId, now: i64) -> StoreResult<()> {
        self.check()?;
        if let Some(g) = self.grants.borrow_mut().get_mut(id.as_str()) {
            g.revoked_at.get_or_insert(now);
        }
        Ok(())
    }
    async fn client_approved(&self, client: &ClientId) -> StoreResult<bool> {
        self.check()?;
        Ok(self.grants.borrow().values().any(|g| &g.client_id == client && g.revoked_at.is_none()))
    }
    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<CodeRecord>> {
        self.check()?;
        Ok(self.codes.borrow().get(hash.as_str()).cloned())
    }
    async fn store_approval(&self, a: &ApprovalWrite<'_>) -> StoreResult<bool> {
        self.check()?;
        // Whatever became of the request: the sign-in happened.
        if let Some(w) = &a.signed_in {
            self.store_sign_in(w);
        }
        if let Some((id, now)) = a.pending {
            let mut m = self.pending.borrow_mut();
            if !m.get(id).is_some_and(|p| p.expires_at > now) {
                return Ok(false);
            }
            m.remove(id);
        }
        self.grants.borrow_mut().insert(a.grant.grant_id.as_str().into(), a.grant.clone());
        self.codes.borrow_mut().insert(a.code.code_hash.as_str().into(), a.code.clone());
        if let Some(r) = a.remember {
            self.store_remembered(r);
        }
        self.audit.borrow_mut().push(a.audit.clone());
        Ok(true)
    }
    async fn claim_code(&self, hash: &TokenHash, now: i64, first_refresh: Option<&RefreshRecord>) -> StoreResult<bool> {
        self.check()?;
        if let Some(c) = self.codes.borrow().get(hash.as_str()) {
            self.last_used.borrow_mut().insert(c.client_id.as_str().into(), now);
        }
        match self.codes.borrow_mut().get_mut(hash.as_str()) {
            Some(c) if c.used_at.is_none() && c.expires_at > now => {
                c.used_at = Some(now);
                if let Some(r) = first_refresh {
                    self.refresh.borrow_mut().entry(r.token_hash.as_str().into()).or_insert_with(|| r.clone());
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn create_refresh(&self, r: &RefreshRecord) -> StoreResult<()> {
        self.check()?;
        self.refresh.borrow_mut().entry(r.token_hash.as_str().into()).or_insert_with(|| r.clone());
        Ok(())
    }
    async fn refresh(&self, hash: &TokenHash) -> StoreResult<Option<RefreshRecord>> {
        self.check()?;
        Ok(self.refresh.borrow().get(hash.as_str()).cloned())
    }
    async fn rotate_refresh(&self, hash: &TokenHash, successor: &RefreshRecord, now: i64) -> StoreResult<bool> {
        self.check()?;
        self.last_used.borrow_mut().insert(successor.client_id.as_str().into(), now);
        self.last_refresh.borrow_mut().insert(successor.grant_id.as_str().into(), now);
        let mut tokens = self.refresh.borrow_mut();
        match tokens.get_mut(hash.as_str()) {
            Some(r) if r.used_at.is_none() => {
                r.used_at = Some(now);
                r.successor_hash = Some(successor.token_hash.clone());
                tokens.entry(successor.token_hash.as_str().into()).or_insert_with(|| successor.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn record_token_use(&self, client: &ClientId, refreshed: Option<&GrantId>, now: i64) -> StoreResult<()> {
        self.check()?;
        self.last_used.borrow_mut().insert(client.as_str().into(), now);
        if let Some(g) = refreshed {
            self.last_refresh.borrow_mut().insert(g.as_str().into(), now);
        }
        Ok(())
    }
}
