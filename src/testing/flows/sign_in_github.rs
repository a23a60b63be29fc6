//! GitHub sign-in through the real endpoints over the memory store:
//! authorize → consent with "sign in with GitHub" → GitHub (canned, in its
//! documented shapes) → `/callback/github` → the MCP client's code.

use std::collections::HashMap;

use serde_json::json;

use crate::config::github::GithubConfig;
use crate::identity::consent;
use crate::testing::flows::{json as body_json, World, ISS as GATE, REDIRECT, VERIFIER};
use crate::base::http::HttpResponse;
use crate::identity::sign_in::{delegate, upstream_state};
use crate::base::outbound::Method;
use crate::store::memory::block_on;
use crate::testing::net::TestNet;
use crate::base::types::Secret;

const WEB: &str = "https://github.example";
const API: &str = "https://api.github.example";

fn world(users: &str, orgs: &str) -> World {
    let mut w = World::new();
    let env: HashMap<&str, &str> = [
        ("GITHUB_CLIENT_ID", "Iv1.gate"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("GITHUB_ALLOWED_USERS", users),
        ("GITHUB_ALLOWED_ORGS", orgs),
        ("GITHUB_URL", WEB),
        ("GITHUB_API_URL", API),
    ]
    .into();
    w.config.github = GithubConfig::from_lookup(&|k: &str| env.get(k).map(|v| v.to_string()).filter(|v| !v.is_empty())).unwrap();
    w
}

fn github(login: &str) -> TestNet {
    let net = TestNet::default();
    net.respond(Method::Post, &format!("{WEB}/login/oauth/access_token"), 200, &json!({"access_token": "gho_x", "token_type": "bearer", "scope": "read:org,read:user"}));
    net.respond(Method::Get, &format!("{API}/user"), 200, &json!({"login": login, "id": 7, "name": null}));
    net
}

fn query(location: &str) -> HashMap<String, String> {
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Authorize, then "Allow and sign in with GitHub": GitHub's authorize URL's parameters.
fn go_to_github(w: &mut World, net: &TestNet, client: &str) -> HashMap<String, String> {
    let (request, csrf) = w.start(client);
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("request", request.as_str()), ("csrf", csrf.as_str()), ("decision", "approve"), ("via", "github")])
        .finish();
    let r = block_on(consent::decide(&w.ctx(), net, &w.req("POST", "/consent", "", Some("application/x-www-form-urlencoded"), &body)));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with(&format!("{WEB}/login/oauth/authorize?")), "{location}");
    w.keep_cookies(&r);
    query(&location)
}

fn come_back(w: &mut World, net: &TestNet, q: &str) -> HttpResponse {
    let r = block_on(delegate::callback(&w.ctx(), net, &w.req("GET", "/callback/github", q, None, "")));
    w.keep_cookies(&r);
    r
}

#[test]
fn the_sign_in_page_offers_github_and_the_code_carries_the_github_account_id() {
    let mut w = world("7", "");
    let net = github("octocat");
    let client = w.public_client();
    let (request, _) = w.start(&client);
    let page = block_on(consent::show(&w.ctx(), &w.req("GET", "/consent", &format!("request={request}"), None, "")));
    assert!(page.body.contains("Allow and sign in with GitHub"), "{}", page.body);

    let up = go_to_github(&mut w, &net, &client);
    assert_eq!(up["redirect_uri"], format!("{GATE}/callback/github"));
    assert_eq!(up["scope"], "read:user");
    assert_eq!(up["client_id"], "Iv1.gate");
    let r = come_back(&mut w, &net, &format!("code=gh-code&state={}", up["state"]));
    assert_eq!(r.status, 303, "{}", r.body);
    let back = query(r.header("location").unwrap());
    assert_eq!(back["state"], "xyz");

    // GitHub was handed the code, the same callback URL, and the verifier of the challenge it saw.
    let sent = net.sent.borrow().iter().find(|r| r.url.ends_with("/access_token")).cloned().unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&sent.body.unwrap()).into_owned().collect();
    assert_eq!(form["code"], "gh-code");
    assert_eq!(form["redirect_uri"], format!("{GATE}/callback/github"));
    assert_eq!(upstream_state::pkce_challenge(&Secret::new(form["code_verifier"].clone())), up["code_challenge"]);

    let t = body_json(&w.redeem(&client, &back["code"], VERIFIER));
    let claims = crate::base::jws::parse(t["access_token"].as_str().unwrap()).unwrap().claims;
    assert_eq!(claims["sub"], "github:7");
    let _ = REDIRECT;
}

#[test]
fn an_org_member_passes_and_a_stranger_gets_a_refusal_page_and_no_session() {
    let mut w = world("", "acme");
    let client = w.public_client();
    let net = github("octocat");
    net.respond(
        Method::Get,
        &format!("{API}/user/memberships/orgs/acme"),
        200,
        &json!({"state": "active", "role": "member", "organization": {"login": "acme"}, "user": {"login": "octocat"}}),
    );
    let up = go_to_github(&mut w, &net, &client);
    assert_eq!(up["scope"], "read:user read:org");
    assert_eq!(come_back(&mut w, &net, &format!("code=c&state={}", up["state"])).status, 303);

    let mut w = world("", "acme");
    let client = w.public_client();
    let net = github("mallory");
    net.respond(Method::Get, &format!("{API}/user/memberships/orgs/acme"), 404, &json!({"message": "Not Found"}));
    let up = go_to_github(&mut w, &net, &client);
    let r = come_back(&mut w, &net, &format!("code=c&state={}", up["state"]));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("@mallory"), "{}", r.body);
    assert!(!w.cookies.contains_key(crate::identity::browser_session::SESSION_COOKIE), "no session for a refused account");
}

#[test]
fn a_code_github_rejects_is_a_400_page() {
    let mut w = world("7", "");
    let client = w.public_client();
    let net = github("octocat");
    net.respond(
        Method::Post,
        &format!("{WEB}/login/oauth/access_token"),
        200,
        &json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.", "error_uri": "/apps/x"}),
    );
    let up = go_to_github(&mut w, &net, &client);
    let r = come_back(&mut w, &net, &format!("code=stale&state={}", up["state"]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Start again"), "{}", r.body);
    assert_eq!(net.count(&format!("{API}/user")), 0);
}
