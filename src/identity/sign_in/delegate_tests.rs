//! The delegated login wired through the real endpoints over the memory
//! store: consent → upstream → callback → code, and each refusal of the
//! callback (replay, another browser, a provider's denial, an identity off
//! the allow-list).

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::testing::flows::{hidden, json as body_json, World, ISS as GATE, REDIRECT, VERIFIER};
use crate::identity::consent;
use crate::base::outbound::Method;
use crate::store::memory::block_on;
use crate::testing::net::{TestKey, TestNet};

const IDP: &str = "https://idp.example";

fn world() -> World {
    let mut w = World::new();
    let env: HashMap<&str, &str> =
        [("OIDC_ISSUER", IDP), ("OIDC_CLIENT_ID", "gatehouse"), ("OIDC_CLIENT_SECRET", "s"), ("OIDC_ALLOWED_SUBS", "alice"), ("OIDC_LABEL", "Pocket ID")].into();
    w.config.oidc = crate::config::oidc::OidcConfig::from_lookup(&|k: &str| env.get(k).map(|v| v.to_string())).unwrap();
    w
}

fn idp(key: &TestKey) -> TestNet {
    let net = TestNet::default();
    net.respond(
        Method::Get,
        &format!("{IDP}/.well-known/openid-configuration"),
        200,
        &json!({"issuer": IDP, "authorization_endpoint": format!("{IDP}/auth"), "token_endpoint": format!("{IDP}/token"), "jwks_uri": format!("{IDP}/jwks")}),
    );
    net.respond(Method::Get, &format!("{IDP}/jwks"), 200, &json!({"keys": [key.public_jwk()]}));
    net
}

fn post(w: &World, net: &TestNet, fields: &[(&str, &str)]) -> HttpResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    block_on(consent::decide(&w.ctx(), net, &w.req("POST", "/consent", "", Some("application/x-www-form-urlencoded"), &body)))
}

fn query(location: &str) -> HashMap<String, String> {
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Authorize, then press "Allow and sign in with Pocket ID": the provider's
/// authorization URL's parameters.
fn go_upstream(w: &mut World, net: &TestNet, client: &str) -> HashMap<String, String> {
    go_upstream_with(w, net, client, &[])
}

/// `go_upstream` with more fields of the sign-in form (the "Remember" box).
fn go_upstream_with(w: &mut World, net: &TestNet, client: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let (request, csrf) = w.start(client);
    let mut fields = vec![("request", request.as_str()), ("csrf", csrf.as_str()), ("decision", "approve"), ("via", "oidc")];
    fields.extend_from_slice(extra);
    let r = post(w, net, &fields);
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with("https://idp.example/auth?"), "{location}");
    w.keep_cookies(&r);
    query(&location)
}

fn come_back(w: &mut World, net: &TestNet, q: &str) -> HttpResponse {
    let r = block_on(super::callback(&w.ctx(), net, &w.req("GET", "/callback/oidc", q, None, "")));
    w.keep_cookies(&r);
    r
}

fn id_token(key: &TestKey, sub: &str, nonce: &str, now: i64) -> String {
    key.sign_jws(&json!({"iss": IDP, "aud": "gatehouse", "sub": sub, "exp": now + 300, "iat": now, "nonce": nonce}))
}

fn events(w: &World) -> Vec<String> {
    w.store.audit.borrow().iter().map(|e| e.event.clone()).collect()
}

