//! What one isolate remembers between MCP requests, as one value: the
//! tokens it has verified, its view of revoked grants, the identity
//! assertions it signed, and the session-id key of the current signing key.
//! The edge keeps one per isolate; a native test makes its own.

use std::cell::RefCell;
use std::rc::Rc;

use super::assertion::AssertionCache;
use super::mcp_session::McpSessionKey;
use super::revoked_grants::RevocationCache;
use super::verified_tokens::VerifiedTokens;
use crate::base::signing_key::SigningKey;

pub struct GatewayState {
    pub verified: RefCell<VerifiedTokens>,
    pub revoked: RefCell<RevocationCache>,
    pub assertions: RefCell<AssertionCache>,
    /// Derived once per signing key (by `kid`), not per request.
    session_key: RefCell<Option<(String, Rc<McpSessionKey>)>>,
}

impl Default for GatewayState {
    fn default() -> Self {
        GatewayState {
            verified: RefCell::new(VerifiedTokens::new()),
            revoked: RefCell::new(RevocationCache::new()),
            assertions: RefCell::default(),
            session_key: RefCell::new(None),
        }
    }
}

impl GatewayState {
    pub fn session_key(&self, signing: &SigningKey) -> Rc<McpSessionKey> {
        let mut k = self.session_key.borrow_mut();
        match &*k {
            Some((kid, key)) if kid == signing.kid() => key.clone(),
            _ => {
                let key = Rc::new(McpSessionKey::new(signing));
                *k = Some((signing.kid().to_string(), key.clone()));
                key
            }
        }
    }
}
