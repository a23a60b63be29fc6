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
//! The fetch itself and the store live behind [`ClientDocuments`], which the
//! edge implements with `fetch` and D1.
//!
//! A vendor's document host that does not answer must not take its clients
//! down (requirements.md §B): `fetch_outcome` tells a failed fetch from an
//! answer, a stored copy stands in for a failed refetch for a bounded time
//! (stale-if-error, RFC 5861 §4), and `pinned` holds copies of the well-known
//! vendors' documents for when there is no stored copy either
//! (docs/clients.md, "When a vendor's document host does not answer").

pub mod auth_methods;
pub mod cache_policy;
pub mod client_id_url;
pub mod document;
pub mod error;
pub mod fetch_outcome;
pub mod pinned;
pub mod negative_cache;

#[cfg(test)]
pub(crate) mod canned;


use crate::store::StoreResult;
pub use client_id_url::ClientIdUrl;
pub use error::{FetchError, FETCH_TIMEOUT_SECONDS, MAX_DOCUMENT_BYTES};
use crate::store::client_documents::DocumentSource;

/// What the fetcher saw. A non-200 answer comes back as is (with an empty
/// body): refusing it is policy, decided by `fetch_outcome::judge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedDocument {
    pub status: u16,
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub date: Option<String>,
}

/// A document kept by Gatehouse: only one that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The JSON body, as fetched (or as pinned).
    pub document: String,
    pub source: DocumentSource,
    /// When it was last fetched live; for a pinned copy, when it was put in place.
    pub fetched_at: i64,
    /// Used without a fetch until then (per its cache headers, or the retry
    /// interval of a copy standing in for a failed fetch).
    pub expires_at: i64,
    /// May stand in for a failed refetch until then (0: never).
    pub stale_until: i64,
    /// When the last refetch failed and why, while a copy stands in.
    pub failure: Option<(i64, String)>,
}

impl StoredDocument {
    pub fn is_fresh(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// The fetch and the store of metadata documents, provided by the edge
/// (fetch + D1) and by the in-memory store in tests (canned documents).
/// Only documents that passed every check are stored; errors never are.
#[allow(async_fn_in_trait)]
pub trait ClientDocuments {
    /// The stored copy of `url`, fresh or not, unless it is past both its
    /// `expires_at` and its `stale_until` at `now`.
    async fn stored_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<StoredDocument>>;
    /// Stores (or replaces) the copy of `url`; drops every copy past use at `now`.
    async fn store_document(&self, url: &ClientIdUrl, document: &StoredDocument, now: i64) -> StoreResult<()>;
    /// Drops the copy of `url`: its vendor now says something else.
    async fn forget_document(&self, url: &ClientIdUrl) -> StoreResult<()>;
    /// One GET of `url` with `Accept: application/json`, no redirects
    /// followed, the body capped at [`MAX_DOCUMENT_BYTES`] and the whole
    /// exchange at [`FETCH_TIMEOUT_SECONDS`].
    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError>;
}
