//! Client authentication at the token, revocation and introspection
//! endpoints, RFC 6749 §2.3.1 (and RFC 7009 §2.1, RFC 7662 §2.1, which
//! reuse it): HTTP Basic, `client_secret_post`, a `private_key_jwt`
//! assertion (RFC 7523 §2.2, `client_assertion`), or just `client_id` for
//! public clients (`none`). One method per request (RFC 6749 §2.3). A client
//! must use the method it registered; a metadata-document client that offers
//! both `private_key_jwt` and `none` may use either, and an assertion, when
//! sent, is always verified (`cimd::auth_methods`).

use super::cimd::auth_methods;
use super::client_assertion::{self, Assertion};
use super::clients;
use super::context::Ctx;
use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::http::parse_basic;
use crate::base::signature::SignatureVerifier;
use super::store::Store;
use crate::store::clients::AuthMethod;
use crate::store::clients::ClientRecord;
use crate::base::types::Secret;

/// An OAuth error response; `invalid_client` carries the `Basic` challenge
/// that RFC 6749 §5.2 asks for when the client tried the header.
pub fn error_response(e: &OAuthError) -> HttpResponse {
    let r = HttpResponse::oauth_error(e);
    if e.code == ErrorCode::InvalidClient {
        r.with_header("www-authenticate", "Basic realm=\"gatehouse\"")
    } else {
        r
    }
}

/// Whether the request carries client credentials (a secret or an
/// assertion), as opposed to a bare `client_id` or nothing.
pub fn has_credentials(req: &HttpRequest, p: &Params) -> bool {
    req.header("authorization").is_some() || p.get("client_secret").is_some() || p.get("client_assertion").is_some()
}

/// The registered client a request names (HTTP Basic or `client_id`), to
/// read it ahead; None for a metadata-document URL (read from its own
/// table), an assertion or no name. Authentication still happens later.
pub fn named_registered(req: &HttpRequest, p: &Params) -> Option<crate::base::types::ClientId> {
    let id = match req.header("authorization") {
        Some(h) => parse_basic(h)?.0,
        None => p.get("client_id")?.to_string(),
    };
    clients::registered_id(&id)
}

/// How the request says who the client is.
enum Presented {
    Secret(String, Secret, AuthMethod),
    Assertion(Assertion),
    Public(String),
}

/// RFC 6749 §2.3.1: HTTP Basic (form-urlencoded id and secret), or the
/// `client_secret_post` parameters, or an assertion (RFC 7521 §4.2), or just
/// `client_id` for public clients. The method must be one the client may use.
pub async fn authenticate_client<S: Store>(ctx: &Ctx<'_, S>, verifier: &impl SignatureVerifier, req: &HttpRequest, p: &Params) -> OAuthResult<ClientRecord> {
    let basic = match req.header("authorization") {
        Some(h) => Some(parse_basic(h).ok_or_else(|| OAuthError::invalid_client("malformed Basic authorization header"))?),
        None => None,
    };
    let assertion = client_assertion::presented(p)?;
    let presented = match (&basic, p.get("client_secret"), assertion) {
        (Some((id, secret)), None, None) => Presented::Secret(id.clone(), Secret::new(secret.clone()), AuthMethod::ClientSecretBasic),
        (None, Some(secret), None) => Presented::Secret(p.require("client_id")?.to_string(), Secret::new(secret), AuthMethod::ClientSecretPost),
        (None, None, Some(a)) => Presented::Assertion(a),
        (None, None, None) => Presented::Public(p.require("client_id")?.to_string()),
        _ => return Err(OAuthError::invalid_request("use one client authentication method, not two")),
    };
    let named = match &presented {
        Presented::Secret(id, _, _) | Presented::Public(id) => id.as_str(),
        Presented::Assertion(a) => a.client_id(),
    };
    // RFC 7521 §4.2: a client_id beside other credentials must name the same client.
    if p.get("client_id").is_some_and(|form_id| form_id != named) {
        return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
    }
    let client = clients::find(ctx, named).await?;
    match presented {
        Presented::Assertion(a) => {
            client_assertion::verify(ctx, verifier, &client, a).await?;
        }
        Presented::Public(_) => {
            if !auth_methods::of_client(&client).public {
                return Err(must_use(&client));
            }
        }
        Presented::Secret(_, given, method) => {
            if client.auth_method != method {
                return Err(must_use(&client));
            }
            // A secret method with no stored hash cannot be checked: refuse
            // (fail closed) rather than skip the check.
            let stored = client.secret_hash.as_ref().ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
            // Compare the hashes in constant time; only the hash is stored.
            if !Secret::new(stored.as_str()).ct_eq(given.hash().as_str()) {
                return Err(OAuthError::invalid_client("client authentication failed"));
            }
        }
    }
    Ok(client)
}

fn must_use(client: &ClientRecord) -> OAuthError {
    OAuthError::invalid_client(format!("this client must authenticate with {}", client.auth_method.as_str()))
}


#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    /// Issue 15 item 16: a confidential client whose hash is missing (no
    /// path stores one today) is refused, by either secret method.
    #[test]
    fn a_secret_method_without_a_stored_hash_fails_closed() {
        use crate::protocol::context::Ctx;
        use crate::store::clients::ClientRecord;
        use crate::store::memory::{block_on, MemoryStore};
        use crate::base::types::{ClientId, TokenHash};
        let config = crate::testing::testing_config();
        let store = MemoryStore::default();
        let ctx = Ctx { config: &config, store: &store, issuer: "https://gh.example".into(), now: 1000 };
        let client = |id: &str, auth_method, secret_hash| ClientRecord {
            client_id: ClientId::new(id),
            secret_hash,
            auth_method,
            redirect_uris: vec![],
            grant_types: vec!["authorization_code".into()],
            client_name: None,
            metadata: serde_json::Value::Null,
            created_at: 0,
        };
        for c in [
            client("post", AuthMethod::ClientSecretPost, None),
            client("basic", AuthMethod::ClientSecretBasic, None),
            client("hashed", AuthMethod::ClientSecretPost, Some(TokenHash::of("right"))),
        ] {
            store.clients.borrow_mut().insert(c.client_id.as_str().into(), c);
        }
        let attempt = |body: &str, authorization: Option<String>| {
            let req = HttpRequest {
                method: "POST".into(),
                path: "/token".into(),
                headers: authorization.into_iter().map(|a| ("authorization".to_string(), a)).collect(),
                body: body.as_bytes().to_vec(),
                ..Default::default()
            };
            let p = Params::parse(&req.body).unwrap();
            block_on(authenticate_client(&ctx, &crate::testing::net::TestNet::default(), &req, &p))
        };
        for given in ["", "anything"] {
            let e = attempt(&format!("client_id=post&client_secret={given}"), None).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "post, secret {given:?}");
            let e = attempt("", Some(format!("Basic {}", STANDARD.encode(format!("basic:{given}"))))).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "basic, secret {given:?}");
        }
        // Control: the same path with a stored hash checks the secret.
        assert!(attempt("client_id=hashed&client_secret=right", None).is_ok());
        assert_eq!(attempt("client_id=hashed&client_secret=wrong", None).unwrap_err().code, ErrorCode::InvalidClient);
    }
}
