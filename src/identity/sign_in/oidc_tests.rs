//! Native tests of the OpenID Connect login against canned provider answers
//! (`testing_net::TestNet`) and real keys (`TestKey`): every refusal of Core
//! §3.1.3.7 and of the allow-lists, and the key refresh on an unknown kid.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;
use crate::config::oidc::DEFAULT_SCOPES;
use crate::config::vars::ConfigError;
use crate::base::outbound::Method;
use crate::store::memory::block_on;
use crate::testing::net::{TestKey, TestNet};

const ISS: &str = "https://idp.example";
const TOKEN: &str = "https://idp.example/token";
const JWKS: &str = "https://idp.example/jwks";
const USERINFO: &str = "https://idp.example/me";
const NOW: i64 = 1_800_000_000;
const NONCE: &str = "nonce-1";
const REDIRECT: &str = "https://gate.example/callback/oidc";

fn config(extra: &[(&str, &str)]) -> Result<Option<OidcConfig>, ConfigError> {
    let mut m: HashMap<String, String> =
        [("OIDC_ISSUER", ISS), ("OIDC_CLIENT_ID", "gatehouse"), ("OIDC_CLIENT_SECRET", "s3cret:+/")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    OidcConfig::from_lookup(&move |k: &str| m.get(k).cloned())
}

fn cfg(extra: &[(&str, &str)]) -> OidcConfig {
    config(extra).unwrap().unwrap()
}

fn alice() -> OidcConfig {
    cfg(&[("OIDC_ALLOWED_SUBS", "alice")])
}

fn provider(keys: &[&TestKey]) -> TestNet {
    let net = TestNet::default();
    net.respond(
        Method::Get,
        &format!("{ISS}/.well-known/openid-configuration"),
        200,
        &json!({"issuer": ISS, "authorization_endpoint": format!("{ISS}/auth"), "token_endpoint": TOKEN, "jwks_uri": JWKS, "userinfo_endpoint": USERINFO}),
    );
    publish(&net, keys);
    net
}

fn publish(net: &TestNet, keys: &[&TestKey]) {
    net.respond(Method::Get, JWKS, 200, &json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}));
}

fn claims(sub: &str) -> Value {
    json!({"iss": ISS, "aud": "gatehouse", "sub": sub, "exp": NOW + 300, "iat": NOW - 5, "nonce": NONCE})
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

fn answer(net: &TestNet, id_token: &str) {
    net.respond(Method::Post, TOKEN, 200, &json!({"id_token": id_token, "access_token": "at-1", "token_type": "Bearer"}));
}

fn login(net: &TestNet, cfg: &OidcConfig) -> Result<Identity, LoginError> {
    block_on(identify(net, cfg, "code-1", REDIRECT, &Secret::new("v".repeat(43)), NONCE, NOW))
}

fn refused_token(cfg: &OidcConfig, key: &TestKey, published: &TestKey, c: Value) -> LoginError {
    let net = provider(&[published]);
    answer(&net, &key.sign_jws(&c));
    login(&net, cfg).unwrap_err()
}

#[test]
fn each_algorithm_signs_a_usable_id_token() {
    for key in [TestKey::rs256("r"), TestKey::es256("e"), TestKey::eddsa("d")] {
        let net = provider(&[&key]);
        answer(&net, &key.sign_jws(&claims("alice")));
        let id = login(&net, &alice()).unwrap_or_else(|e| panic!("{:?}: {e:?}", key.alg()));
        assert_eq!(id.subject.as_str(), "oidc:alice");
        assert_eq!(id.method, LoginMethod::Oidc);
        // The token request: our code, redirect URI and verifier, client_secret_basic with form-encoded parts.
        let sent = net.sent.borrow().iter().find(|r| r.url == TOKEN).cloned().unwrap();
        let body = String::from_utf8(sent.body.unwrap()).unwrap();
        assert!(body.contains("code=code-1") && body.contains("code_verifier=vvvv") && body.contains("grant_type=authorization_code"), "{body}");
        assert!(!body.contains("client_secret"), "basic auth only: {body}");
        let basic = sent.headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.clone()).unwrap();
        assert_eq!(basic, format!("Basic {}", base64_std(b"gatehouse:s3cret%3A%2B%2F")));
    }
}

