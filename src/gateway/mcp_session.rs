//! Session binding (MCP Streamable HTTP §Session Management): the origin's
//! `Mcp-Session-Id` is wrapped with a keyed tag of the grant before it reaches
//! the client, and unwrapped and checked on the way in. A session id leaked
//! from one grant is then useless with another grant's token, and the origin
//! never sees an id the gateway did not hand out for this grant.
//!
//! Wire form: `base64url(origin id) "." base64url(HMAC-SHA256(k, grant, origin id)[..16])`
//! — visible ASCII only, as the spec requires of session ids.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::base::signing_key::SigningKey;
use crate::base::encoding::{b64url, b64url_decode};
use crate::base::types::GrantId;

/// Longest wrapped id accepted; anything longer is not one of ours.
const MAX_WRAPPED_LEN: usize = 1024;
const TAG_LEN: usize = 16;

/// The HMAC key for session ids, derived from the signing key with its own
/// label, kept as the HMAC state after the key block: each tag then starts
/// from a copy instead of hashing the padded key again (half the work of a
/// tag over a short id).
pub struct McpSessionKey(Hmac<Sha256>);

impl McpSessionKey {
    pub fn new(signing_key: &SigningKey) -> Self {
        // A key shorter than the hash's 64-byte block is zero-padded to it (RFC 2104 §2),
        // so the padded block is the same key, given in the infallible form.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&signing_key.derive("mcp-session-id v1"));
        McpSessionKey(<Hmac<Sha256> as KeyInit>::new(&block.into()))
    }

    fn tag(&self, grant: &GrantId, origin_id: &[u8]) -> [u8; TAG_LEN] {
        let mut m = self.0.clone();
        // Length-prefixed so (grant, id) pairs cannot collide by shifting bytes.
        m.update(&(grant.as_str().len() as u64).to_be_bytes());
        m.update(grant.as_str().as_bytes());
        m.update(origin_id);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    /// The id the client sees for the origin's `origin_id` under `grant`.
    pub fn wrap(&self, grant: &GrantId, origin_id: &str) -> String {
        format!("{}.{}", b64url(origin_id.as_bytes()), b64url(&self.tag(grant, origin_id.as_bytes())))
    }

    /// The origin's id, if `wrapped` was issued by `wrap` for this same grant.
    pub fn unwrap(&self, grant: &GrantId, wrapped: &str) -> Option<String> {
        if wrapped.len() > MAX_WRAPPED_LEN {
            return None;
        }
        let (id_part, tag_part) = wrapped.split_once('.')?;
        let origin_id = b64url_decode(id_part)?;
        let tag = b64url_decode(tag_part)?;
        if tag.len() != TAG_LEN {
            return None;
        }
        let expected = self.tag(grant, &origin_id);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &tag[..])) {
            return None;
        }
        String::from_utf8(origin_id).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> McpSessionKey {
        McpSessionKey::new(&SigningKey::from_seed_b64(&b64url(&[byte; 32])).unwrap())
    }

    #[test]
    fn the_tag_is_hmac_sha256_under_the_derived_key() {
        let signing = SigningKey::from_seed_b64(&b64url(&[3u8; 32])).unwrap();
        let g = GrantId::new("g1");
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&signing.derive("mcp-session-id v1")).unwrap();
        m.update(&2u64.to_be_bytes());
        m.update(b"g1");
        m.update(b"sess");
        assert_eq!(McpSessionKey::new(&signing).tag(&g, b"sess")[..], m.finalize().into_bytes()[..TAG_LEN]);
        // And a second tag from the same key state is not disturbed by the first.
        assert_eq!(key(3).tag(&g, b"sess"), key(3).tag(&g, b"sess"));
    }

    #[test]
    fn round_trips_for_the_same_grant() {
        let k = key(3);
        let g = GrantId::new("g1");
        let w = k.wrap(&g, "3f1c-uuid");
        assert!(!w.contains("3f1c-uuid"), "the origin id is not shown verbatim");
        assert!(w.bytes().all(|b| (0x21..=0x7e).contains(&b)), "visible ASCII only: {w}");
        assert_eq!(k.unwrap(&g, &w).as_deref(), Some("3f1c-uuid"));
        assert_eq!(k.wrap(&g, "3f1c-uuid"), w, "deterministic, so repeated headers agree");
    }

    #[test]
    fn another_grant_or_key_is_refused() {
        let k = key(3);
        let w = k.wrap(&GrantId::new("g1"), "sess");
        assert_eq!(k.unwrap(&GrantId::new("g2"), &w), None);
        assert_eq!(key(4).unwrap(&GrantId::new("g1"), &w), None);
    }

    #[test]
    fn tampered_or_foreign_ids_are_refused() {
        let k = key(3);
        let g = GrantId::new("g1");
        let w = k.wrap(&g, "sess");
        let (id, tag) = w.split_once('.').unwrap();
        // Same tag, other origin id.
        assert_eq!(k.unwrap(&g, &format!("{}.{tag}", b64url(b"other"))), None);
        assert_eq!(k.unwrap(&g, id), None, "a bare origin id is not accepted");
        assert_eq!(k.unwrap(&g, "sess"), None);
        assert_eq!(k.unwrap(&g, &format!("{id}.{}", &tag[..tag.len() - 2])), None);
        assert_eq!(k.unwrap(&g, &format!("{id}.!!")), None);
        assert_eq!(k.unwrap(&g, ""), None);
        assert_eq!(k.unwrap(&g, &"a".repeat(5000)), None);
        // Grant ids that differ only by where bytes fall must not share tags.
        assert_ne!(k.tag(&GrantId::new("ab"), b"c"), k.tag(&GrantId::new("a"), b"bc"));
    }
}
