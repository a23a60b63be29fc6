//! Forwarding MCP traffic (Streamable HTTP, including SSE) to the origin.
//! The client's token never leaves the gateway (MCP authorization: token
//! passthrough is forbidden); the origin learns who is calling from
//! `X-Gatehouse-*` headers and a signed assertion that only the gateway can
//! set. What to forward, bind, refuse or rewrite is decided in
//! `crate::gateway`; this file moves bytes and headers.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{ByteStream, Env, Headers, Method, Response, ResponseBuilder};

use super::body::{read_capped, BodyError};
use super::d1::faults::Faults;
use super::d1::revoked_grants::D1Revocations;
use super::convert::to_response;
use super::apart::apart;
use super::deadline::Deadline;
use crate::config::tool_policy::ToolPolicy;
use crate::config::Config;
use crate::gateway::forward_plan::forward_plan;
use crate::gateway::guard::{self, admit, Admitted, BodyPlan, Guard, RequestHead};
use crate::gateway::policy;
use crate::gateway::refusal::{self, Refusal};
use crate::gateway::response_plan::response_plan;
use crate::gateway::sse::SseRewriter;
use crate::gateway::state::GatewayState;
use crate::gateway::jsonrpc;

thread_local! {
    /// This isolate's memory between MCP requests (see `gateway::state`); isolates do not share it.
    static STATE: Rc<GatewayState> = Rc::new(GatewayState::default());
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's `fetch(url, init)`: no `Request` object is built first, and the answer
    /// stays a plain `web_sys::Response` (the `worker` crate's wrapper reads `cf` and
    /// `webSocket` from every response, which costs a crossing each and is never used here).
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &web_sys::RequestInit) -> Result<js_sys::Promise, JsValue>;
}

/// This isolate's gateway state (`hot` shares it).
pub(super) fn state() -> Rc<GatewayState> {
    STATE.with(Rc::clone)
}

/// The request's head, as the guard reads it.
struct Head<'a>(&'a Headers);

impl RequestHead for Head<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
    fn entries(&self) -> Vec<(String, String)> {
        self.0.entries().collect()
    }
}

/// `client_id` receives the verified token's client, for the request log.
/// `req` is the runtime's request as is (see `edge::fetch`): this path reads
/// only its headers and body.
/// `now_ms`: the request's time (the runtime's clock stands still while it runs).
pub async fn forward(req: &web_sys::Request, env: &Env, config: &Config, issuer: &str, method: &Method, now_ms: i64, client_id: &mut Option<String>) -> worker::Result<Response> {
    let now = now_ms / 1000;
    let req_headers = Headers(req.headers());
    let faults = Faults::of(&req_headers);
    let state = state();
    // The binding is looked up only when D1 is read (the revocation view is
    // stale or does not cover this token), not on every request.
    let revoked = D1Revocations::new(env, &faults);
    let guard = Guard { config, issuer, now, now_ms, state: &state, revoked: &revoked, crypto: &super::outbound::EdgeNet };
    let answer = match admit(&guard, &Head(&req_headers), client_id).await {
        // The rest is a function of its own (`apart`): the runtime compiles a wasm function
        // when it is first called, and a refused request (an isolate's first, often) needs none of it.
        Ok(admitted) => apart(send(req, env, config, issuer, method, now, &req_headers, &state, admitted)).await,
        Err(r) => refuse(r),
    };
    // The fault build's counters (D1 round trips: issue 14 wants none on the hot path); a no-op otherwise.
    if let Ok(resp) = &answer {
        faults.report(resp.headers());
    }
    answer
}

