//! Redirect URIs (OAuth 2.1 §2.3.1, RFC 8252 §7, RFC 9700 §4.1): parsing,
//! matching and the owner's allow-list must never panic, and
//! - a URI that parses matches itself, and is already what a browser would
//!   navigate to: its own WHATWG serialisation, no backslash, no dot segment
//!   (also percent-encoded), no encoded `/` or `\` in its path;
//! - a forbidden scheme (javascript:, data:, file:, ms-*:, search-ms:…), a
//!   fragment, or http on a host other than loopback never parses; any other
//!   scheme is a reverse domain name or names its app as publisher.name;
//! - apart from http loopback (any port), matching is the exact string; a
//!   loopback match differs only in the port, both as parsed and as written;
//! - an allow-list prefix admits a URI only if the browser's destination
//!   still starts with the prefix (`<prefix>../`, `%2e%2e/`, `..\` escape nothing).
//! Input: two candidates separated by a newline, each tried as registered and
//! requested, and the first also as an allow-list prefix (`<first>*`).
#![no_main]

use gatehouse::base::redirect_uri::RedirectUri;
use gatehouse::protocol::registration_policy::redirect_allowed;
use gatehouse::config::registration::parse_allowlist;
use gatehouse::config::registration::RegistrationPolicy;
use libfuzzer_sys::fuzz_target;

const FORBIDDEN: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about", "smb", "search-ms", "ms-msdt", "ms-officecmd"];

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

/// The path as written, lower-cased: after the authority, before `?`.
fn raw_path(s: &str) -> String {
    let rest = s.split_once(':').map(|(_, r)| r).unwrap_or(s);
    let rest = match rest.strip_prefix("//") {
        Some(after) => after.find('/').map(|i| &after[i..]).unwrap_or(""),
        None => rest,
    };
    rest.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase()
}

fn without_port(s: &str) -> String {
    let mut u = url::Url::parse(s).unwrap();
    u.set_port(None).unwrap();
    u.into()
}

fn check(registered: &str, requested: &str) {
    let Ok(r) = RedirectUri::parse(registered) else { return };
    assert!(r.matches(registered), "a parsed URI must match itself: {registered:?}");
    assert!(!registered.contains('#'), "fragment accepted: {registered:?}");
    let u = url::Url::parse(registered).expect("a parsed redirect URI is an absolute URL");
    assert_eq!(u.as_str(), registered, "accepted a URI the browser would rewrite");
    assert!(!registered.contains('\\'), "backslash accepted: {registered:?}");
    let path = raw_path(registered);
    assert!(
        !path.split('/').any(|seg| matches!(seg.replace("%2e", ".").as_str(), "." | "..")),
        "dot segment accepted: {registered:?}"
    );
    assert!(!path.contains("%2f") && !path.contains("%5c"), "encoded separator accepted: {registered:?}");
    assert!(!FORBIDDEN.contains(&u.scheme()) && !u.scheme().starts_with("ms-"), "forbidden scheme accepted: {registered:?}");
    match u.scheme() {
        "http" => assert!(is_http_loopback(registered), "http on a non-loopback host accepted: {registered:?}"),
        "https" => {}
        scheme => {
            let named = scheme.contains('.') || u.host_str().is_some_and(|h| h.contains('.'));
            assert!(named && u.path().starts_with('/'), "private-use URI that names no app accepted: {registered:?}");
        }
    }
    if r.matches(requested) && requested != registered {
        assert!(
            is_http_loopback(registered) && is_http_loopback(requested),
            "{requested:?} matched {registered:?} without being identical or loopback"
        );
        // Only the port may differ: the response goes to the same place, and
        // the raw strings say so too (no `\` or other spelling the parser reads differently).
        let (a, b) = (url::Url::parse(registered).unwrap(), url::Url::parse(requested).unwrap());
        assert_eq!((a.host_str(), a.path(), a.query()), (b.host_str(), b.path(), b.query()), "{requested:?} vs {registered:?}");
        assert_eq!(b.as_str(), requested, "a requested URI the browser would rewrite matched: {requested:?}");
        assert_eq!(without_port(registered), without_port(requested));
    }
    let _ = r.host();
    let _ = r.with_params(requested, &[("code", "c"), ("state", requested)]);
}

fn check_prefix(prefix: &str, candidate: &str) {
    if prefix.contains(char::is_whitespace) {
        return;
    }
    let Ok(Some(allowlist)) = parse_allowlist(&format!("{prefix}*")) else { return };
    let policy = RegistrationPolicy { allowlist: Some(allowlist), per_hour: 0 };
    let Ok(uri) = RedirectUri::parse(candidate) else { return };
    if redirect_allowed(&policy, &uri) {
        let goes_to = url::Url::parse(candidate).unwrap();
        assert!(goes_to.as_str().starts_with(prefix), "{candidate:?} admitted by {prefix:?}* but the browser goes to {goes_to}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (first, second) = text.split_once('\n').unwrap_or((text, text));
    // Either line may be the registered one.
    check(first, second);
    check(second, first);
    check_prefix(first, second);
});
