//! PKCE, RFC 7636 with the OAuth 2.1 profile: only `S256` (§4.2), a challenge
//! is required at /authorize, and a verifier is checked at /token (§4.6).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{OAuthError, OAuthResult};
use super::encoding::b64url;

/// RFC 7636 §4.2 `code_challenge` for method S256: 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Validates the `/authorize` parameters. `plain` and a missing method are
    /// refused: OAuth 2.1 clients must use S256 and MCP clients all do.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> OAuthResult<Self> {
        let challenge = challenge
            .ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE S256)"))?;
        match method {
            Some("S256") => {}
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "code_challenge_method {:?} is not supported; use S256",
                    truncate(other)
                )))
            }
            None => return Err(OAuthError::invalid_request("code_challenge_method must be S256")),
        }
        if challenge.len() != 43 || !challenge.bytes().all(is_b64url_char) {
            return Err(OAuthError::invalid_request(
                "code_challenge must be the 43-character base64url SHA-256 of the verifier",
            ));
        }
        Ok(CodeChallenge(challenge.to_string()))
    }

    pub fn from_stored(s: impl Into<String>) -> Self {
        CodeChallenge(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge.
    pub fn verify(&self, verifier: &str) -> OAuthResult<()> {
        check_verifier_syntax(verifier)?;
        let computed = b64url(&Sha256::digest(verifier.as_bytes()));
        if computed.as_bytes().ct_eq(self.0.as_bytes()).into() {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"))
        }
    }
}

/// RFC 7636 §4.1: 43–128 characters of [A-Za-z0-9-._~].
fn check_verifier_syntax(v: &str) -> OAuthResult<()> {
    let ok_len = (43..=128).contains(&v.len());
    let ok_chars = v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
        ))
    }
}

fn is_b64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        let c = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(c.verify(VERIFIER).is_ok());
    }

    #[test]
    fn wrong_verifier_is_invalid_grant() {
        let c = CodeChallenge::from_stored(CHALLENGE);
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
        let e = c.verify(wrong).unwrap_err();
        assert_eq!(e.code, crate::base::error::ErrorCode::InvalidGrant);
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(CodeChallenge::from_request(Some(CHALLENGE), Some("plain")).is_err());
        assert!(CodeChallenge::from_request(Some(CHALLENGE), None).is_err());
        assert!(CodeChallenge::from_request(None, Some("S256")).is_err());
    }

    #[test]
    fn malformed_challenge_is_refused() {
        assert!(CodeChallenge::from_request(Some("short"), Some("S256")).is_err());
        let bad_alphabet = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM";
        assert!(CodeChallenge::from_request(Some(bad_alphabet), Some("S256")).is_err());
    }

    #[test]
    fn verifier_of_wrong_length_or_alphabet_is_refused() {
        let c = CodeChallenge::from_stored(CHALLENGE);
        assert!(c.verify("abc").is_err());
        assert!(c.verify(&"a".repeat(129)).is_err());
        assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX!").is_err());
    }
}
