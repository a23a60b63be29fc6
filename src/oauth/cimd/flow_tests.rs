//! Native flows with a Client ID Metadata Document as the client: the same
//! endpoints, the in-memory store serving canned documents (`cimd::canned`).

use super::*;
use crate::oauth::cimd::{negative_cache, FetchError, FetchedDocument};

const URL: &str = "https://client.example.com/oauth/client.json";

fn doc() -> String {
    format!(r#"{{"client_id":"{URL}","client_name":"Doc Client","redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#)
}

fn status(code: u16) -> Result<FetchedDocument, FetchError> {
    Ok(FetchedDocument { status: code, body: vec![], cache_control: None, expires: None, date: None })
}

/// GET /authorize for the document client, as a fresh browser would.
fn authorize(w: &World, client_id: &str) -> HttpResponse {
    let q = format!("response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz", urlenc(client_id), urlenc(REDIRECT));
    block_on(authorize::handle(&w.ctx(), &w.req("GET", "/authorize", &q, None, "")))
}

fn refused_page(r: &HttpResponse, why: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.header("location").is_none(), "never a redirect");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let text = html_escape::decode_html_entities(&r.body);
    assert!(text.contains(why), "want {why:?} in {text}");
}

#[test]
fn a_document_client_completes_the_flow_with_one_fetch() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    let code = w.code_for(URL);
    let r = w.redeem(URL, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = json(&r);
    let v = crate::oauth::access_token::verify(w.config.verification_keys(), t["access_token"].as_str().unwrap(), w.now, ISS, &crate::oauth::resource::accepted_resources(ISS)).unwrap();
    assert_eq!(v.claims.client_id, URL);
    assert_eq!(w.refresh(URL, t["refresh_token"].as_str().unwrap()).status, 200);
    assert_eq!(w.store.documents.fetch_count(URL), 1, "authorize, login, consent, token and refresh share one fetch");
    assert!(w.store.clients.borrow().is_empty(), "nothing is registered");
}

#[test]
fn the_consent_page_names_the_host_that_serves_the_document() {
    let w = World::new();
    w.store.documents.serve(URL, &doc(), None);
    let page = authorize(&w, URL);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Doc Client"));
    assert!(page.body.contains("metadata document at <strong>client.example.com</strong>"), "{}", page.body);
}

