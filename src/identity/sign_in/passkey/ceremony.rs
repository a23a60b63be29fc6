//! The relying party's checks of the two WebAuthn ceremonies: registering a
//! new credential (WebAuthn L2 §7.1) and verifying an authentication
//! assertion (§7.2). Pure checks: looking up and spending the challenge and
//! the stored credential is the caller's (`flow.rs`).
//!
//! What is enforced, in the order of the specification:
//! - clientDataJSON: `type`, `challenge` (returned for the caller to spend),
//!   `origin` equal to Gatehouse's public origin, no `crossOrigin`;
//! - attestation format "none" only (we ask for no attestation);
//! - rpIdHash = SHA-256 of the RP ID, the public host;
//! - flags UP and UV both set (user verification required);
//! - credential algorithm ES256 or EdDSA;
//! - the signature over authenticatorData ‖ SHA-256(clientDataJSON), through
//!   `SignatureVerifier` (ES256's DER converted first);
//! - the signature counter increases, unless it is zero before and after
//!   (authenticators without a counter, §6.1.1).

use sha2::{Digest, Sha256};

use super::authenticator_data::{self, AuthenticatorData};
use super::cbor::{self, Cbor};
use super::cose;
use crate::base::encoding::b64url;
use crate::base::signature::{ecdsa_der_to_raw, Alg, PublicJwk, SignatureVerifier};

/// Which ceremony a clientDataJSON must belong to (§5.8.1 `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    Create,
    Get,
}

impl Ceremony {
    fn client_data_type(self) -> &'static str {
        match self {
            Ceremony::Create => "webauthn.create",
            Ceremony::Get => "webauthn.get",
        }
    }
}

/// Why a ceremony was refused. `message` is what the person is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyError {
    Malformed(&'static str),
    WrongType,
    WrongOrigin,
    WrongRpId,
    UserNotPresent,
    UserNotVerified,
    UnsupportedKey,
    Attestation,
    BadSignature,
    CounterNotIncreased,
    /// The challenge was not issued to this browser, was used, or expired.
    UnknownChallenge,
    /// No enrolled passkey has this credential id (never enrolled, or removed).
    UnknownCredential,
}

impl CeremonyError {
    pub fn message(self) -> &'static str {
        match self {
            CeremonyError::Malformed(_) => "The browser's passkey answer was malformed.",
            CeremonyError::WrongType => "The passkey answer belongs to another kind of request.",
            CeremonyError::WrongOrigin => "The passkey answer was made for another web site.",
            CeremonyError::WrongRpId => "The passkey belongs to another web site.",
            CeremonyError::UserNotPresent | CeremonyError::UserNotVerified => {
                "The passkey did not verify you (PIN, fingerprint or face). Gatehouse requires it."
            }
            CeremonyError::UnsupportedKey => "This passkey uses an algorithm Gatehouse does not accept (ES256 or EdDSA only).",
            CeremonyError::Attestation => "The passkey answer carried an attestation Gatehouse did not ask for.",
            CeremonyError::BadSignature => "The passkey's signature is not valid.",
            CeremonyError::CounterNotIncreased => "This passkey's signature counter went backwards: it may have been copied. Use another passkey.",
            CeremonyError::UnknownChallenge => "This passkey request expired or was already used. Try again.",
            CeremonyError::UnknownCredential => "That passkey is not enrolled here (or was removed).",
        }
    }
}

/// Who we are to the authenticator: the RP ID (our public host, §5.1.2) and
/// the exact origin clientDataJSON must name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
}

impl RelyingParty {
    /// From the issuer (`PUBLIC_URL` or the request's origin). None when it
    /// has no domain host: an IP address cannot be an RP ID.
    pub fn for_issuer(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let Some(url::Host::Domain(host)) = url.host() else { return None };
        Some(RelyingParty { id: host.to_ascii_lowercase(), origin: url.origin().ascii_serialization() })
    }

    fn id_hash(&self) -> [u8; 32] {
        Sha256::digest(self.id.as_bytes()).into()
    }
}

