//! The passkey endpoints wired together over the in-memory store, in one
//! browser (`flows::World`): setup with the one-time code, login by
//! passkey through an MCP client's consent, management with a passkey
//! session only, and the refusals a person can run into.

use crate::identity::sign_in::passkey::handlers;
use crate::testing::passkeys::Authenticator;
use crate::config::Config;
use crate::testing::flows::{hidden, json, World, ISS};
use crate::base::http::HttpResponse;
use crate::base::login_method::LoginMethod;
use crate::store::memory::block_on;
use crate::testing::net::{TestKey, TestNet};
use crate::base::types::Secret;
use crate::identity::{browser_session, consent};

const CODE: &str = "setup-0123456789abcdef";

fn world() -> World {
    let mut w = World::new();
    w.config = Config::from_lookup(|k| match k {
        "SIGNING_KEY" => Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".into()),
        "OWNER_PASSWORD" => Some("correct horse battery".into()),
        "PASSKEY_SETUP_CODE" => Some(CODE.into()),
        _ => None,
    })
    .unwrap();
    w
}

fn authenticator(kid: &str) -> Authenticator {
    Authenticator::new(TestKey::es256(kid), "mcp.example.com", ISS)
}

fn post(w: &mut World, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let req = w.req("POST", path, "", Some("application/x-www-form-urlencoded"), &body);
    let ctx = w.ctx();
    let r = match path {
        "/passkeys/challenge" => block_on(handlers::challenge(&ctx, &req)),
        "/passkeys/login" => block_on(handlers::login(&ctx, &TestNet::default(), &req)),
        "/passkeys/setup" => block_on(handlers::setup(&ctx, &req)),
        "/passkeys" => block_on(handlers::post(&ctx, &req)),
        "/consent" => block_on(consent::decide(&ctx, &crate::testing::net::TestNet::default(), &req)),
        other => panic!("no route {other}"),
    };
    w.keep_cookies(&r);
    r
}

fn get(w: &mut World, path: &str) -> HttpResponse {
    let req = w.req("GET", path, "", None, "");
    let r = match path {
        "/passkeys/setup" => block_on(handlers::setup_show(&w.ctx(), &req)),
        "/passkeys" => block_on(handlers::show(&w.ctx(), &req)),
        other => panic!("no route {other}"),
    };
    w.keep_cookies(&r);
    r
}

fn challenge(w: &mut World, fields: &[(&str, &str)]) -> String {
    let r = post(w, "/passkeys/challenge", fields);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = json(&r);
    assert_eq!(j["rpId"], "mcp.example.com");
    j["challenge"].as_str().unwrap().to_string()
}

fn b64(b: &[u8]) -> String {
    crate::base::encoding::b64url(b)
}

/// Enrols `a` through /passkeys/setup with the setup code.
fn setup(w: &mut World, a: &Authenticator) -> HttpResponse {
    let page = get(w, "/passkeys/setup");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = hidden(&page.body, "csrf");
    let c = challenge(w, &[("purpose", "register"), ("setup_code", CODE)]);
    let reg = a.create(&c);
    post(w, "/passkeys/setup", &[
        ("csrf", &csrf), ("setup_code", CODE), ("name", "laptop"),
        ("client_data", &b64(&reg.client_data)), ("attestation_object", &b64(&reg.attestation_object)),
    ])
}

fn session_method(w: &World) -> Option<LoginMethod> {
    let req = w.req("GET", "/", "", None, "");
    let browser = Secret::new(w.cookies.get(browser_session::BROWSER_COOKIE)?.clone());
    block_on(browser_session::current(&w.ctx(), &req, &browser)).unwrap().map(|s| s.method)
}

/// A login assertion's form fields.
fn login_fields(w: &mut World, a: &mut Authenticator) -> Vec<(&'static str, String)> {
    let c = challenge(w, &[("purpose", "login")]);
    let x = a.get(&c);
    vec![
        ("credential_id", x.credential_id),
        ("client_data", b64(&x.client_data)),
        ("authenticator_data", b64(&x.authenticator_data)),
        ("signature", b64(&x.signature)),
    ]
}

fn with<'a>(base: &'a [(&'static str, String)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().map(|(k, v)| (*k, v.as_str())).chain(more.iter().copied()).collect()
}

#[test]
fn setup_code_enrols_once_then_a_passkey_logs_in_and_approves_a_client() {
    let mut w = world();
    let mut a = authenticator("a");
    let done = setup(&mut w, &a);
    assert_eq!((done.status, done.header("location")), (303, Some("/passkeys")), "{}", done.body);
    assert_eq!(session_method(&w), Some(LoginMethod::Passkey));
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 1);

    // The code is spent: the page, a challenge and a post all say so.
    assert_eq!(get(&mut w, "/passkeys/setup").status, 410);
    w.cookies.remove(browser_session::SESSION_COOKIE);
    assert_eq!(post(&mut w, "/passkeys/challenge", &[("purpose", "register"), ("setup_code", CODE)]).status, 410);
    let again = setup_with_spent_code(&mut w);
    assert_eq!(again.status, 410, "{}", again.body);
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 1, "no second passkey through the spent code");

    // An MCP client's authorization: the login page offers the passkey.
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let fields = login_fields(&mut w, &mut a);
    let r = post(&mut w, "/passkeys/login", &with(&fields, &[("request", &request), ("csrf", &csrf)]));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("/consent?request={request}").as_str()));
    assert_eq!(session_method(&w), Some(LoginMethod::Passkey));
    let approved = post(&mut w, "/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve")]);
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert!(approved.header("location").unwrap().contains("code="));
    let grants = w.store.grants.borrow();
    assert_eq!(grants.values().next().unwrap().subject.as_str(), "owner");
    assert!(w.store.audit.borrow().iter().any(|e| e.event == "login.success" && e.detail["method"] == "passkey"));
}

