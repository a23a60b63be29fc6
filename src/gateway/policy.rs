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

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

use super::jsonrpc;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    #[serde(default)]
    pub deny: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ToolPolicy {
    #[serde(default)]
    pub default: Rule,
    #[serde(default)]
    pub clients: HashMap<String, Rule>,
}

impl ToolPolicy {
    pub fn parse(raw: &str) -> Result<ToolPolicy, String> {
        let p: ToolPolicy = serde_json::from_str(raw).map_err(|e| format!("is not a valid policy ({e})"))?;
        let rules = std::iter::once(&p.default).chain(p.clients.values());
        for r in rules {
            for pat in r.allow.iter().flatten().chain(&r.deny) {
                if pat.is_empty() || pat.len() > 200 {
                    return Err("has an empty or overlong tool pattern".to_string());
                }
            }
        }
        Ok(p)
    }

    pub fn allows(&self, client_id: &str, tool: &str) -> bool {
        let rule = self.clients.get(client_id).unwrap_or(&self.default);
        let allowed = rule.allow.as_ref().is_none_or(|a| a.iter().any(|p| glob(p, tool)));
        allowed && !rule.deny.iter().any(|p| glob(p, tool))
    }
}

/// `*` matches any run of characters (including none); everything else is literal.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// What to do with one client message (a request body) under a policy.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Forward it; the responses to these request ids are `tools/list`
    /// results to filter (empty: nothing to rewrite).
    Forward { list_ids: Vec<Value> },
    /// Answer with this JSON body without contacting the origin.
    Refuse(Value),
}

fn refused_message(tool: &str) -> String {
    format!("tool \"{tool}\" is not allowed for this client by the gateway's tool policy")
}

/// Inspects a POSTed JSON-RPC message or batch. Anything that is not valid
/// JSON-RPC is forwarded untouched: the origin owns those errors.
pub fn decide(policy: &ToolPolicy, client_id: &str, body: &[u8]) -> Decision {
    // Most messages are not about tools: skip parsing those. A JSON string
    // escape (`tools\/call`, `\u0074ools/call`) could hide the method name,
    // so any backslash means parsing.
    if !body.contains(&b'\\') && !body.windows(6).any(|w| w == b"tools/") {
        return Decision::Forward { list_ids: vec![] };
    }
    let Ok(msg) = serde_json::from_slice::<Value>(body) else { return Decision::Forward { list_ids: vec![] } };
    let msgs: Vec<&Value> = match &msg {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let refused_tool = |m: &Value| -> Option<String> {
        if m.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        let tool = m.get("params").and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or("");
        (!policy.allows(client_id, tool)).then(|| tool.to_string())
    };
    if msgs.iter().any(|m| refused_tool(m).is_some()) {
        let answer = |m: &Value| {
            let id = m.get("id").cloned().unwrap_or(Value::Null);
            match refused_tool(m) {
                Some(tool) => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, &refused_message(&tool)),
                None => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, "batch refused: it contains a tool call the gateway's tool policy does not allow"),
            }
        };
        return Decision::Refuse(match &msg {
            // A batch gets one answer per request (notifications get none).
            Value::Array(items) => Value::Array(items.iter().filter(|m| m.get("id").is_some()).map(answer).collect()),
            one => answer(one),
        });
    }
    let list_ids = msgs
        .iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/list"))
        .filter_map(|m| m.get("id").cloned())
        .collect();
    Decision::Forward { list_ids }
}

/// Filters `result.tools` of responses whose id is in `list_ids`, in a single
/// message or a batch. Returns whether anything changed.
pub fn filter_tools(policy: &ToolPolicy, client_id: &str, list_ids: &[Value], msg: &mut Value) -> bool {
    match msg {
        Value::Array(items) => items.iter_mut().fold(false, |changed, m| filter_tools(policy, client_id, list_ids, m) | changed),
        Value::Object(obj) => {
            if !obj.get("id").is_some_and(|id| list_ids.contains(id)) {
                return false;
            }
            let Some(Value::Array(tools)) = obj.get_mut("result").and_then(|r| r.get_mut("tools")) else { return false };
            let before = tools.len();
            tools.retain(|t| t.get("name").and_then(Value::as_str).is_some_and(|n| policy.allows(client_id, n)));
            tools.len() != before
        }
        _ => false,
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
    fn globs() {
        assert!(glob("delete_*", "delete_file"));
        assert!(glob("delete_*", "delete_"));
        assert!(!glob("delete_*", "undelete_file"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c"));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix must not overlap");
        assert!(glob("echo", "echo"));
        assert!(!glob("echo", "echo2"));
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

    #[test]
    fn refused_call_is_answered_with_its_id() {
        let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}"#;
        let Decision::Refuse(v) = decide(&policy(), "anyone", body) else { panic!("not refused") };
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], jsonrpc::INVALID_PARAMS);
        assert!(v["error"]["message"].as_str().unwrap().contains("\"delete_all\""));
        let ok = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo"}}"#;
        assert_eq!(decide(&policy(), "anyone", ok), Decision::Forward { list_ids: vec![] });
    }

    #[test]
    fn escaped_method_names_do_not_slip_past() {
        for body in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"delete_all"}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"\u0074ools/call","params":{"name":"delete_all"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\u002fcall","params":{"name":"delete_all"}}"#,
        ] {
            assert!(matches!(decide(&policy(), "anyone", body), Decision::Refuse(_)), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn batches_and_non_json() {
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"whoami"}},{"jsonrpc":"2.0","method":"notifications/x"}]"#;
        let Decision::Refuse(Value::Array(v)) = decide(&policy(), "c-ro", batch) else { panic!("not refused") };
        assert_eq!(v.len(), 2, "no answer for the notification");
        assert_eq!(v[1]["id"], "b");
        assert_eq!(decide(&policy(), "c-all", batch), Decision::Forward { list_ids: vec![json!(1)] });
        assert_eq!(decide(&policy(), "x", b"{not json"), Decision::Forward { list_ids: vec![] });
        assert_eq!(decide(&policy(), "x", b"[1,2]"), Decision::Forward { list_ids: vec![] });
    }

    #[test]
    fn tools_list_results_are_filtered_by_id() {
        let mut m = json!({"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo"},{"name":"delete_x"},{"name":"whoami"}]}});
        assert!(filter_tools(&policy(), "c-ro", &[json!(3)], &mut m));
        assert_eq!(m["result"]["tools"], json!([{"name":"echo"}]));
        let mut other = json!({"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"delete_x"}]}});
        assert!(!filter_tools(&policy(), "c-ro", &[json!(3)], &mut other), "another request's result is untouched");
        let mut batch = json!([{"id":3,"result":{"tools":[{"name":"delete_x"}]}}, {"id":9,"result":{}}]);
        assert!(filter_tools(&policy(), "anyone", &[json!(3)], &mut batch));
        assert_eq!(batch[0]["result"]["tools"], json!([]));
    }
}
