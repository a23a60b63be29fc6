//! The token endpoint's input parsing: the form body (`Params::parse`, OAuth
//! 2.1 §3.2) and HTTP Basic client authentication (`base::http::parse_basic`, RFC
//! 6749 §2.3.1). Never panics; accepted parameters hold no NUL and are not
//! repeated; a Basic header built from any id and secret parses back to them.
//! Input: an Authorization header value, a newline, a form body.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse::base::form::Params;
use gatehouse::base::http::parse_basic;
use libfuzzer_sys::fuzz_target;

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));

    if let Ok(p) = Params::parse(body) {
        for key in ["grant_type", "code", "code_verifier", "client_id", "client_secret", "refresh_token", "redirect_uri", "resource"] {
            if let Some(v) = p.get(key) {
                assert!(!v.is_empty() && !v.contains('\0'), "{key}={v:?}");
            }
        }
    }

    if let Ok(h) = std::str::from_utf8(header) {
        if let Some((id, secret)) = parse_basic(h) {
            let _ = (id.len(), secret.len());
        }
        // Round trip: any id/secret pair, encoded as RFC 6749 §2.3.1 says, parses back.
        let (id, secret) = h.split_once(':').unwrap_or((h, ""));
        let built = format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))));
        assert_eq!(parse_basic(&built), Some((id.to_string(), secret.to_string())), "{built:?}");
    }
});
