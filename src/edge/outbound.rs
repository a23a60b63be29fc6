//! `Outbound` and `SignatureVerifier` on the edge: the global `fetch` with
//! redirects returned rather than followed, a timeout, and a streamed size
//! cap; signatures (other parties' and Gatehouse's own Ed25519) through WebCrypto.

use futures_util::StreamExt;
use worker::{Fetch, Headers, Request};

use super::deadline::Deadline;

use crate::base::outbound::{Method, Outbound, OutboundError, OutboundRequest, OutboundResponse, MAX_RESPONSE_BYTES, TIMEOUT_SECONDS};
use crate::base::ed25519::{Ed25519, PublicKey, Seed};
use crate::base::signature::{Alg, PublicJwk, SignatureVerifier};

/// The network and crypto handed to login handlers.
pub struct EdgeNet;

impl Outbound for EdgeNet {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        // The whole exchange, the body's last byte included.
        let deadline = Deadline::start(TIMEOUT_SECONDS).map_err(|e| OutboundError::Network(worker::Error::from(e).to_string()))?;
        match send_within_cap(req, &deadline.signal()).await {
            Err(_) if deadline.passed() => Err(OutboundError::Timeout),
            r => r,
        }
    }
}

impl SignatureVerifier for EdgeNet {
    async fn verify(&self, alg: Alg, key: &PublicJwk, message: &[u8], signature: &[u8]) -> bool {
        super::webcrypto::verify(alg, key, message, signature).await
    }
}

impl Ed25519 for EdgeNet {
    async fn ed25519_sign(&self, seed: &Seed, message: &[u8]) -> Option<[u8; 64]> {
        super::webcrypto::ed25519_sign(seed, message).await
    }

    async fn ed25519_verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        super::webcrypto::ed25519_verify(public, message, signature).await
    }
}

async fn send_within_cap(req: OutboundRequest, signal: &web_sys::AbortSignal) -> Result<OutboundResponse, OutboundError> {
    let fail = |e: worker::Error| OutboundError::Network(e.to_string());
    let headers = Headers::new();
    for (name, value) in &req.headers {
        headers.set(name, value).map_err(fail)?;
    }
    let method = match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    let request = request(&req.url, method, &headers, req.body.as_deref(), signal).map_err(fail)?;
    let mut resp = Fetch::Request(request).send().await.map_err(fail)?;
    let headers: Vec<(String, String)> = resp.headers().entries().collect();
    let declared = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(OutboundError::TooLarge);
    }
    let status = resp.status_code();
    let mut body = Vec::new();
    if let Ok(mut stream) = resp.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(fail)?;
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(OutboundResponse { status, headers, body })
}

/// An outbound `worker::Request` with `redirect: manual`, built from
/// `web_sys::RequestInit` directly rather than `worker::RequestInit`: the
/// latter's conversion checks and converts its `cf` properties (image
/// resizing and more, never set here) at run time, about 11 KB of wasm code.
/// The same fields and the same error text as `Request::new_with_init`.
pub(super) fn request(url: &str, method: &str, headers: &Headers, body: Option<&[u8]>, signal: &web_sys::AbortSignal) -> worker::Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(signal));
    if let Some(body) = body {
        init.set_body(&js_sys::Uint8Array::from(body).into());
    }
    web_sys::Request::new_with_str_and_init(url, &init).map(Request::from).map_err(|e| {
        worker::Error::JsError(e.as_string().unwrap_or_else(|| "invalid URL or options for Request".to_string()))
    })
}
