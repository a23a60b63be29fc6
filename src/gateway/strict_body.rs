//! How a client message is read when a tool policy has to decide on it. A
//! policy is only as strong as the agreement between its reader and the
//! origin's: a body one reader refuses or reads differently is a way around
//! it. So a body is accepted only where every common JSON reader (Node,
//! Python, Go, serde) gets the same message out of it:
//!
//! - `Content-Type` is `application/json`, with no charset but UTF-8 (RFC 8259
//!   §8.1: JSON between systems is UTF-8; Node's body parsers honour
//!   `charset=utf-16le`, and Python's `json.loads(bytes)` detects UTF-16);
//! - the bytes are UTF-8 without a byte order mark (RFC 8259 §8.1);
//! - they parse as one JSON value (RFC 8259) with nothing after it: no lone
//!   surrogate escape, no number beyond f64 (`1e400`), no nesting past 128,
//!   no raw control character in a string;
//! - no object repeats a member name (RFC 7493 §2.3): readers differ on which
//!   one wins;
//! - in the objects the gateway interprets (the message, its `params`, and
//!   `params._meta`), no two names are equal after case folding and no name
//!   folds to one the gateway reads without being it: Go's `encoding/json`
//!   matches names case-insensitively, folding `ſ` to `s` and `ı` to `i`;
//! - ids are strings, integers within ±(2^53−1), or null, so that the answer
//!   the origin echoes carries the id the gateway matches (a JavaScript origin
//!   echoes `1.0` as `1` and rounds larger integers).
//!
//! What is forwarded is the bytes read, not a re-serialisation: once every
//! reader agrees on the message, re-encoding would only change what the client
//! sent (integers beyond 64 bits, escapes, member order) for no gain.

use serde_json::Value;

use super::mirrored_headers::PROTOCOL_VERSION_META_KEY;

/// The largest integer every reader holds exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a body is refused, said for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The `Content-Type` (HTTP 415).
    MediaType(String),
    /// The bytes are not strict UTF-8 JSON (HTTP 400, JSON-RPC parse error).
    Parse(String),
    /// JSON, but not a message every reader reads alike (HTTP 400, invalid request).
    Message(String),
}

/// Accepts `application/json` with at most one parameter `charset=utf-8`
/// (any case, quoted or not) and other parameters as they come.
pub fn check_media_type(content_type: Option<&str>) -> Result<(), Refusal> {
    let refuse = |why: &str| Err(Refusal::MediaType(format!("{why}; MCP messages are sent as Content-Type: application/json (UTF-8)")));
    let Some(ct) = content_type else { return refuse("the request has no Content-Type") };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim_matches([' ', '\t']);
    if !essence.eq_ignore_ascii_case("application/json") {
        return refuse(&format!("Content-Type {} is not application/json", quote(essence)));
    }
    let mut charsets = 0;
    for p in parts.map(|p| p.trim_matches([' ', '\t'])).filter(|p| !p.is_empty()) {
        let Some((name, value)) = p.split_once('=') else { return refuse("the Content-Type has a malformed parameter") };
        if !name.trim_end_matches([' ', '\t']).eq_ignore_ascii_case("charset") {
            continue;
        }
        charsets += 1;
        let value = value.trim_start_matches([' ', '\t']);
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if charsets > 1 || !value.eq_ignore_ascii_case("utf-8") {
            return refuse(&format!("the charset {} is not accepted", quote(value)));
        }
    }
    Ok(())
}

/// `s` (its first 64 characters) as a JSON string, for messages.
fn quote(s: &str) -> String {
    Value::String(s.chars().take(64).collect()).to_string()
}

/// Parses the body under the rules above (all but the per-message ones, see
/// `check_message`).
pub fn parse(body: &[u8]) -> Result<Value, Refusal> {
    let refuse = |why: String| Err(Refusal::Parse(why));
    if body.starts_with(b"\xEF\xBB\xBF") {
        return refuse("the body starts with a byte order mark; send UTF-8 JSON without one (RFC 8259 §8.1)".into());
    }
    if let Err(e) = std::str::from_utf8(body) {
        return refuse(format!("the body is not valid UTF-8 (byte {}); JSON must be UTF-8 (RFC 8259 §8.1)", e.valid_up_to()));
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return refuse(format!("the body is not strict JSON: {e}")),
    };
    // serde keeps the last of a repeated member name; readers differ. In
    // valid JSON every `:` outside a string separates one member, so the text
    // has a repeat exactly when it has more of them than the value has members.
    if colons_outside_strings(body) != members(&value) {
        return refuse("a member name appears twice in one object (RFC 7493 §2.3)".into());
    }
    Ok(value)
}

