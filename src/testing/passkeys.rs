//! For native tests: a software authenticator that answers both ceremonies
//! with a real `TestKey` (ES256 signatures in DER, as authenticators make
//! them). The in-memory `PasskeyStore` is `store::memory::passkeys`.

use sha2::{Digest, Sha256};

use crate::identity::sign_in::passkey::authenticator_data::{self, FLAG_UP, FLAG_UV};
use crate::identity::sign_in::passkey::cbor::{self, Cbor};
use crate::identity::sign_in::passkey::cose;
use crate::identity::sign_in::passkey::flow::{Assertion, Registration};
use crate::base::encoding::b64url;
use crate::testing::net::TestKey;

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
