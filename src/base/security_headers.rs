//! The headers every response gets, decided in one place: CORS for browser
//! clients where requirements.md §A allows it (never on the owner's pages,
//! RFC 9700 §2.6), anti-sniffing, no referrers, no framing (RFC 9700 §4.16),
//! HSTS on https (RFC 6797), and no caching of anything that may hold a token
//! (RFC 6749 §5.1, RFC 6750 §5.3).

/// CORS request headers browser MCP clients send (requirements.md §A; the
/// SEP-2243 headers of MCP 2026-07-28).
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name";
/// At most this many `Mcp-Param-*` names are allowed in one preflight (the
/// gateway forwards no more than that, see `gateway::headers`).
const MAX_PREFLIGHT_PARAMS: usize = 32;
const PARAM_PREFIX: &str = "mcp-param-";

/// `Access-Control-Allow-Headers` for a preflight: the fixed list, plus the
/// `Mcp-Param-{Name}` headers the browser asks for (tool parameters mirrored
/// into headers have names no fixed list can hold, and a wildcard would not
/// cover `Authorization`).
pub fn allow_headers(requested: Option<&str>) -> String {
    let params = requested
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim())
        .filter(|h| h.len() > PARAM_PREFIX.len() && h.get(..PARAM_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PARAM_PREFIX)))
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)))
        .take(MAX_PREFLIGHT_PARAMS);
    std::iter::once(ALLOW_HEADERS).chain(params).collect::<Vec<_>>().join(", ")
}
/// Response headers browser MCP clients must be able to read.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version";
pub const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// For pages and errors that set no policy of their own: nothing may load,
/// nothing may frame it.
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
pub const HSTS: &str = "max-age=31536000";
/// Discovery documents and the JWKS hold nothing secret and are fetched on
/// every connection; five minutes of caching saves requests while a changed
/// setting (scopes, key) still shows up quickly.
pub const PUBLIC_CACHE: &str = "public, max-age=300";

/// How a response may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Public metadata (a successful discovery or JWKS response).
    Public,
    /// The origin's MCP answer: its own `Cache-Control` if it set one.
    Origin,
    /// Everything else: OAuth JSON, pages, redirects, errors.
    NoStore,
}

/// What the layer needs to know about one response.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub https: bool,
    pub cors: bool,
    pub status: u16,
    pub caching: Caching,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set(&'static str, &'static str),
    SetIfAbsent(&'static str, &'static str),
    Remove(&'static str),
}

/// The header changes for one response, in order.
pub fn ops(f: Facts) -> Vec<Op> {
    use Op::*;
    let mut out = vec![
        Set("x-content-type-options", "nosniff"),
        Set("referrer-policy", "no-referrer"),
        Set("x-frame-options", "DENY"),
        // Pages carry a stricter policy of their own, which is kept.
        SetIfAbsent("content-security-policy", DEFAULT_CSP),
    ];
    if f.https {
        out.push(Set("strict-transport-security", HSTS));
    }
    // A 401/403 answers a request that carried (or lacked) a token: never
    // cached, whatever produced it.
    let caching = if matches!(f.status, 401 | 403) { Caching::NoStore } else { f.caching };
    match caching {
        Caching::Public if f.status == 200 => out.extend([Set("cache-control", PUBLIC_CACHE), Remove("pragma")]),
        Caching::Origin => out.push(SetIfAbsent("cache-control", "no-store")),
        _ => out.push(Set("cache-control", "no-store")),
    }
    if f.cors {
        out.extend([Set("access-control-allow-origin", "*"), Set("access-control-expose-headers", EXPOSE_HEADERS)]);
    } else {
        // Nothing upstream may open a path that must stay closed to scripts.
        out.extend([Remove("access-control-allow-origin"), Remove("access-control-allow-credentials")]);
    }
    out
}

