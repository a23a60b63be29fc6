//! Randomness shared by codes, tokens and ids.

use super::encoding::b64url;
use super::error::OAuthError;
use super::types::Secret;

/// `n` random bytes from the platform CSPRNG (crypto.getRandomValues in workerd).
pub fn bytes<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf)
        .map_err(|_| OAuthError::server_error("no secure random source available"))?;
    Ok(buf)
}

/// A 256-bit random secret, base64url: codes, refresh tokens, client secrets.
pub fn secret() -> Result<Secret, OAuthError> {
    Ok(Secret::new(b64url(&bytes::<32>()?)))
}

/// A 128-bit random identifier with a readable prefix.
pub fn id(prefix: &str) -> Result<String, OAuthError> {
    Ok(format!("{prefix}{}", b64url(&bytes::<16>()?)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_distinct_and_long() {
        let a = super::secret().unwrap();
        let b = super::secret().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(super::id("gh_").unwrap().starts_with("gh_"));
    }
}
