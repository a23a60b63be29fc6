//! The client ID metadata document validator (draft-ietf-oauth-client-id-
//! metadata-document §4, `cimd::document::validate`) on any bytes fetched
//! from a stranger's URL: never panics; a document it accepts names its own
//! URL as `client_id`, has only redirect URIs that parse, no secret and no
//! `null` echoed; and the stored metadata validates again to the same client.
#![no_main]

use std::sync::OnceLock;

use gatehouse::base::redirect_uri::RedirectUri;
use gatehouse::base::scope::Scopes;
use gatehouse::protocol::cimd::client_id_url::ClientIdUrl;
use gatehouse::protocol::cimd::document::validate;
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://client.example.com/oauth/client.json";

fn url() -> &'static ClientIdUrl {
    static U: OnceLock<ClientIdUrl> = OnceLock::new();
    U.get_or_init(|| ClientIdUrl::parse(URL).expect("a valid client id URL"))
}

fuzz_target!(|data: &[u8]| {
    let scopes = Scopes::from_config("mcp");
    let Ok(c) = validate(url(), data, &scopes, 1_800_000_000) else { return };
    assert_eq!(c.client_id.as_str(), URL);
    assert!(c.secret_hash.is_none(), "a metadata document never carries a secret we keep");
    assert!(!c.redirect_uris.is_empty());
    for r in &c.redirect_uris {
        assert!(RedirectUri::parse(r.as_str()).is_ok(), "{}", r.as_str());
    }
    let stored = serde_json::to_vec(&c.metadata).expect("metadata serializes");
    assert!(!String::from_utf8_lossy(&stored).contains(":null"), "no null echoed: {}", String::from_utf8_lossy(&stored));
    let again = validate(url(), &stored, &scopes, 1_800_000_000).expect("what we stored validates again");
    assert_eq!(again.redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>(), c.redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>());
    assert_eq!(again.auth_method, c.auth_method);
});
