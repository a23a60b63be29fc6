//! Access-token verification (RFC 7519, RFC 8037 EdDSA, RFC 9068): on any
//! string `access_token::verify` never panics and never accepts (accepting
//! would mean forging Ed25519); and a genuine token with the fuzzer's edits
//! applied verifies only if the edits left it identical.
//! Input: an edit script (pairs of position, byte) applied to a valid token,
//! and the raw input itself as a candidate token.
#![no_main]

use std::sync::OnceLock;

use gatehouse::base::ed25519::Native;
use gatehouse::base::signing_key::SigningKey;
use gatehouse::protocol::access_token::{self, AccessClaims};
use gatehouse::base::resource::accepted_resources;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://mcp.example.com";
const NOW: i64 = 1_800_000_000;

/// The native Ed25519 back end never waits: one poll finishes its futures.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("the native back end does not wait"),
    }
}

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed_b64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc").expect("valid seed"))
}

fn genuine() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: "owner".into(),
            aud: format!("{ISSUER}/mcp"),
            client_id: "gh_fuzz".into(),
            scope: "mcp".into(),
            jti: "at_fuzz".into(),
            gid: "gr_fuzz".into(),
        };
        block_on(access_token::issue(&Native, key(), claims, NOW, 3600)).expect("signing works")
    })
}

fn verify(token: &str) -> bool {
    block_on(access_token::verify(&Native, [key()], token, NOW + 1, ISSUER, &accepted_resources(ISSUER))).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let original = genuine();
    assert!(verify(original), "the genuine token must verify");

    if let Ok(s) = std::str::from_utf8(data) {
        assert!(!verify(s) || s == original, "accepted a token it never issued: {s:?}");
    }

    // Edits: each pair is (position, byte); position 255 appends, byte 0 deletes.
    let mut bytes = original.as_bytes().to_vec();
    for pair in data.chunks_exact(2) {
        let at = pair[0] as usize * bytes.len().max(1) / 256;
        match (pair[0], pair[1]) {
            (255, b) => bytes.push(b),
            (_, 0) if at < bytes.len() => {
                bytes.remove(at);
            }
            (_, b) if at < bytes.len() => bytes[at] = b,
            _ => {}
        }
    }
    if let Ok(mutated) = std::str::from_utf8(&bytes) {
        assert!(!verify(mutated) || mutated == original, "a modified token verified: {mutated:?}");
    }
});
