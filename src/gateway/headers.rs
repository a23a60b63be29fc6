//! Which headers cross the gateway (RFC 9110 §7.6.1 hop-by-hop fields; MCP
//! authorization §Token Passthrough). Requests use an allow-list, so the
//! client's `Authorization`, cookies and any `X-Gatehouse-*` or
//! `CF-Access-*` it sends never reach the origin; responses drop hop-by-hop
//! fields, the fields `Connection` names, and the origin's cookies.
//!
//! The allow-list has one open end: every `Mcp-Param-{Name}` (spec
//! 2026-07-28 streamable-http §Custom Headers from Tool Parameters: an
//! intermediary MUST forward those it does not recognise). The prefix cannot
//! match an identity header; their number and size are bounded (SEP-2243
//! lets intermediaries set limits and asks them to say so: docs/origin.md).

use crate::base::http::HOP_BY_HOP;
use crate::config::forwarding::FORWARD_REQUEST;

/// Tool parameters mirrored into headers (`x-mcp-header`).
pub const PARAM_PREFIX: &str = "mcp-param-";
/// At most this many `Mcp-Param-*` headers on one request.
pub const MAX_PARAM_HEADERS: usize = 32;
/// At most this many bytes in one `Mcp-Method`, `Mcp-Name` or `Mcp-Param-*` value.
pub const MAX_MCP_VALUE_BYTES: usize = 8 * 1024;
/// At most this many bytes in all of them together (names and values).
pub const MAX_MCP_TOTAL_BYTES: usize = 32 * 1024;

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

/// Request headers over the limits above: answered 431 (RFC 6585 §5).
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge(pub String);

/// The request headers to forward, from all of the request's (name, value)
/// pairs (names in any case; a repeated field as one comma-joined value, as
/// the Fetch `Headers` gives it).
pub fn forward_request(entries: impl IntoIterator<Item = (String, String)>) -> Result<Vec<(String, String)>, TooLarge> {
    let all: Vec<(String, String)> = entries.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let named = connection_named(all.iter().find(|(k, _)| k == "connection").map(|(_, v)| v.as_str()));
    let (mut params, mut total) = (0, 0);
    let mut out = Vec::new();
    for (name, value) in all {
        let is_param = name.len() > PARAM_PREFIX.len() && name.starts_with(PARAM_PREFIX);
        if !(is_param || FORWARD_REQUEST.contains(&name.as_str())) || named.contains(&name) {
            continue;
        }
        if is_param || name == "mcp-method" || name == "mcp-name" {
            params += usize::from(is_param);
            total += name.len() + value.len();
            if params > MAX_PARAM_HEADERS {
                return Err(TooLarge(format!("more than {MAX_PARAM_HEADERS} Mcp-Param-* headers")));
            }
            if value.len() > MAX_MCP_VALUE_BYTES {
                return Err(TooLarge(format!("the {name} header is longer than {MAX_MCP_VALUE_BYTES} bytes")));
            }
            if total > MAX_MCP_TOTAL_BYTES {
                return Err(TooLarge(format!("the Mcp-* headers are longer than {MAX_MCP_TOTAL_BYTES} bytes together")));
            }
        }
        out.push((name, value));
    }
    Ok(out)
}

/// Whether an origin response header goes back to the client.
pub fn keep_response(name: &str, connection_named: &[String]) -> bool {
    let n = name.to_ascii_lowercase();
    !HOP_BY_HOP.contains(&n.as_str()) && !DROP_RESPONSE.contains(&n.as_str()) && !connection_named.contains(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn names(out: &[(String, String)]) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn only_allow_listed_request_headers_pass() {
        let out = forward_request(entries(&[
            ("authorization", "Bearer secret"),
            ("cookie", "a=b"),
            ("x-gatehouse-user", "forged"),
            ("cf-access-client-secret", "forged"),
            ("x-forwarded-for", "6.6.6.6"),
            ("content-type", "application/json"),
            ("mcp-session-id", "s"),
            ("mcp-paramx", "not the prefix"),
            ("mcp-param-", "no name"),
            ("x-mcp-param-region", "not the prefix"),
        ]))
        .unwrap();
        assert_eq!(out, entries(&[("content-type", "application/json"), ("mcp-session-id", "s")]));
    }

    #[test]
    fn the_2026_headers_pass_unchanged() {
        let out = forward_request(entries(&[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            ("Mcp-Param-Region", "us-west1"),
            ("mcp-param-tenantid", " padded value "),
            ("authorization", "Bearer secret"),
        ]))
        .unwrap();
        assert_eq!(names(&out), ["mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param-region", "mcp-param-tenantid"]);
        assert_eq!(out[2].1, "=?base64?SGVsbG8sIOS4lueVjA==?=");
        assert_eq!(out[4].1, " padded value ", "values are not touched");
    }

    #[test]
    fn mcp_headers_are_bounded() {
        let many: Vec<(String, String)> = (0..=MAX_PARAM_HEADERS).map(|i| (format!("mcp-param-p{i}"), "v".into())).collect();
        assert!(forward_request(many[..MAX_PARAM_HEADERS].to_vec()).is_ok());
        assert!(forward_request(many).is_err(), "one header too many");
        let long = "x".repeat(MAX_MCP_VALUE_BYTES + 1);
        assert!(forward_request(entries(&[("mcp-param-a", &long)])).is_err());
        assert!(forward_request(entries(&[("mcp-name", &long)])).is_err());
        assert!(forward_request(entries(&[("mcp-param-a", &long[1..])])).is_ok());
        let big = "x".repeat(MAX_MCP_VALUE_BYTES - 20);
        let five: Vec<(String, String)> = (0..5).map(|i| (format!("mcp-param-{i}"), big.clone())).collect();
        assert!(forward_request(five).is_err(), "total over the limit");
    }

    #[test]
    fn fields_named_in_connection_are_dropped() {
        let out = forward_request(entries(&[("connection", "close, Accept-Language, Mcp-Param-Hop"), ("accept-language", "en"), ("accept", "*/*"), ("mcp-param-hop", "x")])).unwrap();
        assert_eq!(out, entries(&[("accept", "*/*")]));
        let named = connection_named(Some("X-Hop, keep-alive"));
        assert!(!keep_response("x-hop", &named));
        assert!(!keep_response("Transfer-Encoding", &named));
        assert!(!keep_response("Set-Cookie", &named));
        assert!(keep_response("Mcp-Session-Id", &named));
        assert!(keep_response("content-type", &[]));
    }
}