/// The ops applied to a response's headers held as (name, value) pairs, with
/// the outcome the runtime's `Headers` gives (`set` replaces every field of the
/// name, `delete` removes them, names match in any case): for answers whose
/// headers are laid out before they reach the runtime (`edge::hot`).
pub fn apply_to(ops: &[Op], headers: &mut Vec<(String, String)>) {
    for op in ops {
        match *op {
            Op::Set(name, value) => {
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                headers.push((name.to_string(), value.to_string()));
            }
            Op::SetIfAbsent(name, value) => {
                if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    headers.push((name.to_string(), value.to_string()));
                }
            }
            Op::Remove(name) => headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: u16, caching: Caching) -> Facts {
        Facts { https: false, cors: false, status, caching }
    }

    fn value(ops: &[Op], name: &str) -> Option<&'static str> {
        ops.iter().rev().find_map(|op| match op {
            Op::Set(n, v) | Op::SetIfAbsent(n, v) if *n == name => Some(*v),
            _ => None,
        })
    }

    #[test]
    fn every_response_gets_the_basic_set() {
        for c in [Caching::Public, Caching::Origin, Caching::NoStore] {
            for status in [200, 204, 303, 400, 401, 403, 404, 405, 429, 502, 503] {
                let o = ops(facts(status, c));
                assert_eq!(value(&o, "x-content-type-options"), Some("nosniff"));
                assert_eq!(value(&o, "referrer-policy"), Some("no-referrer"));
                assert_eq!(value(&o, "x-frame-options"), Some("DENY"));
                assert!(value(&o, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
                assert!(value(&o, "cache-control").is_some());
                assert_eq!(value(&o, "strict-transport-security"), None, "no HSTS over http");
            }
        }
    }

    #[test]
    fn hsts_only_over_https() {
        let o = ops(Facts { https: true, ..facts(200, Caching::NoStore) });
        assert_eq!(value(&o, "strict-transport-security"), Some(HSTS));
    }

    #[test]
    fn only_successful_metadata_is_cacheable() {
        assert_eq!(value(&ops(facts(200, Caching::Public)), "cache-control"), Some(PUBLIC_CACHE));
        assert!(ops(facts(200, Caching::Public)).contains(&Op::Remove("pragma")));
        assert_eq!(value(&ops(facts(503, Caching::Public)), "cache-control"), Some("no-store"));
        assert_eq!(value(&ops(facts(200, Caching::NoStore)), "cache-control"), Some("no-store"));
    }

    #[test]
    fn unauthorized_and_forbidden_are_never_cached() {
        for c in [Caching::Public, Caching::Origin, Caching::NoStore] {
            for status in [401, 403] {
                let o = ops(facts(status, c));
                assert!(o.contains(&Op::Set("cache-control", "no-store")), "{status} {c:?}");
            }
        }
        assert!(ops(facts(200, Caching::Origin)).contains(&Op::SetIfAbsent("cache-control", "no-store")));
    }

    #[test]
    fn cors_only_where_allowed() {
        let on = ops(Facts { cors: true, ..facts(200, Caching::NoStore) });
        assert_eq!(value(&on, "access-control-allow-origin"), Some("*"));
        assert_eq!(value(&on, "access-control-expose-headers"), Some(EXPOSE_HEADERS));
        let off = ops(facts(200, Caching::NoStore));
        assert_eq!(value(&off, "access-control-allow-origin"), None);
        assert!(off.contains(&Op::Remove("access-control-allow-origin")));
    }


    #[test]
    fn applied_to_pairs_the_layer_wins_keeps_or_removes_as_on_the_runtimes_headers() {
        let own = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let mut h = own(&[
            ("Content-Type", "text/event-stream"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("cache-control", "no-cache"),
            ("Content-Security-Policy", "default-src 'self'"),
            ("access-control-allow-origin", "https://evil.example"),
            ("access-control-allow-credentials", "true"),
            ("vary", "a"),
            ("vary", "b"),
        ]);
        apply_to(&ops(Facts { https: true, cors: false, status: 200, caching: Caching::Origin }), &mut h);
        let get = |n: &str| h.iter().filter(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("x-frame-options"), ["DENY"], "the layer's value replaces the origin's, whatever its case");
        assert_eq!(get("cache-control"), ["no-cache"], "the origin's caching is kept");
        assert_eq!(get("content-security-policy"), ["default-src 'self'"]);
        assert_eq!(get("access-control-allow-origin"), Vec::<&str>::new(), "removed without CORS");
        assert_eq!(get("access-control-allow-credentials"), Vec::<&str>::new());
        assert_eq!(get("vary"), ["a", "b"], "fields the layer does not touch stay, repeated ones too");
        assert_eq!(get("strict-transport-security"), [HSTS]);
        assert_eq!(get("x-content-type-options"), ["nosniff"]);
        let mut bare = Vec::new();
        apply_to(&ops(Facts { https: false, cors: true, status: 401, caching: Caching::Origin }), &mut bare);
        assert!(bare.contains(&("cache-control".into(), "no-store".into())));
        assert!(bare.contains(&("access-control-allow-origin".into(), "*".into())));
        assert!(bare.contains(&("content-security-policy".into(), DEFAULT_CSP.into())));
    }

    #[test]
    fn preflight_allows_the_requested_mcp_param_headers_only() {
        assert_eq!(allow_headers(None), ALLOW_HEADERS);
        let h = allow_headers(Some("authorization, mcp-param-region, Mcp-Param-TenantId, x-evil, mcp-param-, mcp-param-a b, mcp-paramé1"));
        assert_eq!(h, format!("{ALLOW_HEADERS}, mcp-param-region, Mcp-Param-TenantId"));
        let many = (0..40).map(|i| format!("mcp-param-p{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(allow_headers(Some(&many)).matches("mcp-param-").count(), MAX_PREFLIGHT_PARAMS);
    }
}
