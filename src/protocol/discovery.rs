//! Discovery documents: RFC 9728 §3 protected resource metadata and
//! RFC 8414 §2 authorization server metadata, plus the challenge of
//! RFC 9728 §5.1 that points clients at them.

use serde_json::{json, Value};

use crate::config::Config;

pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource";

/// RFC 9728 §3.2: `resource` is the URL the metadata describes.
pub fn protected_resource(issuer: &str, resource: &str, config: &Config) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": config.scopes.iter().collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Gatehouse MCP gateway",
    })
}

/// RFC 8414 §2, with the fields MCP clients insist on (requirements.md §A).
pub fn authorization_server(issuer: &str, config: &Config) -> Value {
    // RFC 8414 §2: the algorithms of `private_key_jwt` assertions (RFC 7523),
    // those `signature::Alg` verifies.
    let assertion_algs = json!(["RS256", "PS256", "ES256", "EdDSA"]);
    let mut m = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "scopes_supported": config.scopes.iter().collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        // `none` first and always: clients pick metadata documents only when
        // it is offered, and some SDKs take the first entry. private_key_jwt
        // is for metadata-document clients whose document names keys.
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic", "private_key_jwt"],
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic", "private_key_jwt"],
        // RFC 7662 §2.1: introspection needs real client authentication.
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "resource_indicators_supported": true,
        // draft-ietf-oauth-client-id-metadata-document §6: https URLs work as client_id.
        "client_id_metadata_document_supported": true,
    });
    m["token_endpoint_auth_signing_alg_values_supported"] = assertion_algs.clone();
    m["revocation_endpoint_auth_signing_alg_values_supported"] = assertion_algs.clone();
    m["introspection_endpoint_auth_signing_alg_values_supported"] = assertion_algs;
    m
}

/// The `WWW-Authenticate` value of a 401 from the MCP endpoint. `error` is
/// absent when no token was sent (RFC 6750 §3.1).
pub fn challenge(issuer: &str, config: &Config, error: Option<&str>) -> String {
    let mut v = format!(
        "Bearer resource_metadata=\"{issuer}{PRM_PATH}/mcp\", scope=\"{}\"",
        config.scopes
    );
    if let Some(desc) = error {
        let desc: String = desc.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect();
        v.push_str(&format!(", error=\"invalid_token\", error_description=\"{desc}\""));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::testing_config;

    #[test]
    fn authorization_server_metadata_has_what_clients_require() {
        let c = testing_config();
        let m = authorization_server("https://mcp.example.com", &c);
        assert_eq!(m["issuer"], "https://mcp.example.com");
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert!(m["grant_types_supported"].as_array().unwrap().contains(&json!("refresh_token")));
        assert!(m["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
        assert_eq!(m["registration_endpoint"], "https://mcp.example.com/register");
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["revocation_endpoint"], "https://mcp.example.com/revoke");
        assert_eq!(m["introspection_endpoint"], "https://mcp.example.com/introspect");
        assert!(!m["introspection_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
        assert_eq!(m["client_id_metadata_document_supported"], true);
        let methods = m["token_endpoint_auth_methods_supported"].as_array().unwrap();
        assert_eq!(methods[0], "none", "none first: some SDKs take the first entry");
        for field in ["token_endpoint", "revocation_endpoint", "introspection_endpoint"] {
            assert!(m[format!("{field}_auth_methods_supported")].as_array().unwrap().contains(&json!("private_key_jwt")), "{field}");
            assert_eq!(m[format!("{field}_auth_signing_alg_values_supported")], json!(["RS256", "PS256", "ES256", "EdDSA"]), "{field}");
        }
    }

    #[test]
    fn challenge_points_at_path_form_metadata() {
        let c = testing_config();
        let v = challenge("https://mcp.example.com", &c, None);
        assert_eq!(v, "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"");
        let e = challenge("https://mcp.example.com", &c, Some("token \"expired\""));
        assert!(e.ends_with("error=\"invalid_token\", error_description=\"token expired\""), "{e}");
    }
}
