//! How a metadata-document client may authenticate at the token,
//! revocation and introspection endpoints. A document says it in RFC 7591 §2
//! terms: `token_endpoint_auth_method` (the method it prefers), the list
//! `token_endpoint_auth_methods_supported` (OpenID Connect RP Metadata Choices
//! 1.0, which ChatGPT's document carries: it prefers `private_key_jwt` and
//! also offers `none`), its keys as `jwks` or `jwks_uri`, and optionally
//! `token_endpoint_auth_signing_alg` (OpenID Connect Registration §2).
//!
//! What Gatehouse accepts of that (docs/clients.md, "private_key_jwt"):
//! - `none`: a public client with PKCE, when the document offers `none` (or
//!   names no method at all);
//! - `private_key_jwt` (RFC 7523 §2.2): when the document offers it and names
//!   usable keys. A client may offer both; then an assertion, when sent, is
//!   always verified, and a request without one is a public client's.
//! - never a shared secret (draft-ietf-oauth-client-id-metadata-document
//!   §4.1): a document asking for `client_secret_*` is refused.
//!
//! What was accepted is written into the client's metadata in the same
//! terms, and read back from there at the token endpoint by the same parser
//! ([`negotiate`]), so the rules live only here.

use serde_json::{Map, Value};

use super::error::CimdError;
use super::ClientIdUrl;
use crate::base::signature::{jwk_set_keys, Alg, PublicJwk};
use crate::store::clients::{AuthMethod, ClientRecord};

const PUBLIC: &str = "none";
const ASSERTION: &str = "private_key_jwt";

/// A client's `jwks_uri`, held to the rules of a metadata document URL
/// (`ClientIdUrl`: https, no private address, no port, no credentials, no
/// fragment) and fetched the same way, through the same binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksUri(ClientIdUrl);

impl JwksUri {
    pub fn parse(raw: &str) -> Result<Self, CimdError> {
        ClientIdUrl::parse(raw).map(JwksUri)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL as the document fetcher takes it.
    pub fn url(&self) -> &ClientIdUrl {
        &self.0
    }
}

/// Where a client's verification keys are.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientKeys {
    /// `jwks`: the usable public keys of the set inside the document.
    Inline(Vec<PublicJwk>),
    /// `jwks_uri`: fetched when an assertion needs them (`client_assertion`).
    Remote(JwksUri),
}

/// What a client's `private_key_jwt` assertions are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct AssertionKeys {
    pub keys: ClientKeys,
    /// `token_endpoint_auth_signing_alg`: when set, the only algorithm accepted.
    pub alg: Option<Alg>,
}

/// The methods a document's client may use here.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// It may come as a public client (`none`, PKCE alone).
    pub public: bool,
    /// It may authenticate with `private_key_jwt`, with these keys.
    pub assertion: Option<AssertionKeys>,
}

impl Offer {
    /// The client's `auth_method`: `private_key_jwt` whenever an assertion is
    /// possible (whether it is also public is [`Offer::public`]).
    pub fn auth_method(&self) -> AuthMethod {
        if self.assertion.is_some() { AuthMethod::PrivateKeyJwt } else { AuthMethod::None }
    }

    /// Writes what was accepted of `doc` into `metadata` (a registration's
    /// echo, which carries none of these fields), in RFC 7591 terms.
    pub fn record(&self, doc: &Map<String, Value>, metadata: &mut Map<String, Value>) {
        metadata.insert("token_endpoint_auth_method".into(), self.auth_method().as_str().into());
        let Some(a) = &self.assertion else { return };
        let methods: &[&str] = if self.public { &[PUBLIC, ASSERTION] } else { &[ASSERTION] };
        metadata.insert("token_endpoint_auth_methods_supported".into(), methods.into());
        // The set as the document has it: read back, it yields the same keys.
        let (field, value) = match &a.keys {
            ClientKeys::Inline(_) => ("jwks", doc.get("jwks").cloned().unwrap_or_default()),
            ClientKeys::Remote(uri) => ("jwks_uri", uri.as_str().into()),
        };
        metadata.insert(field.into(), value);
        if let Some(alg) = a.alg {
            metadata.insert("token_endpoint_auth_signing_alg".into(), alg.name().into());
        }
    }
}