/// An admitted request: to the origin, and the origin's answer back.
#[allow(clippy::too_many_arguments)]
async fn send(
    req: &web_sys::Request,
    env: &Env,
    config: &Config,
    issuer: &str,
    method: &Method,
    now: i64,
    req_headers: &Headers,
    state: &GatewayState,
    admitted: Admitted,
) -> worker::Result<Response> {
    let fwd = &config.forward;
    // A piped body is handed to the origin request as the runtime's own
    // stream; a read one is checked against the limit as it arrives.
    let mut piped = None;
    let body = match (req.body(), &admitted.body) {
        (None, _) => None,
        (Some(stream), BodyPlan::Pipe) => {
            piped = Some(stream);
            None
        }
        (Some(stream), &BodyPlan::Read { declared, limit }) => match read_capped(stream, declared, limit).await {
            Ok(b) => Some(b),
            Err(BodyError::TooLarge) => return to_response(guard::too_large(limit)),
            Err(BodyError::Unreadable) => return rpc_error(400, jsonrpc::SERVER_ERROR, "the request body could not be read"),
        },
    };

    // The policy reads bodies only when one is configured: the plain hot path never parses JSON.
    let list_ids = match policy::check_body(fwd.tool_policy.as_ref(), &admitted, *method == Method::Post, body.as_deref().unwrap_or_default()) {
        Ok(ids) => ids,
        Err(answer) => return to_response(answer),
    };

    let binding = fetcher_binding(env);
    let client_ip = req_headers.get("cf-connecting-ip")?;
    let plan = match forward_plan(config, &super::outbound::EdgeNet, issuer, state, &admitted, now, client_ip, binding.is_some()).await {
        Ok(p) => p,
        Err(answer) => return to_response(answer),
    };
    let (h, url) = (Headers::new(), plan.url);
    for (name, value) in &plan.headers {
        h.set(name, value)?;
    }
    // The limit covers the response headers only: an open SSE stream's body
    // may last as long as the client keeps it, so the deadline ends when they come.
    let deadline = Deadline::start(fwd.timeout_secs)?;
    let init = web_sys::RequestInit::new();
    init.set_method(&method.to_string());
    init.set_headers(&h.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(&deadline.signal()));
    if let Some(stream) = &piped {
        init.set_body(stream);
    } else if let Some(b) = body.as_ref().filter(|b| !b.is_empty()) {
        init.set_body(&js_sys::Uint8Array::from(b.as_slice()).into());
    }
    let sent = match &binding {
        // A service binding or a Workers VPC service: both are fetchers.
        Some(fetcher) => call_fetcher(fetcher, url, &init),
        None => global_fetch(url, &init),
    };
    let Ok(promise) = sent else {
        return to_response(origin_failed(OriginFailure::Unusable, fwd.timeout_secs));
    };
    let sent = JsFuture::from(promise).await.and_then(|r| r.dyn_into::<web_sys::Response>());
    let resp = match sent {
        Ok(r) => r,
        // Asked only on a failure: a success costs no crossing for it.
        Err(_) if deadline.passed() => return to_response(origin_failed(OriginFailure::Timeout, fwd.timeout_secs)),
        Err(e) => return to_response(origin_failed(OriginFailure::Unreachable(worker::Error::from(e).to_string()), fwd.timeout_secs)),
    };
    // Ended before anything else is awaited (the filtered body below is).
    drop(deadline);

    let status = resp.status();
    let answer = response_plan(config, state, &admitted.grant, status, Headers(resp.headers()).entries().collect(), !list_ids.is_empty());
    let answer = match answer {
        Ok(a) => a,
        Err(r) => return refuse(r),
    };
    let out = Headers::new();
    for (k, v) in &answer.headers {
        out.append(k, v)?;
    }
    let is_sse = answer.is_sse;
    let builder = ResponseBuilder::new().with_status(status).with_headers(out);
    let filter = fwd.tool_policy.as_ref().filter(|_| answer.filter);
    let Some(policy) = filter else {
        // The origin's body stream is handed on as is: SSE events reach the
        // client as the origin writes them, without passing through wasm.
        return Ok(match resp.body() {
            Some(stream) => builder.stream(stream),
            None => builder.empty(),
        });
    };
    // Only with a tool policy: compiled only where one is configured.
    apart(filtered(resp, builder, policy.clone(), admitted.token.claims.client_id.clone(), list_ids, is_sse)).await
}

