//! `PasskeyStore` in memory, and the passkeys' part of the memory store.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::base::types::TokenHash;
use crate::store::passkeys::{Passkey, PasskeyStore, Purpose, MAX_PASSKEYS};
use crate::store::StoreResult;

use super::MemoryStore;

#[derive(Default)]
pub struct MemoryPasskeys {
    pub challenges: RefCell<HashMap<String, (Purpose, TokenHash, i64)>>,
    pub passkeys: RefCell<Vec<Passkey>>,
    pub spent: RefCell<Vec<String>>,
}

impl PasskeyStore for MemoryPasskeys {
    async fn create_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, expires_at: i64) -> StoreResult<()> {
        self.challenges.borrow_mut().insert(challenge.as_str().into(), (purpose, browser.clone(), expires_at));
        Ok(())
    }
    async fn consume_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, now: i64) -> StoreResult<bool> {
        let mut m = self.challenges.borrow_mut();
        let ok = m.get(challenge.as_str()).is_some_and(|(p, b, exp)| *p == purpose && b == browser && *exp > now);
        if ok {
            m.remove(challenge.as_str());
        }
        Ok(ok)
    }
    async fn passkeys(&self) -> StoreResult<Vec<Passkey>> {
        Ok(self.passkeys.borrow().clone())
    }
    async fn passkey(&self, id: &str) -> StoreResult<Option<Passkey>> {
        Ok(self.passkeys.borrow().iter().find(|p| p.id == id).cloned())
    }
    async fn add_passkey(&self, p: &Passkey) -> StoreResult<bool> {
        let mut all = self.passkeys.borrow_mut();
        if all.iter().any(|q| q.id == p.id) || all.len() >= MAX_PASSKEYS {
            return Ok(false);
        }
        all.push(p.clone());
        Ok(true)
    }
    async fn use_passkey(&self, id: &str, old: u32, new: u32, now: i64) -> StoreResult<bool> {
        match self.passkeys.borrow_mut().iter_mut().find(|p| p.id == id && p.sign_count == old) {
            Some(p) => {
                p.sign_count = new;
                p.last_used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn remove_passkey(&self, id: &str) -> StoreResult<bool> {
        let mut all = self.passkeys.borrow_mut();
        let before = all.len();
        all.retain(|p| p.id != id);
        Ok(all.len() < before)
    }
    async fn setup_code_spent(&self, code: &TokenHash) -> StoreResult<bool> {
        Ok(self.spent.borrow().iter().any(|c| c == code.as_str()))
    }
    async fn spend_setup_code(&self, code: &TokenHash, _now: i64) -> StoreResult<bool> {
        if self.spent.borrow().iter().any(|c| c == code.as_str()) {
            return Ok(false);
        }
        self.spent.borrow_mut().push(code.as_str().into());
        Ok(true)
    }
}

/// The memory store used by the endpoint tests keeps its passkeys here.
impl PasskeyStore for MemoryStore {
    async fn create_challenge(&self, c: &TokenHash, p: Purpose, b: &TokenHash, e: i64) -> StoreResult<()> {
        self.check()?;
        self.passkeys.create_challenge(c, p, b, e).await
    }
    async fn consume_challenge(&self, c: &TokenHash, p: Purpose, b: &TokenHash, now: i64) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.consume_challenge(c, p, b, now).await
    }
    async fn passkeys(&self) -> StoreResult<Vec<Passkey>> {
        self.check()?;
        self.passkeys.passkeys().await
    }
    async fn passkey(&self, id: &str) -> StoreResult<Option<Passkey>> {
        self.check()?;
        self.passkeys.passkey(id).await
    }
    async fn add_passkey(&self, p: &Passkey) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.add_passkey(p).await
    }
    async fn use_passkey(&self, id: &str, old: u32, new: u32, now: i64) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.use_passkey(id, old, new, now).await
    }
    async fn remove_passkey(&self, id: &str) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.remove_passkey(id).await
    }
    async fn setup_code_spent(&self, code: &TokenHash) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.setup_code_spent(code).await
    }
    async fn spend_setup_code(&self, code: &TokenHash, now: i64) -> StoreResult<bool> {
        self.check()?;
        self.passkeys.spend_setup_code(code, now).await
    }
}
