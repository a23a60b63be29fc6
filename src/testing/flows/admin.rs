//! Native tests of the admin page (sign-in, CSRF, revoke, delete) and of the
//! audit events every endpoint writes, over the in-memory store.

use crate::base::http::HttpResponse;
use crate::base::types::{ClientId, GrantId, Subject, TokenHash};
use crate::testing::flows::{hidden, json, World, CHALLENGE, ISS, PASSWORD, REDIRECT, VERIFIER};
use crate::identity::{authorize, consent};
use crate::protocol::{attempt_limit, register, token};
use crate::operate::admin;
use crate::store::audit::AuditEvent;
use crate::store::clients::{AuthMethod, ClientRecord};
use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};
use crate::store::memory::block_on;
use crate::store::pending::PendingAuthorization;

impl World {
    fn encode(&self, fields: &[(&str, &str)]) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
    }
    fn admin_get(&mut self) -> HttpResponse {
        let r = block_on(admin::show(&self.ctx(), &self.req("GET", "/admin", "", None, "")));
        self.keep_cookies(&r);
        r
    }
    fn admin_post(&mut self, fields: &[(&str, &str)]) -> HttpResponse {
        let body = self.encode(fields);
        let r = block_on(admin::post(&self.ctx(), &self.req("POST", "/admin", "", Some("application/x-www-form-urlencoded"), &body)));
        self.keep_cookies(&r);
        r
    }
    /// Opens /admin and signs in; returns the dashboard's CSRF token.
    fn sign_in(&mut self) -> String {
        let page = self.admin_get();
        let r = self.admin_post(&[("action", "login"), ("csrf", &hidden(&page.body, "csrf")), ("password", PASSWORD)]);
        assert_eq!((r.status, r.header("location")), (303, Some("/admin")), "{}", r.body);
        let dash = self.admin_get();
        assert_eq!(dash.status, 200);
        assert!(dash.body.contains("Signed in as"), "{}", dash.body);
        hidden(&dash.body, "csrf")
    }
    fn token(&self, fields: &[(&str, &str)]) -> HttpResponse {
        let body = self.encode(fields);
        block_on(token::handle(&self.ctx(), &crate::testing::net::TestNet::default(), &self.req("POST", "/token", "", Some("application/x-www-form-urlencoded"), &body)))
    }
    fn events(&self) -> Vec<AuditEvent> {
        self.store.audit.borrow().clone()
    }
    fn event_names(&self) -> Vec<String> {
        self.events().into_iter().map(|e| e.event).collect()
    }
}



