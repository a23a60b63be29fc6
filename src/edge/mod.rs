//! The worker adapter: one routing table, request/response conversion, and
//! the layers every response passes through (CORS where allowed, security
//! headers, a log line). Protocol decisions live in `crate::oauth`.

mod body;
mod cimd_fetch;
mod d1;
mod d1_faults;
mod d1_maintenance;
mod d1_policy;
mod d1_revoked_grants;
mod d1_cimd;
mod d1_client_assertion;
mod d1_admin;
mod d1_audit;
mod d1_upstream;
mod d1_consent;
mod d1_passkey;
mod d1_limits;
mod d1_sessions;
pub(crate) mod outbound;
mod mcp;
mod webcrypto;

use worker::{event, Context, Env, Headers, Method, Request, Response, ResponseBuilder};

use crate::base::page;
use crate::config::Config;
use crate::oauth::context::Ctx;
use crate::base::error::{ErrorCode, OAuthError};
use crate::base::http::{HttpRequest, HttpResponse, MAX_BODY};
use crate::base::security_headers::{self, Caching, Facts, Op, ALLOW_METHODS};
use crate::oauth::{consent, introspect, register, revoke, token};
use crate::protocol::discovery as metadata;
use crate::operate::{admin, maintenance, request_log};
use crate::oauth::login::passkey::handlers as passkey;
use d1::D1Store;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    ProtectedResource,
    AuthorizationServer,
    Jwks,
    Register,
    Authorize,
    Login,
    ConsentShow,
    ConsentDecide,
    Callback,
    Token,
    Revoke,
    Introspect,
    AdminShow,
    AdminPost,
    PasskeyScript,
    PasskeyChallenge,
    PasskeyLogin,
    PasskeySetupShow,
    PasskeySetup,
    PasskeysShow,
    PasskeysPost,
    Mcp,
    Home,
    Preflight,
    WrongMethod,
    NotFound,
}

/// Paths that exist but only for some methods: anything else on them is a 405.
const OAUTH_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
    "/.well-known/jwks.json", "/register", "/authorize", "/login", "/consent", "/token",
    "/revoke", "/introspect", "/admin",
    "/passkey.js", "/passkeys", "/passkeys/setup", "/passkeys/challenge", "/passkeys/login",
];

/// The routing table: path and method to endpoint.
fn route(method: &Method, path: &str, headers: &Headers) -> Route {
    use Method::*;
    use Route::*;
    let path = normalize(path);
    let mcp_headers = || {
        headers.has("mcp-session-id").unwrap_or(false)
            || headers.get("accept").ok().flatten().is_some_and(|a| a.contains("text/event-stream"))
    };
    match (method, path) {
        (Options, p) if security_headers::cors_path(p) => Preflight,
        (Get, "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp") => ProtectedResource,
        (Get, "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration") => AuthorizationServer,
        (Get, "/.well-known/jwks.json") => Jwks,
        (Post, "/register") => Register,
        (Get, "/authorize") => Authorize,
        (Post, "/login") => Login,
        (Get, "/consent") => ConsentShow,
        (Post, "/consent") => ConsentDecide,
        (Get, p) if p.starts_with("/callback/") => Callback,
        (Post, "/token") => Token,
        (Post, "/revoke") => Revoke,
        (Post, "/introspect") => Introspect,
        (Get, "/admin") => AdminShow,
        (Post, "/admin") => AdminPost,
        (Get, "/passkey.js") => PasskeyScript,
        (Post, "/passkeys/challenge") => PasskeyChallenge,
        (Post, "/passkeys/login") => PasskeyLogin,
        (Get, "/passkeys/setup") => PasskeySetupShow,
        (Post, "/passkeys/setup") => PasskeySetup,
        (Get, "/passkeys") => PasskeysShow,
        (Post, "/passkeys") => PasskeysPost,
        (_, "/mcp") => Mcp,
        // claude.ai may send MCP traffic to `/` after OAuth.
        (Post, "/") => Mcp,
        (Get | Delete, "/") if mcp_headers() => Mcp,
        (Get, "/") => Home,
        (_, p) if OAUTH_PATHS.contains(&p) => WrongMethod,
        _ => NotFound,
    }
}

/// The route's name in the request log.
fn route_name(r: Route) -> &'static str {
    match r {
        Route::ProtectedResource => "protected_resource",
        Route::AuthorizationServer => "authorization_server",
        Route::Jwks => "jwks",
        Route::Register => "register",
        Route::Authorize => "authorize",
        Route::Login => "login",
        Route::ConsentShow => "consent_show",
        Route::ConsentDecide => "consent_decide",
        Route::Callback => "upstream_callback",
        Route::Token => "token",
        Route::Revoke => "revoke",
        Route::Introspect => "introspect",
        Route::AdminShow => "admin_show",
        Route::AdminPost => "admin_post",
        Route::PasskeyScript => "passkey_script",
        Route::PasskeyChallenge => "passkey_challenge",
        Route::PasskeyLogin => "passkey_login",
        Route::PasskeySetupShow => "passkey_setup_show",
        Route::PasskeySetup => "passkey_setup",
        Route::PasskeysShow => "passkeys_show",
        Route::PasskeysPost => "passkeys_post",
        Route::Mcp => "mcp",
        Route::Home => "home",
        Route::Preflight => "preflight",
        Route::WrongMethod => "wrong_method",
        Route::NotFound => "not_found",
    }
}

