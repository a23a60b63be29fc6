//! The pure checks `/authorize` runs on its query (OAuth 2.1 §4.1.1): query
//! parsing, PKCE challenge (RFC 7636 §4.2, S256 only), scope (RFC 6749 §3.3),
//! resource (RFC 8707 §2) and redirect-URI parse/match. Never panics; an
//! accepted challenge is 43 base64url characters with method S256; an accepted
//! scope is a subset of the supported ones; an accepted resource is ours.
#![no_main]

use gatehouse::base::form::Params;
use gatehouse::base::pkce::CodeChallenge;
use gatehouse::base::redirect_uri::RedirectUri;
use gatehouse::base::resource;
use gatehouse::base::scope::Scopes;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://mcp.example.com";
const REGISTERED: &[&str] = &[
    "https://claude.ai/api/mcp/auth_callback",
    "http://127.0.0.1:33418/callback",
    "cursor://anysphere.cursor-mcp/oauth/callback",
];

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Params::parse(data) else { return };
    if let Ok(c) = CodeChallenge::from_request(p.get("code_challenge"), p.get("code_challenge_method")) {
        assert_eq!(p.get("code_challenge_method"), Some("S256"));
        let s = c.as_str();
        assert!(s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s:?}");
        if let Some(v) = p.get("code_verifier") {
            let _ = c.verify(v);
        }
    }
    let supported = Scopes::from_config("mcp tools");
    if let Ok(s) = Scopes::from_request(p.get("scope"), &supported) {
        assert!(s.iter().all(|x| x == "mcp" || x == "tools"), "{s}");
    }
    if let Ok(r) = resource::check_requested(p.get("resource"), ISSUER) {
        assert!(resource::accepted_resources(ISSUER).contains(&r), "{r:?}");
    }
    if let Some(uri) = p.get("redirect_uri") {
        let _ = RedirectUri::parse(uri);
        for reg in REGISTERED {
            let reg = RedirectUri::parse(reg).expect("registered seeds are valid");
            if reg.matches(uri) && uri != reg.as_str() {
                assert!(reg.is_loopback(), "{uri:?} matched {:?}", reg.as_str());
            }
        }
    }
});
