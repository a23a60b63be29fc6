//! Client metadata, RFC 7591 §2: the one set of rules every way in uses.
//! Dynamic registration (`register`, RFC 7591 §3) validates the POSTed
//! metadata with [`validate`], and so do Client ID Metadata Documents
//! (`cimd::document`), which are the same RFC 7591 metadata published at a
//! URL. As vendors publish it, metadata
//! asks for more than Gatehouse offers (claude.ai's document lists the
//! `jwt-bearer` grant, VS Code's `device_code`): what Gatehouse does not
//! support is ignored, neither recorded nor echoed (RFC 7591 §2: unknown
//! metadata MUST be ignored; §3.2.1: requested values MAY be replaced, and the
//! response says what was registered). Refused is only what would make the
//! client unsafe or unusable: no `authorization_code` grant (or no `code`
//! response type), a bad redirect URI, malformed values of the fields that
//! are recorded and shown (names, URLs). docs/clients.md, "Client metadata".
//!
//! What differs between the two ways in, and lives in `cimd::document`: a
//! document's `client_id` must be its own URL, and a document can carry no
//! shared secret (no `client_secret*`, no `client_secret_*` method), because
//! nothing could establish one; a registration may ask for
//! `client_secret_post`/`client_secret_basic` and gets a secret Gatehouse
//! issues here.

use serde_json::{Map, Value};

use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::redirect_uri::RedirectUri;
use crate::base::scope::Scopes;
use crate::store::clients::AuthMethod;

const MAX_REDIRECT_URIS: usize = 20;
const MAX_TEXT: usize = 200;
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

/// Registration metadata that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub redirect_uris: Vec<RedirectUri>,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    /// Every accepted field, as it will be echoed back (never `null`).
    pub echoed: Map<String, Value>,
}

pub(crate) fn bad(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, why)
}

/// Validates a registration request body (RFC 7591 §2).
pub fn validate(body: &[u8], supported_scopes: &Scopes) -> OAuthResult<Registration> {
    let value: Value = serde_json::from_slice(body).map_err(|_| bad("the body must be a JSON object"))?;
    let Value::Object(input) = value else { return Err(bad("the body must be a JSON object")) };
    // A `null` field means "not given" (the TypeScript SDK sends some).
    let field = |name: &str| input.get(name).filter(|v| !v.is_null());
    let mut echoed = Map::new();

    let redirect_uris = match field("redirect_uris") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_REDIRECT_URIS => {
            // A loop rather than `collect` into a `Result`: smaller in the wasm.
            let mut uris = Vec::with_capacity(items.len());
            for v in items {
                uris.push(RedirectUri::parse(v.as_str().ok_or_else(|| bad("redirect_uris must be strings"))?)?);
            }
            uris
        }
        Some(_) => return Err(OAuthError::new(ErrorCode::InvalidRedirectUri, format!("redirect_uris must be an array of 1 to {MAX_REDIRECT_URIS} URIs"))),
        None => return Err(OAuthError::new(ErrorCode::InvalidRedirectUri, "redirect_uris is required")),
    };
    echoed.insert("redirect_uris".into(), Value::from(redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>()));

    // RFC 7591 defaults to client_secret_basic, but MCP clients that omit the
    // field are public clients; answering with a secret they never send would
    // fail their first token request. The response states what was registered.
    let auth_method = match field("token_endpoint_auth_method") {
        None => AuthMethod::None,
        Some(v) => v
            .as_str()
            .and_then(AuthMethod::parse)
            // Keys for private_key_jwt come only from a metadata document.
            .filter(|m| *m != AuthMethod::PrivateKeyJwt)
            .ok_or_else(|| bad("token_endpoint_auth_method must be none, client_secret_post or client_secret_basic"))?,
    };
    echoed.insert("token_endpoint_auth_method".into(), auth_method.as_str().into());

    // Grants and response types Gatehouse does not offer are dropped: the
    // client cannot use them here, so asking for them harms nothing.
    let grant_types: Vec<String> = match field("grant_types") {
        None => GRANT_TYPES.iter().map(|s| s.to_string()).collect(),
        Some(v) => {
            let asked = string_list(v, "grant_types")?;
            GRANT_TYPES.iter().filter(|g| asked.iter().any(|a| a == *g)).map(|g| g.to_string()).collect()
        }
    };
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(bad("grant_types must include authorization_code (other grant types Gatehouse does not support are ignored)"));
    }
    echoed.insert("grant_types".into(), Value::from(grant_types.clone()));

    if let Some(v) = field("response_types") {
        if !string_list(v, "response_types")?.iter().any(|r| r == "code") {
            return Err(bad("response_types must include \"code\" (other response types are ignored)"));
        }
    }
    echoed.insert("response_types".into(), Value::from(vec!["code"]));

    let client_name = match field("client_name") {
        None => None,
        Some(v) => Some(text(v, "client_name")?),
    };
    if let Some(n) = &client_name {
        echoed.insert("client_name".into(), n.clone().into());
    }
    for name in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        if let Some(v) = field(name) {
            echoed.insert(name.into(), web_url(v, name)?.into());
        }
    }
    for name in ["software_id", "software_version"] {
        if let Some(v) = field(name) {
            echoed.insert(name.into(), text(v, name)?.into());
        }
    }
    if let Some(v) = field("contacts") {
        let list = string_list(v, "contacts")?;
        if list.len() > 10 || list.iter().any(|c| c.chars().count() > MAX_TEXT) {
            return Err(bad("contacts must be at most 10 short strings"));
        }
        echoed.insert("contacts".into(), Value::from(list));
    }
    // OpenID Connect Registration §2 defines web and native; nothing here
    // depends on it, so another value is ignored like an unknown field.
    if let Some(t @ ("web" | "native")) = field("application_type").and_then(Value::as_str) {
        echoed.insert("application_type".into(), t.into());
    }
    // Unknown scopes are dropped rather than refused: clients copy scope lists
    // from other servers, and the token request is checked strictly anyway.
    let wanted = field("scope").and_then(Value::as_str).unwrap_or("");
    let kept: Vec<&str> = wanted.split_whitespace().filter(|s| supported_scopes.iter().any(|x| x == *s)).collect();
    let scope = if kept.is_empty() { supported_scopes.to_string() } else { Scopes::from_config(&kept.join(" ")).to_string() };
    echoed.insert("scope".into(), scope.into());

    Ok(Registration { redirect_uris, auth_method, grant_types, client_name, echoed })
}

