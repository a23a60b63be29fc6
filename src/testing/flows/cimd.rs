//! Native flows with a Client ID Metadata Document as the client: the same
//! endpoints, the in-memory store serving canned documents (`cimd::canned`).

use crate::store::client_documents::DocumentSource;
use super::*;
use crate::protocol::cimd::cache_policy::{MAX_STALE, RETRY_AFTER_FAILURE};
use crate::protocol::cimd::{pinned, FetchError, FetchedDocument};
use crate::protocol::cimd::negative_cache;

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
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, w.config.verification_keys(), t["access_token"].as_str().unwrap(), w.now, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
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
        ("[]".to_string(), "not a JSON object"),
        ("not json".to_string(), "not JSON (an HTML page?)"),
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
    w.config.registration.allowlist = crate::config::registration::parse_allowlist("https://claude.ai/api/mcp/*").unwrap();
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    refused_page(&authorize(&w, URL), "registration policy");
    w.config.registration.allowlist = crate::config::registration::parse_allowlist("loopback").unwrap();
    assert_eq!(authorize(&w, URL).status, 200, "a loopback document client is admitted by `loopback`");
}

// ---- when the document host does not answer (stale-if-error, pinned copies) ----

/// Cloudflare's managed challenge, as datacenter fetches of claude.ai's
/// document have seen it (the fetcher passes a 403 on without its body).
fn challenge() -> Result<FetchedDocument, FetchError> {
    status(403)
}

fn not_json() -> Result<FetchedDocument, FetchError> {
    Ok(FetchedDocument { status: 200, body: b"<!DOCTYPE html><title>Just a moment...</title>".to_vec(), cache_control: None, expires: None, date: None })
}

fn source(w: &World, url: &str) -> Option<DocumentSource> {
    w.store.documents.stored(url).map(|d| d.source)
}

#[test]
fn a_stored_copy_stands_in_for_each_kind_of_failed_refetch() {
    let failures: Vec<(Result<FetchedDocument, FetchError>, &str)> = vec![
        (challenge(), "HTTP 403"),
        (status(503), "HTTP 503"),
        (status(429), "HTTP 429"),
        (Err(FetchError::Timeout), "within 5 seconds"),
        (Err(FetchError::Unreachable), "could not be fetched"),
        (not_json(), "not JSON"),
    ];
    for (failure, why) in failures {
        let mut w = World::new();
        w.store.documents.serve(URL, &doc(), Some("max-age=60"));
        assert_eq!(authorize(&w, URL).status, 200);
        w.now += 61;
        w.store.documents.answer(URL, failure.clone());
        // The whole connection works from the stored copy, one failed fetch in all.
        let code = w.code_for(URL);
        let t = w.redeem(URL, &code, VERIFIER);
        assert_eq!(t.status, 200, "{why}: {}", t.body);
        assert_eq!(w.refresh(URL, json(&t)["refresh_token"].as_str().unwrap()).status, 200);
        assert_eq!(w.store.documents.fetch_count(URL), 2, "{why}: the copy is used {RETRY_AFTER_FAILURE} s before the next try");
        let stored = w.store.documents.stored(URL).unwrap();
        assert_eq!(stored.source, DocumentSource::Stored, "{why}");
        assert_eq!(stored.fetched_at, w.now - 61, "still dated by its last successful fetch");
        let (at, recorded) = stored.failure.clone().unwrap();
        assert!(at == w.now && recorded.contains(why), "{why}: {recorded}");
        // The host is back: the next try after the retry interval fetches it live.
        w.now += RETRY_AFTER_FAILURE;
        w.store.documents.serve(URL, &doc(), Some("max-age=60"));
        assert_eq!(authorize(&w, URL).status, 200);
        assert_eq!(w.store.documents.fetch_count(URL), 3);
        assert_eq!(source(&w, URL), Some(DocumentSource::Live));
        assert_eq!(w.store.documents.stored(URL).unwrap().failure, None);
    }
}