fn normalize(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

/// CORS on every response of a CORS path, except the home page at `/`.
fn allows_cors(r: Route, path: &str) -> bool {
    r != Route::Home && security_headers::cors_path(normalize(path))
}

fn caching(r: Route) -> Caching {
    match r {
        Route::ProtectedResource | Route::AuthorizationServer | Route::Jwks => Caching::Public,
        Route::Mcp => Caching::Origin,
        _ => Caching::NoStore,
    }
}

/// The methods a path answers, for the `Allow` header of a 405.
fn allowed_methods(path: &str) -> &'static str {
    match normalize(path) {
        "/register" | "/login" | "/token" | "/revoke" | "/introspect" | "/passkeys/challenge" | "/passkeys/login" => "POST",
        "/consent" | "/admin" | "/passkeys" | "/passkeys/setup" => "GET, POST",
        _ => "GET",
    }
}

/// Takes the runtime's request as is: the MCP path (the hot one) reads only
/// headers and body, and `worker::Request` would read `request.cf` on every
/// request. Other routes get the `worker::Request`.
#[event(fetch)]
async fn fetch(raw: web_sys::Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let started = js_sys::Date::now();
    // The runtime hands over a parsed URL's serialization: this parse does not fail in practice.
    let Ok(url) = url::Url::parse(&raw.url()) else {
        return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("malformed request URL")));
    };
    let method = Method::from(raw.method());
    let path = url.path().to_string();
    let https = url.scheme() == "https";
    let r = route(&method, &path, &Headers(raw.headers()));
    let mut client_id = None;
    let outcome = if r == Route::Mcp {
        mcp(&raw, &env, &url, &mut client_id).await
    } else {
        dispatch(r, &mut Request::from(raw), &env, &mut client_id).await
    };
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(e) => {
            // A failure of the runtime itself (not of the request): say so
            // in the OAuth shape, keep details in the log.
            worker::console_error!("{}", serde_json::json!({"event": "internal_error", "route": route_name(r), "error": e.to_string()}));
            to_response(HttpResponse::oauth_error(&OAuthError::new(ErrorCode::TemporarilyUnavailable, "internal error, try again")))?
        }
    };
    let facts = Facts { https, cors: allows_cors(r, &path), status: resp.status_code(), caching: caching(r) };
    apply_layers(&mut resp, facts)?;
    // The route's name, never the path or query: either may carry a secret.
    worker::console_log!(
        "{}",
        request_log::line(route_name(r), &method.to_string(), resp.status_code(), client_id.as_deref(), js_sys::Date::now() - started)
    );
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

thread_local! {
    /// The parsed configuration, kept for the isolate's life: deriving the
    /// Ed25519 key on every MCP request would be wasted work on the hot path.
    /// Changing a secret or variable deploys a new version, hence a new isolate.
    /// Errors are not kept, so a fixed setting is picked up at once.
    static CONFIG: std::cell::RefCell<Option<std::rc::Rc<Config>>> = const { std::cell::RefCell::new(None) };
}

/// The MCP endpoint: the configuration, then `mcp::forward`.
async fn mcp(req: &web_sys::Request, env: &Env, url: &url::Url, client_id: &mut Option<String>) -> worker::Result<Response> {
    let config = match load_config(env) {
        Ok(c) => c,
        Err(e) => return config_error(Route::Mcp, &e),
    };
    let issuer = config.issuer(&url.origin().ascii_serialization());
    mcp::forward(req, env, &config, &issuer, now(), client_id).await
}

