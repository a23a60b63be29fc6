//! What the client gets of the origin's answer: an HTTP failure MCP clients
//! could not read is replaced by a JSON-RPC error (`jsonrpc::origin_failure`);
//! hop-by-hop and Gatehouse-internal headers are dropped (RFC 9110 §7.6.1);
//! the origin's session id goes out wrapped for this grant (`mcp_session`);
//! an SSE stream is marked `no-cache`; and whether the body must pass
//! through the tool policy's filter.

use super::headers;
use super::jsonrpc;
use super::refusal::{self, Refusal};
use super::state::GatewayState;
use crate::base::types::GrantId;
use crate::config::Config;

#[derive(Debug)]
pub struct ResponsePlan {
    /// Appended in order.
    pub headers: Vec<(String, String)>,
    pub is_sse: bool,
    /// The body goes through the tool policy's filter (a `tools/list` answer).
    pub filter: bool,
}

/// `headers`: the origin's answer's (name, value) pairs. `lists_tools`: the
/// request asked for tools the policy may hide.
pub fn response_plan(
    config: &Config,
    state: &GatewayState,
    grant: &GrantId,
    status: u16,
    headers: Vec<(String, String)>,
    lists_tools: bool,
) -> Result<ResponsePlan, Refusal> {
    let header = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    let content_type = header("content-type");
    if let Some((code, message)) = jsonrpc::origin_failure(status, content_type) {
        return Err(Refusal {
            answer: refusal::rpc(code, jsonrpc::SERVER_ERROR, &message),
            log: Some(serde_json::json!({"event": "origin_error", "status": status})),
        });
    }
    let is_sse = content_type.is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    let named = headers::connection_named(header("connection"));
    let mut out = Vec::with_capacity(headers.len() + 1);
    for (k, v) in &headers {
        if !headers::keep_response(k, &named) {
            continue;
        }
        if k.eq_ignore_ascii_case("mcp-session-id") {
            out.push((k.clone(), state.session_key(&config.signing_key).wrap(grant, v)));
        } else if !(is_sse && k.eq_ignore_ascii_case("cache-control")) {
            out.push((k.clone(), v.clone()));
        }
    }
    if is_sse {
        out.push(("cache-control".into(), "no-cache".into()));
    }
    let filter = lists_tools && status == 200 && config.forward.tool_policy.is_some();
    Ok(ResponsePlan { headers: out, is_sse, filter })
}

#[cfg(test)]
#[path = "response_plan_tests.rs"]
mod tests;
