//! Native tests of the GitHub login against canned answers in GitHub's
//! documented shapes (`testing_net::TestNet`): the allow-lists by login and by
//! organisation, every documented token-endpoint error, and GitHub failing.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;
use crate::config::vars::ConfigError;
use crate::base::outbound::Method;
use crate::store::memory::block_on;
use crate::testing::net::TestNet;

const WEB: &str = "https://github.example";
const API: &str = "https://api.github.example";
const TOKEN_URL: &str = "https://github.example/login/oauth/access_token";
const USER_URL: &str = "https://api.github.example/user";
const REDIRECT: &str = "https://gate.example/callback/github";
const CLIENT_SECRET: &str = "client-secret-value-1";
const ACCESS_TOKEN: &str = "gho_access-token-value-1";

fn config(extra: &[(&str, &str)]) -> Result<Option<GithubConfig>, ConfigError> {
    let mut m: HashMap<String, String> = [("GITHUB_CLIENT_ID", "Iv1.client"), ("GITHUB_CLIENT_SECRET", CLIENT_SECRET), ("GITHUB_URL", WEB), ("GITHUB_API_URL", API)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in extra {
        if v.is_empty() {
            m.remove(*k);
        } else {
            m.insert(k.to_string(), v.to_string());
        }
    }
    GithubConfig::from_lookup(&move |k: &str| m.get(k).cloned())
}

fn cfg(extra: &[(&str, &str)]) -> GithubConfig {
    config(extra).unwrap().unwrap()
}

fn membership_url(org: &str) -> String {
    format!("{API}/user/memberships/orgs/{org}")
}

/// GitHub's documented success: 200 with the token, its type and the scopes granted.
fn github(login: &str, scope: &str) -> TestNet {
    github_account(login, 583231, scope)
}

fn github_account(login: &str, id: u64, scope: &str) -> TestNet {
    let net = TestNet::default();
    net.respond(Method::Post, TOKEN_URL, 200, &json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": scope}));
    net.respond(Method::Get, USER_URL, 200, &json!({"login": login, "id": id, "type": "User", "name": "The Octocat", "email": null}));
    net
}

fn membership(org: &str, state: &str) -> Value {
    json!({
        "url": format!("{API}/orgs/{org}/memberships/octocat"),
        "state": state,
        "role": "member",
        "organization_url": format!("{API}/orgs/{org}"),
        "organization": {"login": org, "id": 1},
        "user": {"login": "octocat", "id": 583231},
    })
}

fn not_found() -> Value {
    json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
}

fn run(net: &TestNet, cfg: &GithubConfig) -> Result<Identity, LoginError> {
    block_on(identify(net, cfg, "code-1", REDIRECT, "verifier-1"))
}

fn refused(r: Result<Identity, LoginError>) -> String {
    match r {
        Err(LoginError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn upstream(r: Result<Identity, LoginError>) -> String {
    match r {
        Err(LoginError::Upstream(why)) => why,
        other => panic!("expected an upstream failure, got {other:?}"),
    }
}

fn header<'a>(req: &'a OutboundRequest, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn off_unless_a_client_id_is_set_and_half_a_setup_is_an_error() {
    assert!(GithubConfig::from_lookup(&|_: &str| None).unwrap().is_none());
    let e = config(&[("GITHUB_CLIENT_ID", ""), ("GITHUB_ALLOWED_USERS", "583231")]).unwrap_err();
    assert_eq!(e.variable, "GITHUB_CLIENT_ID");
    let e = config(&[("GITHUB_CLIENT_SECRET", ""), ("GITHUB_ALLOWED_USERS", "583231")]).unwrap_err();
    assert_eq!(e.variable, "GITHUB_CLIENT_SECRET");
}

#[test]
fn an_allow_list_is_required_and_names_are_checked() {
    let e = config(&[]).unwrap_err();
    assert_eq!(e.variable, "GITHUB_ALLOWED_USERS");
    assert!(e.problem.contains("GITHUB_ALLOWED_ORGS"));
    assert_eq!(config(&[("GITHUB_ALLOWED_USERS", "octo/../cat")]).unwrap_err().variable, "GITHUB_ALLOWED_USERS");
    assert_eq!(config(&[("GITHUB_ALLOWED_ORGS", "acme?x=1")]).unwrap_err().variable, "GITHUB_ALLOWED_ORGS");
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231, 1001"), ("GITHUB_ALLOWED_ORGS", "Acme-Labs")]);
    assert_eq!(c.allowed_users, [583231, 1001]);
    assert_eq!(c.allowed_orgs, ["Acme-Labs"]);
}

/// Issue 15 item 9: a login can be renamed and then registered by anyone,
/// so the list takes account ids only, and says how to find one.
#[test]
fn the_user_list_takes_account_ids_not_logins() {
    for bad in ["octocat", "583231 hubot", "0", "-1", "1e3", "+5", "99999999999999999999999", "583231.0"] {
        let e = config(&[("GITHUB_ALLOWED_USERS", bad)]).unwrap_err();
        assert_eq!(e.variable, "GITHUB_ALLOWED_USERS", "{bad}");
        assert!(e.problem.contains("account ids") && e.problem.contains("api.github.com/users/"), "{}", e.problem);
    }
}

#[test]
fn urls_default_to_github_and_must_be_https_or_loopback() {
    let c = cfg(&[("GITHUB_URL", ""), ("GITHUB_API_URL", ""), ("GITHUB_ALLOWED_USERS", "583231")]);
    assert_eq!((c.url.as_str(), c.api_url.as_str()), ("https://github.com", "https://api.github.com"));
    let c = cfg(&[("GITHUB_URL", "http://127.0.0.1:9000/"), ("GITHUB_API_URL", "https://ghe.example/api/v3/"), ("GITHUB_ALLOWED_USERS", "583231")]);
    assert_eq!((c.url.as_str(), c.api_url.as_str()), ("http://127.0.0.1:9000", "https://ghe.example/api/v3"));
    for (var, bad) in [("GITHUB_URL", "http://github.example"), ("GITHUB_API_URL", "ftp://127.0.0.1"), ("GITHUB_URL", "https://u:p@github.example"), ("GITHUB_API_URL", "not a url")] {
        let e = config(&[(var, bad), ("GITHUB_ALLOWED_USERS", "583231")]).unwrap_err();
        assert_eq!(e.variable, var, "{bad}");
        assert!(!e.problem.contains(bad), "the message must not echo the value");
    }
}

#[test]
fn the_secret_stays_out_of_debug_output() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231")]);
    assert!(!format!("{c:?}").contains(CLIENT_SECRET));
}

#[test]
fn authorize_url_asks_for_the_least_scope_with_state_and_pkce() {
    let users = cfg(&[("GITHUB_ALLOWED_USERS", "583231")]);
    let url = url::Url::parse(&authorize_url(&users, REDIRECT, "st+ate", "chal")).unwrap();
    assert_eq!(format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.path()), "https://github.example/login/oauth/authorize");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "Iv1.client");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["state"], "st+ate");
    assert_eq!(q["code_challenge"], "chal");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "read:user");
    let orgs = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let url = url::Url::parse(&authorize_url(&orgs, REDIRECT, "s", "c")).unwrap();
    assert!(url.query_pairs().any(|(k, v)| k == "scope" && v == "read:user read:org"));
}

