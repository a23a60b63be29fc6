//! Challenges and credentials around the two ceremonies (WebAuthn L2 §13.4.3:
//! challenges are random, at least 16 bytes, used once). A challenge is stored
//! as its hash with the purpose and the browser cookie's hash; an answer is
//! accepted only from the browser that asked, once, within `CHALLENGE_TTL`.

use super::ceremony::{self, Ceremony, CeremonyError, RelyingParty};
use super::CHALLENGE_TTL;
use crate::store::passkeys::Passkey;
use crate::store::passkeys::PasskeyStore;
use crate::store::passkeys::Purpose;
use crate::base::error::{OAuthError, StoreError};
use crate::base::encoding::b64url_decode;
use crate::base::random;
use crate::base::signature::SignatureVerifier;
use crate::base::types::TokenHash;

#[derive(Debug, PartialEq)]
pub enum FlowError {
    Refused(CeremonyError),
    Failed(OAuthError),
}

impl From<CeremonyError> for FlowError {
    fn from(e: CeremonyError) -> Self {
        FlowError::Refused(e)
    }
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        FlowError::Failed(e.into())
    }
}

/// A new challenge (base64url of 32 random bytes) for `browser`.
pub async fn issue_challenge(store: &impl PasskeyStore, purpose: Purpose, browser: &TokenHash, now: i64) -> Result<String, OAuthError> {
    let challenge = random::secret()?;
    store.create_challenge(&challenge.hash(), purpose, browser, now + CHALLENGE_TTL).await?;
    Ok(challenge.expose().to_string())
}

/// Checks the client data and spends its challenge: any later answer to the
/// same challenge is refused, whatever else is wrong with this one.
async fn spend(store: &impl PasskeyStore, client_data: &[u8], ceremony: Ceremony, purpose: Purpose, rp: &RelyingParty, browser: &TokenHash, now: i64) -> Result<(), FlowError> {
    let challenge = ceremony::client_data_challenge(client_data, ceremony, rp)?;
    if !store.consume_challenge(&TokenHash::of(&challenge), purpose, browser, now).await? {
        return Err(CeremonyError::UnknownChallenge.into());
    }
    Ok(())
}

/// What the browser sent back from `navigator.credentials.create()`, decoded.
pub struct Registration {
    pub client_data: Vec<u8>,
    pub attestation_object: Vec<u8>,
}

/// What the browser sent back from `navigator.credentials.get()`, decoded.
pub struct Assertion {
    pub credential_id: String,
    pub client_data: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A form field holding base64url, decoded.
pub fn field(value: Option<&str>, what: &'static str) -> Result<Vec<u8>, CeremonyError> {
    value.and_then(b64url_decode).filter(|b| !b.is_empty()).ok_or(CeremonyError::Malformed(what))
}

/// Verifies a registration and stores the passkey under `name`.
pub async fn register(store: &impl PasskeyStore, rp: &RelyingParty, browser: &TokenHash, reg: &Registration, name: &str, now: i64) -> Result<Passkey, FlowError> {
    let passkey = verify_registration(store, rp, browser, reg, name, now).await?;
    add(store, &passkey).await?;
    Ok(passkey)
}

/// Verifies a registration (spending its challenge) without storing it yet:
/// the setup page spends its setup code in between.
pub async fn verify_registration(store: &impl PasskeyStore, rp: &RelyingParty, browser: &TokenHash, reg: &Registration, name: &str, now: i64) -> Result<Passkey, FlowError> {
    spend(store, &reg.client_data, Ceremony::Create, Purpose::Register, rp, browser, now).await?;
    let new = ceremony::registration(&reg.attestation_object, rp)?;
    if store.passkeys().await?.len() >= super::MAX_PASSKEYS {
        return Err(FlowError::Failed(OAuthError::invalid_request(format!(
            "at most {} passkeys can be enrolled; remove one first",
            super::MAX_PASSKEYS
        ))));
    }
    Ok(Passkey {
        id: new.id,
        alg: new.alg,
        public_key: new.public_key,
        sign_count: new.sign_count,
        name: name.to_string(),
        created_at: now,
        last_used_at: None,
    })
}

pub async fn add(store: &impl PasskeyStore, passkey: &Passkey) -> Result<(), FlowError> {
    if !store.add_passkey(passkey).await? {
        return Err(FlowError::Failed(OAuthError::invalid_request(format!(
            "this passkey is already enrolled, or {} passkeys already are",
            super::MAX_PASSKEYS
        ))));
    }
    Ok(())
}

/// Verifies a login assertion against the enrolled passkey it names and
/// records its new counter.
pub async fn authenticate(
    store: &impl PasskeyStore,
    verifier: &impl SignatureVerifier,
    rp: &RelyingParty,
    browser: &TokenHash,
    a: &Assertion,
    now: i64,
) -> Result<Passkey, FlowError> {
    spend(store, &a.client_data, Ceremony::Get, Purpose::Login, rp, browser, now).await?;
    let passkey = store.passkey(&a.credential_id).await?.ok_or(CeremonyError::UnknownCredential)?;
    let count = ceremony::assertion(verifier, (passkey.alg, &passkey.public_key), passkey.sign_count, &a.authenticator_data, &a.client_data, &a.signature, rp).await?;
    if !store.use_passkey(&passkey.id, passkey.sign_count, count, now).await? {
        return Err(CeremonyError::CounterNotIncreased.into());
    }
    Ok(passkey)
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