/// The offer of a client found by `clients::find`: what its metadata records.
/// Registered (DCR) clients authenticate as they registered; they never offer
/// an assertion.
pub fn of_client(client: &ClientRecord) -> Offer {
    let public = Offer { public: client.auth_method == AuthMethod::None, assertion: None };
    if client.auth_method != AuthMethod::PrivateKeyJwt {
        return public;
    }
    match &client.metadata {
        Value::Object(m) => negotiate(m).unwrap_or(Offer { public: false, assertion: None }),
        _ => Offer { public: false, assertion: None },
    }
}

/// Reads a document's authentication metadata. The error completes the
/// sentence "its metadata document …".
pub fn negotiate(doc: &Map<String, Value>) -> Result<Offer, String> {
    let field = |name: &str| doc.get(name).filter(|v| !v.is_null());
    let chosen = match field("token_endpoint_auth_method") {
        None => None,
        Some(Value::String(m)) => Some(m.as_str()),
        Some(_) => return Err("has a token_endpoint_auth_method that is not a string".into()),
    };
    if let Some(m) = chosen.filter(|m| m.starts_with("client_secret_")) {
        return Err(format!(
            "asks for token_endpoint_auth_method {}, a shared secret, which a metadata document cannot establish; use none or private_key_jwt",
            shown(m)
        ));
    }
    // A malformed list is ignored (the preferred method still counts): it
    // can only take methods away.
    let listed: Option<Vec<&str>> = match field("token_endpoint_auth_methods_supported") {
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect()),
        _ => None,
    };
    let offers = |m: &str| chosen == Some(m) || listed.as_ref().is_some_and(|l| l.contains(&m));
    // Without either field the client is public, as MCP clients that omit
    // the method are (and as for registrations, `client_metadata::validate`).
    let public = offers(PUBLIC) || (chosen.is_none() && listed.is_none());
    if !offers(ASSERTION) {
        if public {
            return Ok(Offer { public, assertion: None });
        }
        let wanted = chosen.map(shown).unwrap_or_else(|| "none of them".into());
        return Err(format!(
            "asks for token_endpoint_auth_method {wanted}, which Gatehouse does not support (it supports none and private_key_jwt)"
        ));
    }
    match assertion_keys(doc) {
        Ok(keys) => Ok(Offer { public, assertion: Some(keys) }),
        // A client that may also be public still connects, as a public
        // client; one that may not is refused, saying why.
        Err(_) if public => Ok(Offer { public, assertion: None }),
        Err(why) => Err(format!("asks for private_key_jwt but {why}")),
    }
}

/// `jwks` or `jwks_uri` (never both: RFC 7591 §2), and the signing algorithm.
fn assertion_keys(doc: &Map<String, Value>) -> Result<AssertionKeys, String> {
    let field = |name: &str| doc.get(name).filter(|v| !v.is_null());
    let keys = match (field("jwks"), field("jwks_uri")) {
        (Some(_), Some(_)) => return Err("names both jwks and jwks_uri (RFC 7591 §2 allows one)".into()),
        (None, None) => return Err("publishes no keys (jwks or jwks_uri)".into()),
        (Some(set), None) => {
            let keys = jwk_set_keys(set).map_err(|_| "its jwks is not a JWK Set".to_string())?;
            if keys.is_empty() {
                return Err("its jwks holds no public signing key Gatehouse can use (RSA, P-256 or Ed25519)".into());
            }
            ClientKeys::Inline(keys)
        }
        (None, Some(Value::String(uri))) => ClientKeys::Remote(JwksUri::parse(uri).map_err(|e| format!("its jwks_uri cannot be used: {}", e.0))?),
        (None, Some(_)) => return Err("its jwks_uri is not a string".into()),
    };
    let alg = match field("token_endpoint_auth_signing_alg") {
        None => None,
        Some(Value::String(name)) => Some(Alg::from_name(name).ok_or_else(|| {
            format!("asks for token_endpoint_auth_signing_alg {}, which Gatehouse does not verify (RS256, PS256, ES256 or EdDSA)", shown(name))
        })?),
        Some(_) => return Err("its token_endpoint_auth_signing_alg is not a string".into()),
    };
    Ok(AssertionKeys { keys, alg })
}