#[test]
fn a_stored_copy_stands_in_for_a_week_from_its_last_fetch_and_no_longer() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    assert_eq!(authorize(&w, URL).status, 200);
    w.store.documents.answer(URL, status(502));
    w.now += MAX_STALE - 1;
    assert_eq!(authorize(&w, URL).status, 200, "six days, 23:59:59 later");
    w.now += RETRY_AFTER_FAILURE;
    refused_page(&authorize(&w, URL), "answered HTTP 502");
}

#[test]
fn an_answer_is_followed_and_the_stored_copy_dropped() {
    let answers = [
        (status(404), "HTTP 404"),
        (status(410), "HTTP 410"),
        (status(302), "redirects are not followed"),
        (Err(FetchError::TooLarge), "larger than"),
        (Ok(FetchedDocument { status: 200, body: doc().replace(URL, "https://other.example.com/c.json").into_bytes(), cache_control: None, expires: None, date: None }), "not the URL it was fetched from"),
        (Ok(FetchedDocument { status: 200, body: doc().replace(REDIRECT, "http://evil.example/cb").into_bytes(), cache_control: None, expires: None, date: None }), "loopback"),
    ];
    for (answer, why) in answers {
        let mut w = World::new();
        w.store.documents.serve(URL, &doc(), Some("max-age=60"));
        assert_eq!(authorize(&w, URL).status, 200);
        w.now += 61;
        w.store.documents.answer(URL, answer);
        refused_page(&authorize(&w, URL), why);
        assert_eq!(w.store.documents.stored(URL), None, "{why}: the vendor's word replaces the copy");
        // Nor does a later outage bring the old copy back.
        w.now += negative_cache::TTL;
        w.store.documents.answer(URL, status(503));
        refused_page(&authorize(&w, URL), "HTTP 503");
    }
}

#[test]
fn what_the_response_forbids_to_keep_never_stands_in() {
    for cc in ["no-store", "no-cache", "max-age=60, must-revalidate"] {
        let mut w = World::new();
        w.store.documents.serve(URL, &doc(), Some(cc));
        assert_eq!(authorize(&w, URL).status, 200);
        w.now += 61;
        w.store.documents.answer(URL, status(503));
        refused_page(&authorize(&w, URL), "HTTP 503");
    }
    // max-age=0 is stale at once, yet a copy all the same.
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("max-age=0"));
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(w.store.documents.fetch_count(URL), 2, "fetched on every use");
    w.store.documents.answer(URL, status(503));
    w.now += 1;
    assert_eq!(authorize(&w, URL).status, 200);
}

#[test]
fn a_no_store_document_drops_an_older_copy() {
    let mut w = World::new();
    w.store.documents.serve(URL, &doc(), Some("max-age=60"));
    assert_eq!(authorize(&w, URL).status, 200);
    w.now += 61;
    w.store.documents.serve(URL, &doc(), Some("no-store"));
    assert_eq!(authorize(&w, URL).status, 200);
    assert_eq!(w.store.documents.stored(URL), None);
}

const CLAUDE_CODE: &str = "https://claude.ai/oauth/claude-code-client-metadata";

#[test]
fn a_pinned_copy_stands_in_when_there_is_no_stored_one() {
    let mut w = World::new();
    w.store.documents.answer(CLAUDE_CODE, challenge());
    // Claude Code's document lists http://127.0.0.1/callback: any port, as RFC 8252 §7.3 asks.
    let code = w.code_for(CLAUDE_CODE);
    let t = w.redeem(CLAUDE_CODE, &code, VERIFIER);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(w.refresh(CLAUDE_CODE, json(&t)["refresh_token"].as_str().unwrap()).status, 200);
    assert_eq!(w.store.documents.fetch_count(CLAUDE_CODE), 1);
    let stored = w.store.documents.stored(CLAUDE_CODE).unwrap();
    assert_eq!(stored.source, DocumentSource::Pinned);
    assert_eq!(stored.document, pinned::find(CLAUDE_CODE).unwrap().document);
    assert_eq!(stored.stale_until, 0, "a pinned copy is not a stored copy");
    assert!(stored.failure.unwrap().1.contains("HTTP 403"));
    // A live document replaces it as soon as the host answers.
    w.now += RETRY_AFTER_FAILURE;
    w.store.documents.serve(CLAUDE_CODE, &pinned::find(CLAUDE_CODE).unwrap().document, Some("max-age=600"));
    assert_eq!(authorize(&w, CLAUDE_CODE).status, 200);
    assert_eq!(source(&w, CLAUDE_CODE), Some(DocumentSource::Live));
}

