//! Newtypes for OAuth values where a mix-up would be a security bug, and a
//! secret wrapper whose `Debug` cannot leak. Names follow RFC 6749 §2–§4.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// RFC 6749 §2.2: the identifier issued to a client at registration.
    ClientId
);
string_newtype!(
    /// The identity of the person who authorised a grant (the JWT `sub`).
    Subject
);
impl Subject {
    /// The owner's subject: what the owner password and the passkeys sign in
    /// as (upstream sign-ins are "oidc:…", "github:…", "access:…").
    pub const OWNER: &'static str = "owner";

    pub fn owner() -> Self {
        Subject::new(Self::OWNER)
    }
}

string_newtype!(
    /// Identifier of one authorisation grant: codes, refresh tokens and
    /// access tokens issued from one consent share it.
    GrantId
);

/// A secret value (refresh token, authorization code, client secret, password,
/// CSRF key). `Debug` prints `[redacted]`, it is not `Clone`, and equality is
/// constant-time, so it cannot reach a log line or leak through timing.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// Deliberately named: every use that reveals the secret is greppable.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// SHA-256 of the secret, base64url: what storage keeps instead of it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
    pub fn ct_eq(&self, other: &str) -> bool {
        // Compare digests so that lengths do not leak through timing either.
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(other.as_bytes());
        a.ct_eq(&b).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// SHA-256 digest (base64url) of a secret; safe to store and to log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        TokenHash(crate::base::encoding::b64url(&Sha256::digest(secret.as_bytes())))
    }
    pub fn from_stored(s: impl Into<String>) -> Self {
        TokenHash(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("super-secret-refresh-token");
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn secret_compares_by_value() {
        let s = Secret::new("abc");
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("ab"));
    }

    #[test]
    fn hash_is_stable_and_hides_the_secret() {
        let h = Secret::new("abc").hash();
        assert_eq!(h, TokenHash::of("abc"));
        assert_ne!(h, TokenHash::of("abd"));
        assert!(!h.as_str().contains("abc"));
        assert_eq!(h.as_str().len(), 43);
    }
}
