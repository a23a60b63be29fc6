//! Native tests of the endpoints wired together over the in-memory store:
//! register → authorize → login → consent → token → refresh, and the ways
//! each step must refuse.

use super::config::Config;
use super::context::Ctx;
use super::http::{HttpRequest, HttpResponse};
use super::testing::{block_on, MemoryStore};
use super::{authorize, consent, register, testing_config, token};
use serde_json::Value;

const ISS: &str = "https://mcp.example.com";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:5000/callback";
const PASSWORD: &str = "correct horse battery";

struct World {
    config: Config,
    store: MemoryStore,
    now: i64,
    cookies: Vec<(String, String)>,
}

impl World {
    fn new() -> Self {
        World { config: testing_config(), store: MemoryStore::default(), now: 1_800_000_000, cookies: vec![] }
    }
    fn ctx(&self) -> Ctx<'_, MemoryStore> {
        Ctx { config: &self.config, store: &self.store, issuer: ISS.into(), now: self.now }
    }
    fn req(&self, method: &str, path: &str, query: &str, ct: Option<&str>, body: &str) -> HttpRequest {
        let mut headers = vec![];
        if let Some(ct) = ct {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(("cookie".into(), c.join("; ")));
        }
        HttpRequest { method: method.into(), path: path.into(), query: query.into(), headers, body: body.as_bytes().to_vec(), origin: ISS.into() }
    }
    fn keep_cookies(&mut self, r: &HttpResponse) {
        for (k, v) in &r.headers {
            if k == "set-cookie" {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                self.cookies.retain(|(n, _)| n != name);
                self.cookies.push((name.into(), value.into()));
            }
        }
    }
    fn register(&self, body: &str) -> Value {
        let r = block_on(register::handle(&self.ctx(), &self.req("POST", "/register", "", Some("application/json"), body)));
        assert_eq!(r.status, 201, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }
    fn public_client(&self) -> String {
        self.register(&format!(r#"{{"redirect_uris":["{REDIRECT}"],"client_name":"Test"}}"#))["client_id"].as_str().unwrap().into()
    }
    fn authorize_query(client_id: &str) -> String {
        format!("response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz", urlenc(REDIRECT))
    }
    fn form(&self, action: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let r = self.req("POST", action, "", Some("application/x-www-form-urlencoded"), &body);
        match action {
            "/login" => block_on(consent::login(&self.ctx(), &r)),
            "/consent" => block_on(consent::decide(&self.ctx(), &r)),
            _ => block_on(token::handle(&self.ctx(), &r)),
        }
    }
    /// GET /authorize in this browser: the login form's (request, csrf).
    fn start(&mut self, client_id: &str) -> (String, String) {
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
    fn redeem(&self, client_id: &str, code: &str, verifier: &str) -> HttpResponse {
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

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}

fn json(r: &HttpResponse) -> Value {
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
    let v = super::access_token::verify(&w.config.signing_key, t["access_token"].as_str().unwrap(), w.now, ISS, &super::resource::accepted_resources(ISS)).unwrap();
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
    let w = World::new();
    let client = w.public_client();
    let q = World::authorize_query(&client).replace("S256", "plain");
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(loc.contains("error=invalid_request") && loc.contains("state=xyz") && loc.contains("iss=https%3A%2F%2Fmcp.example.com"), "{loc}");
}

#[test]
fn wrong_password_and_bad_csrf_are_refused_and_rate_limited() {
    let mut w = World::new();
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let bad_csrf = w.form("/login", &[("request", &request), ("csrf", "forged"), ("password", PASSWORD)]);
    assert_eq!(bad_csrf.status, 403);
    for _ in 0..consent::MAX_LOGIN_FAILURES {
        let r = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", "wrong password")]);
        assert_eq!(r.status, 401);
        assert!(r.body.contains("not right"));
    }
    let limited = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    assert_eq!(limited.status, 429, "even the right password waits out the limit");
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
    w.cookies.retain(|(n, _)| n != super::session::BROWSER_COOKIE);
    w.cookies.push((super::session::BROWSER_COOKIE.into(), "A".repeat(43)));
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
    let r = block_on(token::handle(&w.ctx(), &w.req("POST", "/token", "", Some("application/json"), "{}")));
    assert_eq!((r.status, json(&r)["error"].as_str()), (400, Some("invalid_request")));
    let r = block_on(token::handle(&w.ctx(), &w.req("POST", "/token", "", Some("application/x-www-form-urlencoded"), "grant_type=refresh_token&grant_type=refresh_token")));
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
