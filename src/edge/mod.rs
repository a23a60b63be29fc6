//! The worker adapter: one routing table, request/response conversion, and
//! the layers every response passes through (CORS where allowed, security
//! headers, a log line). Protocol decisions live in `crate::oauth`.

mod d1;
mod proxy;

use worker::{event, Context, Env, Headers, Method, Request, Response, ResponseBuilder};

use crate::oauth::config::Config;
use crate::oauth::context::Ctx;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::http::{HttpRequest, HttpResponse, MAX_BODY};
use crate::oauth::{authorize, consent, metadata, pages, register, token};
use d1::D1Store;

/// CORS for browser clients (MCP Inspector): allowed on discovery, /register,
/// /token and the MCP endpoint; never on /authorize or the HTML pages
/// (requirements.md §A, RFC 9700 §2.6).
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID";
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version";

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
    Token,
    Mcp,
    Home,
    Preflight,
    WrongMethod,
    NotFound,
}

/// Paths whose responses browser clients may read (see `allows_cors`).
const CORS_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
    "/.well-known/jwks.json", "/register", "/token", "/mcp", "/",
];
/// Paths that exist but only for some methods: anything else on them is a 405.
const OAUTH_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
    "/.well-known/jwks.json", "/register", "/authorize", "/login", "/consent", "/token",
];

/// The routing table: path and method to endpoint.
fn route(method: &Method, path: &str, req: &Request) -> Route {
    use Method::*;
    use Route::*;
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let mcp_headers = || {
        req.headers().has("mcp-session-id").unwrap_or(false)
            || req.headers().get("accept").ok().flatten().is_some_and(|a| a.contains("text/event-stream"))
    };
    match (method, path) {
        (Options, p) if CORS_PATHS.contains(&p) => Preflight,
        (Get, "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp") => ProtectedResource,
        (Get, "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration") => AuthorizationServer,
        (Get, "/.well-known/jwks.json") => Jwks,
        (Post, "/register") => Register,
        (Get, "/authorize") => Authorize,
        (Post, "/login") => Login,
        (Get, "/consent") => ConsentShow,
        (Post, "/consent") => ConsentDecide,
        (Post, "/token") => Token,
        (_, "/mcp") => Mcp,
        // claude.ai may send MCP traffic to `/` after OAuth.
        (Post, "/") => Mcp,
        (Get | Delete, "/") if mcp_headers() => Mcp,
        (Get, "/") => Home,
        (_, p) if OAUTH_PATHS.contains(&p) => WrongMethod,
        _ => NotFound,
    }
}

fn allows_cors(r: Route) -> bool {
    matches!(r, Route::ProtectedResource | Route::AuthorizationServer | Route::Jwks | Route::Register | Route::Token | Route::Mcp | Route::Preflight)
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let started = js_sys::Date::now();
    let method = req.method();
    let path = req.path();
    let r = route(&method, &path, &req);
    let mut resp = match dispatch(r, &mut req, &env).await {
        Ok(resp) => resp,
        Err(e) => {
            // A failure of the runtime itself (not of the request): say so
            // in the OAuth shape, keep details in the log.
            worker::console_error!("{{\"event\":\"internal_error\",\"path\":{:?},\"error\":{:?}}}", path, e.to_string());
            to_response(HttpResponse::oauth_error(&OAuthError::new(ErrorCode::TemporarilyUnavailable, "internal error, try again")))?
        }
    };
    apply_layers(&mut resp, allows_cors(r))?;
    worker::console_log!(
        "{}",
        serde_json::json!({"method": method.to_string(), "path": path, "status": resp.status_code(), "ms": (js_sys::Date::now() - started).round()})
    );
    Ok(resp)
}

fn apply_layers(resp: &mut Response, cors: bool) -> worker::Result<()> {
    let h = resp.headers_mut();
    set_if_absent(h, "x-content-type-options", "nosniff")?;
    set_if_absent(h, "referrer-policy", "no-referrer")?;
    if cors {
        h.set("access-control-allow-origin", "*")?;
        h.set("access-control-expose-headers", EXPOSE_HEADERS)?;
    }
    Ok(())
}

