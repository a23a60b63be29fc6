//! For native tests: an in-memory `PasskeyStore` and a software
//! authenticator that answers both ceremonies with a real `TestKey`
//! (ES256 signatures in DER, as authenticators make them).

use std::cell::RefCell;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::authenticator_data::{self, FLAG_UP, FLAG_UV};
use super::cbor::{self, Cbor};
use super::cose;
use super::flow::{Assertion, Registration};
use super::{Passkey, PasskeyStore, Purpose};
use crate::base::encoding::b64url;
use crate::oauth::store::StoreResult;
use crate::oauth::testing::MemoryStore;
use crate::oauth::testing_net::TestKey;
use crate::oauth::types::TokenHash;

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
        if all.iter().any(|q| q.id == p.id) || all.len() >= super::MAX_PASSKEYS {
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

/// A software authenticator holding one credential.
pub struct Authenticator {
    pub key: TestKey,
    pub credential_id: Vec<u8>,
    pub rp_id: String,
    pub origin: String,
    pub flags: u8,
    pub counter: u32,
}

impl Authenticator {
    pub fn new(key: TestKey, rp_id: &str, origin: &str) -> Self {
        let credential_id = format!("cred-{}", key.kid()).into_bytes();
        Authenticator { key, credential_id, rp_id: rp_id.into(), origin: origin.into(), flags: FLAG_UP | FLAG_UV, counter: 0 }
    }

    pub fn id(&self) -> String {
        b64url(&self.credential_id)
    }

    pub fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false}).to_string().into_bytes()
    }

    fn rp_hash(&self) -> [u8; 32] {
        Sha256::digest(self.rp_id.as_bytes()).into()
    }

    /// `navigator.credentials.create()` with attestation "none".
    pub fn create(&self, challenge: &str) -> Registration {
        let key = cose::from_jwk(&self.key.public_jwk());
        let auth_data = authenticator_data::build(self.rp_hash(), self.flags, self.counter, Some((&self.credential_id, &key)));
        let obj = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        Registration { client_data: self.client_data("webauthn.create", challenge), attestation_object: cbor::write(&obj) }
    }

    /// `navigator.credentials.get()`: the counter goes up first, as a real one's does.
    pub fn get(&mut self, challenge: &str) -> Assertion {
        self.counter += 1;
        self.get_with_counter(challenge, self.counter)
    }

    pub fn get_with_counter(&self, challenge: &str, counter: u32) -> Assertion {
        let client_data = self.client_data("webauthn.get", challenge);
        let authenticator_data = authenticator_data::build(self.rp_hash(), self.flags, counter, None);
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        Assertion { credential_id: self.id(), client_data, authenticator_data, signature: self.key.sign_der(&signed) }
    }
}