#[test]
fn client_secret_post_when_only_that_is_advertised() {
    let key = TestKey::es256("e");
    let net = provider(&[&key]);
    net.respond(
        Method::Get,
        &format!("{ISS}/.well-known/openid-configuration"),
        200,
        &json!({"issuer": ISS, "authorization_endpoint": format!("{ISS}/auth"), "token_endpoint": TOKEN, "jwks_uri": JWKS,
                "token_endpoint_auth_methods_supported": ["client_secret_post"]}),
    );
    answer(&net, &key.sign_jws(&claims("alice")));
    login(&net, &alice()).unwrap();
    let sent = net.sent.borrow().iter().find(|r| r.url == TOKEN).cloned().unwrap();
    assert!(String::from_utf8(sent.body.unwrap()).unwrap().contains("client_secret=s3cret"));
    assert!(!sent.headers.iter().any(|(n, _)| n == "authorization"));
}

#[test]
fn forged_or_wrong_id_tokens_are_refused() {
    let key = TestKey::rs256("k1");
    let cfg = alice();
    let invalid = |e: LoginError, what: &str| assert!(matches!(e, LoginError::Invalid(_)), "{what}: {e:?}");
    invalid(refused_token(&cfg, &TestKey::rs256("k1"), &key, claims("alice")), "another key under the same kid");
    invalid(refused_token(&cfg, &key, &key, with(claims("alice"), "aud", json!("someone-else"))), "wrong aud");
    invalid(refused_token(&cfg, &key, &key, with(claims("alice"), "iss", json!("https://evil.example"))), "wrong iss");
    invalid(refused_token(&cfg, &key, &key, with(claims("alice"), "nonce", json!("other"))), "wrong nonce");
    let mut no_nonce = claims("alice");
    no_nonce.as_object_mut().unwrap().remove("nonce");
    invalid(refused_token(&cfg, &key, &key, no_nonce), "no nonce");
    invalid(refused_token(&cfg, &key, &key, with(claims("alice"), "exp", json!(NOW - LEEWAY - 1))), "expired");
    let mut no_iat = claims("alice");
    no_iat.as_object_mut().unwrap().remove("iat");
    invalid(refused_token(&cfg, &key, &key, no_iat), "no iat");
    invalid(refused_token(&cfg, &key, &key, with(claims("alice"), "aud", json!(["gatehouse", "other"]))), "several audiences, no azp");
    let multi = with(claims("alice"), "aud", json!(["gatehouse", "other"]));
    invalid(refused_token(&cfg, &key, &key, with(multi.clone(), "azp", json!("other"))), "azp names another client");
    let net = provider(&[&key]);
    answer(&net, &key.sign_jws(&with(multi, "azp", json!("gatehouse"))));
    assert!(login(&net, &cfg).is_ok(), "several audiences with our azp");
}

#[test]
fn unsigned_and_hmac_tokens_are_refused() {
    let key = TestKey::rs256("k1");
    let b = |v: Value| crate::base::encoding::b64url(v.to_string().as_bytes());
    for header in [json!({"alg": "none"}), json!({"alg": "HS256", "kid": "k1"})] {
        let net = provider(&[&key]);
        answer(&net, &format!("{}.{}.{}", b(header.clone()), b(claims("alice")), b(json!("x"))));
        assert!(matches!(login(&net, &alice()), Err(LoginError::Invalid(_))), "{header}");
    }
}

#[test]
fn an_unknown_kid_refreshes_the_keys_once() {
    let old = TestKey::es256("old");
    let new = TestKey::eddsa("new");
    let net = provider(&[&old]);
    answer(&net, &old.sign_jws(&claims("alice")));
    login(&net, &alice()).unwrap();
    assert_eq!(net.count(JWKS), 1);
    // The provider rotates: tokens now name a kid the cached set lacks.
    publish(&net, &[&new]);
    answer(&net, &new.sign_jws(&claims("alice")));
    assert_eq!(login(&net, &alice()).unwrap().subject.as_str(), "oidc:alice");
    assert_eq!(net.count(JWKS), 2, "fetched again for the new kid");
    login(&net, &alice()).unwrap();
    assert_eq!(net.count(JWKS), 2, "then cached");
    // A kid the provider never had: one refresh, then no more fetches for it.
    let stranger = TestKey::es256("stranger");
    answer(&net, &stranger.sign_jws(&claims("alice")));
    assert!(matches!(login(&net, &alice()), Err(LoginError::Invalid(_))));
    assert!(matches!(login(&net, &alice()), Err(LoginError::Invalid(_))));
    assert_eq!(net.count(JWKS), 3, "one refresh for the unknown kid, not one per token");
}