#[test]
fn a_listed_account_id_passes_without_an_org_lookup_and_the_login_is_shown_beside_it() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231"), ("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("OctoCat", "read:org,read:user");
    let id = run(&net, &c).unwrap();
    assert_eq!(id.subject.as_str(), "github:583231");
    assert_eq!(id.account.as_deref(), Some("@octocat"));
    assert_eq!(id.method, LoginMethod::Github);
    assert_eq!(id.name.as_deref(), Some("The Octocat"));
    assert!(id.groups.is_empty());
    assert_eq!(net.count(&membership_url("acme")), 0);
}

#[test]
fn requests_follow_githubs_documented_shapes() {
    let net = github("octocat", "read:user");
    run(&net, &cfg(&[("GITHUB_ALLOWED_USERS", "583231")])).unwrap();
    let sent = net.sent.borrow();
    let token = &sent[0];
    assert_eq!((token.method, token.url.as_str()), (Method::Post, TOKEN_URL));
    assert_eq!(header(token, "accept"), Some("application/json"));
    let form: HashMap<String, String> = url::form_urlencoded::parse(token.body.as_deref().unwrap()).into_owned().collect();
    assert_eq!(form["client_id"], "Iv1.client");
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], "verifier-1");
    let user = &sent[1];
    assert_eq!((user.method, user.url.as_str()), (Method::Get, USER_URL));
    assert_eq!(header(user, "authorization"), Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
    assert_eq!(header(user, "accept"), Some("application/vnd.github+json"));
    assert_eq!(header(user, "x-github-api-version"), Some(API_VERSION));
    assert!(header(user, "user-agent").is_some_and(|ua| !ua.is_empty()));
    assert_eq!(sent.len(), 2);
}

