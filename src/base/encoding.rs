//! base64url without padding (RFC 4648 §5), the encoding of JWTs (RFC 7515
//! §2), PKCE challenges (RFC 7636 §4.2), our random secrets and MACs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim()).ok()
}
