//! Optional per-tool policy (`TOOL_POLICY`) over MCP tools (spec 2025-06-18
//! §Server Features/Tools): a refused `tools/call` is answered by the gateway
//! with a JSON-RPC error and never reaches the origin, and `tools/list`
//! results are filtered so clients do not offer what they cannot call.
//!
//! Format (JSON):
//! `{"default": {"allow": [..], "deny": [..]}, "clients": {"<client_id>": {"allow": [..], "deny": [..]}}}`
//! A client listed under `clients` uses its own rule instead of `default`.
//! Within a rule a tool is allowed when `allow` is absent or one of its
//! patterns matches, and no `deny` pattern matches. Patterns are tool names
//! where `*` matches any run of characters.

use serde_json::Value;

use super::guard::Admitted;
use super::jsonrpc;
use super::mirrored_headers::{self, MirroredHeaders, Mismatch};
use super::strict_body::{self, Refusal};
use crate::base::http::HttpResponse;
use crate::config::tool_policy::ToolPolicy;

/// What to do with one client message (a request body) under a policy.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Forward it; the responses to these request ids are `tools/list`
    /// results to filter (empty: nothing to rewrite).
    Forward { list_ids: Vec<Value> },
    /// Answer with this HTTP status and JSON body without contacting the origin.
    Refuse { status: u16, answer: Value },
}

/// The tool policy's look at an admitted request's body, when a
/// `TOOL_POLICY` is set (`None` policy: nothing to read, nothing to filter).
/// The ids of the `tools/list` requests whose answers must be filtered, or
/// the answer to give instead of asking the origin.
pub fn check_body(policy: Option<&ToolPolicy>, a: &Admitted, is_post: bool, body: &[u8]) -> Result<Vec<Value>, HttpResponse> {
    let Some(policy) = policy else { return Ok(Vec::new()) };
    let decision = if is_post {
        let header = |n: &str| a.forwarded.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let (content_type, mirrored) = (header("content-type"), MirroredHeaders::read(header));
        decide(policy, &a.token.claims.client_id, &Message { content_type: content_type.as_deref(), headers: &mirrored, body })
    } else {
        // MCP sends messages only by POST; a body on another method is
        // one the policy would not have read.
        decide_other_method(body)
    };
    match decision {
        Decision::Forward { list_ids } => Ok(list_ids),
        Decision::Refuse { status, answer } => Err(super::refusal::answer(status, answer.to_string())),
    }
}

/// A POSTed message as the policy sees it: the headers that describe the
/// body, and the body.
pub struct Message<'a> {
    pub content_type: Option<&'a str>,
    pub headers: &'a MirroredHeaders,
    pub body: &'a [u8],
}

fn refused_message(tool: &str) -> String {
    if tool.is_empty() {
        return "a tools/call without a tool name (a string params.name) is refused by the gateway's tool policy".into();
    }
    format!("tool {} is not allowed for this client by the gateway's tool policy", Value::from(tool))
}

fn refuse(status: u16, code: i64, id: Value, message: &str) -> Decision {
    Decision::Refuse { status, answer: jsonrpc::error(id, code, message) }
}