#[test]
fn a_stored_copy_comes_before_the_pinned_one() {
    let mut w = World::new();
    let own = pinned::find(CLAUDE_CODE).unwrap().document.replace("\"Claude Code\"", "\"Claude Code (as fetched)\"");
    w.store.documents.serve(CLAUDE_CODE, &own, Some("max-age=60"));
    assert_eq!(authorize(&w, CLAUDE_CODE).status, 200);
    w.now += 61;
    w.store.documents.answer(CLAUDE_CODE, status(500));
    let page = authorize(&w, CLAUDE_CODE);
    assert!(page.body.contains("Claude Code (as fetched)"), "{}", page.body);
    assert_eq!(source(&w, CLAUDE_CODE), Some(DocumentSource::Stored));
}

#[test]
fn a_pinned_copy_never_overrules_an_answer() {
    let mut w = World::new();
    w.store.documents.answer(CLAUDE_CODE, status(404));
    refused_page(&authorize(&w, CLAUDE_CODE), "HTTP 404");
    w.now += negative_cache::TTL;
    w.store.documents.serve(CLAUDE_CODE, &pinned::find(CLAUDE_CODE).unwrap().document.replace("http://127.0.0.1/callback", "http://evil.example/cb"), None);
    refused_page(&authorize(&w, CLAUDE_CODE), "loopback");
    assert!(w.store.documents.cache.borrow().is_empty());
}

#[test]
fn pinned_copies_switched_off_are_never_used() {
    let mut w = World::new();
    w.store.documents.answer(CLAUDE_CODE, challenge());
    assert_eq!(authorize(&w, CLAUDE_CODE).status, 200);
    assert_eq!(source(&w, CLAUDE_CODE), Some(DocumentSource::Pinned));
    w.config.pinned_documents = false;
    // Not even the copy already in place, fresh as it is.
    let page = authorize(&w, CLAUDE_CODE);
    refused_page(&page, "answered HTTP 403");
    refused_page(&page, "its pinned copy is switched off (CIMD_PINNED_DOCUMENTS=off)");
    assert_eq!(w.store.documents.fetch_count(CLAUDE_CODE), 2);
    // A URL nothing is pinned for says only why its fetch failed.
    w.store.documents.answer(URL, status(503));
    let text = html_escape::decode_html_entities(&authorize(&w, URL).body).into_owned();
    assert!(text.contains("HTTP 503") && !text.contains("pinned"), "{text}");
}

#[test]
fn an_unknown_url_has_no_pinned_copy() {
    let w = World::new();
    let lookalike = "https://claude.ai/oauth/claude-code-client-metadata/x";
    w.store.documents.answer(lookalike, challenge());
    refused_page(&authorize(&w, lookalike), "HTTP 403");
}

#[test]
fn a_client_with_its_own_lifetime_gets_tokens_that_live_that_long() {
    let mut w = World::new();
    w.config.client_token_lifetimes = crate::config::token_lifetimes::parse(&format!("{URL}=86400")).unwrap();
    w.store.documents.serve(URL, &doc(), Some("max-age=600"));
    let code = w.code_for(URL);
    let t = json(&w.redeem(URL, &code, VERIFIER));
    assert_eq!(t["expires_in"], 86400);
    let keys = w.config.verification_keys();
    let v = crate::store::memory::block_on(crate::protocol::access_token::verify(&crate::base::ed25519::Native, keys, t["access_token"].as_str().unwrap(), w.now + 86_000, ISS, &crate::base::resource::accepted_resources(ISS))).unwrap();
    assert_eq!(v.expires_at - v.issued_at, 86400);
    let r = json(&w.refresh(URL, t["refresh_token"].as_str().unwrap()));
    assert_eq!(r["expires_in"], 86400, "refreshed tokens too");
    // Another client keeps the default.
    let other = w.public_client();
    let code = w.code_for(&other);
    assert_eq!(json(&w.redeem(&other, &code, VERIFIER))["expires_in"], w.config.access_token_ttl);
}
