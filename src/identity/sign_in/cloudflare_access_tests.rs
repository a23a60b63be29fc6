//! Cloudflare Access assertions: each refusal, the key cache, the config,
//! and `/authorize` behind Access over the memory store.

use serde_json::{json, Value};

use super::*;
use crate::config::Config;
use crate::base::outbound::Method;
use crate::base::encoding::b64url;
use crate::store::memory::{block_on, MemoryStore};
use crate::testing::net::{TestKey, TestNet};

const TEAM: &str = "https://team.cloudflareaccess.com";
const CERTS: &str = "https://team.cloudflareaccess.com/cdn-cgi/access/certs";
const AUD: &str = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
const NOW: i64 = 1_800_000_000;

fn cfg() -> CloudflareAccess {
    CloudflareAccess { team_domain: TEAM.into(), audience: AUD.into(), allowed_emails: None }
}

/// Access's certs document: `keys` plus the PEM members we ignore.
fn publish(net: &TestNet, keys: &[&TestKey]) {
    let jwks: Vec<Value> = keys.iter().map(|k| serde_json::to_value(k.public_jwk()).unwrap()).collect();
    let body = json!({"keys": jwks, "public_cert": {"kid": keys[0].kid(), "cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}, "public_certs": []});
    net.respond(Method::Get, CERTS, 200, &body);
}

fn claims(email: &str) -> Value {
    json!({
        "aud": [AUD], "email": email, "exp": NOW + 300, "iat": NOW - 5, "nbf": NOW - 5,
        "iss": TEAM, "type": "app", "identity_nonce": "6ei69kawdKzMIAPF", "sub": "7335d417-61da-459d-899c-0a01c76a2f94", "country": "US",
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn check(net: &TestNet, cache: &CertsCache, token: &str, now: i64) -> Result<Identity, LoginError> {
    block_on(verify(&cfg(), cache, net, token, now))
}

fn is_invalid(r: Result<Identity, LoginError>, why: &str) {
    match r {
        Err(LoginError::Invalid(m)) => assert!(m.contains(why), "{m} should say {why}"),
        other => panic!("expected Invalid({why}), got {other:?}"),
    }
}

#[test]
fn a_valid_assertion_is_the_access_identity() {
    let (net, cache, key) = (TestNet::default(), CertsCache::default(), TestKey::rs256("k1"));
    publish(&net, &[&key]);
    let id = check(&net, &cache, &key.sign_jws(&claims("Owner@Example.com")), NOW).unwrap();
    assert_eq!(id.subject.as_str(), "access:owner@example.com");
    assert_eq!(id.method, LoginMethod::Access);
    assert_eq!(id.email.as_deref(), Some("owner@example.com"));
    // A string audience is as good as an array.
    check(&net, &cache, &key.sign_jws(&with(claims("a@example.com"), "aud", json!(AUD))), NOW).unwrap();
    assert_eq!(net.count(CERTS), 1, "the keys are fetched once and cached");
}

#[test]
fn forged_or_stale_assertions_are_refused() {
    let (net, cache) = (TestNet::default(), CertsCache::default());
    let key = TestKey::rs256("k1");
    publish(&net, &[&key]);
    let c = || claims("owner@example.com");
    is_invalid(check(&net, &cache, &key.sign_jws(&with(c(), "aud", json!(["other-app"]))), NOW), "wrong audience");
    is_invalid(check(&net, &cache, &key.sign_jws(&with(c(), "iss", json!("https://evil.cloudflareaccess.com"))), NOW), "wrong issuer");
    is_invalid(check(&net, &cache, &key.sign_jws(&with(c(), "exp", json!(NOW - LEEWAY - 1))), NOW), "expired");
    is_invalid(check(&net, &cache, &key.sign_jws(&with(c(), "iat", json!(NOW + LEEWAY + 60))), NOW), "iat is in the future");
    let no_exp = {
        let mut v = c();
        v.as_object_mut().unwrap().remove("exp");
        v
    };
    is_invalid(check(&net, &cache, &key.sign_jws(&no_exp), NOW), "no expiry");
    is_invalid(check(&net, &cache, &key.sign_jws(&with(c(), "type", json!("org"))), NOW), "not an application token");
    // Same kid, another key: the signature does not verify.
    let impostor = TestKey::rs256("k1");
    is_invalid(check(&net, &cache, &impostor.sign_jws(&c()), NOW), "signature does not verify");
    // A valid token with one byte of the claims changed.
    let good = key.sign_jws(&c());
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64url(with(c(), "email", json!("attacker@example.com")).to_string().as_bytes()), parts[2]);
    is_invalid(check(&net, &cache, &tampered, NOW), "signature does not verify");
    is_invalid(check(&net, &cache, "not-a-jwt", NOW), "malformed");
}

#[test]
fn unsigned_and_non_rs256_tokens_are_refused() {
    let (net, cache) = (TestNet::default(), CertsCache::default());
    let key = TestKey::rs256("k1");
    publish(&net, &[&key]);
    let body = b64url(claims("owner@example.com").to_string().as_bytes());
    let none = format!("{}.{body}.", b64url(br#"{"alg":"none","kid":"k1","typ":"JWT"}"#));
    is_invalid(check(&net, &cache, &none, NOW), "algorithm is not accepted");
    let hs = format!("{}.{body}.{}", b64url(br#"{"alg":"HS256","kid":"k1"}"#), b64url(b"mac"));
    is_invalid(check(&net, &cache, &hs, NOW), "algorithm is not accepted");
    // ES256 is a real algorithm elsewhere, but Access never uses it.
    let ec = TestKey::es256("k1");
    is_invalid(check(&net, &cache, &ec.sign_jws(&claims("owner@example.com")), NOW), "algorithm is not accepted");
    assert_eq!(net.count(CERTS), 0, "refused before any fetch");
}

#[test]
fn an_unknown_kid_fetches_the_keys_again_at_most_once_a_minute() {
    let (net, cache) = (TestNet::default(), CertsCache::default());
    let old = TestKey::rs256("old");
    publish(&net, &[&old]);
    check(&net, &cache, &old.sign_jws(&claims("a@example.com")), NOW).unwrap();
    // Access rotates: the new key is published, tokens name it.
    let new = TestKey::rs256("new");
    publish(&net, &[&new, &old]);
    let token = new.sign_jws(&claims("a@example.com"));
    let later = NOW + 10;
    let mut c = claims("a@example.com");
    c["exp"] = json!(later + 300);
    // Within a minute of the last fetch: refused, nothing fetched.
    is_invalid(check(&net, &cache, &token, later), "unknown key");
    assert_eq!(net.count(CERTS), 1);
    let after = NOW + CERTS_MIN_REFETCH;
    check(&net, &cache, &token, after).unwrap();
    assert_eq!(net.count(CERTS), 2, "refetched once for the new kid");
    check(&net, &cache, &old.sign_jws(&claims("a@example.com")), after).unwrap();
    assert_eq!(net.count(CERTS), 2, "the old key is still in the set");
    // A made-up kid right after does not fetch again.
    is_invalid(check(&net, &cache, &TestKey::rs256("made-up").sign_jws(&claims("a@example.com")), after + 1), "unknown key");
    assert_eq!(net.count(CERTS), 2);
}

#[test]
fn keys_are_fetched_again_after_an_hour() {
    let (net, cache, key) = (TestNet::default(), CertsCache::default(), TestKey::rs256("k"));
    publish(&net, &[&key]);
    let at = |t: i64| with(with(claims("a@example.com"), "exp", json!(t + 300)), "iat", json!(t));
    check(&net, &cache, &key.sign_jws(&at(NOW)), NOW).unwrap();
    check(&net, &cache, &key.sign_jws(&at(NOW + CERTS_MAX_AGE - 1)), NOW + CERTS_MAX_AGE - 1).unwrap();
    assert_eq!(net.count(CERTS), 1);
    check(&net, &cache, &key.sign_jws(&at(NOW + CERTS_MAX_AGE)), NOW + CERTS_MAX_AGE).unwrap();
    assert_eq!(net.count(CERTS), 2);
}

#[test]
fn unreachable_or_bad_certs_are_an_upstream_failure() {
    let (net, cache, key) = (TestNet::default(), CertsCache::default(), TestKey::rs256("k"));
    let token = key.sign_jws(&claims("a@example.com"));
    assert!(matches!(check(&net, &cache, &token, NOW), Err(LoginError::Upstream(_))), "no answer");
    net.respond(Method::Get, CERTS, 500, &json!({}));
    assert!(matches!(check(&net, &cache, &token, NOW), Err(LoginError::Upstream(_))), "5xx");
    net.respond(Method::Get, CERTS, 200, &json!({"public_cert": {}}));
    assert!(matches!(check(&net, &cache, &token, NOW), Err(LoginError::Upstream(_))), "no keys member");
    net.respond(Method::Get, CERTS, 200, &json!({"keys": [serde_json::to_value(TestKey::es256("e").public_jwk()).unwrap()]}));
    assert!(matches!(check(&net, &cache, &token, NOW), Err(LoginError::Upstream(_))), "no RS256 key");
}

#[test]
fn the_allow_list_and_a_missing_email_refuse() {
    let (net, cache, key) = (TestNet::default(), CertsCache::default(), TestKey::rs256("k"));
    publish(&net, &[&key]);
    let mut c = cfg();
    c.allowed_emails = Some(vec!["owner@example.com".into()]);
    let run = |email: &str| block_on(verify(&c, &cache, &net, &key.sign_jws(&claims(email)), NOW));
    assert!(run("OWNER@example.com").is_ok(), "case-insensitive");
    assert!(matches!(run("guest@example.com"), Err(LoginError::Refused(m)) if m.contains("CF_ACCESS_ALLOWED_EMAILS")));
    // A service token carries no email.
    let service = json!({"aud": [AUD], "exp": NOW + 300, "iat": NOW, "iss": TEAM, "type": "app", "common_name": "abc.access", "sub": ""});
    assert!(matches!(block_on(verify(&cfg(), &cache, &net, &key.sign_jws(&service), NOW)), Err(LoginError::Refused(_))));
}

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[test]
fn config_is_both_or_neither_and_checked() {
    assert_eq!(CloudflareAccess::from_lookup(&lookup(&[])).unwrap(), None);
    let ok = CloudflareAccess::from_lookup(&lookup(&[("CF_ACCESS_TEAM_DOMAIN", "team.cloudflareaccess.com/"), ("CF_ACCESS_AUD", AUD)])).unwrap().unwrap();
    assert_eq!(ok.team_domain, TEAM);
    assert_eq!(ok.certs_url(), CERTS);
    let local = CloudflareAccess::from_lookup(&lookup(&[("CF_ACCESS_TEAM_DOMAIN", "http://127.0.0.1:9999"), ("CF_ACCESS_AUD", AUD), ("CF_ACCESS_ALLOWED_EMAILS", "A@x.org, b@y.org")]))
        .unwrap()
        .unwrap();
    assert_eq!(local.allowed_emails, Some(vec!["a@x.org".to_string(), "b@y.org".to_string()]));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("CF_ACCESS_TEAM_DOMAIN", TEAM)], "CF_ACCESS_AUD"),
        (&[("CF_ACCESS_AUD", AUD)], "CF_ACCESS_TEAM_DOMAIN"),
        (&[("CF_ACCESS_TEAM_DOMAIN", "http://team.cloudflareaccess.com"), ("CF_ACCESS_AUD", AUD)], "CF_ACCESS_TEAM_DOMAIN"),
        (&[("CF_ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com/cdn-cgi"), ("CF_ACCESS_AUD", AUD)], "CF_ACCESS_TEAM_DOMAIN"),
        (&[("CF_ACCESS_TEAM_DOMAIN", TEAM), ("CF_ACCESS_AUD", "two words")], "CF_ACCESS_AUD"),
        (&[("CF_ACCESS_TEAM_DOMAIN", TEAM), ("CF_ACCESS_AUD", AUD), ("CF_ACCESS_ALLOWED_EMAILS", "not-an-email")], "CF_ACCESS_ALLOWED_EMAILS"),
        (&[("CF_ACCESS_ALLOWED_EMAILS", "a@b.c")], "CF_ACCESS_ALLOWED_EMAILS"),
    ];
    for (pairs, var) in cases {
        assert_eq!(CloudflareAccess::from_lookup(&lookup(pairs)).unwrap_err().variable, *var, "{pairs:?}");
    }
}

// --- /authorize behind Access, over the memory store ---

const REDIRECT: &str = "http://127.0.0.1:5000/callback";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Site {
    config: Config,
    store: MemoryStore,
    net: TestNet,
}

impl Site {
    fn new(extra: &[(&str, &str)]) -> Site {
        let mut pairs = vec![("SIGNING_KEY", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"), ("CF_ACCESS_TEAM_DOMAIN", TEAM), ("CF_ACCESS_AUD", AUD)];
        pairs.extend_from_slice(extra);
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        let store = MemoryStore::default();
        let client = crate::store::clients::ClientRecord {
            client_id: crate::base::types::ClientId::new("gh_c"),
            secret_hash: None,
            auth_method: crate::store::clients::AuthMethod::None,
            redirect_uris: vec![crate::base::redirect_uri::RedirectUri::parse(REDIRECT).unwrap()],
            grant_types: vec!["authorization_code".into()],
            client_name: Some("Test".into()),
            metadata: json!({}),
            created_at: 0,
        };
        store.clients.borrow_mut().insert("gh_c".into(), client);
        Site { config, store, net: TestNet::default() }
    }

    fn authorize(&self, assertion: Option<&str>) -> HttpResponse {
        let ctx = Ctx { config: &self.config, store: &self.store, issuer: "https://mcp.example.com".into(), now: NOW };
        let query = format!("response_type=code&client_id=gh_c&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s", urlenc(REDIRECT));
        let mut headers = vec![];
        if let Some(a) = assertion {
            headers.push((ASSERTION_HEADER.to_string(), a.to_string()));
        }
        let req = HttpRequest { method: "GET".into(), path: "/authorize".into(), query, headers, body: vec![], origin: "https://mcp.example.com".into() };
        block_on(authorize(&ctx, &req, &self.net))
    }
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn session_set(r: &HttpResponse) -> bool {
    r.headers.iter().any(|(k, v)| k == "set-cookie" && v.starts_with(browser_session::SESSION_COOKIE))
}

#[test]
fn behind_access_a_valid_assertion_goes_straight_to_consent() {
    let site = Site::new(&[("PASSWORD_LOGIN", "off")]);
    let key = TestKey::rs256("k");
    publish(&site.net, &[&key]);
    let r = site.authorize(Some(&key.sign_jws(&claims("owner@example.com"))));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("name=\"decision\" value=\"approve\""), "the consent page: {}", r.body);
    assert!(!r.body.contains("type=\"password\""));
    assert!(session_set(&r), "a session for the Access identity");
    let audit = site.store.audit.borrow();
    let last = audit.last().unwrap();
    assert_eq!((last.event.as_str(), last.subject.as_deref()), ("login.success", Some("access:owner@example.com")));
    assert_eq!(last.detail["method"], "access");
}

#[test]
fn behind_access_bad_or_missing_assertions_get_a_page() {
    let site = Site::new(&[("PASSWORD_LOGIN", "off")]);
    let key = TestKey::rs256("k");
    publish(&site.net, &[&key]);
    let expired = site.authorize(Some(&key.sign_jws(&with(claims("o@example.com"), "exp", json!(NOW - 3600)))));
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("expired") && !session_set(&expired), "{}", expired.body);
    assert_eq!(site.store.audit.borrow().last().unwrap().event, "login.failure");
    let absent = site.authorize(None);
    assert_eq!(absent.status, 403);
    assert!(absent.body.contains("Cloudflare Access"), "{}", absent.body);
    assert!(site.store.pending.borrow().is_empty(), "nothing started");
}

#[test]
fn with_the_password_also_on_no_assertion_means_the_login_page() {
    let site = Site::new(&[("OWNER_PASSWORD", "correct horse battery")]);
    let r = site.authorize(None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("type=\"password\""), "{}", r.body);
    // A bad assertion is still refused: it is a forgery or a misconfiguration.
    let r = site.authorize(Some("a.b.c"));
    assert_eq!(r.status, 400);
}

#[test]
fn behind_access_the_admin_page_signs_in_once_then_shows_the_dashboard() {
    let site = Site::new(&[("PASSWORD_LOGIN", "off"), ("ADMIN_SUBJECTS", "access:owner@example.com")]);
    let key = TestKey::rs256("k");
    publish(&site.net, &[&key]);
    let ctx = Ctx { config: &site.config, store: &site.store, issuer: "https://mcp.example.com".into(), now: NOW };
    let get = |assertion: Option<&str>, cookie: Option<&str>| {
        let mut headers = vec![];
        if let Some(a) = assertion {
            headers.push((ASSERTION_HEADER.to_string(), a.to_string()));
        }
        if let Some(c) = cookie {
            headers.push(("cookie".to_string(), c.to_string()));
        }
        let req = HttpRequest { method: "GET".into(), path: "/admin".into(), headers, origin: "https://mcp.example.com".into(), ..Default::default() };
        block_on(crate::operate::admin::access::show(&ctx, &req, &site.net))
    };
    let token = key.sign_jws(&claims("owner@example.com"));
    assert_eq!(get(None, None).status, 403, "password off and no assertion: no way in");
    let bad = get(Some(&key.sign_jws(&with(claims("owner@example.com"), "aud", json!("other")))), None);
    assert_eq!(bad.status, 400);
    assert!(!session_set(&bad));
    let r = get(Some(&token), None);
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")), "{}", r.body);
    let jar: Vec<String> = r.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.split(';').next().unwrap().to_string()).collect();
    assert_eq!(jar.len(), 2, "browser and session cookies");
    let dash = get(Some(&token), Some(&jar.join("; ")));
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("access:owner@example.com"), "the dashboard names who is signed in");
    // Someone else Access lets through may connect clients, not administer.
    let other = key.sign_jws(&claims("guest@example.com"));
    let r = get(Some(&other), None);
    let jar: Vec<String> = r.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.split(';').next().unwrap().to_string()).collect();
    let refused = get(Some(&other), Some(&jar.join("; ")));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Not an administrator") && refused.body.contains("ADMIN_SUBJECTS"), "{}", refused.body);
    assert!(!refused.body.contains("Revoke"), "no dashboard");
}
