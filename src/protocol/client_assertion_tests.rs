//! The assertion checks one by one (claims, algorithms, keys, the jti
//! memory, the key fetch); the endpoints using them are in
//! `testing::flows::client_assertion`.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::memory::MemoryAssertions;
use super::*;
use crate::protocol::cimd::document;
use crate::base::error::ErrorCode;
use crate::base::encoding::b64url;
use crate::base::scope::Scopes;
use crate::store::memory::{block_on, MemoryStore};
use crate::testing::net::{TestKey, TestNet};

const ISS: &str = "https://mcp.example.com";
const NOW: i64 = 1_800_000_000;
const CLIENT: &str = "https://client.example.com/oauth/client.json";

fn claims(jti: &str) -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": format!("{ISS}/token"), "exp": NOW + 60, "iat": NOW, "jti": jti})
}

fn map(v: &Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn with(mut v: Value, k: &str, x: Value) -> Value {
    v[k] = x;
    v
}

fn without(mut v: Value, k: &str) -> Value {
    v.as_object_mut().unwrap().remove(k);
    v
}

/// A metadata-document client whose document says `extra` besides the basics.
fn client(extra: Value) -> ClientRecord {
    let mut doc = json!({"client_id": CLIENT, "client_name": "Assertion client", "redirect_uris": ["https://client.example.com/cb"]});
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    document::validate(&ClientIdUrl::parse(CLIENT).unwrap(), doc.to_string().as_bytes(), &Scopes::from_config("mcp"), NOW).unwrap()
}

fn inline_client(keys: &[&TestKey]) -> ClientRecord {
    client(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}}))
}

use crate::protocol::cimd::ClientIdUrl;
use crate::config::Config;

struct Env {
    config: Config,
    store: MemoryStore,
    net: TestNet,
    now: i64,
}

impl Env {
    fn new() -> Env {
        Env { config: crate::testing::testing_config(), store: MemoryStore::default(), net: TestNet::default(), now: NOW }
    }
    fn ctx(&self) -> Ctx<'_, MemoryStore> {
        Ctx { config: &self.config, store: &self.store, issuer: ISS.into(), now: self.now }
    }
    fn check(&self, client: &ClientRecord, token: &str) -> OAuthResult<()> {
        let mut p = url::form_urlencoded::Serializer::new(String::new());
        p.append_pair("client_assertion_type", ASSERTION_TYPE).append_pair("client_assertion", token);
        let params = Params::parse(p.finish().as_bytes())?;
        let a = presented(&params)?.expect("an assertion");
        block_on(verify(&self.ctx(), &self.net, client, a))
    }
}

fn refused_with(r: OAuthResult<()>, want: &str) {
    let e = r.expect_err(want);
    assert_eq!(e.code, ErrorCode::InvalidClient, "{e}");
    assert_eq!(e.status(), 401);
    assert!(e.description.contains(want), "want {want:?} in {:?}", e.description);
}

// ---- the claims (RFC 7523 §3) ------------------------------------------------------

#[test]
fn good_claims_pass_and_say_how_long_to_remember_the_jti() {
    let c = check_claims(&map(&claims("j1")), CLIENT, ISS, NOW).unwrap();
    assert_eq!(c, Checked { jti: "j1".into(), remember_until: NOW + 60 + LEEWAY });
    let issuer_aud = with(claims("j"), "aud", json!(ISS));
    assert!(check_claims(&map(&issuer_aud), CLIENT, ISS, NOW).is_ok(), "the issuer is an audience too");
    let both = with(claims("j"), "aud", json!([ISS, format!("{ISS}/token")]));
    assert!(check_claims(&map(&both), CLIENT, ISS, NOW).is_ok());
}