/// Inspects a POSTed JSON-RPC message or batch. The body must be one that
/// every reader reads alike (`strict_body`) and its mirrored headers must
/// agree with it (`mirrored_headers`): anything else is refused here, since a
/// body the gateway cannot read the origin's way is a way around the policy.
pub fn decide(policy: &ToolPolicy, client_id: &str, m: &Message) -> Decision {
    if let Err(Refusal::MediaType(why)) = strict_body::check_media_type(m.content_type) {
        return refuse(415, jsonrpc::SERVER_ERROR, Value::Null, &format!("Unsupported Media Type: {why}"));
    }
    let msg = match strict_body::parse(m.body) {
        Ok(v) => v,
        Err(e) => return refuse(400, jsonrpc::PARSE_ERROR, Value::Null, &format!("Parse error: {}", refusal_text(e))),
    };
    let msgs = match strict_body::messages(&msg) {
        Ok(ms) => ms,
        Err(e) => return refuse(400, jsonrpc::INVALID_REQUEST, Value::Null, &format!("Invalid Request: {}", refusal_text(e))),
    };
    for one in &msgs {
        if let Err(e) = strict_body::check_message(one) {
            return refuse(400, jsonrpc::INVALID_REQUEST, request_id(one), &format!("Invalid Request: {}", refusal_text(e)));
        }
    }
    let mirrored = match &msg {
        Value::Array(_) => mirrored_headers::check_batch(m.headers),
        one => mirrored_headers::check(m.headers, one),
    };
    if let Err(Mismatch(why)) = mirrored {
        let id = if msgs.len() == 1 { request_id(msgs[0]) } else { Value::Null };
        return refuse(400, jsonrpc::HEADER_MISMATCH, id, &format!("Header mismatch: {why}"));
    }

    let refused_tool = |m: &Value| -> Option<String> {
        if m.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        // A call without a string tool name is refused too: readers that
        // coerce would otherwise run a tool nobody checked.
        let tool = m.get("params").and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or("");
        (tool.is_empty() || !policy.allows(client_id, tool)).then(|| tool.to_string())
    };
    if msgs.iter().any(|m| refused_tool(m).is_some()) {
        let answer = |m: &Value| {
            let id = m.get("id").cloned().unwrap_or(Value::Null);
            match refused_tool(m) {
                Some(tool) => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, &refused_message(&tool)),
                None => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, "batch refused: it contains a tool call the gateway's tool policy does not allow"),
            }
        };
        let answer = match &msg {
            // A batch gets one answer per request (notifications get none).
            Value::Array(items) => Value::Array(items.iter().filter(|m| m.get("id").is_some()).map(answer).collect()),
            one => answer(one),
        };
        return Decision::Refuse { status: 200, answer };
    }
    let list_ids = msgs
        .iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/list"))
        .filter_map(|m| m.get("id").cloned())
        .collect();
    Decision::Forward { list_ids }
}

/// A request by another method than POST under a policy: forwarded only
/// without a body (MCP sends every message by POST; an origin that read a body
/// on GET, DELETE or PUT would run what the policy never saw).
pub fn decide_other_method(body: &[u8]) -> Decision {
    if body.is_empty() {
        return Decision::Forward { list_ids: vec![] };
    }
    refuse(400, jsonrpc::INVALID_REQUEST, Value::Null, "Invalid Request: MCP messages are sent by POST; the gateway's tool policy refuses a body on any other method")
}

fn refusal_text(r: Refusal) -> String {
    match r {
        Refusal::MediaType(s) | Refusal::Parse(s) | Refusal::Message(s) => s,
    }
}

/// The id to answer a refused request with (JSON-RPC 2.0 §5: null when it
/// cannot be determined).
fn request_id(m: &Value) -> Value {
    match m.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) if m.get("method").is_some() => id.clone(),
        _ => Value::Null,
    }
}

/// Filters `result.tools` of responses whose id is in `list_ids`, in a single
/// message or a batch, and marks a 2026-07-28 result `cacheScope: "private"`
/// (spec 2026-07-28 server/utilities/caching: a list filtered per client must
/// not be shared across authorization contexts). Returns whether anything
/// changed.
pub fn filter_tools(policy: &ToolPolicy, client_id: &str, list_ids: &[Value], msg: &mut Value) -> bool {
    match msg {
        Value::Array(items) => items.iter_mut().fold(false, |changed, m| filter_tools(policy, client_id, list_ids, m) | changed),
        Value::Object(obj) => {
            if !obj.get("id").is_some_and(|id| list_ids.contains(id)) {
                return false;
            }
            let Some(Value::Object(result)) = obj.get_mut("result") else { return false };
            let Some(Value::Array(tools)) = result.get_mut("tools") else { return false };
            let before = tools.len();
            tools.retain(|t| t.get("name").and_then(Value::as_str).is_some_and(|n| policy.allows(client_id, n)));
            let mut changed = tools.len() != before;
            // Only results of the revision that defines the field get it: a
            // 2025 client validating its result shape is left alone.
            let modern = ["cacheScope", "ttlMs", "resultType"].iter().any(|k| result.contains_key(*k));
            if modern && result.get("cacheScope").and_then(Value::as_str) != Some("private") {
                result.insert("cacheScope".into(), Value::String("private".into()));
                changed = true;
            }
            changed
        }
        _ => false,
    }
}

