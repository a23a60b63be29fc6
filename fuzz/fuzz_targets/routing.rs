//! The routing of paths (`edge::routes`): any method and path, raw or as
//! the runtime hands it over (a WHATWG URL's path), is routed without a
//! panic and exactly as the router before the route table did
//! (`edge::routes_reference`, the oracle); a trailing slash never changes
//! the route; a 405 never allows the method it refused; OPTIONS is a
//! preflight exactly on CORS paths.
//! Input: the first byte picks the method and whether MCP headers are
//! present, the rest is the path.
#![no_main]

use gatehouse::edge::routes::{self, Route};
use gatehouse::edge::routes_reference;
use libfuzzer_sys::fuzz_target;

const METHODS: &[&str] = &["GET", "POST", "DELETE", "OPTIONS", "PUT", "HEAD", "PATCH", "get"];

fn check(method: &str, path: &str, mcp: bool) {
    assert_eq!(routes::verdict(method, path, mcp), routes_reference::verdict(method, path, mcp), "{method} {path:?}");
    let r = routes::route(method, path, || mcp);
    if routes::normalize(path).len() > 1 {
        assert_eq!(routes::route(method, &format!("{path}/"), || mcp), r, "{method} {path:?} with a trailing slash");
    }
    if let Route::WrongMethod { allow, .. } = r {
        assert!(!allow.split(", ").any(|m| m == method), "{method} {path:?}: Allow {allow}");
    }
    if method == "OPTIONS" {
        assert_eq!(r == Route::Preflight, routes::cors_path(path), "{path:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let method = METHODS[(first & 7) as usize];
    let mcp = first & 8 != 0;
    let Ok(path) = std::str::from_utf8(rest) else { return };
    check(method, path, mcp);
    if let Ok(url) = url::Url::parse(&format!("https://gatehouse.test/{}", path.trim_start_matches('/'))) {
        check(method, url.path(), mcp);
    }
});
