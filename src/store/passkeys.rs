//! The owner's passkeys (`login::passkey`), their single-use challenges and
//! the spent setup codes, and their storage trait.

use crate::base::signature::{Alg, PublicJwk};
use crate::base::types::TokenHash;

use super::StoreResult;

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