#[test]
fn each_claim_is_required_to_be_right() {
    let bad = |c: Value, want: &str| {
        let why = check_claims(&map(&c), CLIENT, ISS, NOW).unwrap_err();
        assert!(why.contains(want), "{c}: {why}");
    };
    bad(with(claims("j"), "sub", json!("https://other.example/c.json")), "iss and sub");
    bad(with(claims("j"), "iss", json!("https://other.example/c.json")), "iss and sub");
    bad(without(claims("j"), "sub"), "iss and sub");
    bad(with(claims("j"), "aud", json!("https://other.example/token")), "aud must be");
    bad(with(claims("j"), "aud", json!(format!("{ISS}/revoke"))), "aud must be");
    bad(with(claims("j"), "aud", json!(format!("{ISS}/"))), "aud must be");
    bad(with(claims("j"), "aud", json!([format!("{ISS}/token"), "https://other.example"])), "aud must be");
    bad(with(claims("j"), "aud", json!([])), "aud must be");
    bad(without(claims("j"), "aud"), "aud must be");
    bad(without(claims("j"), "exp"), "no expiry");
    bad(with(claims("j"), "exp", json!(NOW - LEEWAY)), "expired");
    bad(with(claims("j"), "exp", json!("soon")), "no expiry");
    bad(with(claims("j"), "exp", json!(NOW + MAX_LIFETIME + LEEWAY + 1)), "seconds ahead");
    bad(with(claims("j"), "iat", json!(NOW + LEEWAY + 1)), "iat is in the future");
    bad(with(claims("j"), "nbf", json!(NOW + LEEWAY + 1)), "nbf is in the future");
    bad(without(claims("j"), "jti"), "jti is required");
    bad(with(claims("j"), "jti", json!("")), "jti is required");
    bad(with(claims("j"), "jti", json!(7)), "jti is required");
    // The edges that pass: skew on both sides, the longest lifetime.
    for (k, v) in [("exp", NOW - LEEWAY + 1), ("exp", NOW + MAX_LIFETIME + LEEWAY), ("iat", NOW + LEEWAY), ("nbf", NOW + LEEWAY)] {
        assert!(check_claims(&map(&with(claims("j"), k, json!(v))), CLIENT, ISS, NOW).is_ok(), "{k}={v}");
    }
}

#[test]
fn the_request_must_carry_both_parameters_with_the_right_type() {
    let parse_form = |body: &str| presented(&Params::parse(body.as_bytes()).unwrap());
    assert!(parse_form("client_id=x").unwrap().is_none());
    let token = TestKey::es256("k").sign_jws(&claims("j"));
    let t = urlenc(ASSERTION_TYPE);
    assert_eq!(parse_form(&format!("client_assertion_type={t}&client_assertion={token}")).unwrap().unwrap().client_id(), CLIENT);
    for body in [
        format!("client_assertion={token}"),
        format!("client_assertion_type={t}"),
        format!("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Asaml2-bearer&client_assertion={token}"),
        format!("client_assertion_type={t}&client_assertion=not.a.jwt"),
    ] {
        assert_eq!(parse_form(&body).unwrap_err().code, ErrorCode::InvalidClient, "{body}");
    }
    let other = TestKey::es256("k").sign_jws(&with(claims("j"), "iss", json!("https://evil.example/c.json")));
    let e = parse_form(&format!("client_assertion_type={t}&client_assertion={other}")).unwrap_err();
    assert!(e.description.contains("iss and sub"), "{e}");
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---- algorithms and keys -------------------------------------------------------------

#[test]
fn each_algorithm_verifies_its_own_signature_and_refuses_a_tampered_one() {
    for key in [TestKey::rs256("k"), TestKey::ps256("k"), TestKey::es256("k"), TestKey::eddsa("k")] {
        let env = Env::new();
        let c = inline_client(&[&key]);
        let name = key.alg().name();
        env.check(&c, &key.sign_jws(&claims(&format!("ok-{name}")))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let token = key.sign_jws(&claims(&format!("tampered-{name}")));
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = b64url(with(claims(&format!("tampered-{name}")), "exp", json!(NOW + 200)).to_string().as_bytes());
        refused_with(env.check(&c, &parts.join(".")), "signature does not verify");
        // Another key of the same kind, under the same kid: refused.
        let other = match key.alg() {
            Alg::Rs256 => TestKey::rs256("k"),
            Alg::Ps256 => TestKey::ps256("k"),
            Alg::Es256 => TestKey::es256("k"),
            Alg::EdDsa => TestKey::eddsa("k"),
        };
        refused_with(env.check(&c, &other.sign_jws(&claims(&format!("other-{name}")))), "signature does not verify");
        assert_eq!(env.store.assertions.ids.borrow().len(), 1, "{name}: only the good one spent its jti");
    }
}

use crate::base::signature::Alg;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 { Sha256::digest(key).to_vec() } else { key.to_vec() };
    k.resize(64, 0);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

#[test]
fn none_and_hmac_keyed_with_the_public_key_are_refused() {
    let env = Env::new();
    let key = TestKey::rs256("k");
    let b = |v: &Value| b64url(v.to_string().as_bytes());
    let body = b(&claims("forged"));
    let none = format!("{}.{body}.", b(&json!({"alg": "none"})));
    let p = |token: &str| {
        let form = format!("client_assertion_type={}&client_assertion={token}", urlenc(ASSERTION_TYPE));
        presented(&Params::parse(form.as_bytes()).unwrap())
    };
    assert!(p(&none).unwrap_err().description.contains("algorithm is not accepted"));
    // The classic forgery: HS256 with the RSA public key (its JWK text, or n) as the secret.
    let jwk_text = serde_json::to_string(&key.public_jwk()).unwrap();
    for secret in [jwk_text.as_bytes().to_vec(), crate::base::encoding::b64url_decode(key.public_jwk().n.as_deref().unwrap()).unwrap()] {
        let input = format!("{}.{body}", b(&json!({"alg": "HS256", "kid": "k"})));
        let forged = format!("{input}.{}", b64url(&hmac_sha256(&secret, input.as_bytes())));
        let e = p(&forged).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(e.description.contains("algorithm is not accepted"), "{e}");
    }
    assert!(env.store.assertions.ids.borrow().is_empty());
}

#[test]
fn the_documents_signing_alg_is_the_only_one_accepted() {
    let env = Env::new();
    let (rsa, ec) = (TestKey::rs256("r"), TestKey::es256("e"));
    let jwks = json!({"keys": [rsa.public_jwk(), ec.public_jwk()]});
    let pinned = client(json!({"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks": jwks}));
    env.check(&pinned, &rsa.sign_jws(&claims("a"))).unwrap();
    refused_with(env.check(&pinned, &ec.sign_jws(&claims("b"))), "asks for RS256");
}

#[test]
fn keys_are_chosen_by_kid_and_respect_their_alg() {
    let env = Env::new();
    let (a, b) = (TestKey::es256("a"), TestKey::es256("b"));
    let c = inline_client(&[&a, &b]);
    env.check(&c, &b.sign_jws(&claims("1"))).unwrap();
    // Signed by b but naming a's kid: only a is tried.
    let lying = b.sign_jws_with_header(&json!({"alg": "ES256", "kid": "a"}), &claims("2"));
    refused_with(env.check(&c, &lying), "signature does not verify");
    // No kid: every suitable key is tried.
    env.check(&c, &b.sign_jws_with_header(&json!({"alg": "ES256"}), &claims("3"))).unwrap();
    // A kid the set lacks (inline keys are never refetched).
    refused_with(env.check(&c, &TestKey::es256("z").sign_jws(&claims("4"))), "unknown key");
    // A key whose `alg` says PS256 is not used for RS256, though both are RSA.
    let rsa = TestKey::rs256("r");
    let mut jwk = rsa.public_jwk();
    jwk.alg = Some("PS256".into());
    let c = client(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}}));
    refused_with(env.check(&c, &rsa.sign_jws(&claims("5"))), "signature does not verify");
}

