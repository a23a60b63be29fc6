//! Native flows for remembered consent and for password sign-in switched
//! off, over the memory store with the endpoints wired as in the worker.

use std::collections::HashMap;

use crate::config::Config;
use crate::testing::flows::{hidden, json, World, CHALLENGE, PASSWORD, REDIRECT as LOOPBACK, VERIFIER};
use crate::base::http::HttpResponse;
use crate::store::memory::block_on;
use crate::identity::{authorize, consent};
use crate::operate::admin;
use crate::protocol::{register, revoke, token};

const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
/// An https redirect: TLS proves who gets the code, so an approval may be
/// remembered even for a public client (RFC 8252 §8.6).
const REDIRECT: &str = "https://app.example/callback";

fn world(extra: &[(&str, &str)]) -> World {
    let mut w = World::new();
    let mut pairs = vec![("SIGNING_KEY", KEY), ("OWNER_PASSWORD", PASSWORD), ("SCOPES", "mcp extra"), ("REQUIRED_SCOPES", "mcp")];
    pairs.extend_from_slice(extra);
    w.config = Config::from_lookup(|k| pairs.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
    w
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn post(w: &mut World, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let r = w.req("POST", path, "", Some("application/x-www-form-urlencoded"), &body);
    let resp = match path {
        "/login" => block_on(crate::identity::sign_in::password::login(&w.ctx(), &r)),
        "/consent" => block_on(consent::decide(&w.ctx(), &crate::testing::net::TestNet::default(), &r)),
        "/revoke" => block_on(revoke::handle(&w.ctx(), &crate::testing::net::TestNet::default(), &r)),
        "/admin" => block_on(admin::post(&w.ctx(), &r)),
        _ => block_on(token::handle(&w.ctx(), &crate::testing::net::TestNet::default(), &r)),
    };
    w.keep_cookies(&resp);
    resp
}

fn client(w: &World) -> String {
    client_at(w, REDIRECT, "none")
}

fn client_at(w: &World, redirect: &str, auth_method: &str) -> String {
    let body = format!(r#"{{"redirect_uris":["{redirect}"],"client_name":"Test","token_endpoint_auth_method":"{auth_method}"}}"#);
    let r = block_on(register::handle(&w.ctx(), &w.req("POST", "/register", "", Some("application/json"), &body)));
    assert_eq!(r.status, 201, "{}", r.body);
    json(&r)["client_id"].as_str().unwrap().to_string()
}

fn authorize(w: &mut World, client: &str, scope: &str) -> HttpResponse {
    authorize_at(w, client, scope, REDIRECT)
}

fn authorize_at(w: &mut World, client: &str, scope: &str, redirect: &str) -> HttpResponse {
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz&scope={}",
        urlenc(redirect),
        urlenc(scope)
    );
    let r = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    w.keep_cookies(&r);
    r
}

fn code_in(r: &HttpResponse) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = url::Url::parse(r.header("location").unwrap()).unwrap();
    let q: HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    q["code"].clone()
}

/// Signs in with the password and approves; `remember` ticks the box.
fn approve(w: &mut World, client: &str, scope: &str, remember: bool) -> String {
    approve_at(w, client, scope, remember, REDIRECT)
}

fn approve_at(w: &mut World, client: &str, scope: &str, remember: bool, redirect: &str) -> String {
    let page = authorize_at(w, client, scope, redirect);
    assert_eq!(page.status, 200, "{}", page.body);
    let (request, csrf) = (hidden(&page.body, "request"), hidden(&page.body, "csrf"));
    if page.body.contains("name=\"password\"") {
        let r = post(w, "/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let mut fields = vec![("request", request.as_str()), ("csrf", csrf.as_str()), ("decision", "approve")];
    if remember {
        fields.push(("remember", "on"));
    }
    code_in(&post(w, "/consent", &fields))
}

fn events(w: &World, name: &str) -> usize {
    w.store.audit.borrow().iter().filter(|e| e.event == name).count()
}

#[test]
fn a_remembered_approval_skips_the_page_for_the_same_or_narrower_scope() {
    let mut w = world(&[]);
    let c = client(&w);
    approve(&mut w, &c, "mcp extra", true);
    let pending_before = w.store.pending.borrow().len();
    let again = authorize(&mut w, &c, "mcp");
    let code = code_in(&again);
    assert_eq!(w.store.pending.borrow().len(), pending_before, "no pending request for a skipped page");
    assert_eq!(events(&w, "consent.remembered"), 1);
    // The code is a real one.
    let t = post(&mut w, "/token", &[("grant_type", "authorization_code"), ("client_id", &c), ("code", &code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)]);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(json(&t)["scope"], "mcp");
}

/// Issue 15 item 10, RFC 8252 §8.6: a public client at a loopback port or a
/// private-use scheme could be any program on the device, so it is always
/// asked, and no box offers what could never apply. A confidential client
/// at the same loopback redirect proves itself at /token and may skip.
#[test]
fn public_clients_without_an_https_redirect_are_always_asked() {
    for redirect in [LOOPBACK, "cursor://anysphere.cursor-mcp/oauth/callback"] {
        let mut w = world(&[]);
        let c = client_at(&w, redirect, "none");
        let first = authorize_at(&mut w, &c, "mcp", redirect);
        assert!(first.body.contains("name=\"password\"") && !first.body.contains("name=\"remember\""), "{}", first.body);
        // A forged box is ignored too.
        approve_at(&mut w, &c, "mcp", true, redirect);
        assert!(w.store.remembered.borrow().is_empty(), "{redirect}: nothing remembered");
        let again = authorize_at(&mut w, &c, "mcp", redirect);
        assert_eq!(again.status, 200, "{redirect}: asked again: {}", again.body);
        assert!(again.body.contains("value=\"approve\"") && !again.body.contains("name=\"remember\""), "{}", again.body);
        assert_eq!(events(&w, "consent.remembered"), 0);
    }
    let mut w = world(&[]);
    let c = client_at(&w, LOOPBACK, "client_secret_post");
    approve_at(&mut w, &c, "mcp", true, LOOPBACK);
    assert_eq!(authorize_at(&mut w, &c, "mcp", LOOPBACK).status, 303, "a confidential client is remembered");
}

#[test]
fn a_wider_scope_or_an_unticked_box_shows_the_page() {
    let mut w = world(&[]);
    let c = client(&w);
    approve(&mut w, &c, "mcp", true);
    let wider = authorize(&mut w, &c, "mcp extra");
    assert_eq!(wider.status, 200, "{}", wider.body);
    assert!(wider.body.contains("value=\"approve\""));
    let other = client(&w);
    approve(&mut w, &other, "mcp", false);
    assert_eq!(authorize(&mut w, &other, "mcp").status, 200, "not remembered without the box");
}

#[test]
fn revoking_a_grant_forgets_the_remembered_approval() {
    let mut w = world(&[]);
    let c = client(&w);
    let code = approve(&mut w, &c, "mcp", true);
    let t = post(&mut w, "/token", &[("grant_type", "authorization_code"), ("client_id", &c), ("code", &code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)]);
    let rt = json(&t)["refresh_token"].as_str().unwrap().to_string();
    w.now += 5;
    code_in(&authorize(&mut w, &c, "mcp"));
    let r = post(&mut w, "/revoke", &[("token", &rt), ("client_id", &c)]);
    assert_eq!(r.status, 200);
    w.now += 5;
    let page = authorize(&mut w, &c, "mcp");
    assert_eq!(page.status, 200, "asked again after /revoke: {}", page.body);
    // Remembering again after the revocation works again.
    approve(&mut w, &c, "mcp", true);
    w.now += 5;
    code_in(&authorize(&mut w, &c, "mcp"));
}

#[test]
fn zero_days_offers_no_checkbox_and_ignores_a_forged_one() {
    let mut w = world(&[("CONSENT_REMEMBER_DAYS", "0")]);
    let c = client(&w);
    let page = authorize(&mut w, &c, "mcp");
    let (request, csrf) = (hidden(&page.body, "request"), hidden(&page.body, "csrf"));
    post(&mut w, "/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    let consent = block_on(consent::show(&w.ctx(), &w.req("GET", "/consent", &format!("request={request}"), None, "")));
    assert!(!consent.body.contains("name=\"remember\""), "{}", consent.body);
    code_in(&post(&mut w, "/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve"), ("remember", "on")]));
    assert_eq!(authorize(&mut w, &c, "mcp").status, 200);
    assert!(w.store.remembered.borrow().is_empty());
}

#[test]
fn denying_remembers_nothing() {
    let mut w = world(&[]);
    let c = client(&w);
    let page = authorize(&mut w, &c, "mcp");
    let (request, csrf) = (hidden(&page.body, "request"), hidden(&page.body, "csrf"));
    post(&mut w, "/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    let r = post(&mut w, "/consent", &[("request", &request), ("csrf", &csrf), ("decision", "deny"), ("remember", "on")]);
    assert!(r.header("location").unwrap().contains("error=access_denied"));
    assert!(w.store.remembered.borrow().is_empty());
}

#[test]
fn with_password_login_off_every_password_form_is_refused() {
    let mut w = world(&[("PASSWORD_LOGIN", "off"), ("CF_ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com"), ("CF_ACCESS_AUD", "aud")]);
    let c = client(&w);
    let page = authorize(&mut w, &c, "mcp");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    // The request id and CSRF of a pending request, as an attacker could get them.
    let pending = w.store.pending.borrow().values().next().unwrap().id.clone();
    let csrf = crate::identity::browser_session::csrf_token(&w.config.signing_key, &pending, &crate::base::types::Secret::new(w.cookies["__Host-gatehouse-browser"].clone()));
    for password in [PASSWORD, ""] {
        let r = post(&mut w, "/login", &[("request", &pending), ("csrf", &csrf), ("password", password)]);
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("switched off"));
        assert!(!w.cookies.contains_key("__Host-gatehouse-session"));
    }
    let admin_page = block_on(admin::show(&w.ctx(), &w.req("GET", "/admin", "", None, "")));
    assert_eq!(admin_page.status, 403);
    assert!(!admin_page.body.contains("name=\"password\""));
    let r = post(&mut w, "/admin", &[("action", "login"), ("csrf", "x"), ("password", PASSWORD)]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("switched off"), "{}", r.body);
    assert!(!w.cookies.contains_key("__Host-gatehouse-session"));
    assert_eq!(events(&w, "login.success"), 0);
}

/// The sign-in page's password form carries the decision: "Allow and sign
/// in" and "Deny" finish the request in the POST /login that signs in.
#[test]
fn the_password_form_signs_in_and_decides_in_one_post() {
    use crate::testing::flows::REDIRECT as CLIENT_REDIRECT;
    let mut w = World::new();
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let form = |password: &str, decision: &str| {
        let mut f = vec![("request", request.clone()), ("csrf", csrf.clone()), ("password", password.to_string())];
        if !decision.is_empty() {
            f.push(("decision", decision.to_string()));
        }
        f
    };
    let send = |w: &mut World, f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(w, "/login", &f)
    };

    // A decision that is neither: refused before the password is checked, so no attempt is counted.
    let failures = w.store.failures.borrow().len();
    let r = send(&mut w, form("wrong password", "maybe"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(w.store.failures.borrow().len(), failures);
    // A wrong password with Allow: the page again, nothing issued, the request still pending.
    let r = send(&mut w, form("wrong password", "approve"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.header("location").is_none() && r.header("set-cookie").is_none());
    assert!(w.store.grants.borrow().is_empty() && w.store.codes.borrow().is_empty());

    // Allow with the right password: signed in, and straight back to the client with a code that redeems.
    let r = send(&mut w, form(PASSWORD, "approve"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("set-cookie").is_some_and(|c| c.contains("__Host-")), "signed in: {:?}", r.header("set-cookie"));
    let to = url::Url::parse(r.header("location").unwrap()).unwrap();
    assert!(to.as_str().starts_with(CLIENT_REDIRECT), "{to}");
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    assert_eq!(w.redeem(&client, &q["code"], VERIFIER).status, 200);
    // The request is spent: the same form again issues nothing.
    let again = send(&mut w, form(PASSWORD, "approve"));
    assert!(again.header("location").is_none(), "{}", again.body);
    assert_eq!(w.store.grants.borrow().len(), 1);

    // Deny with the password (a new browser): access_denied back to the client, no grant.
    w.cookies.clear();
    let (request2, csrf2) = w.start(&client);
    let r = post(&mut w, "/login", &[("request", &request2), ("csrf", &csrf2), ("password", PASSWORD), ("decision", "deny")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let to = url::Url::parse(r.header("location").unwrap()).unwrap();
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied");
    assert!(!q.contains_key("code"));
    assert_eq!(w.store.grants.borrow().len(), 1, "a denial stores no grant");

    // A form without a decision (from before it moved here): signed in, then the consent page.
    w.cookies.clear();
    let (request3, csrf3) = w.start(&client);
    let r = post(&mut w, "/login", &[("request", &request3), ("csrf", &csrf3), ("password", PASSWORD)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("/consent?request={request3}").as_str()));
}
