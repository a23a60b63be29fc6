//! The `/mcp` hot path: a `POST /mcp` whose every check answers from this
//! isolate's memory (configuration, verified token, revocation view, identity
//! assertion) is decided by synchronous Rust and carried by `hot.js`, with no
//! Rust future, no wasm-bindgen closure made for it and its header lists
//! crossing as one string each way. The work and its order are `mcp::forward`'s,
//! and so are the answers; what it saves is the runtime's cost of driving
//! Rust futures and of a crossing per header field, ~0.07 ms of workerd CPU per
//! `tools/call`, a third of Gatehouse's cost above the no-auth passthrough
//! (bench/NOTES.md, session 32; issue 14, targets 1 and 2).
//!
//! Anything else (a first request, a token or revocation view to check
//! against storage or WebCrypto, a body read for a size limit or a tool
//! policy, a service binding, other methods and paths) goes the usual way:
//! `serve` answers `None` and `entry` runs the full path from the start, so
//! nothing here is the only place a rule lives. The fault build takes this
//! path too and marks its answers (`x-gatehouse-test-path: hot`, no
//! statement, no round trip: nothing here can await storage).

use futures_util::FutureExt;
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::JsValue;
use worker::Env;

use super::isolate_config::cached_config;
use super::mcp::{origin_failed, OriginFailure};
use super::d1::faults::Faults;
use super::d1::revoked_grants::D1Revocations;
use super::routes::{self, Endpoint};
use crate::base::error::{ErrorCode, OAuthError};
use crate::base::http::HttpResponse;
use crate::base::security_headers::{self, Facts};
use crate::base::types::GrantId;
use crate::config::Config;
use crate::gateway::forward_plan::forward_plan;
use crate::gateway::guard::{admit, BodyPlan, Guard, HeaderPairs, RequestHead};
use crate::gateway::refusal::Refusal;
use crate::gateway::response_plan::response_plan;
use crate::operate::request_log;

#[wasm_bindgen(module = "/src/edge/hot.js")]
extern "C" {
    #[wasm_bindgen(js_name = headerLines)]
    fn header_lines(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(js_name = forward)]
    fn js_forward(request: &web_sys::Request, url: &str, timeout_ms: f64, lines: &str, context: &str, answer: &JsValue, failed: &JsValue) -> js_sys::Promise;
}

thread_local! {
    /// `hot.js`'s two callbacks, made once per isolate: a closure per request
    /// is part of what this path exists to save.
    static CALLBACKS: (JsValue, JsValue) = (
        Closure::<dyn Fn(String, u16, String) -> JsValue>::new(answer).into_js_value(),
        Closure::<dyn Fn(String, String, String) -> JsValue>::new(failed).into_js_value(),
    );
}

thread_local! {
    /// The route every answer here is for, looked up once per isolate rather than per answer.
    static MCP_POST: routes::Route = routes::route("POST", "/mcp", || false);
}

fn pairs(lines: &str) -> Vec<(String, String)> {
    let mut parts = lines.split('\n');
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        out.push((k.to_string(), v.to_string()));
    }
    out
}

fn lines_of(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('\n');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// What the answer needs of the request, carried through `hot.js` as one string.
struct Context {
    grant: String,
    https: bool,
    started: f64,
    client_id: String,
}

impl Context {
    fn encode(&self) -> String {
        // The time as whole milliseconds (what `Date.now()` gives): parsing a float back would
        // bring the float parser into the wasm (~15 KB gzip).
        format!("{}\n{}\n{}\n{}", self.grant, u8::from(self.https), self.started as i64, self.client_id)
    }
    fn decode(s: &str) -> Option<Context> {
        let mut p = s.splitn(4, '\n');
        let (grant, https) = (p.next()?.to_string(), p.next()? == "1");
        let started = p.next()?.parse::<i64>().ok()? as f64;
        Some(Context { grant, https, started, client_id: p.next()?.to_string() })
    }
    /// An admitted request's facts for an answer of Gatehouse's own (it carried a bearer token).
    fn asked(&self) -> Asked<'_> {
        Asked { https: self.https, started: self.started, client_id: Some(self.client_id.as_str()), authorization: true }
    }
}

/// What an answer of Gatehouse's own needs of the request: the response layer's scheme and the log line's facts.
struct Asked<'a> {
    https: bool,
    started: f64,
    client_id: Option<&'a str>,
    /// It had an `Authorization` header (`request_log::written`).
    authorization: bool,
}