#[test]
fn private_addresses_are_refused_before_any_fetch() {
    let w = World::new();
    for (url, why) in [
        ("https://127.0.0.1/meta.json", "loopback"),
        ("https://10.0.0.1/meta.json", "10.0.0.0/8"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/meta.json", "loopback address (::1)"),
        ("https://localhost/meta.json", "private networks"),
        ("http://client.example.com/meta.json", "must use https"),
    ] {
        w.store.documents.serve(url, &doc(), None);
        refused_page(&authorize(&w, url), why);
    }
    assert!(w.store.documents.fetched.borrow().is_empty(), "{:?}", w.store.documents.fetched.borrow());
}

#[test]
fn bad_answers_are_refused_with_the_reason() {
    let mut w = World::new();
    let cases: Vec<(Result<FetchedDocument, FetchError>, &str)> = vec![
        (status(302), "redirect (HTTP 302)"),
        (status(301), "redirects are not followed"),
        (status(404), "answered HTTP 404, not 200"),
        (status(500), "answered HTTP 500"),
        (Err(FetchError::TooLarge), "larger than 5120 bytes"),
        (Err(FetchError::Timeout), "within 5 seconds"),
        (Err(FetchError::Unreachable), "could not be fetched"),
    ];
    for (answer, why) in cases {
        w.store.documents.answer(URL, answer);
        refused_page(&authorize(&w, URL), why);
        w.now += negative_cache::TTL; // past the memory of this failure
    }
    assert!(w.store.documents.cache.borrow().is_empty(), "errors are never cached");
}

#[test]
fn bad_documents_are_refused_with_the_reason() {
    let mut w = World::new();
    for (body, why) in [
        (doc().replace(URL, "https://other.example.com/oauth/client.json"), "not the URL it was fetched from"),
        (doc().replace(r#""none""#, r#""client_secret_basic""#), "shared secret"),
        (doc().replace(r#""token_endpoint_auth_method":"none""#, r#""client_secret":"abc""#), "cannot carry a shared secret"),
        (doc().replace(REDIRECT, "http://evil.example/cb"), "loopback"),
        ("not json".to_string(), "not a JSON object"),
    ] {
        w.store.documents.serve(URL, &body, None);
        refused_page(&authorize(&w, URL), why);
        w.now += negative_cache::TTL;
    }
    assert!(w.store.documents.cache.borrow().is_empty(), "refused documents are never cached");
}

#[test]
fn a_failed_fetch_is_remembered_briefly_then_a_fixed_document_works() {
    let mut w = World::new();
    w.store.documents.answer(URL, status(500));
    refused_page(&authorize(&w, URL), "HTTP 500");
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    for _ in 0..5 {
        refused_page(&authorize(&w, URL), "HTTP 500");
        let token = w.redeem(URL, "x", VERIFIER);
        assert!(token.status == 401 && token.body.contains("HTTP 500"), "{}", token.body);
    }
    assert_eq!(w.store.documents.fetch_count(URL), 1, "no fetch while the failure is remembered");
    assert!(w.store.documents.cache.borrow().is_empty(), "nothing stored for it");
    w.now += negative_cache::TTL;
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(w.store.documents.fetch_count(URL), 2);
}

#[test]
fn caching_follows_the_headers() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("max-age=60"));
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(w.store.documents.fetch_count(URL), 1, "within max-age");
    w.now += 61;
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(w.store.documents.fetch_count(URL), 2, "after max-age");

    let other = "https://client.example.com/oauth/nostore.json";
    w.store.documents.serve(other, &doc().replace(URL, other), Some("no-store"));
    assert_eq!(authorize(&w, other).status, 200);
    assert_eq!(authorize(&w, other).status, 200);
    assert_eq!(w.store.documents.fetch_count(other), 2, "no-store is never kept");
}

#[test]
fn a_document_gone_bad_fails_the_token_request_with_invalid_client() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("no-store"));
    let code = w.code_for(URL);
    w.store.documents.answer(URL, status(404));
    let r = w.redeem(URL, &code, VERIFIER);
    assert_eq!(r.status, 401, "{}", r.body);
    let e = json(&r);
    assert_eq!(e["error"], "invalid_client");
    assert!(e["error_description"].as_str().unwrap().contains("HTTP 404"), "{e}");
}

#[test]
fn a_document_gone_bad_before_consent_shows_a_page() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("no-store"));
    let (request, csrf) = w.start(URL);
    w.store.documents.serve(URL, &doc().replace(r#""none""#, r#""client_secret_post""#), Some("no-store"));
    let r = w.form("/login", &[("request", &request), ("csrf", &csrf), ("password", PASSWORD)]);
    assert_eq!(r.status, 400, "{}", r.body);
    let text = html_escape::decode_html_entities(&r.body);
    assert!(text.contains("can no longer be used") && text.contains("shared secret"), "{text}");
}

#[test]
fn a_secret_at_the_token_endpoint_is_refused_for_a_document_client() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), None);
    let code = w.code_for(URL);
    let r = w.form(
        "/token",
        &[("grant_type", "authorization_code"), ("client_id", URL), ("client_secret", "guess"), ("code", &code), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)],
    );
    assert_eq!((r.status, json(&r)["error"].as_str()), (401, Some("invalid_client")));
}

#[test]
fn storage_failure_is_temporarily_unavailable_not_a_crash() {
    let w = World::new();
    w.store.documents.serve(URL, &doc(), None);
    *w.store.fail.borrow_mut() = true;
    let r = authorize(&w, URL);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(w.store.documents.fetched.borrow().is_empty());
}

#[test]
fn the_redirect_uri_allow_list_binds_documents_too() {
    let mut w = World::new();
    w.config.registration.allowlist = crate::oauth::registration_policy::parse_allowlist("https://claude.ai/api/mcp/*").unwrap();
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    refused_page(&authorize(&w, URL), "registration policy");
    w.config.registration.allowlist = crate::oauth::registration_policy::parse_allowlist("loopback").unwrap();
    assert_eq!(authorize(&w, URL).status, 200, "a loopback document client is admitted by `loopback`");
}
