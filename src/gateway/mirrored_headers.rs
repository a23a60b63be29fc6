//! The request metadata headers of MCP Streamable HTTP 2026-07-28 (SEP-2243;
//! spec 2026-07-28 basic/transports/streamable-http §Request Metadata):
//! `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` mirror fields of the
//! JSON-RPC body so that intermediaries can route without parsing it.
//!
//! Gatehouse forwards them, and every `Mcp-Param-*`, unchanged. Where it does
//! read the body (a tool policy is set) it is a "server that processes the
//! request body" and checks them against the body as §Server Validation
//! requires: a disagreement is refused with 400 and `-32020` (HeaderMismatch),
//! so nothing between Gatehouse and the origin can act on a header that names
//! another method or tool than the body the policy decided on.
//!
//! `Mcp-Param-*` values are checked by the origin only: which argument a
//! parameter header mirrors is declared in the tool's `inputSchema`
//! (`x-mcp-header`), which the gateway does not hold, and the policy never
//! reads them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

/// The first protocol revision with per-request metadata (the "modern" era);
/// revisions are dates, so later ones compare greater as strings.
pub const FIRST_MODERN_VERSION: &str = "2026-07-28";
/// Where a 2026-07-28 request carries its protocol version (spec §_meta).
pub const PROTOCOL_VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// Wrapping of a header value that is not plain ASCII (§Value Encoding).
const SENTINEL_PREFIX: &str = "=?base64?";
const SENTINEL_SUFFIX: &str = "?=";

/// The standard headers of one request, trimmed of optional whitespace
/// (RFC 9110 §5.5) as every HTTP parser does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirroredHeaders {
    pub protocol_version: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
}

impl MirroredHeaders {
    /// Reads them through `get` (a lookup by lower-case name).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        let trimmed = |n: &str| get(n).map(|v| v.trim_matches([' ', '\t']).to_string());
        MirroredHeaders { protocol_version: trimmed("mcp-protocol-version"), method: trimmed("mcp-method"), name: trimmed("mcp-name") }
    }
}

/// A disagreement between the headers and the body, said for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

pub fn is_modern(version: &str) -> bool {
    version >= FIRST_MODERN_VERSION
}

