//! Passkeys for the owner (W3C WebAuthn Level 2): enrolment guarded by a
//! one-time setup code, then login by passkey on the consent flow's sign-in
//! page, on `/admin` and on `/passkeys`. RP ID = the public host; user
//! verification required; ES256 and EdDSA credentials; signature counters
//! checked.
//!
//! - `cbor`, `cose`, `authenticator_data`: the binary formats (§6.1, §6.5).
//! - `ceremony`: the relying party's checks (§7.1, §7.2).
//! - `flow`: challenges (random, single-use, short-lived, bound to the browser
//!   cookie) and credentials around the ceremonies, on a `PasskeyStore`.
//! - `handlers`, `page`, `script`: the HTTP endpoints, HTML and `/passkey.js`.

pub mod authenticator_data;
pub mod cbor;
pub mod ceremony;
pub mod cose;
pub mod flow;
pub mod handlers;
pub mod page;
pub mod script;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod handler_tests;

use crate::oauth::signature::{Alg, PublicJwk};
use crate::oauth::store::StoreResult;
use crate::oauth::types::TokenHash;

/// How long a challenge may be answered (WebAuthn's own default timeout is
/// 5 minutes; a person needs well under that).
pub const CHALLENGE_TTL: i64 = 5 * 60;
/// Most passkeys one owner may enrol: a bound on a list anyone holding a
/// passkey session could otherwise grow.
pub const MAX_PASSKEYS: usize = 20;

/// What a challenge was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Login,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Login => "login",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "register" => Some(Purpose::Register),
            "login" => Some(Purpose::Login),
            _ => None,
        }
    }
}

/// An enrolled passkey of the owner.
#[derive(Clone, Debug, PartialEq)]
pub struct Passkey {
    /// The credential id, base64url.
    pub id: String,
    pub alg: Alg,
    pub public_key: PublicJwk,
    pub sign_count: u32,
    /// The owner's label for it ("laptop", "phone").
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Storage of challenges, passkeys and spent setup codes (D1: `edge::d1_passkey`).
#[allow(async_fn_in_trait)]
pub trait PasskeyStore {
    async fn create_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, expires_at: i64) -> StoreResult<()>;
    /// Deletes the challenge if it was issued for `purpose` to `browser` and
    /// has not expired; true only for the one caller that did.
    async fn consume_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, now: i64) -> StoreResult<bool>;
    /// Every passkey, oldest first.
    async fn passkeys(&self) -> StoreResult<Vec<Passkey>>;
    async fn passkey(&self, id: &str) -> StoreResult<Option<Passkey>>;
    /// False if a passkey with this id exists already, or `MAX_PASSKEYS` do
    /// (checked in the one statement that adds it).
    async fn add_passkey(&self, p: &Passkey) -> StoreResult<bool>;
    /// Stores the new counter if the stored one is still `old`: of two uses
    /// racing with the same counter (a cloned authenticator), one wins.
    async fn use_passkey(&self, id: &str, old: u32, new: u32, now: i64) -> StoreResult<bool>;
    async fn remove_passkey(&self, id: &str) -> StoreResult<bool>;
    async fn setup_code_spent(&self, code: &TokenHash) -> StoreResult<bool>;
    /// Marks the setup code spent; true only for the first caller.
    async fn spend_setup_code(&self, code: &TokenHash, now: i64) -> StoreResult<bool>;
}