#[test]
fn an_account_on_neither_list_is_refused_naming_login_and_id() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "1001"), ("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("octocat", "read:user,read:org");
    net.respond(Method::Get, &membership_url("acme"), 404, &not_found());
    let why = refused(run(&net, &c));
    assert!(why.contains("@octocat (id 583231)"), "{why}");
    let only_users = cfg(&[("GITHUB_ALLOWED_USERS", "1001")]);
    refused(run(&github("octocat", "read:user"), &only_users));
}

#[test]
fn an_active_member_of_an_allowed_org_passes_and_the_org_is_its_group() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "other acme")]);
    let net = github("octocat", "read:org,read:user");
    net.respond(Method::Get, &membership_url("other"), 404, &not_found());
    net.respond(Method::Get, &membership_url("acme"), 200, &membership("ACME", "active"));
    let id = run(&net, &c).unwrap();
    assert_eq!(id.subject.as_str(), "github:583231");
    assert_eq!(id.groups, ["acme"]);
    assert_eq!(net.count(&membership_url("other")), 1);
}

#[test]
fn a_pending_invitation_is_not_membership() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("octocat", "read:org,read:user");
    net.respond(Method::Get, &membership_url("acme"), 200, &membership("acme", "pending"));
    refused(run(&net, &c));
}

#[test]
fn forbidden_by_the_org_is_not_membership() {
    // 403: e.g. the organisation restricts third-party OAuth apps.
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("octocat", "read:org,read:user");
    net.respond(Method::Get, &membership_url("acme"), 403, &json!({"message": "Forbidden", "documentation_url": "https://docs.github.com/rest"}));
    refused(run(&net, &c));
}

#[test]
fn without_the_read_org_grant_membership_is_not_asked() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("octocat", "read:user");
    net.respond(Method::Get, &membership_url("acme"), 200, &membership("acme", "active"));
    assert!(refused(run(&net, &c)).contains("read:org"));
    assert_eq!(net.count(&membership_url("acme")), 0);
}

#[test]
fn an_answer_about_another_org_is_not_trusted() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let net = github("octocat", "read:org,read:user");
    net.respond(Method::Get, &membership_url("acme"), 200, &membership("evil", "active"));
    upstream(run(&net, &c));
}

#[test]
fn githubs_token_errors_come_as_200_and_are_told_apart() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231")]);
    let answer = |body: Value| {
        let net = github("octocat", "read:user");
        net.respond(Method::Post, TOKEN_URL, 200, &body);
        let r = run(&net, &c);
        assert_eq!(net.count(USER_URL), 0, "no API call after a refused exchange");
        r
    };
    let doc = |code: &str| json!({"error": code, "error_description": "described", "error_uri": "/apps/troubleshooting"});
    match answer(doc("bad_verification_code")) {
        Err(LoginError::Invalid(why)) => assert!(why.contains("Start again")),
        other => panic!("{other:?}"),
    }
    assert!(upstream(answer(doc("incorrect_client_credentials"))).contains("GITHUB_CLIENT_SECRET"));
    assert!(upstream(answer(doc("redirect_uri_mismatch"))).contains("/callback/github"));
    assert!(upstream(answer(doc("unverified_user_email"))).contains("unverified_user_email"));
    let odd = upstream(answer(json!({"error": "<script>x</script>"})));
    assert!(!odd.contains("script"), "an unexpected value is not echoed: {odd}");
    upstream(answer(json!({"token_type": "bearer", "scope": ""})));
    upstream(answer(json!({"access_token": ACCESS_TOKEN, "scope": "read:user"})));
}