fn set_if_absent(h: &mut Headers, name: &str, value: &str) -> worker::Result<()> {
    if !h.has(name)? {
        h.set(name, value)?;
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

fn load_config(env: &Env) -> Result<std::rc::Rc<Config>, crate::oauth::config::ConfigError> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let config = std::rc::Rc::new(Config::from_lookup(|name| {
        env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
    })?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

async fn dispatch(r: Route, req: &mut Request, env: &Env) -> worker::Result<Response> {
    match r {
        Route::Preflight => {
            let h = Headers::new();
            h.set("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")?;
            h.set("access-control-allow-headers", ALLOW_HEADERS)?;
            h.set("access-control-max-age", "86400")?;
            return Ok(ResponseBuilder::new().with_status(204).with_headers(h).empty());
        }
        Route::NotFound => return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404)),
        Route::WrongMethod => return to_response(HttpResponse::oauth_error(&OAuthError::invalid_request("method not allowed on this endpoint")).with_status(405)),
        _ => {}
    }
    let config = match load_config(env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"event": "config_error", "variable": e.variable}));
            let err = OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string());
            return to_response(match r {
                Route::Home | Route::Authorize | Route::Login | Route::ConsentShow | Route::ConsentDecide => {
                    pages::error_page(503, "Gatehouse is not configured", &e.to_string())
                }
                _ => HttpResponse::oauth_error(&err),
            });
        }
    };
    let url = req.url()?;
    let origin = url.origin().ascii_serialization();
    let issuer = config.issuer(&origin);
    if r == Route::Mcp {
        return proxy::forward(req, env, &config, &issuer, now()).await;
    }
    let http = match read_request(req, url, origin).await? {
        Ok(h) => h,
        Err(e) => return to_response(e),
    };
    let store = D1Store::new(env.d1("DB")?).with_claim_delay_ms(config.test_claim_delay_ms);
    let ctx = Ctx { config: &config, store: &store, issuer: issuer.clone(), now: now() };
    let resp = match r {
        // Both forms describe the one protected resource, the MCP endpoint:
        // clients that fall back to the root form must still get its URL.
        Route::ProtectedResource => HttpResponse::json(200, &metadata::protected_resource(&issuer, &format!("{issuer}/mcp"), &config)),
        Route::AuthorizationServer => HttpResponse::json(200, &metadata::authorization_server(&issuer, &config)),
        Route::Jwks => HttpResponse::json(200, &config.signing_key.jwks()),
        Route::Register => register::handle(&ctx, &http).await,
        Route::Authorize => authorize::handle(&ctx, &http).await,
        Route::Login => consent::login(&ctx, &http).await,
        Route::ConsentShow => consent::show(&ctx, &http).await,
        Route::ConsentDecide => consent::decide(&ctx, &http).await,
        Route::Token => token::handle(&ctx, &http).await,
        Route::Home => home(&issuer),
        _ => HttpResponse::oauth_error(&OAuthError::invalid_request("no such endpoint")).with_status(404),
    };
    to_response(resp)
}

fn home(issuer: &str) -> HttpResponse {
    pages::page(
        200,
        "Gatehouse",
        &format!(
            "<h1>Gatehouse is running</h1><p>Add this URL to your MCP client as a remote (custom) connector:</p><p><code>{}/mcp</code></p>",
            html_escape::encode_safe(issuer)
        ),
    )
}

/// Reads a request for the protocol core, refusing oversized bodies.
async fn read_request(req: &mut Request, url: url::Url, origin: String) -> worker::Result<Result<HttpRequest, HttpResponse>> {
    let too_large = || HttpResponse::oauth_error(&OAuthError::invalid_request("request body too large")).with_status(413);
    let declared = req.headers().get("content-length")?.and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    if declared > MAX_BODY {
        return Ok(Err(too_large()));
    }
    let body = if req.method() == Method::Post { req.bytes().await.unwrap_or_default() } else { Vec::new() };
    if body.len() > MAX_BODY {
        return Ok(Err(too_large()));
    }
    Ok(Ok(HttpRequest {
        method: req.method().to_string(),
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers: req.headers().entries().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
        body,
        origin,
    }))
}

fn to_response(r: HttpResponse) -> worker::Result<Response> {
    let h = Headers::new();
    for (k, v) in &r.headers {
        h.append(k, v)?;
    }
    Ok(ResponseBuilder::new().with_status(r.status).with_headers(h).fixed(r.body.into_bytes()))
}