/// Fresh browser state with a valid form, after the code was spent.
fn setup_with_spent_code(w: &mut World) -> HttpResponse {
    let csrf = browser_session::csrf_token(&w.config.signing_key, "passkey-setup", &Secret::new(w.cookies[browser_session::BROWSER_COOKIE].clone()));
    post(w, "/passkeys/setup", &[("csrf", &csrf), ("setup_code", CODE), ("client_data", "e30"), ("attestation_object", "oA")])
}

#[test]
fn a_wrong_setup_code_is_refused_and_rate_limited() {
    let mut w = world();
    let page = get(&mut w, "/passkeys/setup");
    let csrf = hidden(&page.body, "csrf");
    let r = post(&mut w, "/passkeys/challenge", &[("purpose", "register"), ("setup_code", "not-the-code-at-all")]);
    assert_eq!(r.status, 403);
    assert!(!r.body.contains("not-the-code"));
    for _ in 0..4 {
        let r = post(&mut w, "/passkeys/setup", &[("csrf", &csrf), ("setup_code", "wrong-wrong-wrong"), ("client_data", "e30"), ("attestation_object", "oA")]);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("setup code is not right"));
    }
    // Five wrong codes: now even the right one waits.
    assert_eq!(post(&mut w, "/passkeys/challenge", &[("purpose", "register"), ("setup_code", CODE)]).status, 429);
    assert!(w.store.passkeys.spent.borrow().is_empty());
    // Without a passkey session or code, no registration challenge at all.
    let mut other = world();
    get(&mut other, "/passkeys/setup");
    assert_eq!(post(&mut other, "/passkeys/challenge", &[("purpose", "register")]).status, 403);
}

#[test]
fn the_setup_code_limit_counts_an_ipv6_64_as_one_source() {
    let mut w = world();
    get(&mut w, "/passkeys/setup");
    let register = |w: &mut World, code: &str| post(w, "/passkeys/challenge", &[("purpose", "register"), ("setup_code", code)]).status;
    for i in 1..=5 {
        w.ip = format!("2001:db8:5:5::{i}");
        assert_eq!(register(&mut w, "wrong-wrong-wrong"), 403);
    }
    w.ip = "2001:db8:5:5:abcd::1".into();
    assert_eq!(register(&mut w, CODE), 429, "another address of the same /64");
    w.ip = "2001:db8:5:6::1".into();
    assert_eq!(register(&mut w, CODE), 200, "another /64 is another source");
    assert_eq!(register(&mut w, CODE), 200);
    assert!(!w.store.failures.borrow().iter().any(|(k, _)| k.ends_with("2001:db8:5:6::/64")), "right codes are not counted");
}

/// A session cookie for `subject` signed in by `method`, in this browser.
fn sign_in_as(w: &mut World, subject: &str, method: LoginMethod) {
    let browser = Secret::new(w.cookies[browser_session::BROWSER_COOKIE].clone());
    let cookie = browser_session::session_cookie_as(&w.config.signing_key, &crate::base::types::Subject::new(subject), method, &browser, w.now);
    w.keep_cookies(&HttpResponse::new(200, "text/plain", "").with_header("set-cookie", cookie));
}

#[test]
fn only_the_owner_sees_the_passkey_list() {
    let mut w = world();
    w.config.admin_subjects = vec!["access:admin@example.com".into()];
    assert_eq!(setup(&mut w, &authenticator("a")).status, 303);
    for (subject, method) in [("oidc:alice", LoginMethod::Oidc), ("github:alice", LoginMethod::Github), ("access:admin@example.com", LoginMethod::Access)] {
        sign_in_as(&mut w, subject, method);
        let page = get(&mut w, "/passkeys");
        assert_eq!(page.status, 403, "{subject}: {}", page.body);
        assert!(!page.body.contains("laptop") && !page.body.contains("id=\"passkeys\""), "{subject}: the list is not shown");
        assert!(page.body.contains(&format!("signed in as {subject}")), "{}", page.body);
        assert!(page.body.contains("Sign in with a passkey"), "the owner can sign in from here");
    }
    sign_in_as(&mut w, "owner", LoginMethod::Password);
    assert!(get(&mut w, "/passkeys").body.contains("laptop"), "the owner's password session sees it");
}

