//! Forwarding MCP traffic (Streamable HTTP, including SSE) to the origin.
//! The client's token never leaves the gateway (MCP authorization: token
//! passthrough is forbidden); the origin learns who is calling from
//! `X-Gatehouse-*` headers and a signed assertion that only the gateway can
//! set. What to forward, bind, refuse or rewrite is decided in
//! `crate::gateway`; this file moves bytes and headers.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{AbortController, ByteStream, Delay, Env, Headers, Method, Response, ResponseBuilder};

use super::body::{read_capped, BodyError};
use crate::gateway::assertion::{AssertionCache, Identity};
use crate::config::forwarding::SERVICE_BINDING_URL;
use crate::gateway::mirrored_headers::MirroredHeaders;
use crate::gateway::policy::{self, Decision};
use crate::gateway::mcp_session::McpSessionKey;
use crate::gateway::sse::SseRewriter;
use crate::gateway::{headers, jsonrpc};
use crate::gateway::verified_tokens::VerifiedTokens;
use crate::config::Config;
use crate::protocol::discovery as metadata;
use crate::base::resource::accepted_resources;
use crate::base::types::GrantId;

thread_local! {
    /// Identity assertions reused for a few seconds per caller (see `gateway::assertion`).
    static ASSERTIONS: RefCell<AssertionCache> = RefCell::new(AssertionCache::default());
    /// Tokens already verified in this isolate (see `gateway::verified_tokens`).
    static VERIFIED: RefCell<VerifiedTokens> = RefCell::new(VerifiedTokens::new());
    /// The session-id key of the signing key with this `kid`: derived once, not per request.
    static SESSION_KEY: RefCell<Option<(String, Rc<McpSessionKey>)>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's `fetch(url, init)`: no `Request` object is built first, and the answer
    /// stays a plain `web_sys::Response` (the `worker` crate's wrapper reads `cf` and
    /// `webSocket` from every response, which costs a crossing each and is never used here).
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &web_sys::RequestInit) -> Result<js_sys::Promise, JsValue>;
}

fn session_key(config: &Config) -> Rc<McpSessionKey> {
    let kid = config.signing_key.kid();
    SESSION_KEY.with(|k| {
        let mut k = k.borrow_mut();
        match &*k {
            Some((cached, key)) if cached == kid => key.clone(),
            _ => {
                let key = Rc::new(McpSessionKey::new(&config.signing_key));
                *k = Some((kid.to_string(), key.clone()));
                key
            }
        }
    })
}

