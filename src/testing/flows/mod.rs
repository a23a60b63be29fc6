//! Native tests of the endpoints wired together over the in-memory store:
//! register → authorize → login → consent → token → refresh, and the ways
//! each step must refuse.

use crate::config::Config;
use crate::protocol::context::Ctx;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::store::memory::{block_on, MemoryStore};
use crate::testing::testing_config;
use crate::identity::{authorize, consent};
use crate::protocol::{attempt_limit, introspect, register, revoke, token};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) const ISS: &str = "https://mcp.example.com";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:5000/callback";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// One browser (a cookie jar) against one store; every flow module below uses it.
pub(crate) struct World {
    pub(crate) config: Config,
    pub(crate) store: MemoryStore,
    pub(crate) now: i64,
    pub(crate) cookies: BTreeMap<String, String>,
    /// The client address (`CF-Connecting-IP`) of the next requests.
    pub(crate) ip: String,
}

impl World {
    pub(crate) fn new() -> Self {
        // The isolate's memory of failed document fetches is per thread, and a
        // test runs on one: each world starts with none.
        crate::protocol::cimd::negative_cache::forget_all();
        World { config: testing_config(), store: MemoryStore::default(), now: 1_800_000_000, cookies: BTreeMap::new(), ip: "198.51.100.7".into() }
    }
    pub(crate) fn ctx(&self) -> Ctx<'_, MemoryStore> {
        Ctx { config: &self.config, store: &self.store, issuer: ISS.into(), now: self.now }
    }
    pub(crate) fn req(&self, method: &str, path: &str, query: &str, ct: Option<&str>, body: &str) -> HttpRequest {
        let mut headers = vec![("cf-connecting-ip".to_string(), self.ip.clone())];
        if let Some(ct) = ct {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(("cookie".into(), c.join("; ")));
        }
        HttpRequest { method: method.into(), path: path.into(), query: query.into(), headers, body: body.as_bytes().to_vec(), origin: ISS.into() }
    }
    /// Stores what the response sets, and forgets what it expires.
    pub(crate) fn keep_cookies(&mut self, r: &HttpResponse) {
        for (k, v) in &r.headers {
            if k == "set-cookie" {
                let (name, value) = v.split(';').next().unwrap().split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
    }
    fn register(&self, body: &str) -> Value {
        let r = block_on(register::handle(&self.ctx(), &self.req("POST", "/register", "", Some("application/json"), body)));
        assert_eq!(r.status, 201, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }
    pub(crate) fn public_client(&self) -> String {
        self.register(&format!(r#"{{"redirect_uris":["{REDIRECT}"],"client_name":"Test"}}"#))["client_id"].as_str().unwrap().into()
    }
    fn authorize_query(client_id: &str) -> String {
        format!("response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz", urlenc(REDIRECT))
    }
    pub(crate) fn form(&self, action: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let r = self.req("POST", action, "", Some("application/x-www-form-urlencoded"), &body);
        match action {
            "/login" => block_on(crate::identity::sign_in::password::login(&self.ctx(), &r)),
            "/consent" => block_on(consent::decide(&self.ctx(), &crate::testing::net::TestNet::default(), &r)),
            "/revoke" => block_on(revoke::handle(&self.ctx(), &crate::testing::net::TestNet::default(), &r)),
            "/introspect" => block_on(introspect::handle(&self.ctx(), &crate::testing::net::TestNet::default(), &r)),
            _ => block_on(token::handle(&self.ctx(), &crate::testing::net::TestNet::default(), &r)),
        }
    }
    /// GET /authorize in this browser: the login form's (request, csrf).
    pub(crate) fn start(&mut self, client_id: &str) -> (String, String) {
        let page = block_on(authorize::handle(&self.ctx(), &self.req("GET", "/authorize", &Self::authorize_query(client_id), None, "")));
        assert_eq!(page.status, 200, "{}", page.body);
        self.keep_cookies(&page);
        (hidden(&page.body, "request"), hidden(&page.body, "csrf"))
    }
    /// Plays the owner: authorize, log in, approve. Returns the code.
    fn code_for(&mut self, client_id: &str) -> String {
        let (request, csrf) = self.start(client_id);
        let login = self.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
        assert_eq!(login.status, 303, "{}", login.body);
        self.keep_cookies(&login);
        let done = self.form("/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve")]);
        assert_eq!(done.status, 303, "{}", done.body);
        let loc = url::Url::parse(done.header("location").unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["state"], "xyz");
        assert_eq!(q["iss"], ISS);
        q["code"].clone()
    }
    pub(crate) fn redeem(&self, client_id: &str, code: &str, verifier: &str) -> HttpResponse {
        self.form("/token", &[("grant_type", "authorization_code"), ("client_id", client_id), ("code", code), ("code_verifier", verifier), ("redirect_uri", REDIRECT)])
    }
    /// A public client with a redeemed code: (client_id, refresh token).
    fn client_with_tokens(&mut self) -> (String, String) {
        let client = self.public_client();
        let code = self.code_for(&client);
        let t = json(&self.redeem(&client, &code, VERIFIER));
        (client, t["refresh_token"].as_str().unwrap().to_string())
    }
    fn refresh(&self, client_id: &str, rt: &str) -> HttpResponse {
        self.form("/token", &[("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", rt)])
    }
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}

pub(crate) fn json(r: &HttpResponse) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn full_flow_issues_tokens_that_verify() {
    let mut w = World::new();
    let client = w.public_client();
    let code = w.code_for(&client);
    let r = w.redeem(&client, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = json(&r);
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, [&w.config.signing_key], t["access_token"].as_str().unwrap(), w.now, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
    assert_eq!(v.claims.client_id, client);
    assert_eq!(v.claims.aud, format!("{ISS}/mcp"));
    assert!(t["refresh_token"].is_string());
}

#[test]
fn wrong_verifier_fails_and_leaves_the_code_usable() {
    let mut w = World::new();
    let client = w.public_client();
    let code = w.code_for(&client);
    let bad = w.redeem(&client, &code, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX");
    assert_eq!((bad.status, json(&bad)["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(w.redeem(&client, &code, VERIFIER).status, 200, "a failed attempt changed nothing");
}

#[test]
fn replayed_code_fails_and_revokes_the_grant() {
    let mut w = World::new();
    let client = w.public_client();
    let code = w.code_for(&client);
    let first = json(&w.redeem(&client, &code, VERIFIER));
    let again = w.redeem(&client, &code, VERIFIER);
    assert_eq!(json(&again)["error"], "invalid_grant");
    let r = w.refresh(&client, first["refresh_token"].as_str().unwrap());
    assert_eq!(json(&r)["error"], "invalid_grant", "tokens of a replayed code are revoked");
}

#[test]
fn a_strangers_replay_revokes_nothing() {
    let mut w = World::new();
    let client = w.public_client();
    let other = w.public_client();
    let code = w.code_for(&client);
    let first = json(&w.redeem(&client, &code, VERIFIER));
    assert_eq!(json(&w.redeem(&other, &code, VERIFIER))["error"], "invalid_grant");
    assert_eq!(w.refresh(&client, first["refresh_token"].as_str().unwrap()).status, 200);
}

#[test]
fn code_of_another_client_and_expired_code_fail() {
    let mut w = World::new();
    let client = w.public_client();
    let other = w.public_client();
    let code = w.code_for(&client);
    assert_eq!(json(&w.redeem(&other, &code, VERIFIER))["error"], "invalid_grant");
    w.now += w.config.auth_code_ttl + 1;
    assert_eq!(json(&w.redeem(&client, &code, VERIFIER))["error"], "invalid_grant");
}

#[test]
fn refresh_rotates_and_reuse_after_grace_revokes_the_grant() {
    let mut w = World::new();
    let (client, rt1) = w.client_with_tokens();
    let t2 = json(&w.refresh(&client, &rt1));
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    // Within the grace window a parallel refresh with the old token works.
    assert_eq!(w.refresh(&client, &rt1).status, 200);
    w.now += w.config.refresh_grace + 1;
    assert_eq!(json(&w.refresh(&client, &rt1))["error"], "invalid_grant");
    assert_eq!(json(&w.refresh(&client, &rt2))["error"], "invalid_grant", "reuse revoked the whole grant");
}

fn refresh_token_of(r: &HttpResponse) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    json(r)["refresh_token"].as_str().unwrap().to_string()
}

/// Issue 15 item 8: inside the grace window, every use of a rotated token
/// gets its one successor, so a copy never becomes a family of its own.
#[test]
fn a_token_reused_within_the_grace_window_gets_the_same_successor() {
    let mut w = World::new();
    let (client, rt1) = w.client_with_tokens();
    let rt2 = refresh_token_of(&w.refresh(&client, &rt1));
    w.now += 1;
    for _ in 0..3 {
        assert_eq!(refresh_token_of(&w.refresh(&client, &rt1)), rt2, "the same successor, not a new token");
    }
    assert_eq!(w.store.refresh.borrow().len(), 2, "one row per member: no fork was stored");
    // The holder and the copy share one chain: rt2 rotates once for both.
    let rt3 = refresh_token_of(&w.refresh(&client, &rt2));
    assert_eq!(refresh_token_of(&w.refresh(&client, &rt2)), rt3);
    assert_ne!(rt3, rt2);
}

/// A retry after the answer was lost (the successor may not even have been
/// stored): the same successor, stored then.
#[test]
fn a_retry_after_a_lost_answer_gets_the_same_successor() {
    let mut w = World::new();
    let (client, rt1) = w.client_with_tokens();
    let rt2 = refresh_token_of(&w.refresh(&client, &rt1));
    w.store.refresh.borrow_mut().remove(crate::base::types::TokenHash::of(&rt2).as_str());
    w.now += 5;
    assert_eq!(refresh_token_of(&w.refresh(&client, &rt1)), rt2);
    assert_eq!(refresh_token_of(&w.refresh(&client, &rt2)).len(), 43, "the successor was stored by the retry");
}

/// The family is the grant: a retired member used after the window, any of
/// them, revokes it, and with it the member in use.
#[test]
fn reuse_of_any_retired_member_after_the_window_revokes_the_family() {
    for retired in 0..2 {
        let mut w = World::new();
        let (client, rt1) = w.client_with_tokens();
        let rt2 = refresh_token_of(&w.refresh(&client, &rt1));
        w.now += 10;
        let rt3 = refresh_token_of(&w.refresh(&client, &rt2));
        w.now += w.config.refresh_grace + 1;
        let old = [&rt1, &rt2][retired];
        assert_eq!(json(&w.refresh(&client, old))["error"], "invalid_grant");
        assert_eq!(json(&w.refresh(&client, &rt3))["error"], "invalid_grant", "member {retired}: the whole family is revoked");
        assert!(w.store.grants.borrow().values().all(|g| g.revoked_at.is_some()));
    }
}

/// A successor derived under a key that has since been retired cannot be
/// recomputed: the grace use gets an access token and no refresh token,
/// never a new family.
#[test]
fn a_grace_use_whose_successor_cannot_be_recomputed_gets_only_an_access_token() {
    let mut w = World::new();
    let (client, rt1) = w.client_with_tokens();
    refresh_token_of(&w.refresh(&client, &rt1));
    w.config.signing_key = crate::base::signing_key::SigningKey::from_seed_b64(&crate::base::encoding::b64url(&[9; 32])).unwrap();
    w.config.previous_keys.clear();
    let r = json(&w.refresh(&client, &rt1));
    assert!(r["access_token"].is_string(), "{r}");
    assert!(r.get("refresh_token").is_none(), "{r}");
    assert_eq!(w.store.refresh.borrow().len(), 2);
}

#[test]
fn refresh_token_of_another_client_fails_without_harm() {
    let mut w = World::new();
    let (client, rt) = w.client_with_tokens();
    let other = w.public_client();
    assert_eq!(json(&w.refresh(&other, &rt))["error"], "invalid_grant");
    assert_eq!(w.refresh(&client, &rt).status, 200);
}

#[test]
fn unknown_client_and_bad_redirect_show_a_page_never_redirect() {
    let w = World::new();
    let client = w.public_client();
    for q in [
        Some(World::authorize_query("gh_nope")),
        Some(World::authorize_query(&client).replace("5000%2Fcallback", "5000%2Fother")),
        Some(World::authorize_query(&client).replace("127.0.0.1", "evil.example")),
    ] {
        let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q.unwrap(), None, "")));
        assert_eq!(r.status, 400);
        assert!(r.header("location").is_none());
        assert!(r.body.contains("<html"));
    }
}

#[test]
fn pkce_errors_redirect_to_the_validated_uri_with_iss() {
    let mut w = World::new();
    let (client, _) = w.client_with_tokens();
    let q = World::authorize_query(&client).replace("S256", "plain");
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(loc.contains("error=invalid_request") && loc.contains("state=xyz") && loc.contains("iss=https%3A%2F%2Fmcp.example.com"), "{loc}");
}

/// Issue 15 item 6 (RFC 9700 §4.11.2): a client nobody approved is anyone's
/// registration, so its errors are a page, not an automatic redirect; once
/// approved they redirect, and when every grant is revoked, pages again.
#[test]
fn errors_redirect_only_to_a_client_the_owner_approved() {
    let mut w = World::new();
    let client = w.register(r#"{"redirect_uris":["https://evil.example/landing"],"client_name":"Phish"}"#)["client_id"].as_str().unwrap().to_string();
    let bad = |client: &str| {
        format!("response_type=token&client_id={client}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz", urlenc("https://evil.example/landing"))
    };
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &bad(&client), None, "")));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.header("location").is_none());
    assert!(r.body.contains("response_type"), "the page says what was wrong: {}", r.body);

    let (approved, rt) = w.client_with_tokens();
    let q = World::authorize_query(&approved).replace("response_type=code", "response_type=token");
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("location").unwrap().contains("error=unsupported_response_type"));

    let revoked = w.form("/revoke", &[("token", &rt), ("client_id", &approved)]);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    assert_eq!(r.status, 400, "every grant revoked: untrusted again");
    assert!(r.header("location").is_none());
}

