//! Refresh-token rotation without forks, OAuth 2.1 §4.3.1 and RFC 9700
//! §4.14.2. Each token has exactly one successor: an HMAC of the token under
//! a key derived from the signing key, recorded (as its hash) on the token's
//! row when it is first used. Hosts refresh in parallel and retry after
//! network failures (requirements.md §D), so a used token keeps working for
//! the grace window; each such use returns that same successor instead of
//! minting a new, independent token. A copy of a token therefore never
//! starts a family of its own: holder and thief share one chain, and the
//! first use of a retired member after the window revokes the grant (the
//! family), whichever member it is.
//!
//! No plaintext is stored: only the successor's hash is, and the successor
//! is recomputed from the presented token. If no trusted key recomputes it
//! (the key that derived it was retired within the grace window, or the
//! token was rotated before successors were recorded), the grace use gets
//! an access token only.

use crate::base::signing_key::SigningKey;
use crate::base::mac::mac;
use crate::base::types::{Secret, TokenHash};

const LABEL: &str = "refresh-successor v1";

/// The successor of `token` under `key`.
pub fn successor(key: &SigningKey, token: &Secret) -> Secret {
    Secret::new(mac(&key.derive(LABEL), &[token.expose()]))
}

/// The successor recorded for `token` (by its hash), recomputed under any
/// trusted key; None when none of them derived it.
pub fn recorded_successor<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, token: &Secret, recorded: Option<&TokenHash>) -> Option<Secret> {
    let recorded = recorded?;
    keys.into_iter().map(|k| successor(k, token)).find(|s| &s.hash() == recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_seed_b64(&crate::base::encoding::b64url(&[byte; 32])).unwrap()
    }

    #[test]
    fn one_successor_per_token_and_key() {
        let (k, t) = (key(7), Secret::new("token-a"));
        assert_eq!(successor(&k, &t).expose(), successor(&k, &t).expose());
        assert_ne!(successor(&k, &t).expose(), successor(&k, &Secret::new("token-b")).expose());
        assert_ne!(successor(&k, &t).expose(), successor(&key(8), &t).expose());
        assert_ne!(successor(&k, &t).expose(), t.expose());
        assert_eq!(successor(&k, &t).expose().len(), 43, "256 bits, base64url");
    }

    #[test]
    fn the_recorded_successor_is_found_under_any_trusted_key_only() {
        let (old, new, t) = (key(7), key(8), Secret::new("token-a"));
        let recorded = successor(&old, &t).hash();
        let found = recorded_successor([&new, &old], &t, Some(&recorded)).unwrap();
        assert_eq!(found.expose(), successor(&old, &t).expose());
        assert!(recorded_successor([&new], &t, Some(&recorded)).is_none(), "the deriving key was retired");
        assert!(recorded_successor([&old], &Secret::new("token-b"), Some(&recorded)).is_none());
        assert!(recorded_successor([&old], &t, None).is_none(), "rotated before successors were recorded");
    }
}
