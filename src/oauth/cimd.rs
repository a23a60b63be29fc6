//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! requirements.md §B): a client may use an https URL as its `client_id`; the
//! authorization server fetches the JSON document at that URL and uses it as
//! the client's registration.
//!
//! The URL is a request value pointing wherever the client likes, so every rule
//! that keeps the fetch from becoming a server-side request forgery runs here,
//! before anything is fetched (draft §8.6): `client_id_url` (which URLs may be
//! fetched at all), `document` (what a fetched document must say), and
//! `cache_policy` (how long a good document is kept; errors never are).
//! The fetch itself and the cache live behind [`ClientDocuments`], which the
//! edge implements with `fetch` and D1.

pub mod cache_policy;
pub mod client_id_url;
pub mod document;
pub mod negative_cache;

#[cfg(test)]
pub(crate) mod canned;

use std::fmt;

use super::store::StoreResult;
pub use client_id_url::ClientIdUrl;

/// The largest document accepted (draft §8.7 suggests 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetch may take, answer and body together.
pub const FETCH_TIMEOUT_SECONDS: u64 = 5;

/// What the fetcher saw. A non-200 answer comes back as is (with an empty
/// body): refusing it is policy, decided by [`check_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedDocument {
    pub status: u16,
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub date: Option<String>,
}

/// Why a fetch produced no answer to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    /// The body (declared or streamed) passed [`MAX_DOCUMENT_BYTES`].
    TooLarge,
    /// No complete answer within [`FETCH_TIMEOUT_SECONDS`].
    Timeout,
    /// Connection, TLS or DNS failure.
    Unreachable,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::TooLarge => write!(f, "its metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            FetchError::Timeout => write!(f, "its metadata document did not arrive within {FETCH_TIMEOUT_SECONDS} seconds"),
            FetchError::Unreachable => f.write_str("its metadata document could not be fetched (connection failed)"),
        }
    }
}

/// Why a URL `client_id` cannot be used. The text is shown to the owner and
/// sent to the client: it names the rule, never anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdError(pub String);

impl CimdError {
    pub fn new(why: impl Into<String>) -> Self {
        CimdError(why.into())
    }
}

impl fmt::Display for CimdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "this client_id cannot be used: {}", self.0)
    }
}

impl From<FetchError> for CimdError {
    fn from(e: FetchError) -> Self {
        CimdError(e.to_string())
    }
}

/// Draft §5: only a `200` is a document; redirects are not followed (the
/// fetcher asks for `redirect: manual`, so a 3xx arrives here).
pub fn check_response(fetched: &FetchedDocument) -> Result<(), CimdError> {
    match fetched.status {
        200 => {}
        300..=399 => return Err(CimdError::new(format!("its metadata URL answered with a redirect (HTTP {}); redirects are not followed", fetched.status))),
        s => return Err(CimdError::new(format!("its metadata URL answered HTTP {s}, not 200"))),
    }
    if fetched.body.len() > MAX_DOCUMENT_BYTES {
        return Err(FetchError::TooLarge.into());
    }
    Ok(())
}

/// The fetch and the cache of metadata documents, provided by the edge
/// (fetch + D1) and by the in-memory store in tests (canned documents).
/// Only documents that passed every check are cached.
#[allow(async_fn_in_trait)]
pub trait ClientDocuments {
    /// A cached document that has not expired at `now`.
    async fn cached_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<String>>;
    async fn cache_document(&self, url: &ClientIdUrl, document: &str, now: i64, expires_at: i64) -> StoreResult<()>;
    /// One GET of `url` with `Accept: application/json`, no redirects
    /// followed, the body capped at [`MAX_DOCUMENT_BYTES`] and the whole
    /// exchange at [`FETCH_TIMEOUT_SECONDS`].
    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError>;
}
