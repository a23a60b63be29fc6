//! The worker's entry points (fetch and the cron trigger): request and
//! response conversion around the route table (`routes`), and the layers
//! every response passes through (CORS where allowed, security headers, a
//! log line). Protocol decisions live below `edge`.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{event, Env, Headers, Method, Request, Response, ResponseBuilder};

use super::routes::{self, Endpoint, Errors, Route};
use super::convert::to_response;
use super::d1::faults;
use super::apart::apart;
use super::{body, mcp, outbound};
use super::isolate_config::{cached_config, load_config};

use crate::base::page;
use crate::protocol::context::Ctx;
use crate::base::error::{ErrorCode, OAuthError};
use crate::base::http::{HttpRequest, HttpResponse, MAX_BODY};
use crate::base::security_headers::{self, Facts, Op, ALLOW_METHODS};
use crate::identity::consent;
use crate::protocol::{introspect, register, revoke, token};
use crate::protocol::discovery as metadata;
use crate::operate::{admin, maintenance, request_log};
use crate::identity::sign_in::passkey::handlers as passkey;
use super::d1::D1Store;

/// The worker's fetch handler (what `#[event(fetch)]` would export, without
/// starting a Rust future when `hot` can answer synchronously). Takes the
/// runtime's request as is: the MCP path reads only headers and body, and
/// `worker::Request` would read `request.cf` on every request.
#[wasm_bindgen(js_name = fetch)]
pub fn fetch_handler(raw: web_sys::Request, env: Env, _ctx: JsValue) -> js_sys::Promise {
    console_error_panic_hook::set_once();
    let started = js_sys::Date::now();
    if let Some(answer) = super::hot::serve(&raw, &env, started) {
        return answer;
    }
    wasm_bindgen_futures::future_to_promise(async move {
        let resp = match fetch(raw, env, started).await {
            Ok(resp) => resp,
            // As `#[event(fetch)]` answers a handler's error.
            Err(e) => {
                worker::console_error!("{}", e);
                Response::error("INTERNAL SERVER ERROR", 500)?
            }
        };
        Ok(web_sys::Response::from(resp).into())
    })
}

/// Every request the hot path does not answer. Other routes get the `worker::Request`.
async fn fetch(raw: web_sys::Request, env: Env, started: f64) -> worker::Result<Response> {
    // The runtime hands over a parsed URL's serialization: this parse does not fail in practice.
    let Ok(url) = url::Url::parse(&raw.url()) else {
        return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("malformed request URL")));
    };
    let method = Method::from(raw.method());
    #[cfg(feature = "test-faults")]
    if let Some(answer) = super::conformance::serve(&raw.method(), &url, &env).await {
        return answer;
    }
    let path = url.path().to_string();
    let https = url.scheme() == "https";
    let headers = Headers(raw.headers());
    let r = routes::route(method.as_ref(), &path, || {
        headers.has("mcp-session-id").unwrap_or(false)
            || headers.get("accept").ok().flatten().is_some_and(|a| a.contains("text/event-stream"))
    });
    let mut client_id = None;
    let outcome = if r.endpoint() == Some(Endpoint::Mcp) {
        apart(mcp(&raw, &env, &url, &method, started, &mut client_id)).await
    } else {
        apart(dispatch(r, &mut Request::from(raw), &env, &mut client_id)).await
    };
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(e) => {
            // A failure of the runtime itself (not of the request): say so
            // in the OAuth shape, keep details in the log.
            worker::console_error!("{}", serde_json::json!({"event": "internal_error", "route": r.name(), "error": e.to_string()}));
            to_response(HttpResponse::oauth_error(&OAuthError::new(ErrorCode::TemporarilyUnavailable, "internal error, try again")))?
        }
    };
    let facts = Facts { https, cors: r.cors(), status: resp.status_code(), caching: r.caching() };
    apply_layers(&mut resp, facts)?;
    let log_mcp_successes = cached_config().is_some_and(|c| c.log_mcp_successes);
    if request_log::written(r.endpoint() == Some(Endpoint::Mcp), resp.status_code(), log_mcp_successes, || headers.has("authorization").unwrap_or(true)) {
        // The route's name, never the path or query: either may carry a secret.
        worker::console_log!(
            "{}",
            request_log::line(r.name(), method.as_ref(), resp.status_code(), client_id.as_deref(), js_sys::Date::now() - started)
        );
    }
    Ok(resp)
}

