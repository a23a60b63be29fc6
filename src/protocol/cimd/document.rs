//! What a fetched metadata document must say (draft-ietf-oauth-client-id-
//! metadata-document §4 and §8.1): a JSON object whose `client_id` is exactly
//! the URL it came from, no shared secret of any kind (no `client_secret`, no
//! `client_secret_*` method: nothing can establish one), an authentication
//! method Gatehouse supports (`auth_methods`: `none`, `private_key_jwt`), and otherwise the same
//! RFC 7591 metadata rules as dynamic registration (`client_metadata::validate`), so
//! redirect URIs and names get the same checks either way, and what Gatehouse
//! does not support (grant types such as claude.ai's `jwt-bearer`, fields such
//! as `token_endpoint_auth_methods_supported`) is ignored there, not refused.

use serde_json::Value;

use super::error::CimdError;
use super::{auth_methods, ClientIdUrl, FetchError, MAX_DOCUMENT_BYTES};
use crate::protocol::client_metadata;
use crate::base::scope::Scopes;
use crate::store::clients::ClientRecord;
use crate::base::types::ClientId;

/// Turns a document into the client it describes, or says why it cannot.
pub fn validate(url: &ClientIdUrl, body: &[u8], scopes: &Scopes, now: i64) -> Result<ClientRecord, CimdError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(FetchError::TooLarge.into());
    }
    let bad = |why: &str| CimdError::new(format!("its metadata document {why}"));
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad("is not a JSON object"));
    };
    match doc.get("client_id") {
        Some(Value::String(id)) if id == url.as_str() => {}
        Some(Value::String(id)) => {
            let shown: String = id.chars().take(120).filter(|c| !c.is_control()).collect();
            return Err(bad(&format!("names client_id {shown:?}, not the URL it was fetched from")));
        }
        Some(_) => return Err(bad("has a client_id that is not a string")),
        None => return Err(bad("has no client_id")),
    }
    for field in ["client_secret", "client_secret_expires_at"] {
        if doc.get(field).is_some_and(|v| !v.is_null()) {
            return Err(bad(&format!("contains {field}; a metadata document cannot carry a shared secret")));
        }
    }
    let offer = auth_methods::negotiate(&doc).map_err(|why| bad(&why))?;
    // The method was settled above; the registration rules below know only
    // the methods a registration may ask for.
    let mut rest = doc.clone();
    rest.insert("token_endpoint_auth_method".into(), Value::Null);
    let rest = Value::Object(rest).to_string();
    let reg = client_metadata::validate(rest.as_bytes(), scopes).map_err(|e| bad(&format!("is not valid client metadata: {}", e.description)))?;
    let mut metadata = reg.echoed;
    metadata.insert("client_id".into(), url.as_str().into());
    offer.record(&doc, &mut metadata);
    Ok(ClientRecord {
        client_id: ClientId::new(url.as_str()),
        secret_hash: None,
        auth_method: offer.auth_method(),
        redirect_uris: reg.redirect_uris,
        grant_types: reg.grant_types,
        client_name: reg.client_name,
        metadata: Value::Object(metadata),
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clients::AuthMethod;

    const URL: &str = "https://client.example.com/oauth/client.json";

    fn url() -> ClientIdUrl {
        ClientIdUrl::parse(URL).unwrap()
    }

    fn check(doc: &str) -> Result<ClientRecord, CimdError> {
        validate(&url(), doc.as_bytes(), &Scopes::from_config("mcp"), 1_800_000_000)
    }

    fn refused(doc: &str) -> String {
        check(doc).map(|_| ()).expect_err(doc).0
    }

    #[test]
    fn a_claude_style_document_becomes_a_public_client() {
        let c = check(&format!(
            r#"{{"client_id":"{URL}","client_name":"Claude","client_uri":"https://claude.ai","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}}"#
        ))
        .unwrap();
        assert_eq!(c.client_id.as_str(), URL);
        assert_eq!(c.auth_method, AuthMethod::None);
        assert!(c.secret_hash.is_none());
        assert_eq!(c.client_name.as_deref(), Some("Claude"));
        assert_eq!(c.redirect_uris[0].as_str(), "https://claude.ai/api/mcp/auth_callback");
        assert_eq!(c.metadata["client_id"], URL);
        assert_eq!(c.created_at, 1_800_000_000);
    }

    #[test]
    fn an_omitted_auth_method_means_none() {
        let c = check(&format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"]}}"#)).unwrap();
        assert_eq!(c.auth_method, AuthMethod::None);
        assert!(c.grant_types.iter().any(|g| g == "refresh_token"));
    }

    #[test]
    fn client_id_must_be_the_url_exactly() {
        for other in [
            "https://evil.example/oauth/client.json",
            "https://client.example.com/oauth/client.json/",
            "https://client.example.com/oauth/Client.json",
            "https://CLIENT.example.com/oauth/client.json",
            "https://client.example.com/oauth/client.json?x",
        ] {
            let why = refused(&format!(r#"{{"client_id":"{other}","redirect_uris":["http://127.0.0.1:1/cb"]}}"#));
            assert!(why.contains("not the URL it was fetched from"), "{other}: {why}");
        }
        assert!(refused(r#"{"redirect_uris":["http://127.0.0.1:1/cb"]}"#).contains("has no client_id"));
        assert!(refused(r#"{"client_id":7,"redirect_uris":["http://127.0.0.1:1/cb"]}"#).contains("not a string"));
    }

    #[test]
    fn shared_secrets_are_refused() {
        for m in ["client_secret_post", "client_secret_basic", "client_secret_jwt"] {
            let why = refused(&format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"{m}"}}"#));
            assert!(why.contains("shared secret"), "{m}: {why}");
        }
        let why = refused(&format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"],"client_secret":"s3cr3t-value"}}"#));
        assert!(why.contains("client_secret") && why.contains("shared secret"), "{why}");
        assert!(!why.contains("s3cr3t-value"), "the secret itself is never echoed: {why}");
        let why = refused(&format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"],"client_secret_expires_at":0}}"#));
        assert!(why.contains("client_secret_expires_at"), "{why}");
        for (m, want) in [(r#""private_key_jwt""#, "publishes no keys"), (r#""tls_client_auth""#, "does not support"), ("5", "not a string")] {
            let why = refused(&format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":{m}}}"#));
            assert!(why.contains(want), "{m}: {why}");
        }
    }

    #[test]
    fn a_private_key_jwt_document_records_its_keys() {
        let c = check(&format!(
            r#"{{"client_id":"{URL}","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],"token_endpoint_auth_method":"private_key_jwt","token_endpoint_auth_methods_supported":["none","private_key_jwt"],"token_endpoint_auth_signing_alg":"RS256","jwks_uri":"https://chatgpt.com/oauth/jwks.json"}}"#
        ))
        .unwrap();
        assert_eq!(c.auth_method, AuthMethod::PrivateKeyJwt);
        assert!(c.secret_hash.is_none());
        assert_eq!(c.metadata["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(c.metadata["token_endpoint_auth_methods_supported"], serde_json::json!(["none", "private_key_jwt"]));
        assert_eq!(c.metadata["jwks_uri"], "https://chatgpt.com/oauth/jwks.json");
        let offer = auth_methods::of_client(&c);
        assert!(offer.public && offer.assertion.is_some());
    }

    #[test]
    fn registration_rules_apply_to_the_rest() {
        let cases = [
            (format!(r#"{{"client_id":"{URL}"}}"#), "redirect_uris is required"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":[]}}"#), "redirect_uris"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["javascript:alert(1)"]}}"#), "forbidden scheme"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["http://evil.example/cb"]}}"#), "loopback"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a.example/cb#f"]}}"#), "fragment"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}}"#), "grant_types"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:x"}}"#), "logo_uri"),
            (format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a.example/cb"],"client_name":"{}"}}"#, "n".repeat(300)), "client_name"),
        ];
        for (doc, want) in cases {
            let why = refused(&doc);
            assert!(why.contains("is not valid client metadata") && why.contains(want), "{doc}: {why}");
        }
    }

    /// Documents as vendors publish them: more grant types, response types
    /// and fields than Gatehouse uses. Only what it supports is recorded.
    #[test]
    fn unsupported_grants_and_fields_are_ignored_not_recorded() {
        let c = check(&format!(
            r#"{{"client_id":"{URL}","client_name":"Vendor","redirect_uris":["https://client.example.com/cb"],"grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:jwt-bearer","urn:ietf:params:oauth:grant-type:device_code"],"response_types":["code","none"],"application_type":"browser","logo_uri":"https://client.example.com/logo.png","dpop_bound_access_tokens":true,"software_statement":"x.y.z","post_logout_redirect_uris":["https://client.example.com/bye"]}}"#
        ))
        .unwrap();
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(c.metadata["grant_types"], serde_json::json!(["authorization_code", "refresh_token"]));
        assert_eq!(c.metadata["response_types"], serde_json::json!(["code"]));
        assert_eq!(c.metadata["logo_uri"], "https://client.example.com/logo.png");
        for dropped in ["application_type", "dpop_bound_access_tokens", "software_statement", "post_logout_redirect_uris"] {
            assert!(c.metadata.get(dropped).is_none(), "{dropped} recorded");
        }
        assert!(refused(&format!(r#"{{"client_id":"{URL}","redirect_uris":["https://a.example/cb"],"grant_types":["urn:ietf:params:oauth:grant-type:jwt-bearer"]}}"#))
            .contains("must include authorization_code"));
    }

    #[test]
    fn non_objects_and_oversized_bodies_are_refused() {
        for doc in ["", "null", "[]", "\"x\"", "{", "<html>"] {
            assert!(refused(doc).contains("not a JSON object"), "{doc}");
        }
        let big = format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1:1/cb"],"pad":"{}"}}"#, "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(refused(&big).contains("larger than 5120 bytes"));
    }
}