fn load_config(env: &Env) -> Result<std::rc::Rc<Config>, crate::config::vars::ConfigError> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let config = std::rc::Rc::new(Config::from_lookup(|name| {
        env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
    })?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

/// `client_id` is filled in for the request log when the request names one.
async fn dispatch(r: Route, req: &mut Request, env: &Env, client_id: &mut Option<String>) -> worker::Result<Response> {
    match r {
        Route::Preflight => {
            let h = Headers::new();
            h.set("access-control-allow-methods", ALLOW_METHODS)?;
            h.set("access-control-allow-headers", &security_headers::allow_headers(req.headers().get("access-control-request-headers")?.as_deref()))?;
            h.set("access-control-max-age", "86400")?;
            return Ok(ResponseBuilder::new().with_status(204).with_headers(h).empty());
        }
        Route::NotFound => return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404)),
        Route::WrongMethod => {
            let allow = allowed_methods(&req.path());
            let e = OAuthError::invalid_request(format!("method not allowed on this endpoint; use {allow}"));
            return to_response(HttpResponse::oauth_error(&e).with_status(405).with_header("allow", allow));
        }
        _ => {}
    }
    let config = match load_config(env) {
        Ok(c) => c,
        Err(e) => return config_error(r, &e),
    };
    let url = req.url()?;
    let origin = url.origin().ascii_serialization();
    let issuer = config.issuer(&origin);
    let http = match read_request(req, url, origin).await? {
        Ok(h) => h,
        Err(e) => return to_response(e),
    };
    // CIMD_FETCH: optional egress proxy for metadata document fetches.
    let faults = std::rc::Rc::new(d1_faults::Faults::of(&req.headers()));
    let store = D1Store::new(env.d1("DB")?)
        .with_document_fetcher(env.service("CIMD_FETCH").ok())
        .with_claim_delay_ms(config.test_claim_delay_ms)
        .with_faults(faults.clone());
    let ctx = Ctx { config: &config, store: &store, issuer: issuer.clone(), now: now() };
    let resp = match r {
        // Both forms describe the one protected resource, the MCP endpoint:
        // clients that fall back to the root form must still get its URL.
        Route::ProtectedResource => HttpResponse::json(200, &metadata::protected_resource(&issuer, &format!("{issuer}/mcp"), &config)),
        Route::AuthorizationServer => HttpResponse::json(200, &metadata::authorization_server(&issuer, &config)),
        Route::Jwks => HttpResponse::json(200, &crate::base::signing_key::jwk_set(config.verification_keys())),
        Route::Register => register::handle(&ctx, &http).await,
        // Cloudflare Access, when configured, signs the person in first.
        Route::Authorize => crate::oauth::login::access::authorize(&ctx, &http, &outbound::EdgeNet).await,
        Route::Login => consent::login(&ctx, &http).await,
        Route::ConsentShow => consent::show(&ctx, &http).await,
        Route::ConsentDecide => consent::decide(&ctx, &outbound::EdgeNet, &http).await,
        Route::Callback => crate::oauth::login::delegate::callback(&ctx, &outbound::EdgeNet, &http).await,
        Route::Token => token::handle(&ctx, &outbound::EdgeNet, &http).await,
        Route::Revoke => revoke::handle(&ctx, &outbound::EdgeNet, &http).await,
        Route::Introspect => introspect::handle(&ctx, &outbound::EdgeNet, &http).await,
        Route::AdminShow => crate::oauth::login::access::admin(&ctx, &http, &outbound::EdgeNet).await,
        Route::AdminPost => admin::post(&ctx, &http).await,
        Route::PasskeyScript => passkey::script(),
        Route::PasskeyChallenge => passkey::challenge(&ctx, &http).await,
        Route::PasskeyLogin => passkey::login(&ctx, &crate::edge::outbound::EdgeNet, &http).await,
        Route::PasskeySetupShow => passkey::setup_show(&ctx, &http).await,
        Route::PasskeySetup => passkey::setup(&ctx, &http).await,
        Route::PasskeysShow => passkey::show(&ctx, &http).await,
        Route::PasskeysPost => passkey::post(&ctx, &http).await,
        Route::Home => home(&issuer),
        _ => HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404),
    };
    *client_id = request_log::client_id(&http, &resp);
    let answer = to_response(resp)?;
    faults.report(&answer.headers());
    Ok(answer)
}

/// A configuration that does not load: a page for the pages, OAuth JSON otherwise.
fn config_error(r: Route, e: &crate::config::vars::ConfigError) -> worker::Result<Response> {
    worker::console_error!("{}", serde_json::json!({"event": "config_error", "variable": e.variable, "problem": e.problem}));
    let err = OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string());
    to_response(match r {
        // Where a person is looking, a page; elsewhere the protocol's own error.
        Route::Home | Route::Authorize | Route::Login | Route::ConsentShow | Route::ConsentDecide | Route::Callback | Route::AdminShow | Route::AdminPost
        | Route::PasskeyLogin | Route::PasskeySetupShow | Route::PasskeySetup | Route::PasskeysShow | Route::PasskeysPost => {
            page::error_page(503, "Gatehouse is not configured", &e.to_string())
        }
        _ => HttpResponse::oauth_error(&err),
    })
}

/// The cron trigger: removes stale rows (see `oauth::maintenance`) and logs
/// one JSON line with the count per table.
#[event(scheduled)]
async fn scheduled(event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    console_error_panic_hook::set_once();
    let config = match load_config(&env) {
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

pub(crate) fn to_response(r: HttpResponse) -> worker::Result<Response> {
    let h = Headers::new();
    for (k, v) in &r.headers {
        h.append(k, v)?;
    }
    Ok(ResponseBuilder::new().with_status(r.status).with_headers(h).fixed(r.body.into_bytes()))
}
