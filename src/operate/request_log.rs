//! The one JSON log line per request (issue 6, "Operate"), readable with
//! `wrangler tail`: route, method, status, latency and, when known cheaply,
//! the client id. Never a token, code, secret, password or query string: the
//! line is built only from these fields.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::base::form::{is_form_content_type, Params};
use crate::base::http::{HttpRequest, HttpResponse};
use crate::protocol::client_assertion;

/// Client ids are short; anything longer is cut so a log line stays small.
const MAX_CLIENT_ID: usize = 100;

fn clip(s: &str) -> String {
    s.chars().take(MAX_CLIENT_ID).collect()
}

/// The client a request spoke for, from what the endpoint already parsed:
/// `client_id` in a form body or the query, the user part of HTTP Basic
/// (RFC 6749 §2.3.1; the password part is never decoded into the result), the
/// `sub` of a client assertion (RFC 7523 §3, as claimed: the line is written
/// whether or not it verified), or the `client_id` a registration just issued
/// (RFC 7591 §3.2.1).
pub fn client_id(req: &HttpRequest, resp: &HttpResponse) -> Option<String> {
    if resp.status == 201 && req.path == "/register" {
        let v: serde_json::Value = serde_json::from_slice(resp.body.as_bytes()).ok()?;
        return v["client_id"].as_str().map(clip);
    }
    if let Some(id) = req.header("authorization").and_then(basic_user) {
        return Some(clip(&id));
    }
    // With a client assertion (RFC 7523) and no client_id: the client it names.
    let asserted = |p: &Params| client_assertion::presented(p).ok().flatten().map(|a| clip(a.client_id()));
    let from = |bytes: &[u8]| Params::parse(bytes).ok().and_then(|p| p.get("client_id").map(clip).or_else(|| asserted(&p)));
    if req.method == "POST" && is_form_content_type(req.header("content-type")) {
        if let Some(id) = from(&req.body) {
            return Some(id);
        }
    }
    from(req.query.as_bytes())
}

fn basic_user(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let user = decoded.split(|b| *b == b':').next()?;
    let user = std::str::from_utf8(user).ok()?;
    url::form_urlencoded::parse(format!("u={user}").as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// Whether a request gets its line. An MCP request the origin answered
/// below 400 does not unless `LOG_MCP_SUCCESSES=on`: those are most of the
/// traffic, Workers Logs records each invocation with its path and status
/// anyway, and writing the line cost 0.04-0.16 ms of CPU per forwarded call,
/// a sixth to a third of Gatehouse's own (bench/NOTES.md). Nor does the 401
/// to an MCP request with no `Authorization` header (`authorization` is asked
/// only then): it is the challenge that starts every MCP client's discovery
/// (RFC 9728 §5.1) and what every scanner of a public hostname gets, its line
/// would name no client, and it cost 0.03-0.04 ms of the 401's CPU (bench/NOTES.md,
/// session 33). Every other refusal and failure gets one.
pub fn written(mcp: bool, status: u16, log_mcp_successes: bool, authorization: impl FnOnce() -> bool) -> bool {
    !mcp || log_mcp_successes || (status >= 400 && (status != 401 || authorization()))
}

/// The line itself.
pub fn line(route: &str, method: &str, status: u16, client_id: Option<&str>, ms: f64) -> String {
    json!({
        "route": route,
        "method": method,
        "status": status,
        "client_id": client_id,
        "ms": ms.round() as i64,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
            origin: String::new(),
        }
    }

    fn ok() -> HttpResponse {
        HttpResponse::new(200, "application/json", "{}")
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    #[test]
    fn token_request_names_its_client_but_not_its_secrets() {
        let r = req("POST", "/token", "", &[FORM], "grant_type=refresh_token&refresh_token=RT-SECRET&client_id=gh_abc&client_secret=CS");
        assert_eq!(client_id(&r, &ok()).as_deref(), Some("gh_abc"));
        let basic = format!("Basic {}", STANDARD.encode("gh_b%20x:PASSWORD-PART"));
        let r = req("POST", "/token", "", &[FORM, ("authorization", &basic)], "grant_type=authorization_code&code=CODE");
        assert_eq!(client_id(&r, &ok()).as_deref(), Some("gh_b x"));
        let b = |v: serde_json::Value| crate::base::encoding::b64url(v.to_string().as_bytes());
        let jwt = format!("{}.{}.c2ln", b(json!({"alg": "ES256"})), b(json!({"iss": "https://c.example/m.json", "sub": "https://c.example/m.json"})));
        let form = format!("grant_type=authorization_code&code=CODE&client_assertion_type={}&client_assertion={jwt}", "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
        assert_eq!(client_id(&req("POST", "/token", "", &[FORM], &form), &ok()).as_deref(), Some("https://c.example/m.json"));
    }

    #[test]
    fn authorize_uses_the_query_and_registration_the_response() {
        let r = req("GET", "/authorize", "client_id=gh_q&state=s", &[], "");
        assert_eq!(client_id(&r, &ok()).as_deref(), Some("gh_q"));
        let reg = req("POST", "/register", "", &[("content-type", "application/json")], "{}");
        let created = HttpResponse::new(201, "application/json", r#"{"client_id":"gh_new","client_secret":"S"}"#);
        assert_eq!(client_id(&reg, &created).as_deref(), Some("gh_new"));
        assert_eq!(client_id(&reg, &HttpResponse::new(400, "application/json", "{}")), None);
        assert_eq!(client_id(&req("POST", "/token", "", &[("authorization", "Basic !!")], ""), &ok()), None);
    }

    #[test]
    fn forwarded_mcp_successes_are_logged_only_when_asked() {
        let with_token = || true;
        assert!(!written(true, 200, false, with_token));
        assert!(!written(true, 202, false, with_token));
        assert!(written(true, 200, true, with_token));
        for refused in [400, 401, 403, 404, 429, 502, 504] {
            assert!(written(true, refused, false, with_token), "{refused}");
        }
        assert!(written(false, 200, false, with_token));
        assert!(written(false, 302, false, with_token));
    }

    #[test]
    fn the_challenge_to_an_mcp_request_without_authorization_is_logged_only_when_asked() {
        assert!(!written(true, 401, false, || false));
        assert!(written(true, 401, true, || false));
        // Other refusals of a request without the header keep their line, and so do other routes' 401s.
        for refused in [400, 403, 404, 406, 413, 429] {
            assert!(written(true, refused, false, || false), "{refused}");
        }
        assert!(written(false, 401, false, || false));
        // The header is looked at only for an MCP 401 that would otherwise be logged.
        let asked = std::cell::Cell::new(0);
        for (mcp, status) in [(true, 200), (true, 404), (false, 401), (true, 401)] {
            written(mcp, status, false, || {
                asked.set(asked.get() + 1);
                true
            });
        }
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn long_ids_are_clipped_and_the_line_is_json() {
        let long = "x".repeat(5000);
        let r = req("GET", "/authorize", &format!("client_id={long}"), &[], "");
        assert_eq!(client_id(&r, &ok()).map(|s| s.len()), Some(MAX_CLIENT_ID));
        let l: serde_json::Value = serde_json::from_str(&line("token", "POST", 400, Some("a\"b"), 12.4)).unwrap();
        assert_eq!(l["route"], "token");
        assert_eq!(l["status"], 400);
        assert_eq!(l["client_id"], "a\"b");
        assert_eq!(l["ms"], 12);
        let none: serde_json::Value = serde_json::from_str(&line("home", "GET", 200, None, 0.0)).unwrap();
        assert!(none["client_id"].is_null());
    }
}