#[test]
fn wrong_password_and_bad_csrf_are_refused_and_rate_limited() {
    let mut w = World::new();
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let bad_csrf = w.form("/login", &[("request", &request), ("csrf", "forged"), ("password", PASSWORD)]);
    assert_eq!(bad_csrf.status, 403);
    for _ in 0..attempt_limit::PASSWORD_PER_SOURCE.max {
        let r = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", "wrong password")]);
        assert_eq!(r.status, 401);
        assert!(r.body.contains("not right"));
    }
    let limited = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    assert_eq!(limited.status, 429, "even the right password waits out the limit");
}

#[test]
fn the_password_limit_counts_an_ipv6_64_as_one_source_and_caps_each_pending_request() {
    let mut w = World::new();
    let client = w.public_client();
    let attempt = |w: &World, request: &str, csrf: &str, password: &str| w.form("/login", &[("request", request), ("csrf", csrf), ("password", password)]).status;
    // Each on its own pending request, so only the per-source limit can refuse.
    for i in 1..=attempt_limit::PASSWORD_PER_SOURCE.max {
        w.ip = format!("2001:db8:7:7::{i}");
        let (request, csrf) = w.start(&client);
        assert_eq!(attempt(&w, &request, &csrf, "wrong password"), 401);
    }
    w.ip = "2001:db8:7:7:ffff:ffff:ffff:ffff".into();
    let (request, csrf) = w.start(&client);
    assert_eq!(attempt(&w, &request, &csrf, PASSWORD), 429, "another address of the same /64 is the same source");
    w.ip = "2001:db8:7:8::1".into();
    assert_eq!(attempt(&w, &request, &csrf, PASSWORD), 303, "the next /64 is another source");
    // A fresh request guessed at from many sources: the request itself runs out.
    w.ip = "192.0.2.200".into();
    let (request, csrf) = w.start(&client);
    for i in 1..=attempt_limit::PASSWORD_PER_REQUEST.max {
        w.ip = format!("192.0.2.{i}");
        assert_eq!(attempt(&w, &request, &csrf, "wrong password"), 401);
    }
    w.ip = "192.0.2.100".into();
    assert_eq!(attempt(&w, &request, &csrf, PASSWORD), 429, "five wrong passwords on this request, from anywhere");
    // The right password elsewhere is not affected, and is not counted.
    let (request, csrf) = w.start(&client);
    let rows = w.store.failures.borrow().len();
    for _ in 0..10 {
        assert_eq!(attempt(&w, &request, &csrf, PASSWORD), 303);
    }
    assert_eq!(w.store.failures.borrow().len(), rows, "right passwords leave no rows");
}

