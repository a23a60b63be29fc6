//! Which headers cross the gateway (RFC 9110 §7.6.1 hop-by-hop fields; MCP
//! authorization §Token Passthrough). Requests use an allow-list, so the
//! client's `Authorization`, cookies and any `X-Gatehouse-*` or
//! `CF-Access-*` it sends never reach the origin; responses drop hop-by-hop
//! fields, the fields `Connection` names, and the origin's cookies.

/// Request headers the origin needs (MCP Streamable HTTP); nothing else is forwarded.
pub const FORWARD_REQUEST: &[&str] = &[
    "content-type", "accept", "accept-language", "user-agent", "mcp-session-id", "mcp-protocol-version", "last-event-id",
];

/// Hop-by-hop fields (RFC 9110 §7.6.1, plus the legacy ones proxies still see).
pub const HOP_BY_HOP: &[&str] = &[
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
];

/// Response headers never passed back besides hop-by-hop ones: the origin's
/// cookies would land on the gateway's domain; the length is recomputed;
/// an origin challenge is about the gateway's credentials, not the client's.
const DROP_RESPONSE: &[&str] = &["set-cookie", "set-cookie2", "content-length", "www-authenticate"];

/// The field names listed in `Connection` values, lower-cased.
pub fn connection_named(connection: Option<&str>) -> Vec<String> {
    connection
        .map(|v| v.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default()
}

/// The request headers to forward, read through `get` (a lookup by lower-case name).
pub fn forward_request(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    let named = connection_named(get("connection").as_deref());
    FORWARD_REQUEST
        .iter()
        .filter(|n| !named.iter().any(|c| c == *n))
        .filter_map(|n| get(n).map(|v| (*n, v)))
        .collect()
}

/// Whether an origin response header goes back to the client.
pub fn keep_response(name: &str, connection_named: &[String]) -> bool {
    let n = name.to_ascii_lowercase();
    !HOP_BY_HOP.contains(&n.as_str()) && !DROP_RESPONSE.contains(&n.as_str()) && !connection_named.contains(&n)
}

/// A header name as RFC 9110 §5.1 allows (a token), for configured names.
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn only_allow_listed_request_headers_pass() {
        let out = forward_request(lookup(&[
            ("authorization", "Bearer secret"),
            ("cookie", "a=b"),
            ("x-gatehouse-user", "forged"),
            ("cf-access-client-secret", "forged"),
            ("x-forwarded-for", "6.6.6.6"),
            ("content-type", "application/json"),
            ("mcp-session-id", "s"),
        ]));
        assert_eq!(out, vec![("content-type", "application/json".to_string()), ("mcp-session-id", "s".to_string())]);
    }

    #[test]
    fn fields_named_in_connection_are_dropped() {
        let out = forward_request(lookup(&[("connection", "close, Accept-Language"), ("accept-language", "en"), ("accept", "*/*")]));
        assert_eq!(out, vec![("accept", "*/*".to_string())]);
        let named = connection_named(Some("X-Hop, keep-alive"));
        assert!(!keep_response("x-hop", &named));
        assert!(!keep_response("Transfer-Encoding", &named));
        assert!(!keep_response("Set-Cookie", &named));
        assert!(keep_response("Mcp-Session-Id", &named));
        assert!(keep_response("content-type", &[]));
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(is_token("X-Gatehouse-Secret"));
        assert!(!is_token("bad header"));
        assert!(!is_token(""));
        assert!(!is_token("x:y"));
    }
}
