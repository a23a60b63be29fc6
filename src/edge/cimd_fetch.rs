//! Fetching a client's metadata document (draft-ietf-oauth-client-id-metadata-
//! document §5 and §8.6–8.7): one GET, `redirect: manual` (a 3xx comes back as
//! is and is refused by the core), the body read as a stream and abandoned past
//! the size cap, the whole exchange bounded by a timeout. The URL already passed
//! `ClientIdUrl`'s rules, so no private address or local name gets here.
//!
//! When a service named `CIMD_FETCH` is bound, the request goes through it (an
//! optional egress proxy); otherwise through the global `fetch`.

use futures_util::StreamExt;
use worker::{Fetch, Fetcher, Headers, Response};

use super::deadline::Deadline;

use crate::protocol::cimd::{ClientIdUrl, FetchError, FetchedDocument, FETCH_TIMEOUT_SECONDS, MAX_DOCUMENT_BYTES};

pub async fn fetch(via: Option<&Fetcher>, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError> {
    fetch_capped(via, url, MAX_DOCUMENT_BYTES, "cimd_fetch").await
}

/// The same fetch with another size cap, logged as `event` (a client's
/// `jwks_uri` is fetched under the document rules but may be larger).
pub async fn fetch_capped(via: Option<&Fetcher>, url: &ClientIdUrl, max_bytes: usize, event: &str) -> Result<FetchedDocument, FetchError> {
    let result = match Deadline::start(FETCH_TIMEOUT_SECONDS) {
        Ok(deadline) => match fetch_within_cap(via, url, max_bytes, &deadline.signal()).await {
            Err(_) if deadline.passed() => Err(FetchError::Timeout),
            r => r,
        },
        Err(_) => Err(FetchError::Unreachable),
    };
    let outcome = match &result {
        Ok(d) => format!("HTTP {}", d.status),
        Err(e) => format!("{e:?}"),
    };
    worker::console_log!("{}", serde_json::json!({"event": event, "url": url.as_str(), "outcome": outcome}));
    result
}

async fn fetch_within_cap(via: Option<&Fetcher>, url: &ClientIdUrl, max_bytes: usize, signal: &web_sys::AbortSignal) -> Result<FetchedDocument, FetchError> {
    let unreachable = |_| FetchError::Unreachable;
    let headers = Headers::new();
    headers.set("accept", "application/json").map_err(unreachable)?;
    let req = super::outbound::request(url.as_str(), "GET", &headers, None, signal).map_err(unreachable)?;
    let mut resp = match via {
        Some(f) => f.fetch_request(req).await,
        None => Fetch::Request(req).send().await,
    }
    .map_err(unreachable)?;

    let header = |resp: &Response, name: &str| resp.headers().get(name).ok().flatten();
    let mut doc = FetchedDocument {
        status: resp.status_code(),
        body: Vec::new(),
        cache_control: header(&resp, "cache-control"),
        expires: header(&resp, "expires"),
        date: header(&resp, "date"),
    };
    if doc.status != 200 {
        return Ok(doc);
    }
    let declared = header(&resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = resp.stream().map_err(unreachable)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(unreachable)?;
        if doc.body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge);
        }
        doc.body.extend_from_slice(&chunk);
    }
    Ok(doc)
}
