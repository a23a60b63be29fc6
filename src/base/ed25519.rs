//! Ed25519 (RFC 8032 §5.1) for Gatehouse's own keys: signing access tokens
//! and gateway assertions, verifying them, and finding a seed's public key.
//!
//! The arithmetic is not ours and not in the wasm: the worker asks the
//! runtime's WebCrypto (`edge/webcrypto.rs`), which has Ed25519 natively, so
//! the module carries no curve code or precomputed tables (about 40 KB
//! gzipped, a tenth of the module: bench/NOTES.md). Native builds (tests,
//! fuzzing) use `ed25519-compact` through [`Native`]; both produce the same
//! bytes, since Ed25519 signatures are deterministic (RFC 8032 §5.1.6).

/// A 32-byte Ed25519 seed (RFC 8032 §5.1.5's private key), as `SIGNING_KEY` holds it.
pub type Seed = [u8; 32];
/// A 32-byte encoded public key (RFC 8032 §5.1.2).
pub type PublicKey = [u8; 32];

#[allow(async_fn_in_trait)]
pub trait Ed25519 {
    /// The 64-byte signature of `message` under `seed`; None only if the
    /// runtime refuses (a seed that is not a valid key never gets this far).
    async fn ed25519_sign(&self, seed: &Seed, message: &[u8]) -> Option<[u8; 64]>;
    /// Whether `signature` is a valid signature of `message` under `public`.
    async fn ed25519_verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool;
}

/// `ed25519-compact`, for everything that is not the worker. (The methods are
/// named for the algorithm: the same back ends also verify other parties'
/// signatures through `SignatureVerifier::verify`.)
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Native;

#[cfg(not(target_arch = "wasm32"))]
impl Native {
    pub fn public_key(seed: &Seed) -> Option<PublicKey> {
        let pair = ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(*seed)).ok()?;
        Some(*pair.pk)
    }

    pub fn sign_now(seed: &Seed, message: &[u8]) -> Option<[u8; 64]> {
        let pair = ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(*seed)).ok()?;
        Some(*pair.sk.sign(message, None))
    }

    pub fn verify_now(public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        let (Ok(pk), Ok(sig)) = (ed25519_compact::PublicKey::from_slice(public), ed25519_compact::Signature::from_slice(signature)) else {
            return false;
        };
        pk.verify(message, &sig).is_ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Ed25519 for Native {
    async fn ed25519_sign(&self, seed: &Seed, message: &[u8]) -> Option<[u8; 64]> {
        Native::sign_now(seed, message)
    }

    async fn ed25519_verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        Native::verify_now(public, message, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1, TEST 2: the one-byte message 0x72.
    #[test]
    fn rfc_8032_test_vector() {
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
        let seed: Seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb").try_into().unwrap();
        let public = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        let signature = hex(concat!(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ));
        assert_eq!(Native::public_key(&seed).unwrap().as_slice(), public.as_slice());
        assert_eq!(Native::sign_now(&seed, &[0x72]).unwrap().as_slice(), signature.as_slice());
        assert!(Native::verify_now(&public.clone().try_into().unwrap(), &[0x72], &signature));
        assert!(!Native::verify_now(&public.try_into().unwrap(), &[0x73], &signature));
    }
}