#[test]
fn github_failing_is_an_upstream_error() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let down = TestNet::default();
    assert!(upstream(run(&down, &c)).contains("token endpoint"));

    let net = github("octocat", "read:org");
    net.respond(Method::Post, TOKEN_URL, 502, &json!({"message": "Bad gateway"}));
    assert!(upstream(run(&net, &c)).contains("502"));

    let net = github("octocat", "read:org");
    net.respond(Method::Get, USER_URL, 500, &json!({"message": "Server Error"}));
    assert!(upstream(run(&net, &c)).contains("500"));

    let net = github("octocat", "read:org");
    net.respond(Method::Get, USER_URL, 401, &json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}));
    upstream(run(&net, &c));

    let net = github("octocat", "read:org");
    net.respond(Method::Get, &membership_url("acme"), 503, &json!({"message": "Service Unavailable"}));
    assert!(upstream(run(&net, &c)).contains("503"));

    let net = github("octocat", "read:org");
    upstream(run(&net, &c)); // the membership endpoint does not answer at all
}

#[test]
fn a_login_github_would_never_issue_is_not_forwarded() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231")]);
    for login in [json!("octo\r\nx-evil: 1"), json!(""), json!(42), Value::Null] {
        let net = github("octocat", "read:user");
        net.respond(Method::Get, USER_URL, 200, &json!({"login": login, "id": 583231}));
        upstream(run(&net, &c));
    }
    for id in [Value::Null, json!("583231"), json!(0), json!(-583231), json!(583231.5)] {
        let net = github("octocat", "read:user");
        net.respond(Method::Get, USER_URL, 200, &json!({"login": "octocat", "id": id}));
        assert!(upstream(run(&net, &c)).contains("account id"), "{id}");
    }
}

/// Issue 15 item 9: the person keeps their subject through a rename, and
/// whoever registers the freed login afterwards is someone else.
#[test]
fn a_rename_keeps_the_subject_and_a_new_owner_of_the_old_login_is_refused() {
    let c = cfg(&[("GITHUB_ALLOWED_USERS", "583231")]);
    let before = run(&github_account("octocat", 583231, "read:user"), &c).unwrap();
    let renamed = run(&github_account("octocat-renamed", 583231, "read:user"), &c).unwrap();
    assert_eq!(before.subject, renamed.subject);
    assert_eq!(renamed.account.as_deref(), Some("@octocat-renamed"));
    let why = refused(run(&github_account("octocat", 99999999, "read:user"), &c));
    assert!(why.contains("@octocat (id 99999999)"), "{why}");
}

#[test]
fn secrets_never_reach_an_error_message() {
    let c = cfg(&[("GITHUB_ALLOWED_ORGS", "acme")]);
    let mut messages = Vec::new();
    for status in [401, 500] {
        let net = github("octocat", "read:org");
        net.respond(Method::Get, USER_URL, status, &json!({"message": ACCESS_TOKEN}));
        messages.push(upstream(run(&net, &c)));
    }
    let net = github("octocat", "read:org");
    net.respond(Method::Post, TOKEN_URL, 200, &json!({"error": "incorrect_client_credentials", "error_description": CLIENT_SECRET}));
    messages.push(upstream(run(&net, &c)));
    for m in messages {
        assert!(!m.contains(ACCESS_TOKEN) && !m.contains(CLIENT_SECRET) && !m.contains("code-1") && !m.contains("verifier-1"), "{m}");
    }
}