fn colons_outside_strings(json: &[u8]) -> usize {
    let (mut n, mut in_string, mut escaped) = (0, false, false);
    for &b in json {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => in_string = !in_string,
            (false, _, b':') => n += 1,
            _ => {}
        }
    }
    n
}

fn members(v: &Value) -> usize {
    match v {
        Value::Object(o) => o.len() + o.values().map(members).sum::<usize>(),
        Value::Array(a) => a.iter().map(members).sum(),
        _ => 0,
    }
}

/// The messages of a parsed body: one object, or a non-empty batch of them.
pub fn messages(body: &Value) -> Result<Vec<&Value>, Refusal> {
    let refuse = |why: &str| Err(Refusal::Message(why.into()));
    match body {
        Value::Object(_) => Ok(vec![body]),
        Value::Array(items) if items.is_empty() => refuse("an empty JSON-RPC batch"),
        Value::Array(items) if items.iter().all(Value::is_object) => Ok(items.iter().collect()),
        Value::Array(_) => refuse("a JSON-RPC batch may hold only message objects"),
        _ => refuse("the body is not a JSON-RPC message"),
    }
}

/// The member names the gateway reads, per interpreted object.
const MESSAGE_NAMES: &[&str] = &["jsonrpc", "id", "method", "params", "result", "error"];
const PARAMS_NAMES: &[&str] = &["name", "uri", "arguments", "_meta"];
const META_NAMES: &[&str] = &[PROTOCOL_VERSION_META_KEY];

/// The per-message rules: names in the interpreted objects, the id, and a
/// method that is a string.
pub fn check_message(msg: &Value) -> Result<(), Refusal> {
    let refuse = |why: String| Err(Refusal::Message(why));
    check_names(msg, MESSAGE_NAMES, "the message")?;
    let params = msg.get("params");
    if let Some(p) = params {
        check_names(p, PARAMS_NAMES, "params")?;
        if let Some(m) = p.get("_meta") {
            check_names(m, META_NAMES, "params._meta")?;
        }
    }
    match msg.get("method") {
        None | Some(Value::String(_)) => {}
        Some(_) => return refuse("the method is not a string".into()),
    }
    match msg.get("id") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) => Ok(()),
        Some(_) => refuse(format!("the id must be a string or an integer within ±{MAX_SAFE_INTEGER}")),
    }
}

/// In one object: no two names equal after folding, and none folding to a
/// name in `known` without being it.
fn check_names(v: &Value, known: &[&str], what: &str) -> Result<(), Refusal> {
    let Value::Object(obj) = v else { return Ok(()) };
    let mut seen: Vec<(String, &str)> = Vec::with_capacity(obj.len());
    for name in obj.keys() {
        let folded = fold(name);
        if let Some((_, other)) = seen.iter().find(|(f, _)| *f == folded) {
            return Err(Refusal::Message(format!("{what} has members {} and {} that differ only in case", quote(other), quote(name))));
        }
        if let Some(k) = known.iter().find(|k| fold(k) == folded && **k != name.as_str()) {
            return Err(Refusal::Message(format!("{what} has a member {} where {} is meant; member names are case-sensitive", quote(name), quote(k))));
        }
        seen.push((folded, name));
    }
    Ok(())
}

