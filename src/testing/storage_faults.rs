//! A storage failure at each storage call of a flow in turn: the endpoint
//! answers 503, and the same request retried once storage is back succeeds,
//! with nothing revoked (issue 16 §2). The D1 side of the same sweep is
//! `tests/e2e/storage_faults.test.mjs`.

use crate::testing::flows::{hidden, json, World, PASSWORD, REDIRECT, VERIFIER};
use crate::base::http::HttpResponse;

/// Runs `step` with storage failing from call `n` on, for n = 0, 1, … until
/// the step no longer touches the failure; each failing answer must be a
/// 503, and `step` run again with storage back must then pass `ok`.
/// `setup` builds a fresh world up to the step; returns how many calls failed.
fn sweep<T>(setup: impl Fn() -> (World, T), step: impl Fn(&mut World, &T) -> HttpResponse, ok: impl Fn(&mut World, &T, &HttpResponse)) -> u32 {
    for n in 0..64 {
        let (mut w, t) = setup();
        w.store.calls.set(0);
        w.store.fail_from.set(Some(n));
        let failed = step(&mut w, &t);
        w.store.fail_from.set(None);
        if failed.status != 503 {
            assert!(failed.status < 500, "call {n}: {} {}", failed.status, failed.body);
            ok(&mut w, &t, &failed);
            return n;
        }
        assert!(failed.header("retry-after").is_some() || failed.header("content-type").is_some_and(|c| c.contains("html")), "call {n}: {:?}", failed.headers);
        let retried = step(&mut w, &t);
        ok(&mut w, &t, &retried);
        assert!(!grant_revoked(&w), "call {n}: a storage failure revoked the grant");
    }
    panic!("the step never stopped touching storage");
}

fn grant_revoked(w: &World) -> bool {
    w.store.grants.borrow().values().any(|g| g.revoked_at.is_some())
}

/// GET /authorize and the login form, in a fresh world: (world, (client, request, csrf)).
fn at_login() -> (World, (String, String, String)) {
    let mut w = World::new();
    let client = w.public_client();
    let (request, csrf) = w.start(&client);
    (w, (client, request, csrf))
}

/// Signed in, at the consent page.
fn signed_in() -> (World, (String, String, String)) {
    let (mut w, t) = at_login();
    let r = login(&mut w, &t);
    assert_eq!(r.status, 303, "{}", r.body);
    w.keep_cookies(&r);
    (w, t)
}

/// Approved: (world, (client, code)).
fn with_code() -> (World, (String, String)) {
    let (mut w, t) = signed_in();
    let code = code_in(&approve(&mut w, &t));
    (w, (t.0, code))
}

fn refresh(w: &World, client: &str, rt: &str) -> HttpResponse {
    w.form("/token", &[("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", rt)])
}

fn login(w: &mut World, (_, request, csrf): &(String, String, String)) -> HttpResponse {
    w.form("/login", &[("request", request), ("csrf", csrf), ("password", PASSWORD)])
}

fn approve(w: &mut World, (_, request, csrf): &(String, String, String)) -> HttpResponse {
    w.form("/consent", &[("request", request), ("csrf", csrf), ("decision", "approve")])
}

fn code_in(r: &HttpResponse) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = url::Url::parse(r.header("location").unwrap()).unwrap();
    loc.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).unwrap()
}