#[test]
fn an_assertion_for_a_client_without_keys_is_refused() {
    let env = Env::new();
    let key = TestKey::es256("k");
    let public = client(json!({"token_endpoint_auth_method": "none", "jwks": {"keys": [key.public_jwk()]}}));
    refused_with(env.check(&public, &key.sign_jws(&claims("j"))), "does not authenticate with private_key_jwt");
}

// ---- the jti memory ---------------------------------------------------------------------

#[test]
fn a_jti_is_accepted_once_per_client_until_it_expires() {
    let mut env = Env::new();
    let key = TestKey::eddsa("k");
    let c = inline_client(&[&key]);
    let token = key.sign_jws(&claims("once"));
    env.check(&c, &token).unwrap();
    refused_with(env.check(&c, &token), "already used");
    // The same jti in a new assertion is a replay too.
    refused_with(env.check(&c, &key.sign_jws(&with(claims("once"), "exp", json!(NOW + 120)))), "already used");
    // Remembered while the assertion could be accepted, then forgotten.
    env.now = NOW + 60 + LEEWAY - 1;
    let late = with(with(claims("once"), "exp", json!(env.now)), "iat", json!(env.now - 10));
    refused_with(env.check(&c, &key.sign_jws(&late)), "already used");
    env.now = NOW + 60 + LEEWAY;
    let fresh = with(with(claims("once"), "exp", json!(env.now + 60)), "iat", json!(env.now));
    env.check(&c, &key.sign_jws(&fresh)).unwrap();
}

#[test]
fn the_memory_store_claims_like_d1() {
    let store = MemoryStore::default();
    let (a, b) = (ClientId::new("https://a.example/c.json"), ClientId::new("https://b.example/c.json"));
    let jti = TokenHash::of("j");
    let claim = |c: &ClientId, until: i64, now: i64| block_on(store.claim_assertion_id(c, &jti, until, now)).unwrap();
    assert!(claim(&a, 100, 10));
    assert!(!claim(&a, 200, 20), "live: refused");
    assert!(claim(&b, 100, 20), "another client's ids are its own");
    assert!(!claim(&a, 200, 99));
    assert!(claim(&a, 200, 100), "expired at its time: claimable again");
    assert!(!claim(&a, 300, 150));
    *store.fail.borrow_mut() = true;
    assert!(block_on(store.claim_assertion_id(&a, &jti, 1, 1)).is_err(), "a storage failure is an error, never a pass");
}

