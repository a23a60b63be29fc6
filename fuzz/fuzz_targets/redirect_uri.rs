//! Redirect URIs (OAuth 2.1 §2.3.1, RFC 8252 §7, RFC 9700 §4.1): parsing and
//! matching must never panic, and
//! - a URI that parses matches itself;
//! - a forbidden scheme (javascript:, data:, file:…), a fragment, or http on a
//!   host other than loopback never parses;
//! - apart from http loopback (any port), matching is the exact string.
//! Input: two candidates separated by a newline, each tried as registered and requested.
#![no_main]

use gatehouse::oauth::redirect_uri::RedirectUri;
use libfuzzer_sys::fuzz_target;

const FORBIDDEN: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

fn is_http_loopback(s: &str) -> bool {
    let Ok(u) = url::Url::parse(s) else { return false };
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

fn check(registered: &str, requested: &str) {
    let Ok(r) = RedirectUri::parse(registered) else { return };
    assert!(r.matches(registered), "a parsed URI must match itself: {registered:?}");
    assert!(!registered.contains('#'), "fragment accepted: {registered:?}");
    let u = url::Url::parse(registered).expect("a parsed redirect URI is an absolute URL");
    assert!(!FORBIDDEN.contains(&u.scheme()), "forbidden scheme accepted: {registered:?}");
    if u.scheme() == "http" {
        assert!(is_http_loopback(registered), "http on a non-loopback host accepted: {registered:?}");
    }
    if r.matches(requested) && requested != registered {
        assert!(
            is_http_loopback(registered) && is_http_loopback(requested),
            "{requested:?} matched {registered:?} without being identical or loopback"
        );
        // Only the port may differ: the response goes to the same place.
        let (a, b) = (url::Url::parse(registered).unwrap(), url::Url::parse(requested).unwrap());
        assert_eq!((a.host_str(), a.path(), a.query()), (b.host_str(), b.path(), b.query()), "{requested:?} vs {registered:?}");
    }
    let _ = r.host();
    let _ = r.with_params(requested, &[("code", "c"), ("state", requested)]);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (first, second) = text.split_once('\n').unwrap_or((text, text));
    // Either line may be the registered one.
    check(first, second);
    check(second, first);
});