#[test]
fn consent_then_upstream_login_issues_a_code_for_the_upstream_subject() {
    let mut w = world();
    let key = TestKey::es256("k1");
    let net = idp(&key);
    let client = w.public_client();
    let page = block_on(crate::identity::authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &format!(
        "response_type=code&client_id={client}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=xyz",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()), None, "")));
    assert!(page.body.contains("Allow and sign in with Pocket ID"), "{}", page.body);
    let up = go_upstream(&mut w, &net, &client);
    assert_eq!(up["redirect_uri"], format!("{GATE}/callback/oidc"));
    assert_eq!(up["code_challenge_method"], "S256");
    assert!(w.cookies.contains_key(upstream_state::STATE_COOKIE));
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(&key, "alice", &up["nonce"], w.now)}));
    let q = format!("code=up-code&state={}&iss={}", up["state"], url::form_urlencoded::byte_serialize(IDP.as_bytes()).collect::<String>());
    let r = come_back(&mut w, &net, &q);
    assert_eq!(r.status, 303, "{}", r.body);
    let back = query(r.header("location").unwrap());
    assert_eq!(back["state"], "xyz");
    assert!(!w.cookies.contains_key(upstream_state::STATE_COOKIE), "state cookie spent");
    // The verifier sent upstream matches the challenge sent upstream.
    let sent = net.sent.borrow().iter().find(|r| r.url.ends_with("/token")).cloned().unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&sent.body.unwrap()).into_owned().collect();
    assert_eq!(upstream_state::pkce_challenge(&Secret::new(form["code_verifier"].clone())), up["code_challenge"]);
    // The MCP client's code carries the upstream subject.
    let t = body_json(&w.redeem(&client, &back["code"], VERIFIER));
    let claims = crate::base::jws::parse(t["access_token"].as_str().unwrap()).unwrap().claims;
    assert_eq!(claims["sub"], "oidc:alice");
    // Replaying the callback does nothing.
    assert_eq!(come_back(&mut w, &net, &q).status, 400);
    assert!(events(&w).contains(&"login.upstream.start".to_string()));
    assert!(events(&w).contains(&"login.upstream.success".to_string()));
    assert!(events(&w).contains(&"login.upstream.invalid".to_string()));
    // With a session now, the next client gets the plain consent page.
    let (request, _) = w.start(&client);
    let shown = block_on(consent::show(&w.ctx(), &w.req("GET", "/consent", &format!("request={request}"), None, "")));
    assert!(shown.body.contains("Allow access to your MCP server?") && !shown.body.contains("sign in with"), "{}", shown.body);
}

#[test]
fn a_state_started_in_another_browser_is_refused() {
    let mut w = world();
    let key = TestKey::rs256("k1");
    let net = idp(&key);
    let client = w.public_client();
    let up = go_upstream(&mut w, &net, &client);
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(&key, "alice", &up["nonce"], w.now)}));
    let q = format!("code=c&state={}", up["state"]);
    // The attacker's browser: its own cookies, the victim's state.
    let mut other = world();
    other.cookies = w.cookies.clone();
    other.cookies.insert(upstream_state::STATE_COOKIE.into(), "not-the-one".into());
    let r = block_on(super::callback(&w.ctx(), &net, &other.req("GET", "/callback/oidc", &q, None, "")));
    assert_eq!(r.status, 400, "{}", r.body);
    other.cookies.remove(upstream_state::STATE_COOKIE);
    assert_eq!(block_on(super::callback(&w.ctx(), &net, &other.req("GET", "/callback/oidc", &q, None, ""))).status, 400);
    assert_eq!(net.count(&format!("{IDP}/token")), 0, "no code redeemed for a foreign state");
    // The right browser still finishes.
    assert_eq!(come_back(&mut w, &net, &q).status, 303);
}

#[test]
fn a_denial_at_the_provider_reaches_the_client_as_access_denied() {
    let mut w = world();
    let net = idp(&TestKey::es256("k"));
    let client = w.public_client();
    let up = go_upstream(&mut w, &net, &client);
    let r = come_back(&mut w, &net, &format!("error=access_denied&state={}", up["state"]));
    assert_eq!(r.status, 303, "{}", r.body);
    let back = query(r.header("location").unwrap());
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "xyz");
    assert!(events(&w).contains(&"login.upstream.denied".to_string()));
}