#[test]
fn allow_lists_decide_who_passes() {
    let key = TestKey::rs256("k");
    let run = |cfg: &OidcConfig, c: Value| {
        let net = provider(&[&key]);
        answer(&net, &key.sign_jws(&c));
        // UserInfo knows nothing more than the ID token.
        net.respond(Method::Get, USERINFO, 200, &json!({"sub": c["sub"]}));
        login(&net, cfg)
    };
    assert!(matches!(run(&alice(), claims("mallory")), Err(LoginError::Refused(_))), "sub not on the list");
    let by_email = cfg(&[("OIDC_ALLOWED_EMAILS", "Alice@Example.com")]);
    let mail = |verified: Value| with(with(claims("u1"), "email", json!("alice@example.COM")), "email_verified", verified);
    assert_eq!(run(&by_email, mail(json!(true))).unwrap().email.as_deref(), Some("alice@example.com"));
    assert!(matches!(run(&by_email, mail(json!(false))), Err(LoginError::Refused(_))), "unverified email");
    assert!(matches!(run(&by_email, mail(json!("true"))), Err(LoginError::Refused(_))), "only a JSON true counts");
    let by_group = cfg(&[("OIDC_ALLOWED_GROUPS", "mcp-users"), ("OIDC_GROUPS_CLAIM", "roles")]);
    assert_eq!(run(&by_group, with(claims("u2"), "roles", json!(["x", "mcp-users"]))).unwrap().groups, vec!["x", "mcp-users"]);
    assert!(matches!(run(&by_group, with(claims("u2"), "groups", json!(["mcp-users"]))), Err(LoginError::Refused(_))), "wrong claim name");
}

#[test]
fn userinfo_supplies_claims_the_id_token_lacks_for_the_same_subject_only() {
    let key = TestKey::rs256("k");
    let by_group = cfg(&[("OIDC_ALLOWED_GROUPS", "mcp-users")]);
    let net = provider(&[&key]);
    answer(&net, &key.sign_jws(&claims("u3")));
    net.respond(Method::Get, USERINFO, 200, &json!({"sub": "u3", "groups": ["mcp-users"]}));
    assert_eq!(login(&net, &by_group).unwrap().subject.as_str(), "oidc:u3");
    let sent = net.sent.borrow().iter().find(|r| r.url == USERINFO).cloned().unwrap();
    assert!(sent.headers.contains(&("authorization".into(), "Bearer at-1".into())));
    net.respond(Method::Get, USERINFO, 200, &json!({"sub": "someone-else", "groups": ["mcp-users"]}));
    assert!(matches!(login(&net, &by_group), Err(LoginError::Invalid(_))));
}

/// Issue 15 item 14: `email_verified` speaks of one `email`; taken from
/// two sources, an ID token's `true` would vouch for UserInfo's address.
#[test]
fn userinfo_email_and_email_verified_come_as_a_pair() {
    let key = TestKey::rs256("k");
    let by_email = cfg(&[("OIDC_ALLOWED_EMAILS", "alice@example.com")]);
    let run = |id_token: Value, userinfo: Value| {
        let net = provider(&[&key]);
        answer(&net, &key.sign_jws(&id_token));
        net.respond(Method::Get, USERINFO, 200, &userinfo);
        login(&net, &by_email)
    };
    // The attack: the ID token says "verified" without an address, UserInfo names an unverified one.
    let verified_without_email = with(claims("u4"), "email_verified", json!(true));
    let refused = run(verified_without_email.clone(), json!({"sub": "u4", "email": "alice@example.com"}));
    assert!(matches!(refused, Err(LoginError::Refused(_))), "{refused:?}");
    let refused = run(verified_without_email, json!({"sub": "u4", "email": "alice@example.com", "email_verified": false}));
    assert!(matches!(refused, Err(LoginError::Refused(_))), "{refused:?}");
    // The ID token's own unverified address is not upgraded by UserInfo's flag.
    let unverified = with(with(claims("u4"), "email", json!("alice@example.com")), "email_verified", json!(false));
    let refused = run(unverified, json!({"sub": "u4", "email": "alice@example.com", "email_verified": true}));
    assert!(matches!(refused, Err(LoginError::Refused(_))), "{refused:?}");
    // Controls: a pair from UserInfo alone, and from the ID token alone, each pass.
    let from_userinfo = run(claims("u4"), json!({"sub": "u4", "email": "alice@example.com", "email_verified": true}));
    assert_eq!(from_userinfo.unwrap().email.as_deref(), Some("alice@example.com"));
    let from_token = with(with(claims("u4"), "email", json!("alice@example.com")), "email_verified", json!(true));
    assert_eq!(run(from_token, json!({"sub": "u4"})).unwrap().email.as_deref(), Some("alice@example.com"));
}