/// `client_id` receives the verified token's client, for the request log.
/// `req` is the runtime's request as is (see `edge::fetch`): this path reads
/// only its headers and body.
pub async fn forward(req: &web_sys::Request, env: &Env, config: &Config, issuer: &str, now: i64, client_id: &mut Option<String>) -> worker::Result<Response> {
    let req_headers = Headers(req.headers());
    let token = match bearer(&req_headers)? {
        Some(t) => t,
        None => return unauthorized(issuer, config, None),
    };
    let checked = VERIFIED.with(|c| c.borrow_mut().verify(config.verification_keys(), &token, now, issuer, &accepted_resources(issuer)));
    let verified = match checked {
        Ok(v) => v,
        Err(e) => return unauthorized(issuer, config, Some(&e.description)),
    };
    *client_id = Some(verified.claims.client_id.clone());
    let faults = super::d1_faults::Faults::of(&req_headers);
    if let Some(refusal) = super::token_gate::refuse(env, &faults, config, issuer, &verified).await? {
        return Ok(refusal);
    }
    let claims = &verified.claims;
    let fwd = &config.forward;
    let grant = GrantId::new(claims.gid.clone());

    let mut forwarded = match headers::forward_request(req_headers.entries()) {
        Ok(f) => f,
        Err(headers::TooLarge(why)) => return rpc_error(431, jsonrpc::SERVER_ERROR, &format!("Request Header Fields Too Large: {why}")),
    };
    // Session ids are bound to the grant: anything else is an unknown session.
    // A request without one (every 2026-07-28 request) is forwarded without.
    for (name, value) in forwarded.iter_mut() {
        if name == "mcp-session-id" {
            match session_key(config).unwrap(&grant, value) {
                Some(origin_id) => *value = origin_id,
                None => return rpc_error(404, jsonrpc::SESSION_NOT_FOUND, "Session not found: this session id does not belong to this authorization; send initialize to start a new session"),
            }
        }
    }

    let method = Method::from(req.method());
    let declared = req_headers.get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > fwd.max_body_bytes as u64) {
        return rpc_error(413, jsonrpc::SERVER_ERROR, &format!("request body too large: the gateway accepts at most {} bytes", fwd.max_body_bytes));
    }
    // Without a tool policy the body is not looked at, and a body of declared
    // length is handed to the origin request as the runtime's own stream, without
    // its bytes crossing into wasm: the runtime frames an incoming body by its
    // `Content-Length` (with `Transfer-Encoding` also sent, workerd drops the
    // length, and the body is read here), so the limit checked above holds.
    // Bodies of unknown length, and bodies a policy reads, are read here with the
    // limit checked as they arrive.
    let framed = declared.is_some_and(|n| n > 0) && !req_headers.has("transfer-encoding").unwrap_or(true);
    let mut piped = None;
    let body = match req.body() {
        None => None,
        Some(stream) if framed && fwd.tool_policy.is_none() => {
            piped = Some(stream);
            None
        }
        Some(stream) => match read_capped(stream, declared, fwd.max_body_bytes).await {
            Ok(b) => Some(b),
            Err(BodyError::TooLarge) => {
                return rpc_error(413, jsonrpc::SERVER_ERROR, &format!("request body too large: the gateway accepts at most {} bytes", fwd.max_body_bytes))
            }
            Err(BodyError::Unreadable) => return rpc_error(400, jsonrpc::SERVER_ERROR, "the request body could not be read"),
        }
    };

    // The policy reads bodies only when one is configured: the plain hot path never parses JSON.
    let mut list_ids = Vec::new();
    if let Some(policy) = &fwd.tool_policy {
        let decision = if method == Method::Post {
            let header = |n: &str| forwarded.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            let (content_type, mirrored) = (header("content-type"), MirroredHeaders::read(header));
            let message = policy::Message { content_type: content_type.as_deref(), headers: &mirrored, body: body.as_deref().unwrap_or_default() };
            policy::decide(policy, &claims.client_id, &message)
        } else {
            // MCP sends messages only by POST; a body on another method is
            // one the policy would not have read.
            policy::decide_other_method(body.as_deref().unwrap_or_default())
        };
        match decision {
            Decision::Refuse { status, answer } => return json_response(status, answer.to_string().into_bytes()),
            Decision::Forward { list_ids: ids } => list_ids = ids,
        }
    }

    let h = Headers::new();
    for (name, value) in &forwarded {
        h.set(name, value)?;
    }
    h.set("x-gatehouse-user", &claims.sub)?;
    h.set("x-gatehouse-client", &claims.client_id)?;
    h.set("x-gatehouse-scope", &claims.scope)?;
    let who = Identity { iss: issuer, aud: &fwd.audience, sub: &claims.sub, client_id: &claims.client_id, scope: &claims.scope };
    match ASSERTIONS.with(|c| c.borrow_mut().get_or_sign(&config.signing_key, &who, now)) {
        Ok(a) => h.set("x-gatehouse-assertion", &a)?,
        Err(_) => return rpc_error(503, jsonrpc::SERVER_ERROR, "the gateway could not sign the identity assertion; try again"),
    }
    if let Some(ip) = req_headers.get("cf-connecting-ip")? {
        h.set("x-forwarded-for", &ip)?;
    }
    if let Some((id, secret)) = &fwd.access {
        h.set("cf-access-client-id", id)?;
        h.set("cf-access-client-secret", secret.expose())?;
    }
    if let Some((name, secret)) = &fwd.shared_secret {
        h.set(name, secret.expose())?;
    }

    let binding = fetcher_binding(env);
    // With a binding, ORIGIN_URL (when set) is the URL handed to it: for a Workers VPC service
    // its scheme picks plain HTTP or TLS for the tunnel's last hop and its path is the MCP
    // endpoint (the host and port are the VPC service's own).
    let url = match (&binding, &fwd.origin_url) {
        (Some(_), Some(u)) => u.as_str(),
        (Some(_), None) => SERVICE_BINDING_URL,
        (None, Some(u)) => u.as_str(),
        (None, None) => return rpc_error(502, jsonrpc::SERVER_ERROR, "Gatehouse has no origin configured: set ORIGIN_URL or bind a service named ORIGIN"),
    };
    let controller = AbortController::default();
    let init = web_sys::RequestInit::new();
    init.set_method(&method.to_string());
    init.set_headers(&h.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
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
        return rpc_error(502, jsonrpc::SERVER_ERROR, "the origin URL is not usable");
    };
    let send = Box::pin(async move { JsFuture::from(promise).await.and_then(|r| r.dyn_into::<web_sys::Response>()) });
    // The limit covers the response headers only: an open SSE stream's body
    // may last as long as the client keeps it.
    let timer = Box::pin(Delay::from(Duration::from_secs(fwd.timeout_secs)));
    let resp = match select(send, timer).await {
        Either::Left((Ok(r), _)) => r,
        Either::Left((Err(e), _)) => {
            let e = worker::Error::from(e);
            worker::console_error!("{}", serde_json::json!({"event": "origin_unreachable", "error": e.to_string()}));
            return rpc_error(502, jsonrpc::SERVER_ERROR, "Gatehouse could not reach the MCP origin server");
        }
        Either::Right(_) => {
            controller.abort();
            worker::console_error!("{}", serde_json::json!({"event": "origin_timeout", "seconds": fwd.timeout_secs}));
            return rpc_error(504, jsonrpc::SERVER_ERROR, &format!("the MCP origin server did not answer within {} seconds", fwd.timeout_secs));
        }
    };

    let status = resp.status();
    let resp_headers = Headers(resp.headers());
    let content_type = resp_headers.get("content-type")?;
    if let Some((code, message)) = jsonrpc::origin_failure(status, content_type.as_deref()) {
        worker::console_error!("{}", serde_json::json!({"event": "origin_error", "status": status}));
        return rpc_error(code, jsonrpc::SERVER_ERROR, &message);
    }
    let named = headers::connection_named(resp_headers.get("connection")?.as_deref());
    let out = Headers::new();
    for (k, v) in resp_headers.entries() {
        if !headers::keep_response(&k, &named) {
            continue;
        }
        if k.eq_ignore_ascii_case("mcp-session-id") {
            out.set(&k, &session_key(config).wrap(&grant, &v))?;
        } else {
            out.append(&k, &v)?;
        }
    }
    let is_sse = content_type.as_deref().is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    if is_sse {
        out.set("cache-control", "no-cache")?;
    }
    let builder = ResponseBuilder::new().with_status(status).with_headers(out);
    let filter = fwd.tool_policy.as_ref().filter(|_| !list_ids.is_empty() && status == 200);
    let Some(policy) = filter else {
        // The origin's body stream is handed on as is: SSE events reach the
        // client as the origin writes them, without passing through wasm.
        return Ok(match resp.body() {
            Some(stream) => builder.stream(stream),
            None => builder.empty(),
        });
    };
    let (policy, client) = (policy.clone(), claims.client_id.clone());
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
fn fetcher_binding(env: &Env) -> Option<JsValue> {
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

/// The bearer token from `Authorization` only: tokens in the query string or
/// body are ignored (OAuth 2.1 §5.1.1).
fn bearer(headers: &Headers) -> worker::Result<Option<String>> {
    let Some(h) = headers.get("authorization")? else { return Ok(None) };
    let Some((scheme, token)) = h.trim().split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(token.trim().to_string()))
}

fn unauthorized(issuer: &str, config: &Config, error: Option<&str>) -> worker::Result<Response> {
    let h = Headers::new();
    h.set("www-authenticate", &metadata::challenge(issuer, config, error))?;
    h.set("content-type", "application/json")?;
    h.set("cache-control", "no-store")?;
    let body = serde_json::json!({
        "error": if error.is_some() { "invalid_token" } else { "unauthorized" },
        "error_description": error.unwrap_or("a bearer token is required"),
    });
    Ok(ResponseBuilder::new().with_status(401).with_headers(h).fixed(body.to_string().into_bytes()))
}

/// A gateway answer in JSON-RPC shape, so MCP clients show the message.
fn rpc_error(status: u16, code: i64, message: &str) -> worker::Result<Response> {
    json_response(status, jsonrpc::error_body(code, message))
}

fn json_response(status: u16, body: Vec<u8>) -> worker::Result<Response> {
    let h = Headers::new();
    h.set("content-type", "application/json")?;
    h.set("cache-control", "no-store")?;
    Ok(ResponseBuilder::new().with_status(status).with_headers(h).fixed(body))
}