fn client(id: &str, name: &str, created_at: i64) -> ClientRecord {
    ClientRecord {
        client_id: ClientId::new(id),
        secret_hash: None,
        auth_method: AuthMethod::None,
        redirect_uris: vec![crate::base::redirect_uri::RedirectUri::parse(REDIRECT).unwrap()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        client_name: Some(name.into()),
        metadata: serde_json::json!({}),
        created_at,
    }
}

/// A client with a grant, an unused code, a refresh token and a pending request.
fn seed(w: &World, id: &str, name: &str) -> (GrantId, String) {
    let s = &w.store;
    block_on(async {
        use crate::store::{clients::ClientStore, grants::GrantStore, pending::PendingRequests};
        s.create_client(&client(id, name, w.now - 100)).await.unwrap();
        let grant = GrantRecord {
            grant_id: GrantId::new(format!("gr_{id}")),
            client_id: ClientId::new(id),
            subject: Subject::new("owner"),
            scope: "mcp".into(),
            resource: format!("{ISS}/mcp"),
            created_at: w.now - 50,
            revoked_at: None,
        };
        let code = CodeRecord {
            code_hash: TokenHash::of(&format!("code-{id}")),
            client_id: ClientId::new(id),
            redirect_uri: REDIRECT.into(),
            code_challenge: crate::base::pkce::CodeChallenge::from_stored(CHALLENGE),
            scope: "mcp".into(),
            resource: format!("{ISS}/mcp"),
            grant_id: grant.grant_id.clone(),
            expires_at: w.now + 60,
            used_at: None,
        };
        s.create_grant(&grant, &code).await.unwrap();
        let rt = format!("refresh-{id}");
        s.create_refresh(&RefreshRecord {
            token_hash: TokenHash::of(&rt),
            grant_id: grant.grant_id.clone(),
            client_id: ClientId::new(id),
            expires_at: w.now + 3600,
            used_at: None,
            successor_hash: None,
        })
        .await
        .unwrap();
        s.create_pending(&PendingAuthorization {
            id: format!("ar_{id}"),
            client_id: ClientId::new(id),
            redirect_uri: REDIRECT.into(),
            state: None,
            code_challenge: crate::base::pkce::CodeChallenge::from_stored(CHALLENGE),
            scope: "mcp".into(),
            resource: format!("{ISS}/mcp"),
            browser: TokenHash::of("b"),
            expires_at: w.now + 600,
        })
        .await
        .unwrap();
        (grant.grant_id, rt)
    })
}

#[test]
fn without_a_session_admin_shows_the_sign_in_form_and_no_data() {
    let mut w = World::new();
    seed(&w, "gh_one", "Listed Only To The Owner");
    let r = w.admin_get();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("type=\"password\""));
    assert!(!r.body.contains("Listed Only To The Owner"));
    assert!(!r.body.contains("gr_gh_one"));
    assert!(r.headers.iter().any(|(k, v)| k == "set-cookie" && v.starts_with("__Host-gatehouse-browser=")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // A signed-out POST of an action is refused with the sign-in form.
    let before = w.store.grants.borrow().clone();
    let post = w.admin_post(&[("action", "revoke_grant"), ("grant", "gr_gh_one"), ("csrf", "x")]);
    assert_eq!(post.status, 401);
    assert!(post.body.contains("type=\"password\""));
    assert_eq!(*w.store.grants.borrow(), before);
}

#[test]
fn owner_signs_in_and_sees_clients_grants_and_events() {
    let mut w = World::new();
    let (grant, _) = seed(&w, "gh_one", "Claude <Desktop>");
    w.sign_in();
    let dash = w.admin_get();
    assert!(dash.body.contains("Claude &lt;Desktop&gt;"), "{}", dash.body);
    assert!(dash.body.contains(&format!("data-grant=\"{}\"", grant.as_str())));
    assert!(dash.body.contains("data-client=\"gh_one\""));
    assert!(dash.body.contains("127.0.0.1"), "redirect host listed");
    assert!(dash.body.contains("data-event=\"login.success\""));
    let login = &w.events()[0];
    assert_eq!((login.event.as_str(), login.detail["page"].as_str(), login.detail["ip"].as_str()), ("login.success", Some("admin"), Some("198.51.100.7")));
}

#[test]
fn admin_sign_in_shares_the_login_rate_limit_and_is_audited() {
    let mut w = World::new();
    let page = w.admin_get();
    let csrf = hidden(&page.body, "csrf");
    for _ in 0..attempt_limit::PASSWORD_PER_SOURCE.max {
        let r = w.admin_post(&[("action", "login"), ("csrf", &csrf), ("password", "wrong password")]);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("not right"));
    }
    let r = w.admin_post(&[("action", "login"), ("csrf", &csrf), ("password", PASSWORD)]);
    assert_eq!(r.status, 429, "the right password is not even checked now");
    assert!(!w.cookies.contains_key("__Host-gatehouse-session"));
    // The same counter as /login's: its key is the client IP, not the page.
    assert!(w.store.failures.borrow().iter().all(|(k, _)| k == "login:198.51.100.7"));
    let names = w.event_names();
    assert_eq!(names.iter().filter(|n| *n == "login.failure").count(), attempt_limit::PASSWORD_PER_SOURCE.max as usize);
    assert_eq!(names.len(), attempt_limit::PASSWORD_PER_SOURCE.max as usize, "refused attempts add no rows: {names:?}");
    assert!(!format!("{:?}", w.events()).contains("wrong password"));
    // A login form without its CSRF token is refused before the password is checked.
    let mut fresh = World::new();
    fresh.admin_get();
    let r = fresh.admin_post(&[("action", "login"), ("password", PASSWORD)]);
    assert_eq!(r.status, 403);
    assert!(fresh.events().is_empty());
}

#[test]
fn revoke_needs_the_csrf_token_of_this_browser_and_sign_in() {
    let mut w = World::new();
    let (grant, rt) = seed(&w, "gh_one", "One");
    let csrf = w.sign_in();
    let mut other = World::new();
    let other_csrf = other.sign_in();

    for bad in [None, Some("forged"), Some(other_csrf.as_str())] {
        let mut fields = vec![("action", "revoke_grant"), ("grant", grant.as_str())];
        if let Some(t) = bad {
            fields.push(("csrf", t));
        }
        let r = w.admin_post(&fields);
        assert_eq!(r.status, 403, "csrf {bad:?}: {}", r.body);
        assert!(w.store.grants.borrow()[grant.as_str()].revoked_at.is_none());
    }

    let r = w.admin_post(&[("action", "revoke_grant"), ("grant", grant.as_str()), ("csrf", &csrf)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")));
    assert_eq!(w.store.grants.borrow()[grant.as_str()].revoked_at, Some(w.now));
    let e = w.events().into_iter().find(|e| e.event == "grant.revoke").expect("audited");
    assert_eq!((e.subject.as_deref(), e.client_id.as_deref(), e.detail["by"].as_str()), (Some("owner"), Some("gh_one"), Some("admin")));
    // Its refresh token is dead, and the grant is no longer listed.
    let t = w.token(&[("grant_type", "refresh_token"), ("client_id", "gh_one"), ("refresh_token", &rt)]);
    assert_eq!((t.status, json(&t)["error"].as_str()), (400, Some("invalid_grant")));
    assert!(!w.admin_get().body.contains(&format!("data-grant=\"{}\"", grant.as_str())));
    // A second click changes and records nothing.
    let again = w.admin_post(&[("action", "revoke_grant"), ("grant", grant.as_str()), ("csrf", &csrf)]);
    assert_eq!(again.status, 303);
    assert_eq!(w.event_names().iter().filter(|n| *n == "grant.revoke").count(), 1);
}

#[test]
fn sign_out_revokes_the_session_so_a_copied_cookie_stops_working() {
    let mut w = World::new();
    seed(&w, "gh_one", "Listed Only To The Owner");
    let csrf = w.sign_in();
    let copied = w.cookies.clone();
    assert_eq!(w.admin_post(&[("action", "logout"), ("csrf", &csrf)]).status, 303);
    w.cookies = copied.clone();
    let page = w.admin_get();
    assert!(page.body.contains("type=\"password\"") && !page.body.contains("Listed Only To The Owner"), "the copy is signed out too: {}", page.body);
    w.cookies = copied;
    let r = w.admin_post(&[("action", "delete_client"), ("client", "gh_one"), ("csrf", &csrf)]);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(w.store.clients.borrow().contains_key("gh_one"));
}

#[test]
fn sign_out_everywhere_ends_every_session() {
    let mut w = World::new();
    seed(&w, "gh_one", "Listed Only To The Owner");
    let first = w.sign_in();
    let first_browser = w.cookies.clone();
    // A second browser, signed in a minute later.
    w.cookies.clear();
    w.now += 60;
    w.sign_in();
    let second_browser = w.cookies.clone();
    w.now += 60;
    w.cookies = first_browser.clone();
    let r = w.admin_post(&[("action", "logout_everywhere"), ("csrf", &first)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")), "{}", r.body);
    assert!(r.header("set-cookie").is_some_and(|c| c.starts_with("__Host-gatehouse-session=;") && c.contains("Max-Age=0")));
    for (which, cookies) in [("this browser", first_browser), ("the other browser", second_browser)] {
        w.cookies = cookies;
        let page = w.admin_get();
        assert!(!page.body.contains("Listed Only To The Owner"), "{which} is signed out");
    }
    assert_eq!(w.event_names().last().map(String::as_str), Some("logout.everywhere"));
    w.now += 1;
    w.sign_in();
}

#[test]
fn forms_of_an_earlier_sign_in_are_stale() {
    let mut w = World::new();
    let (grant, _) = seed(&w, "gh_one", "One");
    let old = w.sign_in();
    let out = w.admin_post(&[("action", "logout"), ("csrf", &old)]);
    assert_eq!(out.status, 303);
    assert!(!w.cookies.contains_key("__Host-gatehouse-session"));
    assert!(w.admin_get().body.contains("type=\"password\""), "signed out");
    assert_eq!(w.event_names(), ["login.success", "logout"]);
    w.now += 5;
    let new = w.sign_in();
    assert_ne!(old, new);
    let r = w.admin_post(&[("action", "revoke_grant"), ("grant", grant.as_str()), ("csrf", &old)]);
    assert_eq!(r.status, 403);
    assert!(w.store.grants.borrow()[grant.as_str()].revoked_at.is_none());
    let r = w.admin_post(&[("action", "revoke_grant"), ("grant", grant.as_str()), ("csrf", &new)]);
    assert_eq!(r.status, 303);
}

#[test]
fn delete_client_removes_its_state_revokes_its_grants_and_spares_others() {
    let mut w = World::new();
    let (grant, rt) = seed(&w, "gh_del", "Doomed");
    let (keep_grant, keep_rt) = seed(&w, "gh_keep", "Kept");
    let csrf = w.sign_in();
    let r = w.admin_post(&[("action", "delete_client"), ("client", "gh_del"), ("csrf", &csrf)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/admin")), "{}", r.body);

    let s = &w.store;
    assert!(!s.clients.borrow().contains_key("gh_del"));
    assert!(s.codes.borrow().values().all(|c| c.client_id.as_str() != "gh_del"));
    assert!(s.refresh.borrow().values().all(|r| r.client_id.as_str() != "gh_del"));
    assert!(s.pending.borrow().values().all(|p| p.client_id.as_str() != "gh_del"));
    assert_eq!(s.grants.borrow()[grant.as_str()].revoked_at, Some(w.now));
    // The other client is untouched.
    assert!(s.clients.borrow().contains_key("gh_keep"));
    assert!(s.grants.borrow()[keep_grant.as_str()].revoked_at.is_none());
    assert_eq!(s.refresh.borrow().values().filter(|r| r.client_id.as_str() == "gh_keep").count(), 1);
    assert_eq!(s.pending.borrow().len(), 1);

    let e = w.events().into_iter().find(|e| e.event == "client.delete").expect("audited");
    assert_eq!((e.client_id.as_deref(), e.detail["grants_revoked"].as_u64(), e.detail["client_name"].as_str()), (Some("gh_del"), Some(1), Some("Doomed")));
    // The deleted client can no longer use the token endpoint; the kept one can.
    let t = w.token(&[("grant_type", "refresh_token"), ("client_id", "gh_del"), ("refresh_token", &rt)]);
    assert_eq!((t.status, json(&t)["error"].as_str()), (401, Some("invalid_client")));
    let t = w.token(&[("grant_type", "refresh_token"), ("client_id", "gh_keep"), ("refresh_token", &keep_rt)]);
    assert_eq!(t.status, 200, "{}", t.body);
    let dash = w.admin_get();
    assert!(!dash.body.contains("data-client=\"gh_del\""));
    assert!(dash.body.contains("data-client=\"gh_keep\""));
}

#[test]
fn unknown_targets_and_actions_are_error_pages_that_change_nothing() {
    let mut w = World::new();
    seed(&w, "gh_one", "One");
    let csrf = w.sign_in();
    let before = (w.store.clients.borrow().len(), w.store.grants.borrow().clone(), w.store.audit.borrow().len());
    for (fields, status) in [
        (vec![("action", "revoke_grant"), ("grant", "gr_nope"), ("csrf", csrf.as_str())], 404),
        (vec![("action", "delete_client"), ("client", "gh_nope"), ("csrf", csrf.as_str())], 404),
        (vec![("action", "delete_client"), ("csrf", csrf.as_str())], 404),
        (vec![("action", "explode"), ("csrf", csrf.as_str())], 400),
        (vec![("csrf", csrf.as_str())], 400),
    ] {
        let r = w.admin_post(&fields);
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    let repeated = block_on(admin::post(&w.ctx(), &w.req("POST", "/admin", "", Some("application/x-www-form-urlencoded"), "action=logout&action=login")));
    assert_eq!(repeated.status, 400);
    let json_body = block_on(admin::post(&w.ctx(), &w.req("POST", "/admin", "", Some("application/json"), "{}")));
    assert_eq!(json_body.status, 400);
    let mut cookieless = World::new();
    assert_eq!(cookieless.admin_post(&[("action", "login"), ("password", PASSWORD)]).status, 400);
    let after = (w.store.clients.borrow().len(), w.store.grants.borrow().clone(), w.store.audit.borrow().len());
    assert_eq!(before, after);
}

#[test]
fn a_storage_failure_is_an_error_page_not_a_panic() {
    let mut w = World::new();
    seed(&w, "gh_one", "One");
    let csrf = w.sign_in();
    *w.store.fail.borrow_mut() = true;
    assert_eq!(w.admin_get().status, 503);
    let r = w.admin_post(&[("action", "delete_client"), ("client", "gh_one"), ("csrf", &csrf)]);
    assert_eq!(r.status, 503);
    *w.store.fail.borrow_mut() = false;
    assert!(w.store.clients.borrow().contains_key("gh_one"));
}

/// Registration, both kinds of login, consent both ways, token use and a
/// refresh-token replay, through the real endpoints: each leaves its event,
/// and no event holds a password, code, token or secret.
#[test]
fn endpoints_write_audit_events_without_secrets() {
    let mut w = World::new();
    let reg = block_on(register::handle(
        &w.ctx(),
        &w.req("POST", "/register", "", Some("application/json"), &format!(r#"{{"redirect_uris":["{REDIRECT}"],"client_name":"Flow","token_endpoint_auth_method":"client_secret_post"}}"#)),
    ));
    assert_eq!(reg.status, 201, "{}", reg.body);
    let reg = json(&reg);
    let (id, secret) = (reg["client_id"].as_str().unwrap().to_string(), reg["client_secret"].as_str().unwrap().to_string());

    let query = format!(
        "response_type=code&client_id={id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let start = |w: &mut World| {
        let page = block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &query, None, "")));
        assert_eq!(page.status, 200, "{}", page.body);
        w.keep_cookies(&page);
        (hidden(&page.body, "request"), hidden(&page.body, "csrf"))
    };
    let post = |w: &mut World, path: &str, fields: &[(&str, &str)]| {
        let r = w.req("POST", path, "", Some("application/x-www-form-urlencoded"), &w.encode(fields));
        let resp = block_on(async {
            match path {
                "/login" => crate::identity::sign_in::password::login(&w.ctx(), &r).await,
                _ => consent::decide(&w.ctx(), &crate::testing::net::TestNet::default(), &r).await,
            }
        });
        w.keep_cookies(&resp);
        resp
    };

    let (request, csrf) = start(&mut w);
    assert_eq!(post(&mut w, "/login", &[("request", &request), ("csrf", &csrf), ("password", "not the password")]).status, 401);
    assert_eq!(post(&mut w, "/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]).status, 303);
    assert_eq!(post(&mut w, "/consent", &[("request", &request), ("csrf", &csrf), ("decision", "deny")]).status, 303);
    let (request, csrf) = start(&mut w);
    let done = post(&mut w, "/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve")]);
    assert_eq!(done.status, 303);
    let loc = url::Url::parse(done.header("location").unwrap()).unwrap();
    let code = loc.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();

    let t = w.token(&[("grant_type", "authorization_code"), ("client_id", &id), ("client_secret", &secret), ("code", &code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)]);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(w.store.last_used.borrow().get(&id), Some(&w.now), "last use recorded");
    let rt1 = json(&t)["refresh_token"].as_str().unwrap().to_string();
    w.now += 10;
    let t2 = w.token(&[("grant_type", "refresh_token"), ("client_id", &id), ("client_secret", &secret), ("refresh_token", &rt1)]);
    assert_eq!(t2.status, 200, "{}", t2.body);
    let rt2 = json(&t2)["refresh_token"].as_str().unwrap().to_string();
    let grant_id = w.store.grants.borrow().values().next().unwrap().grant_id.clone();
    assert_eq!(w.store.last_refresh.borrow().get(grant_id.as_str()), Some(&w.now), "last refresh recorded");
    w.now += w.config.refresh_grace + 1;
    let replay = w.token(&[("grant_type", "refresh_token"), ("client_id", &id), ("client_secret", &secret), ("refresh_token", &rt1)]);
    assert_eq!(replay.status, 400);

    assert_eq!(
        w.event_names(),
        ["client.register", "login.failure", "login.success", "consent.deny", "consent.approve", "grant.revoke"]
    );
    let events = w.events();
    assert_eq!(events[1].client_id.as_deref(), Some(id.as_str()), "a login names the client being connected");
    assert_eq!(events[1].detail["page"], "login");
    assert_eq!(events[4].detail["grant_id"], grant_id.as_str());
    assert_eq!(events[5].detail["by"], "refresh_reuse");
    let all: String = events.iter().map(AuditEvent::log_line).collect();
    for secret_value in [PASSWORD, "not the password", &secret, &code, &rt1, &rt2, json(&t)["access_token"].as_str().unwrap()] {
        assert!(!all.contains(secret_value), "an audit event leaks {secret_value}");
    }
}

#[test]
fn the_dashboard_says_which_copy_of_a_document_admitted_a_client() {
    use crate::protocol::cimd::FetchedDocument;
    let mut w = World::new();
    let pinned_url = "https://claude.ai/oauth/claude-code-client-metadata";
    let live_url = "https://client.example.com/live.json";
    w.store.documents.answer(pinned_url, Ok(FetchedDocument { status: 403, body: vec![], cache_control: None, expires: None, date: None }));
    w.store.documents.serve(live_url, &format!(r#"{{"client_id":"{live_url}","redirect_uris":["{REDIRECT}"]}}"#), Some("max-age=60"));
    for url in [pinned_url, live_url] {
        let (request, csrf) = w.start(url);
        let login = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
        w.keep_cookies(&login);
        assert_eq!(w.form("/consent", &[("request", &request), ("csrf", &csrf), ("decision", "approve")]).status, 303);
    }
    // Signed in by the consent flows above.
    let page = w.admin_get();
    assert_eq!(page.status, 200);
    let text = html_escape::decode_html_entities(&page.body).into_owned();
    assert!(text.contains("Signed in as"), "{text}");
    let note = |url: &str| {
        let row = &text[text.find(&format!("<span class=\"id\">{url}</span>")).unwrap_or_else(|| panic!("no grant of {url}: {text}"))..];
        row[..row.find("</td>").unwrap()].to_string()
    };
    assert!(note(pinned_url).contains("data-document-source=\"pinned\"") && note(pinned_url).contains("answered HTTP 403"), "{}", note(pinned_url));
    assert!(note(live_url).contains("data-document-source=\"live\""), "{}", note(live_url));
}
