//! Foreign JWS/JWT (RFC 7515, RFC 7519): the ID tokens of an upstream
//! OpenID provider, Cloudflare Access assertions and client assertions all
//! go through `jws::parse`, then `check_claims` and `check_times`. On any
//! string none of them panics; what parses has three parts whose header and
//! claims are UTF-8 JSON objects (RFC 7515 §5.2), and a token no key signed
//! never verifies.
#![no_main]

use gatehouse::base::jws::{check_claims, check_times, parse, ClaimChecks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let Ok(jws) = parse(token) else { return };
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    for part in &parts[..2] {
        let bytes = gatehouse::base::encoding::b64url_decode(part).expect("a parsed part decodes");
        let text = std::str::from_utf8(&bytes).expect("a parsed header and claims set are UTF-8 (RFC 7515 §5.2)");
        assert!(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok());
    }
    let checks = ClaimChecks { issuer: "https://idp.example", audience: "gatehouse", now: 1_800_000_000, leeway: 60 };
    let _ = check_claims(&jws.claims, &checks);
    let _ = check_times(&jws.claims, 1_800_000_000, 60);
});
