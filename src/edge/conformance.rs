//! The store conformance suite (`store::conformance`) on D1, for the test
//! build only (feature `test-faults`; the committed build has none of it):
//! `GET /__test/conformance` lists the cases, `POST
//! /__test/conformance/<case>?prefix=..&now=..` runs one on local D1 and
//! answers 200, or 500 with the failure.

use worker::{Env, Response};

use super::convert::to_response;
use super::d1::D1Store;
use crate::base::http::HttpResponse;
use crate::store::conformance::{cases, Fixture};

const PREFIX: &str = "/__test/conformance";

/// The answer when `url` is the suite's, else `None`.
pub async fn serve(method: &str, url: &url::Url, env: &Env) -> Option<worker::Result<Response>> {
    let rest = url.path().strip_prefix(PREFIX)?;
    let all = cases::<D1Store>();
    let answer = match (method, rest.strip_prefix('/')) {
        ("GET", None) => HttpResponse::json(200, &serde_json::json!(all.iter().map(|c| c.name).collect::<Vec<_>>())),
        ("POST", Some(name)) => match all.iter().find(|c| c.name == name) {
            None => HttpResponse::json(404, &serde_json::json!({"error": format!("no case {name}")})),
            Some(case) => {
                let q: std::collections::HashMap<_, _> = url.query_pairs().collect();
                let fixture = Fixture {
                    prefix: q.get("prefix").map(|p| p.to_string()).unwrap_or_default(),
                    now: q.get("now").and_then(|n| n.parse().ok()).unwrap_or(1_800_000_000),
                };
                let store = match env.d1("DB") {
                    Ok(db) => D1Store::new(db),
                    Err(e) => return Some(Err(e)),
                };
                match (case.run)(&store, &fixture).await {
                    Ok(()) => HttpResponse::json(200, &serde_json::json!({"case": name, "ok": true})),
                    Err(e) => HttpResponse::json(500, &serde_json::json!({"case": name, "ok": false, "error": e})),
                }
            }
        },
        _ => HttpResponse::json(404, &serde_json::json!({"error": "GET the list, POST a case"})),
    };
    Some(to_response(answer))
}