#[test]
fn pending_sign_ins_are_budgeted_per_source_and_hour() {
    let mut w = World::new();
    w.config.source_budget_per_hour = 3;
    let client = w.public_client();
    let q = World::authorize_query(&client);
    let authorize = |w: &World| block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    for _ in 0..3 {
        assert_eq!(authorize(&w).status, 200);
    }
    let over = authorize(&w);
    assert_eq!(over.status, 429, "{}", over.body);
    assert!(over.header("retry-after").is_some() && over.header("location").is_none());
    assert_eq!(w.store.pending.borrow().len(), 3, "nothing stored over the budget");
    w.ip = "198.51.100.8".into();
    assert_eq!(authorize(&w).status, 200, "another source has its own budget");
    w.ip = "198.51.100.7".into();
    w.now += 3600;
    assert_eq!(authorize(&w).status, 200, "the next hour starts afresh");
}

#[test]
fn consent_replay_and_other_browser_are_refused() {
    let mut w = World::new();
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let login = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    w.keep_cookies(&login);
    let approve = [("request", request.as_str()), ("csrf", csrf.as_str()), ("decision", "approve")];
    assert_eq!(w.form("/consent", &approve).status, 303);
    let replay = w.form("/consent", &approve);
    assert_eq!(replay.status, 400);
    assert!(replay.header("location").is_none());

    let page = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &World::authorize_query(&client), None, "")));
    let request = hidden(&page.body, "request");
    w.cookies.insert(crate::identity::browser_session::BROWSER_COOKIE.into(), "A".repeat(43));
    let r = w.form("/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve")]);
    assert_eq!(r.status, 403);
    // The consent page itself (no CSRF token involved) refuses another browser too.
    let shown = block_on(consent::show(&w.ctx(), &w.req("GET", "/consent", &format!("request={request}"), None, "")));
    assert_eq!(shown.status, 403, "{}", shown.body);
    assert!(shown.body.contains("another browser"));
}