/// The new `data` of one SSE event or JSON body answering a request whose
/// `tools/list` results are filtered, or `None` to pass it unchanged. An
/// answer that cannot be read is replaced by an error (for the one pending
/// list id, else id null): passing it unfiltered would show the client the
/// tools the policy hides.
pub fn rewrite_answer(policy: &ToolPolicy, client_id: &str, list_ids: &[Value], data: &str) -> Option<String> {
    if data.trim().is_empty() {
        // SSE priming events and keep-alives carry no message.
        return None;
    }
    match serde_json::from_slice::<Value>(data.as_bytes()) {
        Ok(mut msg) => filter_tools(policy, client_id, list_ids, &mut msg).then(|| msg.to_string()),
        Err(_) => {
            let id = if list_ids.len() == 1 { list_ids[0].clone() } else { Value::Null };
            Some(jsonrpc::error(id, jsonrpc::INTERNAL_ERROR, "the gateway could not read the origin's tools/list answer to apply its tool policy").to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> ToolPolicy {
        ToolPolicy::parse(r#"{"default":{"deny":["delete_*"]},"clients":{"c-ro":{"allow":["echo","add"]},"c-all":{}}}"#).unwrap()
    }

    #[test]
    fn default_and_per_client_rules() {
        let p = policy();
        assert!(p.allows("anyone", "echo"));
        assert!(!p.allows("anyone", "delete_everything"));
        assert!(p.allows("c-ro", "add"));
        assert!(!p.allows("c-ro", "whoami"), "allow-list of the client replaces the default");
        assert!(p.allows("c-all", "delete_everything"), "an empty client rule allows all");
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(ToolPolicy::parse("not json").is_err());
        assert!(ToolPolicy::parse(r#"{"defaults":{}}"#).is_err(), "unknown keys are mistakes");
        assert!(ToolPolicy::parse(r#"{"default":{"allow":"echo"}}"#).is_err());
        assert!(ToolPolicy::parse(r#"{"default":{"deny":[""]}}"#).is_err());
        assert_eq!(ToolPolicy::parse("{}").unwrap(), ToolPolicy::default());
    }

    const JSON: Option<&str> = Some("application/json");

    fn decide_plain(p: &ToolPolicy, client: &str, body: &[u8]) -> Decision {
        decide(p, client, &Message { content_type: JSON, headers: &MirroredHeaders::default(), body })
    }

    fn refusal(d: Decision) -> (u16, Value) {
        match d {
            Decision::Refuse { status, answer } => (status, answer),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn refused_call_is_answered_with_its_id() {
        let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}"#;
        let (status, v) = refusal(decide_plain(&policy(), "anyone", body));
        assert_eq!(status, 200);
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], jsonrpc::INVALID_PARAMS);
        assert!(v["error"]["message"].as_str().unwrap().contains("\"delete_all\""));
        let ok = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo"}}"#;
        assert_eq!(decide_plain(&policy(), "anyone", ok), Decision::Forward { list_ids: vec![] });
    }

    #[test]
    fn escaped_method_names_do_not_slip_past() {
        for body in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"delete_all"}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"\u0074ools/call","params":{"name":"delete_all"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\u002fcall","params":{"name":"delete_all"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0064elete_all"}}"#,
        ] {
            assert_eq!(refusal(decide_plain(&policy(), "anyone", body)).0, 200, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn calls_without_a_tool_name_are_refused_even_when_all_is_allowed() {
        for body in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["delete_all"]}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
        ] {
            assert_eq!(refusal(decide_plain(&policy(), "c-all", body)).0, 200, "{}", String::from_utf8_lossy(body));
        }
    }

    /// Until issue 15 a body the gateway could not parse was forwarded
    /// unfiltered (this test asserted it); under a policy it is now refused.
    #[test]
    fn batches_and_bodies_that_are_not_strict_json() {
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"whoami"}},{"jsonrpc":"2.0","method":"notifications/x"}]"#;
        let (status, v) = refusal(decide_plain(&policy(), "c-ro", batch));
        assert_eq!(status, 200);
        let Value::Array(v) = v else { panic!("one answer per request") };
        assert_eq!(v.len(), 2, "no answer for the notification");
        assert_eq!(v[1]["id"], "b");
        assert_eq!(decide_plain(&policy(), "c-all", batch), Decision::Forward { list_ids: vec![json!(1)] });
        let cases: [(&[u8], i64); 8] = [
            (b"{not json", jsonrpc::PARSE_ERROR),
            (b"", jsonrpc::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all","arguments":{"x":"\ud800"}}}"#, jsonrpc::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all","arguments":{"x":1e400}}}"#, jsonrpc::PARSE_ERROR),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"delete_all"}}"#, jsonrpc::INVALID_REQUEST),
            (b"[1,2]", jsonrpc::INVALID_REQUEST),
            (b"[]", jsonrpc::INVALID_REQUEST),
            (b"\"tools/call\"", jsonrpc::INVALID_REQUEST),
        ];
        for (body, code) in cases {
            let (status, v) = refusal(decide_plain(&policy(), "c-all", body));
            assert_eq!((status, v["error"]["code"].as_i64()), (400, Some(code)), "{}", String::from_utf8_lossy(body));
            assert_eq!(v["jsonrpc"], "2.0");
        }
    }

    #[test]
    fn bodies_on_other_methods_are_refused() {
        assert_eq!(decide_other_method(b""), Decision::Forward { list_ids: vec![] });
        let (status, v) = refusal(decide_other_method(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}}"#));
        assert_eq!((status, v["error"]["code"].as_i64()), (400, Some(jsonrpc::INVALID_REQUEST)));
    }

    #[test]
    fn other_charsets_are_refused_before_reading() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        for ct in [None, Some("application/json; charset=utf-16le"), Some("text/plain")] {
            let (status, v) = refusal(decide(&policy(), "x", &Message { content_type: ct, headers: &MirroredHeaders::default(), body }));
            assert_eq!(status, 415, "{ct:?}");
            assert_eq!(v["error"]["code"], jsonrpc::SERVER_ERROR);
        }
    }

    #[test]
    fn mirrored_headers_must_match_the_body() {
        let p = policy();
        let call = |name: &str| format!(r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"{name}","_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}}}}"#);
        let h = |m: &str, n: &str| MirroredHeaders { protocol_version: Some("2026-07-28".into()), method: Some(m.into()), name: Some(n.into()) };
        let run = |h: &MirroredHeaders, body: &str| decide(&p, "anyone", &Message { content_type: JSON, headers: h, body: body.as_bytes() });
        assert_eq!(run(&h("tools/call", "echo"), &call("echo")), Decision::Forward { list_ids: vec![] });
        for (headers, body) in [
            (h("tools/call", "delete_all"), call("echo")),
            (h("tools/call", "echo"), call("delete_all")),
            (h("tools/call", "=?base64?ZGVsZXRlX2FsbA==?="), call("echo")),
            (h("tools/list", "echo"), call("echo")),
        ] {
            let (status, v) = refusal(run(&headers, &body));
            assert_eq!(status, 400, "{headers:?} {body}");
            assert_eq!(v["error"]["code"], jsonrpc::HEADER_MISMATCH);
            assert_eq!(v["id"], 4, "the request's id is echoed");
        }
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#;
        assert_eq!(refusal(run(&h("tools/list", "x"), batch)).0, 400);
    }

    #[test]
    fn tools_list_results_are_filtered_by_id() {
        let mut m = json!({"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo"},{"name":"delete_x"},{"name":"whoami"}]}});
        assert!(filter_tools(&policy(), "c-ro", &[json!(3)], &mut m));
        assert_eq!(m["result"]["tools"], json!([{"name":"echo"}]));
        assert_eq!(m["result"].get("cacheScope"), None, "a 2025 result gets no 2026 field");
        let mut other = json!({"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"delete_x"}]}});
        assert!(!filter_tools(&policy(), "c-ro", &[json!(3)], &mut other), "another request's result is untouched");
        let mut batch = json!([{"id":3,"result":{"tools":[{"name":"delete_x"}]}}, {"id":9,"result":{}}]);
        assert!(filter_tools(&policy(), "anyone", &[json!(3)], &mut batch));
        assert_eq!(batch[0]["result"]["tools"], json!([]));
    }

    #[test]
    fn a_filtered_2026_list_is_private_even_when_nothing_was_removed() {
        let mut m = json!({"jsonrpc":"2.0","id":"l","result":{"tools":[{"name":"echo"}],"ttlMs":60000,"cacheScope":"public","resultType":"complete"}});
        assert!(filter_tools(&policy(), "anyone", &[json!("l")], &mut m));
        assert_eq!(m["result"]["cacheScope"], "private");
        assert_eq!(m["result"]["ttlMs"], 60000, "the origin's TTL is kept");
        assert!(!filter_tools(&policy(), "anyone", &[json!("l")], &mut m), "already private: unchanged");
    }

    #[test]
    fn unreadable_list_answers_fail_closed() {
        let p = policy();
        let out = rewrite_answer(&p, "c-ro", &[json!(3)], r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"whoami","description":"\ud800"}]}}"#).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], 3);
        assert_eq!(v["error"]["code"], jsonrpc::INTERNAL_ERROR);
        assert!(!out.contains("whoami"));
        assert_eq!(rewrite_answer(&p, "c-ro", &[json!(3)], ""), None, "priming events pass");
        assert_eq!(rewrite_answer(&p, "c-ro", &[json!(3)], r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#), None);
    }
}