/// The body field `Mcp-Name` mirrors for `method` (§Standard Request Headers).
pub fn name_source(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// The value an `Mcp-Name` or `Mcp-Param-*` header stands for: the Base64
/// sentinel decoded (canonical Base64 of UTF-8, as §Value Encoding says), a
/// plain value as it is. `None` for a sentinel that does not decode.
pub fn decode(value: &str) -> Option<String> {
    let Some(b64) = value.strip_prefix(SENTINEL_PREFIX).and_then(|v| v.strip_suffix(SENTINEL_SUFFIX)) else {
        return Some(value.to_string());
    };
    String::from_utf8(STANDARD.decode(b64).ok()?).ok()
}

/// HTTP field values are visible ASCII, space and tab (RFC 9110 §5.5); an
/// `obs-text` byte reaches the worker as a Latin-1 character.
fn has_invalid_characters(v: &str) -> bool {
    v.chars().any(|c| c != '\t' && !(' '..='~').contains(&c))
}

/// Checks the headers against a batch: its parts cannot all be named by one
/// `Mcp-Method` or `Mcp-Name`, and 2026-07-28 has no batches.
pub fn check_batch(h: &MirroredHeaders) -> Result<(), Mismatch> {
    if h.method.is_some() || h.name.is_some() {
        return Err(Mismatch("a JSON-RPC batch cannot carry Mcp-Method or Mcp-Name headers".into()));
    }
    Ok(())
}

/// Checks the headers against one message as §Server Validation requires:
/// a header that is present must say what the body says; a 2026-07-28
/// request (by its `_meta` claim or its `MCP-Protocol-Version`) must carry
/// `MCP-Protocol-Version`, `Mcp-Method` and, for the methods that name
/// something, `Mcp-Name`.
pub fn check(h: &MirroredHeaders, msg: &Value) -> Result<(), Mismatch> {
    let fail = |s: String| Err(Mismatch(s));
    for (header, value) in [("MCP-Protocol-Version", &h.protocol_version), ("Mcp-Method", &h.method), ("Mcp-Name", &h.name)] {
        if value.as_deref().is_some_and(has_invalid_characters) {
            return fail(format!("the {header} header contains characters outside visible ASCII; encode the value as =?base64?…?="));
        }
    }
    let method = msg.get("method").and_then(Value::as_str);
    let params = msg.get("params");
    let claim = params.and_then(|p| p.get("_meta")).and_then(|m| m.get(PROTOCOL_VERSION_META_KEY)).and_then(Value::as_str);
    let is_request = method.is_some() && msg.get("id").is_some();

    if let (Some(header), Some(body)) = (&h.protocol_version, claim) {
        if header != body {
            return fail(format!("the MCP-Protocol-Version header names {header} but the body's _meta names {body}"));
        }
    }
    if let Some(header) = &h.method {
        if Some(header.as_str()) != method {
            return fail(format!("the Mcp-Method header names {} but the body's method is {}", quoted(Some(header.as_str())), quoted(method)));
        }
    }
    let modern = claim.or(h.protocol_version.as_deref()).is_some_and(is_modern);
    if modern && is_request {
        if h.protocol_version.is_none() {
            return fail("the MCP-Protocol-Version header is required on a 2026-07-28 request".into());
        }
        if h.method.is_none() {
            return fail("the Mcp-Method header is required on a 2026-07-28 request".into());
        }
    }
    let Some(field) = method.and_then(name_source) else { return Ok(()) };
    let body_value = params.and_then(|p| p.get(field)).and_then(Value::as_str);
    match (&h.name, body_value) {
        (Some(header), _) => match decode(header) {
            None => fail("the Mcp-Name header is not valid =?base64?…?= (canonical Base64 of UTF-8)".into()),
            Some(decoded) if Some(decoded.as_str()) != body_value => {
                fail(format!("the Mcp-Name header names {} but the body's params.{field} is {}", quoted(Some(decoded.as_str())), quoted(body_value)))
            }
            Some(_) => Ok(()),
        },
        (None, Some(_)) if modern && is_request => fail(format!("the Mcp-Name header is required on a 2026-07-28 {} request", method.unwrap_or(""))),
        (None, _) => Ok(()),
    }
}

/// A value as a JSON string (escaped), or "absent".
fn quoted(v: Option<&str>) -> String {
    v.map(|s| Value::from(s).to_string()).unwrap_or_else(|| "absent".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(v: Option<&str>, m: Option<&str>, n: Option<&str>) -> MirroredHeaders {
        MirroredHeaders { protocol_version: v.map(Into::into), method: m.map(Into::into), name: n.map(Into::into) }
    }

    fn modern_call(name: &str) -> Value {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name,"arguments":{},"_meta":{PROTOCOL_VERSION_META_KEY:"2026-07-28"}}})
    }

    #[test]
    fn reading_trims_optional_whitespace_only() {
        let h = MirroredHeaders::read(|n| match n {
            "mcp-method" => Some(" \ttools/call ".into()),
            "mcp-name" => Some("a b".into()),
            _ => None,
        });
        assert_eq!(h, headers(None, Some("tools/call"), Some("a b")));
    }

    #[test]
    fn sentinel_values_decode_and_plain_ones_pass() {
        // The examples of spec 2026-07-28 §Value Encoding.
        assert_eq!(decode("us-west1").as_deref(), Some("us-west1"));
        assert_eq!(decode("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(), Some("Hello, 世界"));
        assert_eq!(decode("=?base64?IHBhZGRlZCA=?=").as_deref(), Some(" padded "));
        assert_eq!(decode("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(), Some("=?base64?literal?="));
        // The markers are case-sensitive: anything else is a plain value.
        assert_eq!(decode("=?BASE64?eA==?=").as_deref(), Some("=?BASE64?eA==?="));
        for bad in ["=?base64?eA?=", "=?base64?eB==?=", "=?base64?!!!!?=", "=?base64?/w==?="] {
            assert_eq!(decode(bad), None, "{bad}: unpadded, non-canonical, not Base64, not UTF-8");
        }
    }

    #[test]
    fn matching_modern_headers_pass() {
        let h = headers(Some("2026-07-28"), Some("tools/call"), Some("echo"));
        assert_eq!(check(&h, &modern_call("echo")), Ok(()));
        let h = headers(Some("2026-07-28"), Some("tools/call"), Some("=?base64?ZWNobw==?="));
        assert_eq!(check(&h, &modern_call("echo")), Ok(()), "an encoded name is compared decoded");
        let read = json!({"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"uri":"file:///a b","_meta":{PROTOCOL_VERSION_META_KEY:"2026-07-28"}}});
        assert_eq!(check(&headers(Some("2026-07-28"), Some("resources/read"), Some("file:///a b")), &read), Ok(()));
        let discover = json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{PROTOCOL_VERSION_META_KEY:"2026-07-28"}}});
        assert_eq!(check(&headers(Some("2026-07-28"), Some("server/discover"), None), &discover), Ok(()));
    }

    #[test]
    fn mismatches_are_refused() {
        let body = modern_call("echo");
        for (h, why) in [
            (headers(Some("2026-07-28"), Some("tools/call"), Some("delete_all")), "Mcp-Name names another tool"),
            (headers(Some("2026-07-28"), Some("tools/call"), Some("=?base64?ZGVsZXRlX2FsbA==?=")), "encoded other tool"),
            (headers(Some("2026-07-28"), Some("tools/call"), Some("=?base64?ZWNobw?=")), "bad Base64"),
            (headers(Some("2026-07-28"), Some("tools/list"), Some("echo")), "Mcp-Method names another method"),
            (headers(Some("2026-07-28"), Some("TOOLS/CALL"), Some("echo")), "method values are case-sensitive"),
            (headers(Some("2025-11-25"), Some("tools/call"), Some("echo")), "version differs from _meta"),
            (headers(None, Some("tools/call"), Some("echo")), "modern request without MCP-Protocol-Version"),
            (headers(Some("2026-07-28"), None, Some("echo")), "modern request without Mcp-Method"),
            (headers(Some("2026-07-28"), Some("tools/call"), None), "modern tools/call without Mcp-Name"),
            (headers(Some("2026-07-28"), Some("tools/call"), Some("ech\u{e9}")), "obs-text in a header"),
        ] {
            assert!(check(&h, &body).is_err(), "{why}");
        }
        // The reverse of the first: the body names the other tool.
        let h = headers(Some("2026-07-28"), Some("tools/call"), Some("echo"));
        assert!(check(&h, &modern_call("delete_all")).is_err());
    }

    #[test]
    fn legacy_requests_need_no_headers_but_present_ones_must_match() {
        let legacy = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}});
        assert_eq!(check(&headers(Some("2025-11-25"), None, None), &legacy), Ok(()));
        assert_eq!(check(&MirroredHeaders::default(), &legacy), Ok(()));
        assert!(check(&headers(Some("2025-11-25"), None, Some("echo")), &legacy).is_err());
        assert!(check(&headers(None, Some("tools/list"), None), &legacy).is_err());
        // A modern header on a body without the _meta claim still makes it a 2026-07-28 request.
        assert!(check(&headers(Some("2026-07-28"), None, None), &legacy).is_err());
        // Notifications and responses: only what is present is compared.
        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert_eq!(check(&headers(Some("2026-07-28"), None, None), &note), Ok(()));
        assert!(check(&headers(None, Some("notifications/cancelled"), None), &note).is_err());
        let response = json!({"jsonrpc":"2.0","id":3,"result":{}});
        assert!(check(&headers(None, Some("tools/call"), None), &response).is_err());
    }

    #[test]
    fn batches_carry_no_method_or_name_headers() {
        assert_eq!(check_batch(&headers(Some("2025-06-18"), None, None)), Ok(()));
        assert!(check_batch(&headers(None, Some("tools/call"), None)).is_err());
        assert!(check_batch(&headers(None, None, Some("echo"))).is_err());
    }
}
