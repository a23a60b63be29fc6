//! HMAC-SHA256 (RFC 2104) over NUL-separated parts, base64url: the tag of
//! browser cookies, CSRF tokens and refresh-token families. The key is one
//! derived from the signing key for that use (`SigningKey::derive`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::encoding::b64url;

pub fn mac(key: &[u8; 32], parts: &[&str]) -> String {
    // HMAC-SHA256 accepts keys of any length; a 32-byte key cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p.as_bytes());
        m.update(&[0]);
    }
    b64url(&m.finalize().into_bytes())
}
