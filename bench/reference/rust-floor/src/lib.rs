//! The Rust floor (bench/reference/rust-floor): what a `worker`-crate worker costs on
//! Gatehouse's two hot paths with none of Gatehouse's work.
//! - No `Authorization` header: 401 with a Bearer challenge and a small JSON body (the
//!   no-token path of RFC 6750 §3, as Gatehouse answers it, minus the metadata URL).
//! - Any `Authorization` header: forwarded to `ORIGIN_URL` without it, unchecked, the
//!   answer streamed back (as bench/reference/passthrough.js does in JavaScript).
//! Not a gateway: it checks no token. Never deployed.
//! With `--features deadline`: the forward also bounded by Gatehouse's origin timeout, the
//! same source file, 30 s (Gatehouse's default), ended when the headers come.
//! With `--features identity`: the forward also carries five fixed headers of the sizes of
//! Gatehouse's identity headers (`X-Gatehouse-User`, `-Client`, `-Scope`, `-Assertion`, and
//! `X-Forwarded-For`; docs/origin.md), what sending them costs the runtime by itself.
use worker::*;

#[cfg(feature = "deadline")]
#[path = "../../../../src/edge/deadline.rs"]
mod deadline;

const DROP: [&str; 9] = ["authorization", "cookie", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host"];

/// Values of the lengths Gatehouse sends in the benchmark (the assertion: an EdDSA JWT of
/// `typ` gatehouse-assertion+jwt with iss, aud, sub, client_id, scope, jti, iat, exp).
#[cfg(feature = "identity")]
const IDENTITY: [(&str, &str); 5] = [
    ("x-gatehouse-user", "owner"),
    ("x-gatehouse-client", "gc_0123456789abcdefghijkl"),
    ("x-gatehouse-scope", "mcp"),
    ("x-gatehouse-assertion", concat!(
        "eyJhbGciOiJFZERTQSIsImtpZCI6IjAxMjM0NTY3ODlhYmNkZWYiLCJ0eXAiOiJnYXRlaG91c2UtYXNzZXJ0aW9uK2p3dCJ9.",
        "eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjQwMDAwIiwiYXVkIjoiaHR0cDovLzEyNy4wLjAuMTo0MDAwMCIsInN1YiI6Im93bmVyIiwi",
        "Y2xpZW50X2lkIjoiZ2NfMDEyMzQ1Njc4OWFiY2RlZmdoaWprbCIsInNjb3BlIjoibWNwIiwianRpIjoiZ2FfMDEyMzQ1Njc4OWFiY2Rl",
        "ZmdoaWprbG1ub3AiLCJpYXQiOjE3OTY0NTEyMDAsImV4cCI6MTc5NjQ1MTI2MH0.",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xN",
    )),
    ("x-forwarded-for", "127.0.0.1"),
];

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if !req.headers().has("authorization")? {
        let r = Response::ok(r#"{"error":"invalid_token","error_description":"no access token"}"#)?.with_status(401);
        r.headers().set("content-type", "application/json")?;
        r.headers().set("www-authenticate", "Bearer")?;
        return Ok(r);
    }
    let origin = env.var("ORIGIN_URL")?.to_string();
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !DROP.contains(&name.as_str()) {
            headers.append(&name, &value)?;
        }
    }
    #[cfg(feature = "identity")]
    for (name, value) in IDENTITY {
        headers.set(name, value)?;
    }
    let method = req.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone()).with_headers(headers);
    if method != Method::Get && method != Method::Head {
        init.with_body(req.inner().body().map(Into::into));
    }
    let request = Request::new_with_init(&origin, &init)?;
    #[cfg(not(feature = "deadline"))]
    let res = Fetch::Request(request).send().await?;
    #[cfg(feature = "deadline")]
    let res = {
        let deadline = deadline::Deadline::start(30).map_err(Error::from)?;
        match Fetch::Request(request).send_with_signal(&deadline.signal().into()).await {
            Ok(res) => res,
            Err(_) if deadline.passed() => return Ok(Response::error("origin timeout", 504)?),
            Err(e) => return Err(e),
        }
    };
    // The origin's response as it came (status, headers, streamed body).
    Ok(res)
}