/// §7.1 steps 5–10 / §7.2 steps 10–14: the challenge (base64url), if the rest holds.
pub fn client_data_challenge(raw: &[u8], ceremony: Ceremony, rp: &RelyingParty) -> Result<String, CeremonyError> {
    // Read as a plain JSON value: a derived struct would add its own
    // deserializer to the wasm for three strings.
    let cd: serde_json::Value = serde_json::from_slice(raw).map_err(|_| CeremonyError::Malformed("clientDataJSON"))?;
    let text = |k: &str| cd.get(k).and_then(serde_json::Value::as_str);
    if text("type") != Some(ceremony.client_data_type()) {
        return Err(CeremonyError::WrongType);
    }
    let cross_origin = cd.get("crossOrigin").is_some_and(|v| v.as_bool() != Some(false));
    if text("origin") != Some(rp.origin.as_str()) || cross_origin {
        return Err(CeremonyError::WrongOrigin);
    }
    text("challenge").map(str::to_string).ok_or(CeremonyError::Malformed("clientDataJSON challenge"))
}

/// A credential ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCredential {
    /// The credential id, base64url.
    pub id: String,
    pub alg: Alg,
    pub public_key: PublicJwk,
    pub sign_count: u32,
}

fn check_authenticator(ad: &AuthenticatorData, rp: &RelyingParty) -> Result<(), CeremonyError> {
    if ad.rp_id_hash != rp.id_hash() {
        return Err(CeremonyError::WrongRpId);
    }
    if !ad.user_present() {
        return Err(CeremonyError::UserNotPresent);
    }
    if !ad.user_verified() {
        return Err(CeremonyError::UserNotVerified);
    }
    Ok(())
}

/// §7.1 steps 11–24 on the attestation object (after the client data passed).
pub fn registration(attestation_object: &[u8], rp: &RelyingParty) -> Result<NewCredential, CeremonyError> {
    let obj = cbor::read(attestation_object).map_err(|e| CeremonyError::Malformed(e.0))?;
    let fmt = obj.get_text("fmt").and_then(Cbor::as_text).ok_or(CeremonyError::Malformed("attestation format"))?;
    let empty_statement = matches!(obj.get_text("attStmt"), Some(Cbor::Map(m)) if m.is_empty());
    if fmt != "none" || !empty_statement {
        return Err(CeremonyError::Attestation);
    }
    let raw = obj.get_text("authData").and_then(Cbor::as_bytes).ok_or(CeremonyError::Malformed("authData"))?;
    let ad = authenticator_data::parse(raw).map_err(CeremonyError::Malformed)?;
    check_authenticator(&ad, rp)?;
    let attested = ad.attested.ok_or(CeremonyError::Malformed("no attested credential data"))?;
    let (alg, public_key) = cose::to_jwk(&attested.public_key).ok_or(CeremonyError::UnsupportedKey)?;
    Ok(NewCredential { id: b64url(&attested.credential_id), alg, public_key, sign_count: ad.sign_count })
}

/// §7.2 steps 15–21: the new signature counter to store, if the assertion
/// holds for the stored key `(alg, key)` whose counter was `stored_count`.
pub async fn assertion(
    verifier: &impl SignatureVerifier,
    (alg, key): (Alg, &PublicJwk),
    stored_count: u32,
    authenticator_data: &[u8],
    client_data_json: &[u8],
    signature: &[u8],
    rp: &RelyingParty,
) -> Result<u32, CeremonyError> {
    let ad = authenticator_data::parse(authenticator_data).map_err(CeremonyError::Malformed)?;
    check_authenticator(&ad, rp)?;
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data_json));
    let signature = match alg {
        Alg::Es256 => ecdsa_der_to_raw(signature).ok_or(CeremonyError::BadSignature)?.to_vec(),
        Alg::EdDsa => signature.to_vec(),
        Alg::Rs256 | Alg::Ps256 => return Err(CeremonyError::UnsupportedKey),
    };
    if !verifier.verify(alg, key, &signed, &signature).await {
        return Err(CeremonyError::BadSignature);
    }
    let both_zero = stored_count == 0 && ad.sign_count == 0;
    if !both_zero && ad.sign_count <= stored_count {
        return Err(CeremonyError::CounterNotIncreased);
    }
    Ok(ad.sign_count)
}