#[test]
fn the_provider_must_describe_itself_as_the_configured_issuer() {
    let key = TestKey::rs256("k");
    let net = provider(&[&key]);
    net.respond(
        Method::Get,
        &format!("{ISS}/.well-known/openid-configuration"),
        200,
        &json!({"issuer": "https://idp.example/", "authorization_endpoint": format!("{ISS}/auth"), "token_endpoint": TOKEN, "jwks_uri": JWKS}),
    );
    answer(&net, &key.sign_jws(&claims("alice")));
    assert!(matches!(login(&net, &alice()), Err(LoginError::Upstream(_))));
    let insecure = provider(&[&key]);
    insecure.respond(
        Method::Get,
        &format!("{ISS}/.well-known/openid-configuration"),
        200,
        &json!({"issuer": ISS, "authorization_endpoint": format!("{ISS}/auth"), "token_endpoint": "http://idp.example/token", "jwks_uri": JWKS}),
    );
    assert!(matches!(login(&insecure, &alice()), Err(LoginError::Upstream(_))), "http endpoint");
}

#[test]
fn a_refused_code_is_an_upstream_error_without_echoing_secrets() {
    let key = TestKey::rs256("k");
    let net = provider(&[&key]);
    net.respond(Method::Post, TOKEN, 400, &json!({"error": "invalid_grant", "error_description": "<b>code-1</b>"}));
    match login(&net, &alice()) {
        Err(LoginError::Upstream(why)) => {
            assert!(why.contains("invalid_grant"), "{why}");
            assert!(!why.contains("code-1") && !why.contains("<b>"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_authorization_request_carries_pkce_state_and_nonce() {
    let net = provider(&[]);
    let url = block_on(authorize_url(&net, &alice(), REDIRECT, "st", "ch", "no", NOW)).unwrap();
    let u = url::Url::parse(&url).unwrap();
    let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
    assert_eq!(u.as_str().split('?').next(), Some("https://idp.example/auth"));
    for (k, v) in [("response_type", "code"), ("client_id", "gatehouse"), ("redirect_uri", REDIRECT), ("scope", DEFAULT_SCOPES),
                   ("state", "st"), ("nonce", "no"), ("code_challenge", "ch"), ("code_challenge_method", "S256")] {
        assert_eq!(q.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(!url.contains("s3cret"));
}

#[test]
fn configuration_is_validated_and_names_the_variable() {
    let none: HashMap<String, String> = HashMap::new();
    assert!(OidcConfig::from_lookup(&|k: &str| none.get(k).cloned()).unwrap().is_none(), "off when unset");
    assert_eq!(config(&[]).unwrap_err().variable, "OIDC_ALLOWED_SUBS", "an allow-list is required");
    assert_eq!(config(&[("OIDC_ALLOWED_SUBS", "a"), ("OIDC_ISSUER", "http://idp.example")]).unwrap_err().variable, "OIDC_ISSUER");
    assert!(config(&[("OIDC_ALLOWED_SUBS", "a"), ("OIDC_ISSUER", "http://127.0.0.1:9000")]).is_ok(), "loopback http");
    assert_eq!(config(&[("OIDC_ALLOWED_SUBS", "a"), ("OIDC_SCOPES", "email")]).unwrap_err().variable, "OIDC_SCOPES");
    assert_eq!(config(&[("OIDC_ALLOWED_SUBS", "a"), ("OIDC_CLIENT_SECRET", " ")]).unwrap_err().variable, "OIDC_CLIENT_SECRET");
    let c = cfg(&[("OIDC_ALLOWED_EMAILS", "A@x.org, b@y.org")]);
    assert_eq!(c.allowed_emails, vec!["a@x.org", "b@y.org"]);
    assert_eq!(c.label, "idp.example");
    assert!(!format!("{c:?}").contains("s3cret"), "the secret stays out of Debug");
    let only_id: HashMap<String, String> = [("OIDC_CLIENT_ID".to_string(), "x".to_string())].into();
    assert_eq!(OidcConfig::from_lookup(&|k: &str| only_id.get(k).cloned()).unwrap_err().variable, "OIDC_ISSUER");
}
