//! JSON-RPC 2.0 error bodies (JSON-RPC 2.0 §5.1) for answers the gateway
//! gives itself on the MCP endpoint, so MCP clients show the message.

use serde_json::{json, Value};

/// Implementation-defined server error (JSON-RPC reserves -32000..-32099).
pub const SERVER_ERROR: i64 = -32000;
/// What MCP SDKs answer for an unknown session; clients re-initialize.
pub const SESSION_NOT_FOUND: i64 = -32001;
/// Invalid params: what MCP servers answer for an unknown or refused tool.
pub const INVALID_PARAMS: i64 = -32602;
/// Invalid JSON (JSON-RPC 2.0 §5.1).
pub const PARSE_ERROR: i64 = -32700;
/// Valid JSON that is not an acceptable request object (JSON-RPC 2.0 §5.1).
pub const INVALID_REQUEST: i64 = -32600;
pub const INTERNAL_ERROR: i64 = -32603;
/// `HeaderMismatch`: the SEP-2243 headers disagree with the body, or a
/// required one is missing (spec 2026-07-28 streamable-http §Server Validation).
pub const HEADER_MISMATCH: i64 = -32020;

pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The body of an error not tied to one request (`id` null).
pub fn error_body(code: i64, message: &str) -> Vec<u8> {
    error(Value::Null, code, message).to_string().into_bytes()
}

/// What the gateway says when the origin's answer is itself an HTTP failure
/// that MCP clients could not interpret: `Some((status, message))` to replace
/// it, `None` to pass it through unchanged. JSON (and SSE) answers are the
/// origin's own MCP errors (a 400, a 404 for an unknown session) and pass.
pub fn origin_failure(status: u16, content_type: Option<&str>) -> Option<(u16, String)> {
    let mcp_shaped = content_type.is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("application/json") || ct.starts_with("text/event-stream")
    });
    match status {
        // A challenge from the origin is about the gateway's own credentials
        // (Cloudflare Access, a shared secret): passing it on would send the
        // client into a pointless re-authorization.
        401 | 407 => Some((502, format!("the MCP origin refused the gateway's credentials (HTTP {status})"))),
        403 if !mcp_shaped => Some((502, "the MCP origin refused the gateway (HTTP 403)".to_string())),
        // Cloudflare's origin timeout codes and plain gateway timeouts.
        504 | 522 | 524 if !mcp_shaped => Some((504, format!("the MCP origin timed out (HTTP {status})"))),
        s if s >= 500 && !mcp_shaped => Some((502, format!("the MCP origin failed (HTTP {s})"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape() {
        let v: Value = serde_json::from_slice(&error_body(SERVER_ERROR, "x")).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], -32000);
        assert_eq!(v["error"]["message"], "x");
    }

    #[test]
    fn origin_failures_are_classified() {
        assert_eq!(origin_failure(200, Some("application/json")), None);
        assert_eq!(origin_failure(202, None), None);
        assert_eq!(origin_failure(400, Some("application/json")), None);
        assert_eq!(origin_failure(404, Some("application/json; charset=utf-8")), None);
        assert_eq!(origin_failure(500, Some("application/json")), None, "the origin's own JSON-RPC error");
        assert_eq!(origin_failure(530, Some("text/html")).map(|f| f.0), Some(502));
        assert_eq!(origin_failure(502, None).map(|f| f.0), Some(502));
        assert_eq!(origin_failure(524, Some("text/html")).map(|f| f.0), Some(504));
        assert_eq!(origin_failure(401, Some("application/json")).map(|f| f.0), Some(502));
        assert_eq!(origin_failure(403, Some("text/html")).map(|f| f.0), Some(502));
        assert_eq!(origin_failure(403, Some("application/json")), None);
    }
}
