//! Delegated sign-ins in flight (`login::upstream_state`): the record of
//! the `state` sent to the upstream provider (RFC 6749 §10.12), single-use
//! and bound to the browser that started it, and its storage trait.

use crate::base::types::TokenHash;

use super::StoreResult;

/// One delegated login, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamState {
    pub state_hash: TokenHash,
    pub cookie_hash: TokenHash,
    /// `Upstream::as_str` of the provider the browser was sent to.
    pub provider: String,
    /// The MCP client's pending `/authorize` request, consented to already.
    pub pending_id: String,
    /// OpenID Connect `nonce` (Core §3.1.2.1): public, it travels in the URL.
    pub nonce: String,
    /// "Remember for N days" was ticked with the consent given before the
    /// browser left (`login::remembered_consent`); applied at the callback.
    pub remember: bool,
    pub expires_at: i64,
}

#[allow(async_fn_in_trait)]
pub trait UpstreamStates {
    async fn create_upstream_state(&self, s: &UpstreamState, now: i64) -> StoreResult<()>;
    /// Marks the unexpired, unused state started by the browser holding
    /// `cookie_hash` used, and returns it; `None` to every other caller
    /// (another browser, a replay, too late) — the claim is one conditional
    /// statement, like an authorization code's.
    async fn claim_upstream_state(&self, state_hash: &TokenHash, cookie_hash: &TokenHash, now: i64) -> StoreResult<Option<UpstreamState>>;
}
