use super::*;
use crate::edge::routes_reference;

const METHODS: &[&str] = &["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "get", ""];

/// Every path of the table, spelled the ways clients spell them, and some
/// that are not in it.
fn paths() -> Vec<String> {
    let mut out = vec![];
    for row in TABLE {
        let p = match row.path {
            PathMatch::Exact(p) => p.to_string(),
            PathMatch::Under(prefix) => format!("{prefix}github"),
        };
        out.extend([p.clone(), format!("{p}/"), format!("{p}//"), format!("{p}x"), format!("{p}/x"), p.to_uppercase()]);
    }
    out.extend(["", "//", "/callback", "/callback/", "/favicon.ico", "/%72egister", "/mcp/extra", "/.well-known/"].map(String::from));
    out
}

#[test]
fn the_table_answers_as_the_old_router_did_for_every_path_and_method() {
    let mut checked = 0;
    for path in paths() {
        for method in METHODS {
            for mcp in [false, true] {
                assert_eq!(verdict(method, &path, mcp), routes_reference::verdict(method, &path, mcp), "{method} {path:?} mcp headers {mcp}");
                checked += 1;
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}

#[test]
fn owner_pages_are_not_cors_paths() {
    for p in ["/authorize", "/login", "/consent", "/favicon.ico", "/admin", "/passkeys"] {
        assert!(!cors_path(p), "{p}");
    }
    for p in ["/register", "/token", "/revoke", "/introspect", "/mcp", "/.well-known/jwks.json", "/token/"] {
        assert!(cors_path(p), "{p}");
    }
}

#[test]
fn options_is_a_preflight_exactly_on_cors_paths() {
    for path in paths() {
        let preflight = route("OPTIONS", &path, || false) == Route::Preflight;
        assert_eq!(preflight, cors_path(&path), "{path:?}");
    }
}

#[test]
fn a_405_allows_exactly_the_methods_the_row_answers() {
    for row in TABLE {
        let PathMatch::Exact(path) = row.path else { continue };
        for method in METHODS {
            let Route::WrongMethod { allow, .. } = route(method, path, || false) else { continue };
            let declared: Vec<&str> = row.handlers.iter().map(|h| h.method).collect();
            assert_eq!(allow.split(", ").collect::<Vec<_>>(), declared, "{path}");
            assert!(!declared.contains(method), "{method} {path} is answered, not refused");
        }
    }
}

#[test]
fn each_log_name_means_one_endpoint() {
    let mut seen: std::collections::BTreeMap<&str, Endpoint> = Default::default();
    for row in TABLE {
        for h in row.handlers {
            if let Some(other) = seen.insert(h.name, h.endpoint) {
                assert_eq!(other, h.endpoint, "{} names two endpoints", h.name);
            }
        }
    }
    assert_eq!(seen.len(), 23, "every endpoint has its name");
}

#[test]
fn mcp_headers_are_asked_only_where_they_decide() {
    let asked = std::cell::Cell::new(0);
    let ask = || {
        asked.set(asked.get() + 1);
        true
    };
    assert_eq!(route("POST", "/token", ask).endpoint(), Some(Token));
    assert_eq!(asked.get(), 0);
    assert_eq!(route("GET", "/", || true).endpoint(), Some(Mcp));
    assert_eq!(route("GET", "/", || false).endpoint(), Some(Home));
    assert_eq!(route("DELETE", "/", || false), Route::NotFound { cors: true });
}