/// The one response layer (see `security_headers`). It touches headers
/// only, so a streamed body stays streamed.
fn apply_layers(resp: &mut Response, facts: Facts) -> worker::Result<()> {
    let h = resp.headers_mut();
    for op in security_headers::ops(facts) {
        match op {
            Op::Set(name, value) => h.set(name, value)?,
            Op::SetIfAbsent(name, value) => {
                if !h.has(name)? {
                    h.set(name, value)?;
                }
            }
            Op::Remove(name) => h.delete(name)?,
        }
    }
    Ok(())
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The MCP endpoint: the configuration, then `mcp::forward`. `method` and
/// `started` (the request's time, in ms) as the entry read them.
async fn mcp(req: &web_sys::Request, env: &Env, url: &url::Url, method: &Method, started: f64, client_id: &mut Option<String>) -> worker::Result<Response> {
    let config = match load_config(env).await {
        Ok(c) => c,
        Err(e) => return config_error(Errors::Json, &e),
    };
    let issuer = config.issuer(&url.origin().ascii_serialization());
    mcp::forward(req, env, &config, &issuer, method, started as i64, client_id).await
}

/// `client_id` is filled in for the request log when the request names one.
async fn dispatch(r: Route, req: &mut Request, env: &Env, client_id: &mut Option<String>) -> worker::Result<Response> {
    let endpoint = match r {
        Route::Preflight => {
            let h = Headers::new();
            h.set("access-control-allow-methods", ALLOW_METHODS)?;
            h.set("access-control-allow-headers", &security_headers::allow_headers(req.headers().get("access-control-request-headers")?.as_deref()))?;
            h.set("access-control-max-age", "86400")?;
            return Ok(ResponseBuilder::new().with_status(204).with_headers(h).empty());
        }
        Route::NotFound { .. } => return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404)),
        Route::WrongMethod { allow, .. } => {
            let e = OAuthError::invalid_request(format!("method not allowed on this endpoint; use {allow}"));
            return to_response(HttpResponse::oauth_error(&e).with_status(405).with_header("allow", allow));
        }
        Route::Endpoint { endpoint, .. } => endpoint,
    };
    let config = match load_config(env).await {
        Ok(c) => c,
        Err(e) => return config_error(r.errors(), &e),
    };
    let url = req.url()?;
    let origin = url.origin().ascii_serialization();
    let issuer = config.issuer(&origin);
    let http = match read_request(req, url, origin).await? {
        Ok(h) => h,
        Err(e) => return to_response(e),
    };
    // CIMD_FETCH: optional egress proxy for metadata document fetches.
    let faults = std::rc::Rc::new(faults::Faults::of(&req.headers()));
    let store = D1Store::new(env.d1("DB")?)
        .with_document_fetcher(env.service("CIMD_FETCH").ok())
        .with_claim_delay_ms(config.test_claim_delay_ms)
        .with_faults(faults.clone());
    let ctx = Ctx { config: &config, store: &store, issuer: issuer.clone(), now: now() };
    let resp = match endpoint {
        // Both forms describe the one protected resource, the MCP endpoint:
        // clients that fall back to the root form must still get its URL.
        Endpoint::ProtectedResource => HttpResponse::json(200, &metadata::protected_resource(&issuer, &format!("{issuer}/mcp"), &config)),
        Endpoint::AuthorizationServer => HttpResponse::json(200, &metadata::authorization_server(&issuer, &config)),
        Endpoint::Jwks => HttpResponse::json(200, &crate::base::signing_key::jwk_set(config.verification_keys())),
        Endpoint::Register => apart(register::handle(&ctx, &http)).await,
        // Cloudflare Access, when configured, signs the person in first.
        Endpoint::Authorize => apart(crate::identity::sign_in::cloudflare_access::authorize(&ctx, &http, &outbound::EdgeNet)).await,
        Endpoint::Login => apart(crate::identity::sign_in::password::login(&ctx, &http)).await,
        Endpoint::ConsentShow => apart(consent::show(&ctx, &http)).await,
        Endpoint::ConsentDecide => apart(consent::decide(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::Callback => apart(crate::identity::sign_in::delegate::callback(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::Token => apart(token::handle(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::Revoke => apart(revoke::handle(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::Introspect => apart(introspect::handle(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::AdminShow => apart(crate::operate::admin::access::show(&ctx, &http, &outbound::EdgeNet)).await,
        Endpoint::AdminPost => apart(admin::post(&ctx, &http)).await,
        Endpoint::PasskeyScript => passkey::script(),
        Endpoint::PasskeyChallenge => apart(passkey::challenge(&ctx, &http)).await,
        Endpoint::PasskeyLogin => apart(passkey::login(&ctx, &outbound::EdgeNet, &http)).await,
        Endpoint::PasskeySetupShow => apart(passkey::setup_show(&ctx, &http)).await,
        Endpoint::PasskeySetup => apart(passkey::setup(&ctx, &http)).await,
        Endpoint::PasskeysShow => apart(passkey::show(&ctx, &http)).await,
        Endpoint::PasskeysPost => apart(passkey::post(&ctx, &http)).await,
        Endpoint::Home => home(&issuer),
        // Dispatched before the configuration is read (`fetch`).
        Endpoint::Mcp => HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404),
    };
    *client_id = request_log::client_id(&http, &resp);
    let answer = to_response(resp)?;
    faults.report(&answer.headers());
    Ok(answer)
}

/// A configuration that does not load: a page for the pages, OAuth JSON otherwise.
fn config_error(errors: Errors, e: &crate::config::vars::ConfigError) -> worker::Result<Response> {
    worker::console_error!("{}", serde_json::json!({"event": "config_error", "variable": e.variable, "problem": e.problem}));
    to_response(match errors {
        Errors::Page => page::error_page(503, "Gatehouse is not configured", &e.to_string()),
        Errors::Json => HttpResponse::oauth_error(&OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string())),
    })
}

/// The cron trigger: removes stale rows (see `oauth::maintenance`) and logs
/// one JSON line with the count per table.
#[event(scheduled)]
async fn scheduled(event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    console_error_panic_hook::set_once();
    let config = match load_config(&env).await {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"event": "cleanup_skipped", "config_error": e.variable}));
            return;
        }
    };
    let db = match env.d1("DB") {
        Ok(db) => db,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"event": "cleanup_failed", "error": e.to_string()}));
            return;
        }
    };
    match maintenance::run(&D1Store::new(db), &config, now()).await {
        Ok(removed) => worker::console_log!("{}", serde_json::json!({"event": "cleanup", "cron": event.cron(), "removed": removed})),
        Err(e) => worker::console_error!("{}", serde_json::json!({"event": "cleanup_failed", "error": e.0})),
    }
}

