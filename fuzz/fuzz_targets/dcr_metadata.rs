//! Dynamic Client Registration metadata, RFC 7591 §2 (`client_metadata::validate`):
//! arbitrary bytes never panic, and whatever is accepted is safe to store and
//! echo: every redirect URI re-validates, no echoed field is null, and the
//! auth method and grant types are ones Gatehouse supports.
#![no_main]

use gatehouse::base::redirect_uri::RedirectUri;
use gatehouse::protocol::client_metadata;
use gatehouse::base::scope::Scopes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scopes = Scopes::from_config("mcp tools");
    if let Ok(reg) = client_metadata::validate(data, &scopes) {
        assert!(!reg.redirect_uris.is_empty() && reg.redirect_uris.len() <= 20);
        for r in &reg.redirect_uris {
            assert!(RedirectUri::parse(r.as_str()).is_ok(), "stored redirect URI does not re-validate: {:?}", r.as_str());
        }
        assert!(reg.grant_types.iter().any(|g| g == "authorization_code"));
        assert!(reg.grant_types.iter().all(|g| g == "authorization_code" || g == "refresh_token"));
        assert!(!reg.echoed.values().any(serde_json::Value::is_null), "null echoed");
        if let Some(name) = &reg.client_name {
            assert!(name.chars().count() <= 200 && !name.chars().any(char::is_control));
        }
        let scope = reg.echoed["scope"].as_str().expect("scope is echoed as a string");
        assert!(scope.split(' ').all(|s| s == "mcp" || s == "tools"), "unsupported scope echoed: {scope:?}");
        let _ = serde_json::to_string(&reg.echoed).expect("echo serialises");
    }
});
