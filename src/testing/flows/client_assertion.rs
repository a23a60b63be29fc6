//! Native flows of a `private_key_jwt` metadata-document client through the
//! endpoints (authorize, consent, /token, /revoke, /introspect) over the
//! in-memory store: an assertion gets tokens; every wrong one is 401
//! `invalid_client` and changes nothing; a client that also offers `none`
//! may come as a public client.

use super::*;
use crate::testing::net::TestKey;
use serde_json::json;

const URL: &str = "https://client.example.com/oauth/pkjwt.json";
const OTHER: &str = "https://other.example.com/oauth/pkjwt.json";
const ASSERTION_TYPE: &str = crate::protocol::client_assertion::ASSERTION_TYPE;

/// A document like ChatGPT's: prefers private_key_jwt, `also_public` adds
/// `none` to its list; keys at `keys` (a `jwks_uri`) or inline.
fn document(url: &str, also_public: bool, keys: Value) -> String {
    let mut doc = json!({
        "client_id": url, "client_name": "Assertion client", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": if also_public { json!(["none", "private_key_jwt"]) } else { json!(["private_key_jwt"]) },
    });
    for (k, v) in keys.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc.to_string()
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

/// A unique jwks_uri: key sets are cached per isolate (thread).
fn jwks_uri(name: &str) -> String {
    format!("https://keys.example.com/{name}-{}.json", crate::base::random::id("").unwrap())
}

struct Client {
    id: &'static str,
    key: TestKey,
}

impl Client {
    /// Serves its document (keys at a jwks_uri) and key set.
    fn serve(w: &World, id: &'static str, also_public: bool) -> Client {
        let key = TestKey::es256("k1");
        let uri = jwks_uri("flow");
        w.store.assertions.serve(&uri, &jwks(&[&key]), Some("max-age=600"));
        w.store.documents.serve(id, &document(id, also_public, json!({"jwks_uri": uri})), Some("max-age=600"));
        Client { id, key }
    }
    fn claims(&self, w: &World, aud: &str) -> Value {
        json!({"iss": self.id, "sub": self.id, "aud": aud, "iat": w.now, "exp": w.now + 60, "jti": crate::base::random::id("jti_").unwrap()})
    }
    fn assertion(&self, w: &World) -> String {
        self.key.sign_jws(&self.claims(w, &format!("{ISS}/token")))
    }
}

fn with(mut v: Value, k: &str, x: Value) -> Value {
    v[k] = x;
    v
}

fn redeem_with(w: &World, code: &str, assertion: &str) -> HttpResponse {
    w.form(
        "/token",
        &[("grant_type", "authorization_code"), ("code", code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)],
    )
}

fn refresh_with(w: &World, rt: &str, assertion: &str) -> HttpResponse {
    w.form("/token", &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)])
}

fn invalid_client(r: &HttpResponse, want: &str) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(json(r)["error"], "invalid_client", "{}", r.body);
    assert!(r.header("www-authenticate").is_some(), "RFC 6749 §5.2 challenge");
    assert!(json(r)["error_description"].as_str().unwrap().contains(want), "want {want:?}: {}", r.body);
}

/// What can go wrong with an assertion, each with the refusal it gets.
fn bad_assertions(w: &World, c: &Client) -> Vec<(&'static str, String, &'static str)> {
    let good = || c.claims(w, &format!("{ISS}/token"));
    let b = |v: &Value| crate::base::encoding::b64url(v.to_string().as_bytes());
    let stranger = TestKey::es256("k1");
    vec![
        ("wrong key", stranger.sign_jws(&good()), "signature does not verify"),
        ("wrong aud", c.key.sign_jws(&with(good(), "aud", json!("https://other-server.example/token"))), "aud must be"),
        ("expired", c.key.sign_jws(&with(with(good(), "exp", json!(w.now - 120)), "iat", json!(w.now - 180))), "expired"),
        ("too long-lived", c.key.sign_jws(&with(good(), "exp", json!(w.now + 3600))), "seconds ahead"),
        ("alg none", format!("{}.{}.", b(&json!({"alg": "none"})), b(&good())), "algorithm is not accepted"),
        ("HS256", format!("{}.{}.c2ln", b(&json!({"alg": "HS256", "kid": "k1"})), b(&good())), "algorithm is not accepted"),
        ("iss differs from sub", c.key.sign_jws(&with(good(), "iss", json!(OTHER))), "iss and sub"),
        ("no jti", c.key.sign_jws(&{ let mut g = good(); g.as_object_mut().unwrap().remove("jti"); g }), "jti is required"),
    ]
}

