//! The Rust floor (bench/reference/rust-floor): what a `worker`-crate worker costs on
//! Gatehouse's two hot paths with none of Gatehouse's work.
//! - No `Authorization` header: 401 with a Bearer challenge and a small JSON body (the
//!   no-token path of RFC 6750 §3, as Gatehouse answers it, minus the metadata URL).
//! - Any `Authorization` header: forwarded to `ORIGIN_URL` without it, unchecked, the
//!   answer streamed back (as bench/reference/passthrough.js does in JavaScript).
//! Not a gateway: it checks no token. Never deployed.
//! With `--features deadline`: the forward also bounded by Gatehouse's origin timeout, the
//! same source file, 30 s (Gatehouse's default), ended when the headers come.
use worker::*;

#[cfg(feature = "deadline")]
#[path = "../../../../src/edge/deadline.rs"]
mod deadline;

const DROP: [&str; 9] = ["authorization", "cookie", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host"];

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