/// Case folding at least as wide as any reader's, into ASCII: ASCII letters
/// to lower case, and the non-ASCII characters whose Unicode case mapping or
/// folding is ASCII (the complete list, from UnicodeData and CaseFolding) to
/// that. Other characters stay: no reader turns them into the ASCII names the
/// gateway reads. (A table, not `char::to_lowercase`, whose Unicode tables
/// would cost the wasm some 20 KB.)
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'ı' | 'İ' => out.push('i'),
            'ſ' => out.push('s'),
            '\u{212A}' => out.push('k'), // Kelvin sign
            'ß' | 'ẞ' => out.push_str("ss"),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused_parse(body: &[u8]) -> bool {
        matches!(parse(body), Err(Refusal::Parse(_)))
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn media_types() {
        for ok in ["application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=\"UTF-8\"", "application/json; profile=x; charset=utf-8;"] {
            assert_eq!(check_media_type(Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("application/json; charset=utf-16le"),
            Some("application/json; charset=utf-16"),
            Some("application/json; charset=iso-8859-1"),
            Some("application/json; charset=utf-8; charset=utf-16le"),
            Some("application/json, application/json; charset=utf-16le"),
            Some("application/json; charset"),
            Some("application/jsonx"),
        ] {
            assert!(matches!(check_media_type(bad), Err(Refusal::MediaType(_))), "{bad:?}");
        }
    }

    #[test]
    fn strict_json_accepts_what_every_reader_reads_alike() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"\u0065cho","arguments":{"t":"\ud83d\ude00 ok","n":1e308,"big":123456789012345678901234567890}}}"#;
        let v = parse(body).unwrap();
        assert_eq!(v["method"], "tools/call");
        assert_eq!(v["params"]["name"], "echo");
        assert_eq!(v["params"]["arguments"]["t"], "😀 ok");
        assert_eq!(check_message(&v), Ok(()));
        assert!(parse(b" {} \r\n\t").is_ok());
    }

    #[test]
    fn each_known_way_around_is_refused() {
        let call = |extra: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"delete_all","arguments":{{"x":{extra}}}}}}}"#);
        assert!(refused_parse(call(r#""\ud800""#).as_bytes()), "lone leading surrogate");
        assert!(refused_parse(call(r#""\udc00x""#).as_bytes()), "lone trailing surrogate");
        assert!(refused_parse(call("1e400").as_bytes()), "number overflow");
        assert!(refused_parse(call("-1e400").as_bytes()), "negative overflow");
        assert!(refused_parse(call(&format!("{}1{}", "[".repeat(200), "]".repeat(200))).as_bytes()), "nesting past 128");
        let mut invalid = call(r#""a~b""#).into_bytes();
        let at = invalid.iter().position(|b| *b == b'~').unwrap();
        invalid[at] = 0xff;
        assert!(matches!(parse(&invalid), Err(Refusal::Parse(m)) if m.contains("not valid UTF-8")), "invalid UTF-8 byte in a string");
        assert!(refused_parse(&utf16le(&call("1"))), "UTF-16LE body");
        let bom = [b"\xEF\xBB\xBF".as_slice(), call("1").as_bytes()].concat();
        assert!(matches!(parse(&bom), Err(Refusal::Parse(m)) if m.contains("byte order mark")), "UTF-8 BOM, said as such");
        assert!(refused_parse(call("\"a\u{1}b\"").as_bytes()), "raw control character");
        assert!(refused_parse(call("NaN").as_bytes()), "NaN (Python reads it)");
        assert!(refused_parse(br#"{"method":"tools/list"} {"method":"tools/call"}"#), "two values");
        assert!(refused_parse(br#"{"method":"tools/list","method":"tools/call"}"#), "duplicate member");
        assert!(refused_parse(call(r#"{"a":1,"a":2}"#).as_bytes()), "duplicate member anywhere");
        assert!(refused_parse(br#"{"method":"tools/list","m\u0065thod":"tools/call"}"#), "duplicate after unescaping");
    }

    #[test]
    fn names_that_fold_together_are_refused_where_the_gateway_reads() {
        for body in [
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"delete_all"}}),
            json!({"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"name":"delete_all"}}),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"delete_all"}}),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"delete_all"},"params":{"name":"echo"}}),
            json!({"jsonrpc":"2.0","ıd":1,"method":"tools/call","params":{"name":"echo"}}),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/PROTOCOLVERSION":"2025-11-25"}}}),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"Arguments":{}}}),
        ] {
            assert!(matches!(check_message(&body), Err(Refusal::Message(_))), "{body}");
        }
        // Tool arguments are the origin's business: their names are not folded.
        let ok = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"url":1,"URL":2}}});
        assert_eq!(check_message(&ok), Ok(()));
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Method"), "method");
        assert_eq!(fold("paramſ"), "params");
        assert_eq!(fold("\u{212A}ey"), "key", "Kelvin sign");
        assert_eq!(fold("ıd"), "id", "dotless i");
        assert_eq!(fold("größe"), "grösse");
        assert_eq!(fold("Ärger"), "Ärger", "no ASCII case mapping: kept");
    }

    #[test]
    fn ids_the_origin_echoes_exactly() {
        for ok in [json!(1), json!(-7), json!("a"), json!(null), json!(9007199254740991u64)] {
            assert_eq!(check_message(&json!({"jsonrpc":"2.0","id":ok,"method":"tools/list"})), Ok(()), "{ok}");
        }
        for bad in [json!(1.0), json!(1.5), json!(9007199254740992u64), json!(-9007199254740992i64), json!([1]), json!({"a":1}), json!(true)] {
            assert!(check_message(&json!({"jsonrpc":"2.0","id":bad,"method":"tools/list"})).is_err(), "{bad}");
        }
        assert!(check_message(&json!({"jsonrpc":"2.0","id":1,"method":["tools/call"]})).is_err());
    }

    #[test]
    fn message_shapes() {
        assert_eq!(messages(&json!({"a":1})).unwrap().len(), 1);
        assert_eq!(messages(&json!([{"a":1},{"b":2}])).unwrap().len(), 2);
        for bad in [json!([]), json!([1]), json!("x"), json!(3), json!(null)] {
            assert!(matches!(messages(&bad), Err(Refusal::Message(_))), "{bad}");
        }
    }
}