#[test]
fn only_a_passkey_session_adds_or_removes_passkeys() {
    let mut w = world();
    let mut a = authenticator("a");
    assert_eq!(setup(&mut w, &a).status, 303);
    // A password session sees the list but may not change it.
    let browser = Secret::new(w.cookies[browser_session::BROWSER_COOKIE].clone());
    let pw = browser_session::session_cookie(&w.config.signing_key, &crate::base::types::Subject::new("owner"), &browser, w.now);
    w.keep_cookies(&HttpResponse::new(200, "text/plain", "").with_header("set-cookie", pw));
    let list = get(&mut w, "/passkeys");
    assert!(list.body.contains("laptop") && !list.body.contains("Remove"), "{}", list.body);
    let forged_csrf = browser_session::csrf_token(&w.config.signing_key, &format!("passkeys:{}", w.cookies[browser_session::SESSION_COOKIE]), &browser);
    let r = post(&mut w, "/passkeys", &[("action", "remove"), ("credential", &a.id()), ("csrf", &forged_csrf)]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 1);

    // Signing in with the passkey (from /passkeys) unlocks it.
    let login_csrf = hidden(&list.body, "csrf");
    let fields = login_fields(&mut w, &mut a);
    let r = post(&mut w, "/passkeys/login", &with(&fields, &[("next", "/passkeys"), ("csrf", &login_csrf)]));
    assert_eq!((r.status, r.header("location")), (303, Some("/passkeys")), "{}", r.body);
    let list = get(&mut w, "/passkeys");
    let csrf = hidden(&list.body, "csrf");
    let b = authenticator("b");
    let c = challenge(&mut w, &[("purpose", "register")]);
    let reg = b.create(&c);
    let r = post(&mut w, "/passkeys", &[("action", "add"), ("csrf", &csrf), ("name", "phone"), ("client_data", &b64(&reg.client_data)), ("attestation_object", &b64(&reg.attestation_object))]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 2);
    let r = post(&mut w, "/passkeys", &[("action", "remove"), ("credential", &b.id()), ("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 1);
    // A stale or foreign CSRF token changes nothing.
    let r = post(&mut w, "/passkeys", &[("action", "remove"), ("credential", &a.id()), ("csrf", "x")]);
    assert_eq!(r.status, 403);
    assert_eq!(w.store.passkeys.passkeys.borrow().len(), 1);

    // The removed passkey no longer signs in.
    let mut b = b;
    let fields = login_fields(&mut w, &mut b);
    let login_csrf = browser_session::csrf_token(&w.config.signing_key, "passkey-login", &browser);
    let r = post(&mut w, "/passkeys/login", &with(&fields, &[("next", "/admin"), ("csrf", &login_csrf)]));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("not enrolled"), "{}", r.body);
}

#[test]
fn a_failed_passkey_login_during_consent_shows_the_login_page_again() {
    let mut w = world();
    let a = authenticator("a");
    assert_eq!(setup(&mut w, &a).status, 303);
    w.cookies.remove(browser_session::SESSION_COOKIE);
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    let mut stranger = authenticator("stranger");
    let fields = login_fields(&mut w, &mut stranger);
    let r = post(&mut w, "/passkeys/login", &with(&fields, &[("request", &request), ("csrf", &csrf)]));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("not enrolled") && r.body.contains("Owner password") && r.body.contains("Sign in with a passkey"));
    assert_eq!(session_method(&w), None);
    // A forged CSRF token is refused before any passkey check.
    let mut a = a;
    let fields = login_fields(&mut w, &mut a);
    let r = post(&mut w, "/passkeys/login", &with(&fields, &[("request", &request), ("csrf", "forged")]));
    assert_eq!(r.status, 403);
    assert_eq!(session_method(&w), None);
}

#[test]
fn passkeys_are_off_without_a_setup_code_or_on_an_ip_address() {
    let mut w = World::new();
    let client = w.public_client();
    let req = w.req("GET", "/authorize", "", None, "");
    assert!(crate::identity::sign_in::passkey::offer::consent_sign_in(&w.ctx(), "r", "c").is_none());
    assert_eq!(block_on(handlers::setup_show(&w.ctx(), &req)).status, 404);
    let (_, _) = w.start(&client);
    let on_ip = world();
    let ctx = crate::protocol::context::Ctx { issuer: "http://127.0.0.1:8787".into(), ..on_ip.ctx() };
    assert!(crate::identity::sign_in::passkey::offer::consent_sign_in(&ctx, "r", "c").is_none());
    let page = block_on(handlers::setup_show(&ctx, &req));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("host name"));
    // With a code and a host name, the consent login page offers a passkey.
    let client = on_ip.public_client();
    let page = block_on(crate::identity::authorize::handle(&on_ip.ctx(), &on_ip.req("GET", "/authorize", &format!("response_type=code&client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"), None, "")));
    assert!(page.body.contains("Sign in with a passkey"), "{}", page.body);
    assert!(page.header("content-security-policy").unwrap().contains("script-src 'self'"));
}
