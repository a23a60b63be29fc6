//! What the owner's admin page (`operate::admin`) reads and deletes beyond
//! the other traits: overviews of clients and grants, and a client's removal
//! with everything it owns (RFC 7591 §3: registered clients are server state).

use crate::base::redirect_uri::RedirectUri;
use crate::base::types::{ClientId, GrantId, Subject};
use crate::store::client_documents::DocumentSource;

use super::StoreResult;

/// A registered client as the admin page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSummary {
    pub client_id: ClientId,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub created_at: i64,
    /// When a token was last issued to it.
    pub last_used_at: Option<i64>,
    pub active_grants: u32,
}

/// A grant that has not been revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantSummary {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub client_name: Option<String>,
    pub subject: Subject,
    pub scope: String,
    pub created_at: i64,
    pub last_refresh_at: Option<i64>,
    /// For a metadata-document client: which copy of its document admitted
    /// it last (`None`: none is kept, it was served `no-store`) and why the
    /// last fetch failed, while a stored or pinned copy stands in.
    pub document: Option<(Option<DocumentSource>, Option<String>)>,
}

/// The queries only the admin page needs.
#[allow(async_fn_in_trait)]
pub trait AdminQueries {
    /// The newest `limit` clients, newest first, and how many there are in all.
    async fn clients_overview(&self, limit: u32) -> StoreResult<(Vec<ClientSummary>, u32)>;
    /// The newest `limit` unrevoked grants, newest first.
    async fn active_grants(&self, limit: u32) -> StoreResult<Vec<GrantSummary>>;
    /// Removes a client with its codes, refresh tokens and pending requests,
    /// all at once, and revokes its grants; returns how many it revoked.
    /// Revoked grants stay as records until the cleanup job removes them, so
    /// that access tokens already issued from them are known to be revoked.
    async fn delete_client(&self, id: &ClientId, now: i64) -> StoreResult<u32>;
}