#[test]
fn an_assertion_gets_tokens_refreshes_revokes_and_introspects() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, true);
    let code = w.code_for(URL);
    let r = redeem_with(&w, &code, &c.assertion(&w));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = json(&r);
    let at = t["access_token"].as_str().unwrap().to_string();
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, w.config.verification_keys(), &at, w.now, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
    assert_eq!(v.claims.client_id, URL);
    // Refresh, with the issuer as audience this time (rfc7523bis).
    let r = refresh_with(&w, t["refresh_token"].as_str().unwrap(), &c.key.sign_jws(&c.claims(&w, ISS)));
    assert_eq!(r.status, 200, "{}", r.body);
    let rt = json(&r)["refresh_token"].as_str().unwrap().to_string();
    // Introspection is for confidential clients: an assertion makes one.
    let i = w.form("/introspect", &[("token", &rt), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &c.assertion(&w))]);
    assert_eq!((i.status, json(&i)["active"].clone()), (200, json!(true)), "{}", i.body);
    assert_eq!(json(&i)["client_id"], URL);
    // Revocation with an assertion, then the refresh token is dead.
    let r = w.form("/revoke", &[("token", &rt), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &c.assertion(&w))]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&refresh_with(&w, &rt, &c.assertion(&w)))["error"], "invalid_grant");
    let uri_fetches: usize = w.store.assertions.fetched.borrow().len();
    assert_eq!(uri_fetches, 1, "one key fetch served all five requests (max-age=600)");
}

#[test]
fn inline_jwks_work_too() {
    let mut w = World::new();
    let key = TestKey::ps256("p");
    w.store.documents.serve(URL, &document(URL, false, json!({"jwks": jwks(&[&key])})), None);
    let c = Client { id: URL, key };
    let code = w.code_for(URL);
    assert_eq!(redeem_with(&w, &code, &c.assertion(&w)).status, 200);
    assert!(w.store.assertions.fetched.borrow().is_empty(), "nothing to fetch");
}

#[test]
fn every_bad_assertion_is_invalid_client_and_spends_nothing() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, true);
    let code = w.code_for(URL);
    for (name, assertion, want) in bad_assertions(&w, &c) {
        let r = redeem_with(&w, &code, &assertion);
        invalid_client(&r, want);
        assert!(w.store.refresh.borrow().is_empty(), "{name}: nothing issued");
    }
    // A replay: the first use wins, the second is refused.
    let once = c.assertion(&w);
    let other_code = w.code_for(URL);
    assert_eq!(redeem_with(&w, &other_code, &once).status, 200);
    invalid_client(&redeem_with(&w, &code, &once), "already used");
    // The code survived every refusal.
    let r = redeem_with(&w, &code, &c.assertion(&w));
    assert_eq!(r.status, 200, "the code is still redeemable: {}", r.body);
}

#[test]
fn a_bad_assertion_at_refresh_rotates_nothing() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, false);
    let code = w.code_for(URL);
    let t = json(&redeem_with(&w, &code, &c.assertion(&w)));
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let before = w.store.refresh.borrow().clone();
    for (name, assertion, want) in bad_assertions(&w, &c) {
        invalid_client(&refresh_with(&w, &rt, &assertion), want);
        assert_eq!(*w.store.refresh.borrow(), before, "{name}: nothing rotated or issued");
    }
    // Without any authentication a client that never offered `none` is refused too.
    let r = w.refresh(URL, &rt);
    invalid_client(&r, "must authenticate with private_key_jwt");
    assert_eq!(*w.store.refresh.borrow(), before);
    assert_eq!(refresh_with(&w, &rt, &c.assertion(&w)).status, 200, "the refresh token still works");
}