fn text(v: &Value, name: &str) -> OAuthResult<String> {
    match v.as_str() {
        Some(s) if s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control) => Ok(s.to_string()),
        _ => Err(bad(format!("{name} must be a string of at most {MAX_TEXT} characters"))),
    }
}

fn string_list(v: &Value, name: &str) -> OAuthResult<Vec<String>> {
    let not_a_list = || bad(format!("{name} must be an array of strings"));
    let items = v.as_array().filter(|a| a.len() <= 20).ok_or_else(not_a_list)?;
    // A loop rather than `collect` into an `Option`: smaller in the wasm.
    let mut list = Vec::with_capacity(items.len());
    for x in items {
        list.push(x.as_str().ok_or_else(not_a_list)?.to_string());
    }
    Ok(list)
}

fn web_url(v: &Value, name: &str) -> OAuthResult<String> {
    let s = v.as_str().ok_or_else(|| bad(format!("{name} must be a URL string")))?;
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() && s.len() <= 2000 => Ok(s.to_string()),
        _ => Err(bad(format!("{name} must be an http(s) URL"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes() -> Scopes {
        Scopes::from_config("mcp")
    }

    #[test]
    fn typical_public_client_registers() {
        let body = br#"{"redirect_uris":["http://localhost:3000/callback"],"client_name":"Claude Code","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"logo_uri":null}"#;
        let r = validate(body, &scopes()).unwrap();
        assert_eq!(r.auth_method, AuthMethod::None);
        assert_eq!(r.client_name.as_deref(), Some("Claude Code"));
        assert!(!r.echoed.values().any(Value::is_null));
        assert!(!r.echoed.contains_key("logo_uri"));
        assert_eq!(r.echoed["redirect_uris"][0], "http://localhost:3000/callback");
    }

    #[test]
    fn omitted_auth_method_means_public() {
        let r = validate(br#"{"redirect_uris":["https://claude.ai/api/mcp/auth_callback"]}"#, &scopes()).unwrap();
        assert_eq!(r.auth_method, AuthMethod::None);
        assert_eq!(r.echoed["scope"], "mcp");
    }

    #[test]
    fn bad_metadata_is_refused_with_the_right_code() {
        let cases: &[(&[u8], ErrorCode)] = &[
            (b"not json", ErrorCode::InvalidClientMetadata),
            (b"[]", ErrorCode::InvalidClientMetadata),
            (br#"{}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":[]}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":"https://a.example/cb"}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":["javascript:alert(1)"]}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":["https://a.example/cb#x"]}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":["http://a.example/cb"]}"#, ErrorCode::InvalidRedirectUri),
            (br#"{"redirect_uris":[5]}"#, ErrorCode::InvalidClientMetadata),
            (br#"{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#, ErrorCode::InvalidClientMetadata),
            (br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}"#, ErrorCode::InvalidClientMetadata),
            (br#"{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}"#, ErrorCode::InvalidClientMetadata),
            (br#"{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:alert(1)"}"#, ErrorCode::InvalidClientMetadata),
            (br#"{"redirect_uris":["https://a.example/cb"],"client_name":{"x":1}}"#, ErrorCode::InvalidClientMetadata),
        ];
        for (body, code) in cases {
            let e = validate(body, &scopes()).unwrap_err();
            assert_eq!(e.code, *code, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(validate(deep.as_bytes(), &scopes()).is_err());
    }

    /// RFC 7591 §2 and §3.2.1: what Gatehouse does not support is neither
    /// refused nor registered; the response says what was.
    #[test]
    fn unsupported_grants_response_types_and_fields_are_ignored_not_echoed() {
        let body = br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","urn:ietf:params:oauth:grant-type:jwt-bearer","refresh_token","urn:ietf:params:oauth:grant-type:device_code","client_credentials","implicit","authorization_code"],"response_types":["code","token","id_token"],"application_type":"service","software_statement":"eyJ...","dpop_bound_access_tokens":true,"jwks_uri":"https://a.example/jwks.json"}"#;
        let r = validate(body, &scopes()).unwrap();
        assert_eq!(r.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(r.echoed["grant_types"], serde_json::json!(["authorization_code", "refresh_token"]));
        assert_eq!(r.echoed["response_types"], serde_json::json!(["code"]));
        for dropped in ["application_type", "software_statement", "dpop_bound_access_tokens", "jwks_uri"] {
            assert!(!r.echoed.contains_key(dropped), "{dropped} echoed");
        }
        let echoed = Value::Object(r.echoed).to_string();
        assert!(!echoed.contains("jwt-bearer") && !echoed.contains("device_code") && !echoed.contains("implicit"), "{echoed}");
        let only_code = validate(br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code"]}"#, &scopes()).unwrap();
        assert_eq!(only_code.grant_types, ["authorization_code"], "no refresh_token unless asked for");
        let native = validate(br#"{"redirect_uris":["https://a.example/cb"],"application_type":"native"}"#, &scopes()).unwrap();
        assert_eq!(native.echoed["application_type"], "native");
    }

    /// What would leave a client unusable or unsafe is still refused.
    #[test]
    fn a_client_without_the_code_flow_is_refused() {
        for body in [
            br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}"#.as_slice(),
            br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["urn:ietf:params:oauth:grant-type:jwt-bearer","client_credentials"]}"#,
            br#"{"redirect_uris":["https://a.example/cb"],"grant_types":[]}"#,
            br#"{"redirect_uris":["https://a.example/cb"],"grant_types":"authorization_code"}"#,
            br#"{"redirect_uris":["https://a.example/cb"],"response_types":["token","id_token"]}"#,
            br#"{"redirect_uris":["https://a.example/cb"],"response_types":[]}"#,
        ] {
            let e = validate(body, &scopes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{}", String::from_utf8_lossy(body));
            assert!(e.description.contains("authorization_code") || e.description.contains("\"code\"") || e.description.contains("array"), "{}", e.description);
        }
    }

    #[test]
    fn unknown_scopes_are_dropped() {
        let r = validate(br#"{"redirect_uris":["https://a.example/cb"],"scope":"openid mcp"}"#, &scopes()).unwrap();
        assert_eq!(r.echoed["scope"], "mcp");
    }
}
