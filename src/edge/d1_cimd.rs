//! `ClientDocuments` on the edge: the D1 cache of good metadata documents
//! (migration 0004) and the fetch (`cimd_fetch`).

use serde::Deserialize;

use super::cimd_fetch;
use super::d1::{err, n, s, D1Store};
use crate::oauth::cimd::{ClientDocuments, ClientIdUrl, FetchError, FetchedDocument};
use crate::oauth::store::StoreResult;

#[derive(Deserialize)]
struct DocumentRow {
    document: String,
}

impl ClientDocuments for D1Store {
    async fn cached_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<String>> {
        let row = self
            .first::<DocumentRow>("SELECT document FROM client_metadata_documents WHERE url = ?1 AND expires_at > ?2", &[s(url.as_str()), n(now)])
            .await?;
        Ok(row.map(|r| r.document))
    }

    async fn cache_document(&self, url: &ClientIdUrl, document: &str, now: i64, expires_at: i64) -> StoreResult<()> {
        // Anyone can make Gatehouse cache a document (any URL on their own
        // host), so expired ones are dropped whenever a new one is stored.
        self.exec("DELETE FROM client_metadata_documents WHERE expires_at <= ?1", &[n(now)]).await?;
        self.exec(
            "INSERT INTO client_metadata_documents (url, document, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (url) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
            &[s(url.as_str()), s(document), n(now), n(expires_at)],
        )
        .await
        .map_err(|e| err(format!("caching a client metadata document: {}", e.0)))
        .map(|_| ())
    }

    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError> {
        cimd_fetch::fetch(self.document_fetcher.as_ref(), url).await
    }
}