#[test]
fn another_clients_assertion_is_refused() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, true);
    let other = Client::serve(&w, OTHER, true);
    let code = w.code_for(URL);
    // Its own valid assertion, presented as if for this client.
    let r = w.form(
        "/token",
        &[("grant_type", "authorization_code"), ("client_id", URL), ("code", &code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &other.assertion(&w))],
    );
    invalid_client(&r, "client_id differs");
    // Claiming to be this client, signed with the other's key.
    let forged = other.key.sign_jws(&c.claims(&w, &format!("{ISS}/token")));
    invalid_client(&redeem_with(&w, &forged, &forged), "signature does not verify");
    // Presented alone it authenticates the other client, whose code this is not.
    let r = redeem_with(&w, &code, &other.assertion(&w));
    assert_eq!((r.status, json(&r)["error"].clone()), (400, json!("invalid_grant")), "{}", r.body);
    assert_eq!(redeem_with(&w, &code, &c.assertion(&w)).status, 200, "and harmed nothing");
}

#[test]
fn a_client_that_offers_none_may_come_as_a_public_client() {
    let mut w = World::new();
    // The key host is down; the public path never needs it.
    let uri = jwks_uri("down");
    w.store.documents.serve(URL, &document(URL, true, json!({"jwks_uri": uri})), None);
    let code = w.code_for(URL);
    let r = w.redeem(URL, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.body);
    let rt = json(&r)["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(w.refresh(URL, &rt).status, 200);
    assert!(w.store.assertions.fetched.borrow().is_empty(), "the key host was never asked");
    // But an assertion, once sent, is verified: with the keys unreachable it fails.
    let c = Client { id: URL, key: TestKey::es256("k1") };
    let code = w.code_for(URL);
    invalid_client(&redeem_with(&w, &code, &c.assertion(&w)), "could not be had from its jwks_uri");
    assert_eq!(w.redeem(URL, &code, VERIFIER).status, 200, "no fallback was taken, and the code survived");
}

#[test]
fn a_client_that_never_offered_none_must_assert() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, false);
    let code = w.code_for(URL);
    invalid_client(&w.redeem(URL, &code, VERIFIER), "must authenticate with private_key_jwt");
    assert_eq!(redeem_with(&w, &code, &c.assertion(&w)).status, 200, "the code survived");
}

#[test]
fn one_method_per_request() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, true);
    let code = w.code_for(URL);
    let r = w.form(
        "/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", VERIFIER), ("client_secret", "x"), ("client_id", URL), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &c.assertion(&w))],
    );
    assert_eq!((r.status, json(&r)["error"].clone()), (400, json!("invalid_request")), "{}", r.body);
    assert!(w.store.assertions.ids.borrow().is_empty(), "refused before the assertion was looked at");
}

#[test]
fn introspection_refuses_a_public_caller_even_when_it_could_assert() {
    let mut w = World::new();
    let c = Client::serve(&w, URL, true);
    let code = w.code_for(URL);
    let rt = json(&redeem_with(&w, &code, &c.assertion(&w)))["refresh_token"].as_str().unwrap().to_string();
    let r = w.form("/introspect", &[("token", &rt), ("client_id", URL)]);
    assert_eq!(r.status, 401, "{}", r.body);
}

#[test]
fn a_registered_client_cannot_assert() {
    let mut w = World::new();
    let client = w.public_client();
    let code = w.code_for(&client);
    let key = TestKey::es256("k");
    let claims = json!({"iss": client, "sub": client, "aud": format!("{ISS}/token"), "exp": w.now + 60, "jti": "j"});
    invalid_client(&redeem_with(&w, &code, &key.sign_jws(&claims)), "does not authenticate with private_key_jwt");
    assert_eq!(w.redeem(&client, &code, VERIFIER).status, 200);
    // And registration does not offer private_key_jwt (keys come only from a document).
    let body = format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"private_key_jwt","jwks":{}}}"#, jwks(&[&key]));
    let r = block_on(crate::protocol::register::handle(&w.ctx(), &w.req("POST", "/register", "", Some("application/json"), &body)));
    assert_eq!((r.status, json(&r)["error"].clone()), (400, json!("invalid_client_metadata")), "{}", r.body);
}