/// The origin's answer with the tool policy applied (`policy::rewrite_answer`):
/// event by event for an SSE stream, whole for a JSON body.
async fn filtered(resp: web_sys::Response, builder: ResponseBuilder, policy: ToolPolicy, client: String, list_ids: Vec<serde_json::Value>, is_sse: bool) -> worker::Result<Response> {
    let rewrite = move |data: &str| policy::rewrite_answer(&policy, &client, &list_ids, data);
    if is_sse {
        let Some(stream) = resp.body().map(ByteStream::from) else { return Ok(builder.empty()) };
        let rewriter = Rc::new(RefCell::new(SseRewriter::new(rewrite)));
        let tail = rewriter.clone();
        let events = stream
            .map(move |chunk| chunk.map(|c| rewriter.borrow_mut().push(&c)))
            .chain(futures_util::stream::once(async move { Ok(tail.borrow_mut().finish()) }));
        return builder.from_stream(events);
    }
    let bytes = js_sys::Uint8Array::new(&JsFuture::from(resp.array_buffer()?).await?).to_vec();
    // A body that is not UTF-8 is unreadable for the filter, not a reason to skip it.
    let rewritten = rewrite(std::str::from_utf8(&bytes).unwrap_or(crate::gateway::sse::UNREADABLE));
    Ok(builder.fixed(rewritten.map(String::into_bytes).unwrap_or(bytes)))
}

/// `ORIGIN` when bound to anything with a `fetch` method: a service binding,
/// or a Workers VPC service (`vpc_services`), whose runtime class is not the
/// `Fetcher` that `Env::service` insists on.
pub(super) fn fetcher_binding(env: &Env) -> Option<JsValue> {
    let b = js_sys::Reflect::get(env, &JsValue::from_str("ORIGIN")).ok()?;
    if b.is_undefined() || b.is_null() || b.is_string() {
        return None;
    }
    let f = js_sys::Reflect::get(&b, &JsValue::from_str("fetch")).ok()?;
    f.is_function().then_some(b)
}

fn call_fetcher(binding: &JsValue, url: &str, init: &web_sys::RequestInit) -> Result<js_sys::Promise, JsValue> {
    let fetch: js_sys::Function = js_sys::Reflect::get(binding, &JsValue::from_str("fetch"))?.dyn_into()?;
    fetch.call2(binding, &JsValue::from_str(url), init)?.dyn_into()
}

/// Why a fetch to the origin gave no answer.
pub(super) enum OriginFailure {
    /// The runtime refused the request before sending it.
    Unusable,
    /// No answer's headers within `ORIGIN_TIMEOUT_SECONDS`.
    Timeout,
    /// The fetch failed, with the runtime's error.
    Unreachable(String),
}

/// The answer for a fetch that failed, logged (`hot` gives the same).
pub(super) fn origin_failed(why: OriginFailure, timeout_secs: u64) -> crate::base::http::HttpResponse {
    match why {
        OriginFailure::Unusable => refusal::rpc(502, jsonrpc::SERVER_ERROR, "the origin URL is not usable"),
        OriginFailure::Timeout => {
            worker::console_error!("{}", serde_json::json!({"event": "origin_timeout", "seconds": timeout_secs}));
            refusal::rpc(504, jsonrpc::SERVER_ERROR, &format!("the MCP origin server did not answer within {timeout_secs} seconds"))
        }
        OriginFailure::Unreachable(error) => {
            worker::console_error!("{}", serde_json::json!({"event": "origin_unreachable", "error": error}));
            refusal::rpc(502, jsonrpc::SERVER_ERROR, "Gatehouse could not reach the MCP origin server")
        }
    }
}

/// A refusal from the guard, logged when it says so.
fn refuse(r: Refusal) -> worker::Result<Response> {
    to_response(logged(r))
}

/// A refusal's answer, its log line written when it has one (`hot` answers the same way).
pub(super) fn logged(r: Refusal) -> crate::base::http::HttpResponse {
    if let Some(log) = r.log {
        worker::console_error!("{}", log);
    }
    r.answer
}

/// A gateway answer in JSON-RPC shape, so MCP clients show the message.
fn rpc_error(status: u16, code: i64, message: &str) -> worker::Result<Response> {
    to_response(refusal::rpc(status, code, message))
}