#[test]
fn confidential_client_must_authenticate() {
    let mut w = World::new();
    let reg = w.register(&format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post"}}"#));
    let (client, secret) = (reg["client_id"].as_str().unwrap().to_string(), reg["client_secret"].as_str().unwrap().to_string());
    assert!(!w.store.clients.borrow()[&client].metadata.to_string().contains(&secret), "secret stored only hashed");
    let code = w.code_for(&client);
    let no_secret = w.redeem(&client, &code, VERIFIER);
    assert_eq!((no_secret.status, json(&no_secret)["error"].as_str()), (401, Some("invalid_client")));
    let fields = [("grant_type", "authorization_code"), ("client_id", client.as_str()), ("client_secret", "wrong"), ("code", code.as_str()), ("code_verifier", VERIFIER)];
    assert_eq!(w.form("/token", &fields).status, 401);
    let mut good = fields;
    good[2].1 = &secret;
    assert_eq!(w.form("/token", &good).status, 200);
}

#[test]
fn token_endpoint_rejects_malformed_requests() {
    let w = World::new();
    let client = w.public_client();
    let r = w.form("/token", &[("grant_type", "password"), ("client_id", &client)]);
    assert_eq!(json(&r)["error"], "unsupported_grant_type");
    let r = block_on(token::handle(&w.ctx(), &crate::testing::net::TestNet::default(), &w.req("POST", "/token", "", Some("application/json"), "{}")));
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_request")));
    let r = block_on(token::handle(&w.ctx(), &crate::testing::net::TestNet::default(), &w.req("POST", "/token", "", Some("application/x-www-form-urlencoded"), "grant_type=refresh_token&grant_type=refresh_token")));
    assert_eq!(json(&r)["error"], "invalid_request");
    let r = w.form("/token", &[("grant_type", "authorization_code"), ("client_id", "gh_unknown"), ("code", "x")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn storage_failure_is_an_oauth_error_not_a_crash() {
    let w = World::new();
    *w.store.fail.borrow_mut() = true;
    let r = block_on(register::handle(&w.ctx(), &w.req("POST", "/register", "", Some("application/json"), &format!(r#"{{"redirect_uris":["{REDIRECT}"]}}"#))));
    assert_eq!((r.status, json(&r)["error"].as_str()), (503, Some("temporarily_unavailable")));
}

// ---- revocation (RFC 7009), introspection (RFC 7662), refresh bindings ----------

impl World {
    /// A public client with a redeemed code: (client_id, access token, refresh token).
    fn client_with_both(&mut self) -> (String, String, String) {
        let client = self.public_client();
        let code = self.code_for(&client);
        let t = json(&self.redeem(&client, &code, VERIFIER));
        (client, t["access_token"].as_str().unwrap().into(), t["refresh_token"].as_str().unwrap().into())
    }
    /// A client_secret_post client: (client_id, secret).
    pub(crate) fn confidential_client(&self) -> (String, String) {
        let reg = self.register(&format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post"}}"#));
        (reg["client_id"].as_str().unwrap().into(), reg["client_secret"].as_str().unwrap().into())
    }
    fn revoke(&self, client_id: &str, token: &str) -> HttpResponse {
        self.form("/revoke", &[("client_id", client_id), ("token", token)])
    }
    fn introspect(&self, client_id: &str, secret: &str, token: &str) -> Value {
        let r = self.form("/introspect", &[("client_id", client_id), ("client_secret", secret), ("token", token)]);
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)
    }
    fn grant_revoked(&self) -> bool {
        self.store.grants.borrow().values().any(|g| g.revoked_at.is_some())
    }
}

#[test]
fn revoking_a_refresh_token_revokes_its_grant() {
    let mut w = World::new();
    let (client, _at, rt) = w.client_with_both();
    let r = w.revoke(&client, &rt);
    assert_eq!((r.status, r.header("cache-control")), (200, Some("no-store")), "{}", r.body);
    assert!(w.grant_revoked());
    assert_eq!(json(&w.refresh(&client, &rt))["error"], "invalid_grant");
    assert!(w.store.audit.borrow().iter().any(|e| e.event == "grant.revoke" && e.detail["by"] == "client"), "an RFC 7009 revocation is audited");
}

#[test]
fn revoking_an_access_token_even_expired_revokes_its_grant() {
    let mut w = World::new();
    let (client, at, rt) = w.client_with_both();
    w.now += w.config.access_token_ttl + 3600;
    assert_eq!(w.form("/revoke", &[("client_id", &client), ("token", &at), ("token_type_hint", "refresh_token")]).status, 200);
    assert!(w.grant_revoked(), "a wrong hint is only a hint");
    assert_eq!(json(&w.refresh(&client, &rt))["error"], "invalid_grant");
}

#[test]
fn revoking_another_clients_or_an_unknown_token_is_200_and_changes_nothing() {
    let mut w = World::new();
    let (client, at, rt) = w.client_with_both();
    let other = w.public_client();
    for token in [at.as_str(), rt.as_str(), "no-such-token", "a.b.c"] {
        assert_eq!(w.revoke(&other, token).status, 200, "{token}");
    }
    assert!(!w.grant_revoked());
    assert_eq!(w.refresh(&client, &rt).status, 200);
    // A token signed by another key naming this client is not ours either.
    let foreign = crate::base::signing_key::SigningKey::from_seed_b64(&crate::base::encoding::b64url(&[9u8; 32])).unwrap();
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, w.config.verification_keys(), &at, w.now, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
    let forged = crate::store::memory::block_on(crate::protocol::access_token::issue(&crate::base::ed25519::Native, &foreign, v.claims, w.now, 60)).unwrap();
    assert_eq!(w.revoke(&client, &forged).status, 200);
    assert!(!w.grant_revoked());
}

#[test]
fn revocation_errors_follow_rfc_6749_section_5_2() {
    let w = World::new();
    let client = w.public_client();
    let r = w.form("/revoke", &[("token", "x")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")));
    let r = w.form("/revoke", &[("client_id", "gh_unknown"), ("token", "x")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")));
    assert!(r.header("www-authenticate").is_some());
    let r = w.form("/revoke", &[("client_id", &client)]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_request")));
    let r = block_on(revoke::handle(&w.ctx(), &crate::testing::net::TestNet::default(), &w.req("POST", "/revoke", "", Some("application/json"), "{}")));
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_request")));
    let (conf, _) = w.confidential_client();
    let r = w.form("/revoke", &[("client_id", &conf), ("client_secret", "wrong"), ("token", "x")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn introspection_describes_own_tokens_only() {
    let mut w = World::new();
    let (conf, secret) = w.confidential_client();
    let code = w.code_for(&conf);
    let fields = [("grant_type", "authorization_code"), ("client_id", conf.as_str()), ("client_secret", secret.as_str()), ("code", code.as_str()), ("code_verifier", VERIFIER)];
    let t = json(&w.form("/token", &fields));
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());

    let a = w.introspect(&conf, &secret, at);
    assert_eq!(a["active"], true);
    assert_eq!(a["client_id"], conf.as_str());
    assert_eq!(a["scope"], "mcp");
    assert_eq!(a["sub"], "owner");
    assert_eq!(a["aud"], format!("{ISS}/mcp"));
    assert_eq!(a["iss"], ISS);
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["iat"], w.now);
    assert_eq!(a["exp"], w.now + w.config.access_token_ttl);
    assert!(a["jti"].is_string());
    let r = w.introspect(&conf, &secret, rt);
    assert_eq!((r["active"].as_bool(), r["exp"].as_i64()), (Some(true), Some(w.now + w.config.refresh_token_ttl)));

    // Another confidential client learns nothing about them.
    let (other, other_secret) = w.confidential_client();
    assert_eq!(w.introspect(&other, &other_secret, at), serde_json::json!({"active": false}));
    assert_eq!(w.introspect(&other, &other_secret, rt), serde_json::json!({"active": false}));
    assert_eq!(w.introspect(&conf, &secret, "garbage"), serde_json::json!({"active": false}));
    // The same claims signed by another key: a bad signature is inactive, not an error.
    let foreign = crate::base::signing_key::SigningKey::from_seed_b64(&crate::base::encoding::b64url(&[9u8; 32])).unwrap();
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, w.config.verification_keys(), at, w.now, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
    let forged = crate::store::memory::block_on(crate::protocol::access_token::issue(&crate::base::ed25519::Native, &foreign, v.claims, w.now, 60)).unwrap();
    assert_eq!(w.introspect(&conf, &secret, &forged), serde_json::json!({"active": false}));

    // Revoked grant: both inactive at once (introspection reads the grant).
    assert_eq!(w.form("/revoke", &[("client_id", &conf), ("client_secret", &secret), ("token", rt)]).status, 200);
    assert_eq!(w.introspect(&conf, &secret, at)["active"], false);
    assert_eq!(w.introspect(&conf, &secret, rt)["active"], false);
}

#[test]
fn introspection_of_expired_tokens_is_inactive() {
    let mut w = World::new();
    let (conf, secret) = w.confidential_client();
    let code = w.code_for(&conf);
    let fields = [("grant_type", "authorization_code"), ("client_id", conf.as_str()), ("client_secret", secret.as_str()), ("code", code.as_str()), ("code_verifier", VERIFIER)];
    let t = json(&w.form("/token", &fields));
    w.now += w.config.access_token_ttl + 60;
    assert_eq!(w.introspect(&conf, &secret, t["access_token"].as_str().unwrap())["active"], false);
    w.now += w.config.refresh_token_ttl;
    assert_eq!(w.introspect(&conf, &secret, t["refresh_token"].as_str().unwrap())["active"], false);
}

#[test]
fn introspection_refuses_public_and_unauthenticated_callers() {
    let mut w = World::new();
    let (client, at, _) = w.client_with_both();
    for fields in [vec![("client_id", client.as_str()), ("token", at.as_str())], vec![("token", at.as_str())]] {
        let r = w.form("/introspect", &fields);
        assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")), "{fields:?}");
    }
    // A public client presenting a made-up secret is refused too.
    let r = w.form("/introspect", &[("client_id", &client), ("client_secret", "made-up"), ("token", &at)]);
    assert_eq!(r.status, 401);
}

#[test]
fn refresh_is_bound_to_scope_and_resource() {
    let mut w = World::new();
    w.config.scopes = crate::base::scope::Scopes::from_config("mcp extra");
    let (client, rt) = w.client_with_tokens();
    let r = w.form("/token", &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &rt), ("scope", "mcp admin")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_scope")));
    let r = w.form("/token", &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &rt), ("resource", "https://other.example.com/mcp")]);
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_target")));
    // Narrowing works, and a later refresh may not widen past the grant.
    let narrow = json(&w.form("/token", &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &rt), ("scope", "extra")]));
    assert_eq!(narrow["scope"], "extra");
    let again = w.refresh(&client, narrow["refresh_token"].as_str().unwrap());
    assert_eq!(json(&again)["scope"], "extra mcp", "the grant's scope, not the narrowed token's, bounds a refresh");
}

#[test]
fn each_rotated_refresh_token_lives_the_idle_ttl_from_its_own_issue() {
    let mut w = World::new();
    let (client, rt1) = w.client_with_tokens();
    w.now += w.config.refresh_token_ttl - 10;
    let rt2 = json(&w.refresh(&client, &rt1))["refresh_token"].as_str().unwrap().to_string();
    w.now += w.config.refresh_token_ttl - 10;
    let r = w.refresh(&client, &rt2);
    assert_eq!(r.status, 200, "rt2 counts from its own issue: {}", r.body);
    let rt3 = json(&r)["refresh_token"].as_str().unwrap().to_string();
    w.now += w.config.refresh_token_ttl;
    assert_eq!(json(&w.refresh(&client, &rt3))["error"], "invalid_grant", "idle expiry");
}

#[test]
fn no_refresh_extends_past_the_absolute_lifetime() {
    let mut w = World::new();
    w.config.refresh_token_ttl = 10 * 24 * 3600;
    w.config.refresh_absolute_ttl = 25 * 24 * 3600;
    let (client, mut rt) = w.client_with_tokens();
    let start = w.now;
    // Refresh every 9 days: idle expiry never bites, the absolute one does.
    while w.now + 9 * 24 * 3600 < start + w.config.refresh_absolute_ttl {
        w.now += 9 * 24 * 3600;
        let r = w.refresh(&client, &rt);
        assert_eq!(r.status, 200, "{}", r.body);
        rt = json(&r)["refresh_token"].as_str().unwrap().into();
    }
    let exp = w.store.refresh.borrow()[crate::base::types::Secret::new(rt.as_str()).hash().as_str()].expires_at;
    assert_eq!(exp, start + w.config.refresh_absolute_ttl, "the last token is capped at the grant's deadline");
    w.now = start + w.config.refresh_absolute_ttl;
    assert_eq!(json(&w.refresh(&client, &rt))["error"], "invalid_grant");
}
// Every flow below uses World above.
// The admin page (sign-in, CSRF, revoke, delete) and the audit events.
mod admin;
// Clients whose client_id is a metadata document URL.
mod cimd;
// private_key_jwt document clients.
mod client_assertion;
// Sign-in with GitHub, canned in its documented shapes.
mod sign_in_github;
// Passkey setup, sign-in and management.
mod passkey;
// Remembered consent; password sign-in switched off.
mod sign_in;

/// A key rotation logs nobody out: the owner's session, an access token and
/// a refresh token from before it all keep working; new tokens carry the new
/// `kid`; retiring the old key ends only the old access tokens.
#[test]
fn key_rotation_keeps_sessions_and_tokens() {
    const OLD: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
    const NEW: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg";
    let config = |keys: &'static str| {
        Config::from_lookup(move |k| match k {
            "SIGNING_KEY" => Some(OLD.into()),
            "SIGNING_KEY_2" => Some(NEW.into()),
            "SIGNING_KEYS" => Some(keys.into()),
            "OWNER_PASSWORD" => Some(PASSWORD.into()),
            _ => None,
        })
        .unwrap()
    };
    let verify = |c: &Config, tok: &str, now| crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, c.verification_keys(), tok, now, ISS, &crate::base::resource::accepted_resources(ISS)));
    let kid = |tok: &str| {
        let header = crate::base::encoding::b64url_decode(tok.split('.').next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
    };

    let mut w = World::new();
    w.config = config("SIGNING_KEY");
    let client = w.public_client();
    let code = w.code_for(&client);
    let t = json(&w.redeem(&client, &code, VERIFIER));
    let (old_at, old_rt) = (t["access_token"].as_str().unwrap().to_string(), t["refresh_token"].as_str().unwrap().to_string());
    let old_kid = w.config.signing_key.kid().to_string();

    w.config = config("SIGNING_KEY_2 SIGNING_KEY");
    assert!(verify(&w.config, &old_at, w.now).is_ok(), "old access token still works");
    // Still logged in: /authorize goes straight to the consent page.
    let page = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &World::authorize_query(&client), None, "")));
    assert!(page.body.contains("decision"), "owner was logged out: {}", page.body);
    assert!(!page.body.contains("name=\"password\""));
    let r = json(&w.refresh(&client, &old_rt));
    let new_at = r["access_token"].as_str().unwrap().to_string();
    assert_eq!(kid(&new_at), w.config.signing_key.kid());
    assert_ne!(kid(&new_at), old_kid);

    w.config = config("SIGNING_KEY_2");
    assert!(verify(&w.config, &old_at, w.now).is_err(), "retired key must not verify");
    assert!(verify(&w.config, &new_at, w.now).is_ok());
}