/// A value from the document, safe to put in an error message.
fn shown(s: &str) -> String {
    s.chars().take(60).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::net::TestKey;
    use serde_json::json;

    fn offer(doc: Value) -> Result<Offer, String> {
        negotiate(doc.as_object().unwrap())
    }

    const JWKS_URI: &str = "https://chatgpt.com/oauth/jwks.json";

    /// ChatGPT's document as published at https://chatgpt.com/oauth/client.json
    /// (quoted in django-oauth/django-oauth-toolkit#1845 on 2026-08-26 and in
    /// stacklok/toolhive#6278; read on 2026-12-02 through those public reports).
    fn chatgpt() -> Value {
        json!({
            "client_id": "https://chatgpt.com/oauth/client.json",
            "client_uri": "https://chatgpt.com/",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "ChatGPT",
            "logo_uri": "https://persistent.oaistatic.com/sonic/misc/openai-logo.png",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
        })
    }

    fn with(mut doc: Value, field: &str, v: Value) -> Value {
        doc[field] = v;
        doc
    }

    fn without(mut doc: Value, field: &str) -> Value {
        doc.as_object_mut().unwrap().remove(field);
        doc
    }

    #[test]
    fn chatgpt_may_assert_or_come_as_a_public_client() {
        let o = offer(chatgpt()).unwrap();
        assert!(o.public);
        let a = o.assertion.clone().unwrap();
        assert_eq!(a.keys, ClientKeys::Remote(JwksUri::parse(JWKS_URI).unwrap()));
        assert_eq!(a.alg, Some(Alg::Rs256));
        assert_eq!(o.auth_method(), AuthMethod::PrivateKeyJwt);
    }

    #[test]
    fn a_per_connector_chatgpt_document_must_assert() {
        // The per-connector shape (https://chatgpt.com/oauth/<id>/client.json), as
        // quoted in Altinity/altinity-mcp#118 (2026-05-15): no list, so no `none`.
        let doc = json!({
            "client_id": "https://chatgpt.com/oauth/kDmjx77UnKOM/client.json",
            "client_uri": "https://chatgpt.com/",
            "redirect_uris": ["https://chatgpt.com/connector/oauth/kDmjx77UnKOM"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "ChatGPT",
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
        });
        let o = offer(doc).unwrap();
        assert!(!o.public, "it never offered none");
        assert!(o.assertion.is_some());
    }

    #[test]
    fn public_documents_stay_public() {
        assert_eq!(offer(json!({})).unwrap(), Offer { public: true, assertion: None });
        assert_eq!(offer(json!({"token_endpoint_auth_method": "none"})).unwrap(), Offer { public: true, assertion: None });
        assert_eq!(offer(json!({"token_endpoint_auth_method": null})).unwrap(), Offer { public: true, assertion: None });
        // Keys alone do not make a client confidential: it must offer the method.
        let o = offer(json!({"token_endpoint_auth_method": "none", "jwks_uri": JWKS_URI})).unwrap();
        assert_eq!(o, Offer { public: true, assertion: None });
    }

    #[test]
    fn the_list_alone_decides_when_no_method_is_preferred() {
        let o = offer(json!({"token_endpoint_auth_methods_supported": ["private_key_jwt"], "jwks_uri": JWKS_URI})).unwrap();
        assert!(!o.public && o.assertion.is_some());
        let o = offer(json!({"token_endpoint_auth_methods_supported": ["tls_client_auth", "none"]})).unwrap();
        assert!(o.public && o.assertion.is_none());
        // A malformed list is ignored, never widened.
        let o = offer(json!({"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_methods_supported": "none", "jwks_uri": JWKS_URI})).unwrap();
        assert!(!o.public);
    }

    #[test]
    fn shared_secrets_and_unknown_methods_are_refused() {
        for m in ["client_secret_post", "client_secret_basic", "client_secret_jwt"] {
            let why = offer(json!({"token_endpoint_auth_method": m, "token_endpoint_auth_methods_supported": ["none"]})).unwrap_err();
            assert!(why.contains("shared secret"), "{m}: {why}");
        }
        let why = offer(json!({"token_endpoint_auth_method": "tls_client_auth"})).unwrap_err();
        assert!(why.contains("tls_client_auth") && why.contains("does not support"), "{why}");
        assert!(offer(json!({"token_endpoint_auth_method": 5})).unwrap_err().contains("not a string"));
        // An unknown preferred method with a usable fallback in the list.
        let o = offer(json!({"token_endpoint_auth_method": "tls_client_auth", "token_endpoint_auth_methods_supported": ["tls_client_auth", "none"]})).unwrap();
        assert!(o.public && o.assertion.is_none());
    }

    #[test]
    fn assertion_only_clients_need_usable_keys() {
        let only = without(with(chatgpt(), "token_endpoint_auth_methods_supported", json!(["private_key_jwt"])), "jwks_uri");
        assert!(offer(only.clone()).unwrap_err().contains("publishes no keys"));
        let cases = [
            (with(only.clone(), "jwks_uri", json!("http://chatgpt.com/jwks.json")), "must use https"),
            (with(only.clone(), "jwks_uri", json!("https://10.0.0.1/jwks.json")), "private address"),
            (with(only.clone(), "jwks_uri", json!("https://localhost/jwks.json")), "localhost"),
            (with(only.clone(), "jwks_uri", json!("https://keys.example:8443/jwks.json")), "port"),
            (with(only.clone(), "jwks_uri", json!(7)), "not a string"),
            (with(only.clone(), "jwks", json!({"keys": []})), "no public signing key"),
            (with(only.clone(), "jwks", json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})), "no public signing key"),
            (with(only.clone(), "jwks", json!([1])), "not a JWK Set"),
            (with(with(only.clone(), "jwks", json!({"keys": []})), "jwks_uri", json!(JWKS_URI)), "both jwks and jwks_uri"),
            (with(with(only.clone(), "jwks_uri", json!(JWKS_URI)), "token_endpoint_auth_signing_alg", json!("HS256")), "HS256"),
            (with(with(only.clone(), "jwks_uri", json!(JWKS_URI)), "token_endpoint_auth_signing_alg", json!("none")), "does not verify"),
        ];
        for (doc, want) in cases {
            let why = offer(doc.clone()).unwrap_err();
            assert!(why.starts_with("asks for private_key_jwt but") && why.contains(want), "{doc}: {why}");
        }
    }

    #[test]
    fn a_client_that_may_be_public_survives_unusable_keys_as_a_public_client() {
        let o = offer(with(chatgpt(), "jwks_uri", json!("https://127.0.0.1/jwks.json"))).unwrap();
        assert_eq!(o, Offer { public: true, assertion: None });
        let o = offer(with(chatgpt(), "token_endpoint_auth_signing_alg", json!("RS512"))).unwrap();
        assert_eq!(o, Offer { public: true, assertion: None });
    }

    #[test]
    fn inline_keys_keep_only_public_signing_keys() {
        let (rsa, ed) = (TestKey::rs256("r"), TestKey::eddsa("e"));
        let mut private = serde_json::to_value(ed.public_jwk()).unwrap();
        private["d"] = json!("AAAA");
        let set = json!({"keys": [rsa.public_jwk(), private, {"kty": "oct", "k": "c2VjcmV0"}, ed.public_jwk()]});
        let doc = json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": set});
        let o = offer(doc).unwrap();
        assert_eq!(o.assertion.unwrap().keys, ClientKeys::Inline(vec![rsa.public_jwk(), ed.public_jwk()]));
    }

    #[test]
    fn what_is_recorded_reads_back_the_same() {
        let key = TestKey::es256("k");
        let docs = [
            chatgpt(),
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk()]}}),
            json!({"token_endpoint_auth_method": "none"}),
        ];
        for doc in docs {
            let o = offer(doc.clone()).unwrap();
            let mut metadata = Map::new();
            o.record(doc.as_object().unwrap(), &mut metadata);
            assert_eq!(negotiate(&metadata).unwrap(), o, "{doc}");
            assert_eq!(metadata["token_endpoint_auth_method"], o.auth_method().as_str());
        }
        let mut m = Map::new();
        offer(chatgpt()).unwrap().record(chatgpt().as_object().unwrap(), &mut m);
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none", "private_key_jwt"]));
        assert_eq!(m["jwks_uri"], JWKS_URI);
    }

    #[test]
    fn registered_clients_never_offer_assertions() {
        let client = |method: AuthMethod, metadata: Value| ClientRecord {
            client_id: crate::base::types::ClientId::new("gh_x"),
            secret_hash: None,
            auth_method: method,
            redirect_uris: vec![],
            grant_types: vec![],
            client_name: None,
            metadata,
            created_at: 0,
        };
        // Even if keys somehow sat in a registration's metadata.
        let o = of_client(&client(AuthMethod::None, chatgpt()));
        assert_eq!(o, Offer { public: true, assertion: None });
        let o = of_client(&client(AuthMethod::ClientSecretPost, chatgpt()));
        assert_eq!(o, Offer { public: false, assertion: None });
        let o = of_client(&client(AuthMethod::PrivateKeyJwt, chatgpt()));
        assert!(o.public && o.assertion.is_some());
        let o = of_client(&client(AuthMethod::PrivateKeyJwt, json!("garbage")));
        assert_eq!(o, Offer { public: false, assertion: None });
    }
}