#[test]
fn refusals_are_pages_and_audited() {
    let mut w = world();
    let key = TestKey::eddsa("k");
    let net = idp(&key);
    let client = w.public_client();
    let up = go_upstream(&mut w, &net, &client);
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(&key, "mallory", &up["nonce"], w.now)}));
    let r = come_back(&mut w, &net, &format!("code=c&state={}", up["state"]));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("allow-list"), "{}", r.body);
    assert!(events(&w).contains(&"login.upstream.refused".to_string()));
    assert!(!w.cookies.contains_key(crate::identity::browser_session::SESSION_COOKIE), "no session for a refused identity");
    // A mix-up: the answer names another issuer.
    let up = go_upstream(&mut w, &net, &client);
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(&key, "alice", &up["nonce"], w.now)}));
    let r = come_back(&mut w, &net, &format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", up["state"]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("another issuer"), "{}", r.body);
    // Unknown provider and a via that is not configured.
    assert_eq!(block_on(super::callback(&w.ctx(), &net, &w.req("GET", "/callback/github", "state=x", None, ""))).status, 404);
    let (request, csrf) = w.start(&client);
    let r = post(&w, &net, &[("request", &request), ("csrf", &csrf), ("decision", "approve"), ("via", "github")]);
    assert_eq!(r.status, 400, "{}", r.body);
    // Deny without a session, from the sign-in page, for a client nobody
    // approved: a page, not a redirect (issue 15 item 6, RFC 9700 §4.11.2).
    let r = post(&w, &net, &[("request", &request), ("csrf", &csrf), ("decision", "deny")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("location").is_none() && r.body.contains("Access denied"), "{}", r.body);
    assert!(events(&w).contains(&"consent.deny".to_string()));
    let again = post(&w, &net, &[("request", &request), ("csrf", &csrf), ("decision", "deny")]);
    assert!(again.header("location").is_none() && again.body.contains("expired"), "consumed once: {}", again.body);
    let _ = hidden;
}

#[test]
fn deny_without_a_session_redirects_only_for_an_approved_client() {
    let mut w = world();
    let key = TestKey::es256("k1");
    let net = idp(&key);
    let client = w.public_client();
    sign_in_upstream(&mut w, &net, &key, &client, false);
    // Another browser, nobody signed in: the owner's approval makes the client trusted.
    w.cookies.clear();
    let (request, csrf) = w.start(&client);
    let r = post(&w, &net, &[("request", &request), ("csrf", &csrf), ("decision", "deny")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(query(r.header("location").unwrap())["error"], "access_denied");
}

#[test]
fn an_upstream_session_cannot_open_the_admin_page() {
    let mut w = world();
    let key = TestKey::es256("k1");
    let net = idp(&key);
    let client = w.public_client();
    let up = go_upstream(&mut w, &net, &client);
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(&key, "alice", &up["nonce"], w.now)}));
    assert_eq!(come_back(&mut w, &net, &format!("code=c&state={}", up["state"])).status, 303);
    assert!(w.cookies.contains_key(crate::identity::browser_session::SESSION_COOKIE));
    let admin = block_on(crate::operate::admin::show(&w.ctx(), &w.req("GET", "/admin", "", None, "")));
    assert!(admin.body.contains("type=\"password\""), "the admin sign-in form, not the dashboard: {}", admin.body);
}

/// GET /authorize for `client` in this browser.
fn authorize_again(w: &mut World, client: &str) -> HttpResponse {
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=again",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let r = block_on(crate::identity::authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
    w.keep_cookies(&r);
    r
}

/// Signs in upstream as alice, ticking "Remember" or not, and comes back with a code.
fn sign_in_upstream(w: &mut World, net: &TestNet, key: &TestKey, client: &str, remember: bool) {
    let extra: &[(&str, &str)] = if remember { &[("remember", "on")] } else { &[] };
    let up = go_upstream_with(w, net, client, extra);
    net.respond(Method::Post, &format!("{IDP}/token"), 200, &json!({"id_token": id_token(key, "alice", &up["nonce"], w.now)}));
    let r = come_back(w, net, &format!("code=c&state={}", up["state"]));
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(query(r.header("location").unwrap()).contains_key("code"));
}

#[test]
fn remember_ticked_with_an_upstream_sign_in_skips_the_next_page() {
    let mut w = world();
    let key = TestKey::es256("k1");
    let net = idp(&key);
    // Confidential: a loopback redirect does not prove a public client's identity (RFC 8252 §8.6).
    let (client, _) = w.confidential_client();
    // The sign-in page offers the box in the same form as the provider buttons.
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let page = block_on(crate::identity::authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, ""))).body;
    let form = page.split("<form").find(|f| f.contains("name=\"via\"")).unwrap_or_default();
    assert!(form.contains("name=\"remember\"") && form.contains("Remember for 30 days"), "{page}");
    sign_in_upstream(&mut w, &net, &key, &client, true);
    let again = authorize_again(&mut w, &client);
    assert_eq!(again.status, 303, "no page the second time: {}", again.body);
    let back = query(again.header("location").unwrap());
    assert_eq!(back["state"], "again");
    assert!(back.contains_key("code"));
    assert!(events(&w).contains(&"consent.remembered".to_string()));
}

#[test]
fn remember_unticked_with_an_upstream_sign_in_asks_again() {
    let mut w = world();
    let key = TestKey::es256("k1");
    let net = idp(&key);
    let client = w.public_client();
    sign_in_upstream(&mut w, &net, &key, &client, false);
    let again = authorize_again(&mut w, &client);
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("Allow access to your MCP server?"), "{}", again.body);
    assert!(!events(&w).contains(&"consent.remembered".to_string()));
}