/// The answer to `req`, when the hot path can give it; `None`: take the usual way.
pub fn serve(req: &web_sys::Request, env: &Env, started: f64) -> Option<js_sys::Promise> {
    if req.method() != "POST" {
        return None;
    }
    let config = cached_config()?;
    let url = url::Url::parse(&req.url()).ok()?;
    let route = routes::route("POST", url.path(), || false);
    if route.endpoint() != Some(Endpoint::Mcp) || super::mcp::fetcher_binding(env).is_some() {
        return None;
    }
    let https = url.scheme() == "https";
    let issuer = config.issuer(&url.origin().ascii_serialization());
    let state = super::mcp::state();
    let headers = worker::Headers(req.headers());
    let faults = Faults::of(&headers);
    let revoked = D1Revocations::new(env, &faults);
    let now_ms = started as i64;
    let guard = Guard { config: &config, issuer: &issuer, now: now_ms / 1000, now_ms, state: &state, revoked: &revoked, crypto: &super::outbound::EdgeNet };
    let head = HeaderPairs(pairs(&header_lines(&headers.0)));
    let mut client_id = None;
    // Ready at once, or it would wait on storage or WebCrypto: then the usual way, from the start.
    let admitted = match admit(&guard, &head, &mut client_id).now_or_never()? {
        Ok(a) => a,
        Err(r) => {
            let asked = Asked { https, started, client_id: client_id.as_deref(), authorization: head.header("authorization").is_some() };
            return Some(js_sys::Promise::resolve(&refused(&config, r, &asked)));
        }
    };
    if admitted.body != BodyPlan::Pipe || config.forward.tool_policy.is_some() {
        return None;
    }
    let ip = head.header("cf-connecting-ip");
    let plan = match forward_plan(&config, &super::outbound::EdgeNet, &issuer, &state, &admitted, now_ms / 1000, ip, false).now_or_never()? {
        Ok(p) => p,
        Err(answer) => {
            let asked = Asked { https, started, client_id: client_id.as_deref(), authorization: true };
            return Some(js_sys::Promise::resolve(&answered(&config, answer, &asked)));
        }
    };
    let context = Context { grant: admitted.grant.as_str().to_string(), https, started, client_id: client_id.unwrap_or_default() };
    let timeout_ms = config.forward.timeout_secs as f64 * 1000.0;
    CALLBACKS.with(|(answer, failed)| Some(js_forward(req, plan.url, timeout_ms, &lines_of(&plan.headers), &context.encode(), answer, failed)))
}

/// The origin's answer: its header lines for the client (its body then goes on as is), or a whole response.
fn answer(context: String, status: u16, lines: String) -> JsValue {
    let (Some(config), Some(c)) = (cached_config(), Context::decode(&context)) else {
        return internal_error();
    };
    let state = super::mcp::state();
    match response_plan(&config, &state, &GrantId::new(c.grant.as_str()), status, pairs(&lines), false) {
        Ok(plan) => {
            let mut headers = plan.headers;
            security_headers::apply_to(&security_headers::ops(facts(c.https, status)), &mut headers);
            Faults::report_hot(&mut headers);
            log_request(&config, status, &c.asked());
            lines_of(&headers).into()
        }
        Err(r) => refused(&config, r, &c.asked()),
    }
}

/// The origin could not be reached, did not answer in time, or its URL was refused (`mcp::send`'s answers).
fn failed(context: String, why: String, error: String) -> JsValue {
    let (Some(config), Some(c)) = (cached_config(), Context::decode(&context)) else {
        return internal_error();
    };
    let why = match why.as_str() {
        "timeout" => OriginFailure::Timeout,
        "unusable" => OriginFailure::Unusable,
        _ => OriginFailure::Unreachable(error),
    };
    let answer = origin_failed(why, config.forward.timeout_secs);
    answered(&config, answer, &c.asked())
}

/// The response layer's facts for `/mcp` (`routes`: CORS, the origin's caching).
fn facts(https: bool, status: u16) -> Facts {
    let route = MCP_POST.with(|r| *r);
    Facts { https, cors: route.cors(), status, caching: route.caching() }
}

fn refused(config: &Config, r: Refusal, asked: &Asked) -> JsValue {
    answered(config, super::mcp::logged(r), asked)
}

/// Gatehouse's own answer, with the response layer and the request log line the entry gives every answer.
fn answered(config: &Config, mut r: HttpResponse, asked: &Asked) -> JsValue {
    security_headers::apply_to(&security_headers::ops(facts(asked.https, r.status)), &mut r.headers);
    Faults::report_hot(&mut r.headers);
    log_request(config, r.status, asked);
    match super::convert::to_response(r) {
        Ok(resp) => web_sys::Response::from(resp).into(),
        Err(_) => internal_error(),
    }
}

fn log_request(config: &Config, status: u16, asked: &Asked) {
    if request_log::written(true, status, config.log_mcp_successes, || asked.authorization) {
        let client_id = asked.client_id.filter(|c| !c.is_empty());
        worker::console_log!("{}", request_log::line("mcp", "POST", status, client_id, js_sys::Date::now() - asked.started));
    }
}

/// A failure of the runtime itself, as the entry reports one (its configuration is gone only if
/// the module was started again under a request in flight; a header the runtime refused).
fn internal_error() -> JsValue {
    worker::console_error!("{}", serde_json::json!({"event": "internal_error", "route": "mcp", "error": "the hot path could not answer"}));
    let r = HttpResponse::oauth_error(&OAuthError::new(ErrorCode::TemporarilyUnavailable, "internal error, try again"));
    super::convert::to_response(r).map(|resp| web_sys::Response::from(resp).into()).unwrap_or(JsValue::UNDEFINED)
}
