//! An in-memory `Store` and a tiny executor, for native tests of the
//! endpoints. Same semantics as the D1 store: conditional claims.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::error::StoreError;
use super::store::*;
use super::types::{ClientId, GrantId, TokenHash};

/// Runs a future whose awaits never pend (the memory store's).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    pub clients: RefCell<HashMap<String, ClientRecord>>,
    pub pending: RefCell<HashMap<String, PendingAuthorization>>,
    pub grants: RefCell<HashMap<String, GrantRecord>>,
    pub codes: RefCell<HashMap<String, CodeRecord>>,
    pub refresh: RefCell<HashMap<String, RefreshRecord>>,
    pub failures: RefCell<Vec<(String, i64)>>,
    /// Registrations per (source, window start).
    pub registrations: RefCell<HashMap<(String, i64), u32>>,
    /// Budget spends per (kind, source, window start) (`source_budget`).
    pub spends: RefCell<HashMap<(String, String, i64), u32>>,
    /// Revoked sessions by id, and the last "sign out everywhere" (`session`).
    pub sessions: super::session::testing::MemorySessions,
    /// Clients' `last_used_at`.
    pub last_used: RefCell<HashMap<String, i64>>,
    pub audit: RefCell<Vec<super::audit::AuditEvent>>,
    pub last_refresh: RefCell<HashMap<String, i64>>,
    pub fail: RefCell<bool>,
    /// Remembered consents by (subject, client) (`login::remembered_consent`).
    pub remembered: RefCell<HashMap<(String, String), super::login::remembered_consent::RememberedConsent>>,
    /// Metadata documents "on the web" and their cache (`cimd::canned`).
    pub documents: super::cimd::canned::CannedDocuments,
    /// Delegated logins in flight (`login::upstream_state`), and whether claimed.
    pub upstream: RefCell<HashMap<String, (super::login::upstream_state::UpstreamState, bool)>>,
    /// Passkeys, their challenges and spent setup codes (`login::passkey::testing`).
    pub passkeys: super::login::passkey::testing::MemoryPasskeys,
    /// Spent client assertion ids and key sets "on the web" (`client_assertion::memory`).
    pub assertions: super::client_assertion::memory::MemoryAssertions,
}

impl MemoryStore {
    pub(crate) fn check(&self) -> StoreResult<()> {
        if *self.fail.borrow() {
            Err(StoreError("injected failure".into()))
        } else {
            Ok(())
        }
    }
}

impl Store for MemoryStore {
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()> {
        self.check()?;
        self.clients.borrow_mut().insert(c.client_id.as_str().into(), c.clone());
        Ok(())
    }
    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        self.check()?;
        Ok(self.clients.borrow().get(id.as_str()).cloned())
    }
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        self.check()?;
        self.pending.borrow_mut().insert(p.id.clone(), p.clone());
        Ok(())
    }
    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>> {
        self.check()?;
        Ok(self.pending.borrow().get(id).filter(|p| p.expires_at > now).cloned())
    }
    async fn consume_pending(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.check()?;
        let mut m = self.pending.borrow_mut();
        let live = m.get(id).is_some_and(|p| p.expires_at > now);
        if live {
            m.remove(id);
        }
        Ok(live)
    }
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
    async fn claim_code(&self, hash: &TokenHash, now: i64) -> StoreResult<bool> {
        self.check()?;
        match self.codes.borrow_mut().get_mut(hash.as_str()) {
            Some(c) if c.used_at.is_none() && c.expires_at > now => {
                c.used_at = Some(now);
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
    async fn claim_refresh(&self, hash: &TokenHash, successor: &TokenHash, now: i64) -> StoreResult<bool> {
        self.check()?;
        match self.refresh.borrow_mut().get_mut(hash.as_str()) {
            Some(r) if r.used_at.is_none() => {
                r.used_at = Some(now);
                r.successor_hash = Some(successor.clone());
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