fn home(issuer: &str) -> HttpResponse {
    page::page(
        200,
        "Gatehouse",
        &format!(
            "<h1>Gatehouse is running</h1><p>Add this URL to your MCP client as a remote (custom) connector:</p><p><code>{}/mcp</code></p>",
            html_escape::encode_safe(issuer)
        ),
    )
}

/// Reads a request for the protocol core, refusing an oversized body by its
/// declared length, else while reading it (`body::read_capped`).
async fn read_request(req: &mut Request, url: url::Url, origin: String) -> worker::Result<Result<HttpRequest, HttpResponse>> {
    let too_large = || HttpResponse::oauth_error(&OAuthError::invalid_request("request body too large")).with_status(413);
    let declared = req.headers().get("content-length")?.and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Ok(Err(too_large()));
    }
    let stream = if req.method() == Method::Post { req.inner().body() } else { None };
    let body = match stream {
        None => Vec::new(),
        Some(stream) => match body::read_capped(stream, declared, MAX_BODY).await {
            Ok(b) => b,
            Err(body::BodyError::TooLarge) => return Ok(Err(too_large())),
            Err(body::BodyError::Unreadable) => return Ok(Err(HttpResponse::oauth_error(&OAuthError::invalid_request("the request body could not be read")))),
        },
    };
    Ok(Ok(HttpRequest {
        method: req.method().to_string(),
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers: req.headers().entries().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
        body,
        origin,
    }))
}
