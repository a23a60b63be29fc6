//! Forwarding MCP traffic (Streamable HTTP, including SSE) to the origin.
//! The client's token never leaves the gateway (MCP authorization: token
//! passthrough is forbidden); the origin learns who is calling from
//! `X-Gatehouse-*` headers that only the gateway can set.

use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Request, RequestInit, RequestRedirect, Response, ResponseBuilder};

use crate::oauth::access_token;
use crate::oauth::config::Config;
use crate::oauth::metadata;
use crate::oauth::resource::accepted_resources;

/// Request headers the origin needs; everything else is dropped, which drops
/// `Authorization`, cookies and any client-sent `X-Gatehouse-*`.
const FORWARD_REQUEST: &[&str] = &[
    "content-type", "accept", "accept-language", "user-agent", "mcp-session-id", "mcp-protocol-version", "last-event-id",
];
/// Response headers never passed back: hop-by-hop (RFC 9110 §7.6.1) and cookies
/// of the origin, which would land on the gateway's own domain.
const DROP_RESPONSE: &[&str] = &[
    "connection", "keep-alive", "proxy-authenticate", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "set-cookie", "content-length",
];

/// `client_id` receives the verified token's client, for the request log.
pub async fn forward(req: &mut Request, env: &Env, config: &Config, issuer: &str, now: i64, client_id: &mut Option<String>) -> worker::Result<Response> {
    let token = match bearer(req)? {
        Some(t) => t,
        None => return unauthorized(issuer, config, None),
    };
    let verified = match access_token::verify(config.verification_keys(), &token, now, issuer, &accepted_resources(issuer)) {
        Ok(v) => v,
        Err(e) => return unauthorized(issuer, config, Some(&e.description)),
    };
    *client_id = Some(verified.claims.client_id.clone());
    if let Some(refusal) = super::token_gate::refuse(env, config, issuer, &verified).await? {
        return Ok(refusal);
    }

    let headers = Headers::new();
    for name in FORWARD_REQUEST {
        if let Some(v) = req.headers().get(name)? {
            headers.set(name, &v)?;
        }
    }
    headers.set("x-gatehouse-user", &verified.claims.sub)?;
    headers.set("x-gatehouse-client", &verified.claims.client_id)?;
    headers.set("x-gatehouse-scope", &verified.claims.scope)?;
    if let Some(ip) = req.headers().get("cf-connecting-ip")? {
        headers.set("x-forwarded-for", &ip)?;
    }

    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers).with_redirect(RequestRedirect::Manual);
    // Stream the body through rather than buffering it.
    if let Some(body) = req.inner().body() {
        init.with_body(Some(JsValue::from(body)));
    }

    let upstream = match origin_target(env) {
        Some(t) => t,
        None => return origin_error(502, "Gatehouse has no origin configured: set ORIGIN_URL or bind a service named ORIGIN"),
    };
    let result = match upstream {
        Target::Url(url) => match Request::new_with_init(&url, &init) {
            Ok(r) => Fetch::Request(r).send().await,
            Err(_) => return origin_error(502, "ORIGIN_URL is not a valid URL"),
        },
        Target::Service(fetcher) => match Request::new_with_init("https://origin/mcp", &init) {
            Ok(r) => fetcher.fetch_request(r).await,
            Err(e) => Err(e),
        },
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"event": "origin_unreachable", "error": e.to_string()}));
            return origin_error(502, "Gatehouse could not reach the MCP origin server");
        }
    };

    let out = Headers::new();
    for (k, v) in resp.headers().entries() {
        if !DROP_RESPONSE.contains(&k.to_ascii_lowercase().as_str()) {
            out.append(&k, &v)?;
        }
    }
    if out.get("content-type")?.is_some_and(|ct| ct.starts_with("text/event-stream")) {
        out.set("cache-control", "no-cache")?;
    }
    let status = resp.status_code();
    // Pass the origin's body stream straight through: SSE events reach the
    // client as the origin writes them.
    let body = resp.stream().ok();
    let builder = ResponseBuilder::new().with_status(status).with_headers(out);
    Ok(match body {
        Some(stream) => builder.from_stream(stream)?,
        None => builder.empty(),
    })
}

enum Target {
    Url(String),
    Service(worker::Fetcher),
}

fn origin_target(env: &Env) -> Option<Target> {
    if let Ok(f) = env.service("ORIGIN") {
        return Some(Target::Service(f));
    }
    let raw = env.var("ORIGIN_URL").ok()?.to_string();
    Some(Target::Url(origin_endpoint(raw.trim())?))
}

/// `ORIGIN_URL` is the origin's MCP endpoint; a bare origin (a tunnel
/// hostname) means its conventional `/mcp` path.
fn origin_endpoint(raw: &str) -> Option<String> {
    let mut url = url::Url::parse(raw).ok()?;
    if url.path() == "/" {
        url.set_path("/mcp");
    }
    Some(url.to_string())
}

/// The bearer token from `Authorization` only: tokens in the query string or
/// body are ignored (OAuth 2.1 §5.1.1).
fn bearer(req: &Request) -> worker::Result<Option<String>> {
    let Some(h) = req.headers().get("authorization")? else { return Ok(None) };
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

/// Origin failures in JSON-RPC shape, so MCP clients show the message.
fn origin_error(status: u16, message: &str) -> worker::Result<Response> {
    let h = Headers::new();
    h.set("content-type", "application/json")?;
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": message}});
    Ok(ResponseBuilder::new().with_status(status).with_headers(h).fixed(body.to_string().into_bytes()))
}