#[test]
fn a_storage_failure_refuses_without_a_pass() {
    let env = Env::new();
    let key = TestKey::es256("k");
    let c = inline_client(&[&key]);
    *env.store.fail.borrow_mut() = true;
    let e = env.check(&c, &key.sign_jws(&claims("j"))).unwrap_err();
    assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
}

// ---- keys from jwks_uri -------------------------------------------------------------------

fn remote_client(uri: &str) -> ClientRecord {
    client(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": uri}))
}

fn serve(assertions: &MemoryAssertions, uri: &str, keys: &[&TestKey], cache_control: Option<&str>) {
    assertions.serve(uri, &json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}), cache_control);
}

/// A URL no other test uses: the key sets are cached per isolate (thread).
fn jwks_uri(name: &str) -> String {
    format!("https://keys.example.com/{name}-{}.json", crate::base::random::id("").unwrap())
}

#[test]
fn remote_keys_are_fetched_once_and_cached() {
    let env = Env::new();
    let key = TestKey::rs256("k1");
    let uri = jwks_uri("cached");
    serve(&env.store.assertions, &uri, &[&key], Some("max-age=600"));
    let c = remote_client(&uri);
    env.check(&c, &key.sign_jws(&claims("1"))).unwrap();
    env.check(&c, &key.sign_jws(&claims("2"))).unwrap();
    assert_eq!(env.store.assertions.fetch_count(&uri), 1);
}

#[test]
fn a_rotated_key_refetches_once_and_a_made_up_kid_does_not_flood() {
    let mut env = Env::new();
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let uri = jwks_uri("rotated");
    serve(&env.store.assertions, &uri, &[&old], Some("max-age=3600"));
    let c = remote_client(&uri);
    env.check(&c, &old.sign_jws(&claims("1"))).unwrap();
    serve(&env.store.assertions, &uri, &[&new, &old], Some("max-age=3600"));
    env.now += REFETCH.min_interval;
    let at = |env: &Env, jti: &str| with(with(claims(jti), "iat", json!(env.now)), "exp", json!(env.now + 60));
    env.check(&c, &new.sign_jws(&at(&env, "2"))).unwrap();
    assert_eq!(env.store.assertions.fetch_count(&uri), 2, "one refetch for the new kid");
    for i in 0..5 {
        refused_with(env.check(&c, &TestKey::es256("made-up").sign_jws(&at(&env, &format!("x{i}")))), "unknown key");
    }
    assert_eq!(env.store.assertions.fetch_count(&uri), 2, "within a minute of the last fetch, nothing more");
}

#[test]
fn an_unreachable_or_bad_key_host_refuses_with_the_reason() {
    let env = Env::new();
    let key = TestKey::es256("k");
    let status = |s: u16| Ok(FetchedDocument { status: s, body: vec![], cache_control: None, expires: None, date: None });
    let cases: Vec<(Result<FetchedDocument, FetchError>, &str)> = vec![
        (Err(FetchError::Unreachable), "connection failed"),
        (Err(FetchError::Timeout), "no answer within"),
        (Err(FetchError::TooLarge), "larger than"),
        (status(302), "redirect (HTTP 302)"),
        (status(503), "answered HTTP 503"),
        (Ok(FetchedDocument { status: 200, body: b"<html>".to_vec(), cache_control: None, expires: None, date: None }), "not a JSON Web Key Set"),
        (Ok(FetchedDocument { status: 200, body: vec![b' '; MAX_KEY_SET_BYTES + 1], cache_control: None, expires: None, date: None }), "larger than"),
    ];
    for (i, (answer, want)) in cases.into_iter().enumerate() {
        let uri = jwks_uri(&format!("bad{i}"));
        env.store.assertions.key_sets.borrow_mut().insert(uri.clone(), answer);
        refused_with(env.check(&remote_client(&uri), &key.sign_jws(&claims(&format!("j{i}")))), want);
    }
    assert!(env.store.assertions.ids.borrow().is_empty(), "no jti spent");
}

#[test]
fn garbage_costs_no_fetch() {
    let env = Env::new();
    let key = TestKey::es256("k");
    let uri = jwks_uri("untouched");
    serve(&env.store.assertions, &uri, &[&key], None);
    let c = remote_client(&uri);
    refused_with(env.check(&c, &key.sign_jws(&with(claims("j"), "aud", json!("https://elsewhere.example")))), "aud must be");
    refused_with(env.check(&c, &key.sign_jws(&with(claims("j"), "exp", json!(NOW - 600)))), "expired");
    assert_eq!(env.store.assertions.fetch_count(&uri), 0, "the claims are checked before any fetch");
}