/// The code works and gives a refresh token that works.
fn redeems(w: &mut World, client: &str, code: &str) {
    let t = w.redeem(client, code, VERIFIER);
    assert_eq!(t.status, 200, "{}", t.body);
    let rt = json(&t)["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(w, client, &rt);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_storage_failure_at_get_authorize_is_retried_by_reloading() {
    let setup = || {
        let w = World::new();
        let client = w.public_client();
        (w, client)
    };
    let n = sweep(
        setup,
        |w, client| {
            let q = format!(
                "response_type=code&client_id={client}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=xyz",
                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
            );
            let r = crate::store::memory::block_on(crate::identity::authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")));
            w.keep_cookies(&r);
            r
        },
        |w, client, page| {
            assert_eq!(page.status, 200, "{}", page.body);
            let t = (client.clone(), hidden(&page.body, "request"), hidden(&page.body, "csrf"));
            let signed_in = login(w, &t);
            assert_eq!(signed_in.status, 303, "{}", signed_in.body);
            w.keep_cookies(&signed_in);
            let code = code_in(&approve(w, &t));
            redeems(w, client, &code);
        },
    );
    assert!(n > 0, "GET /authorize writes the pending request");
}

#[test]
fn a_storage_failure_at_login_leaves_the_request_pending() {
    let n = sweep(at_login, login, |w, t, r| {
        assert_eq!(r.status, 303, "{}", r.body);
        w.keep_cookies(r);
        let code = code_in(&approve(w, t));
        redeems(w, &t.0, &code);
    });
    assert!(n > 0);
}

/// The sign-in page's password form with "Allow and sign in" (or "Deny"):
/// POST /login signs in and answers the request in one.
fn login_and_decide(w: &mut World, (_, request, csrf): &(String, String, String), decision: &str) -> HttpResponse {
    w.form("/login", &[("request", request), ("csrf", csrf), ("password", PASSWORD), ("decision", decision)])
}

#[test]
fn a_storage_failure_at_login_with_allow_leaves_the_request_pending_and_nothing_half_written() {
    let n = sweep(at_login, |w, t| login_and_decide(w, t, "approve"), |w, t, r| {
        assert!(r.header("set-cookie").is_some(), "signed in");
        assert_eq!(w.store.grants.borrow().len(), 1, "one grant, whatever failed before");
        assert_eq!(w.store.codes.borrow().len(), 1, "one code");
        // The retry's attempt is released; a try whose sign-in write failed keeps
        // its one attempt per limit (source and request), as a failed release always did.
        assert!(w.store.failures.borrow().len() <= 2, "{:?}", w.store.failures.borrow());
        let code = code_in(r);
        redeems(w, &t.0, &code);
    });
    assert!(n > 1, "POST /login reads, reserves an attempt, then writes the sign-in with the approval");
}

#[test]
fn a_storage_failure_at_login_with_deny_leaves_the_request_pending() {
    let n = sweep(at_login, |w, t| login_and_decide(w, t, "deny"), |w, _, r| {
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.header("location").is_some_and(|l| l.contains("error=access_denied")), "{:?}", r.header("location"));
        assert!(w.store.grants.borrow().is_empty());
        // The retry's attempt is released; a try whose sign-in write failed keeps
        // its one attempt per limit (source and request), as a failed release always did.
        assert!(w.store.failures.borrow().len() <= 2, "{:?}", w.store.failures.borrow());
        let events: Vec<String> = w.store.audit.borrow().iter().map(|e| e.event.clone()).collect();
        assert_eq!(events.iter().filter(|e| *e == "consent.deny").count(), 1, "{events:?}");
    });
    assert!(n > 1);
}

#[test]
fn a_storage_failure_at_consent_leaves_the_request_pending() {
    let n = sweep(signed_in, approve, |w, t, r| {
        let code = code_in(r);
        redeems(w, &t.0, &code);
    });
    assert!(n > 1, "consent reads the session, the request and the client, then writes");
}

#[test]
fn a_storage_failure_at_the_code_exchange_leaves_the_code_redeemable() {
    let n = sweep(with_code, |w, (client, code)| w.redeem(client, code, VERIFIER), |w, (client, _), r| {
        assert_eq!(r.status, 200, "{}", r.body);
        let rt = json(r)["refresh_token"].as_str().unwrap().to_string();
        let again = refresh(w, client, &rt);
        assert_eq!(again.status, 200, "the first refresh token was stored: {}", again.body);
    });
    assert!(n > 1);
}

#[test]
fn a_storage_failure_at_refresh_is_retried_within_the_grace_window() {
    let setup = || {
        let (w, (client, code)) = with_code();
        let rt = json(&w.redeem(&client, &code, VERIFIER))["refresh_token"].as_str().unwrap().to_string();
        (w, (client, rt))
    };
    let n = sweep(
        setup,
        |w, (client, rt)| refresh(w, client, rt),
        |w, (client, _), r| {
            assert_eq!(r.status, 200, "{}", r.body);
            let next = json(r)["refresh_token"].as_str().unwrap().to_string();
            let again = refresh(w, client, &next);
            assert_eq!(again.status, 200, "the successor was stored: {}", again.body);
        },
    );
    assert!(n > 1);
}
