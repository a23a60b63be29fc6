//! `ClientDocuments` on the edge: the D1 store of good metadata documents
//! (migrations 0004 and 0009) and the fetch (`cimd_fetch`).

use crate::store::client_documents::DocumentSource;

use crate::edge::cimd_fetch;
use super::{err, n, opt, s, D1Row, D1Store, FromRow};
use crate::protocol::cimd::{ClientDocuments, ClientIdUrl, FetchError, FetchedDocument, StoredDocument};
use crate::store::StoreResult;

struct DocumentRow {
    document: String,
    source: String,
    fetched_at: i64,
    expires_at: i64,
    stale_until: i64,
    failed_at: Option<i64>,
    last_failure: Option<String>,
}

impl FromRow for DocumentRow {
    fn from_row(r: &D1Row) -> Self {
        DocumentRow {
            document: r.text("document"),
            source: r.text("source"),
            fetched_at: r.int("fetched_at"),
            expires_at: r.int("expires_at"),
            stale_until: r.int("stale_until"),
            failed_at: r.opt_int("failed_at"),
            last_failure: r.opt_text("last_failure"),
        }
    }
}

impl ClientDocuments for D1Store {
    async fn stored_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<StoredDocument>> {
        let row = self
            .first::<DocumentRow>(
                "SELECT document, source, fetched_at, expires_at, stale_until, failed_at, last_failure FROM client_metadata_documents \
                 WHERE url = ?1 AND (expires_at > ?2 OR stale_until > ?2)",
                &[s(url.as_str()), n(now)],
            )
            .await?;
        Ok(row.map(|r| StoredDocument {
            document: r.document,
            // An unknown source (a later version's row) is treated as the least trusted kind.
            source: DocumentSource::parse(&r.source).unwrap_or(DocumentSource::Pinned),
            fetched_at: r.fetched_at,
            expires_at: r.expires_at,
            stale_until: r.stale_until,
            failure: r.failed_at.zip(r.last_failure),
        }))
    }

    async fn store_document(&self, url: &ClientIdUrl, d: &StoredDocument, now: i64) -> StoreResult<()> {
        // Anyone can make Gatehouse store a document (any URL on their own
        // host), so copies past every use are dropped whenever one is stored.
        self.exec("DELETE FROM client_metadata_documents WHERE expires_at <= ?1 AND stale_until <= ?1", &[n(now)]).await?;
        let (failed_at, why) = match &d.failure {
            Some((at, why)) => (n(*at), opt(Some(why))),
            None => (opt(None), opt(None)),
        };
        self.exec(
            "INSERT INTO client_metadata_documents (url, document, fetched_at, expires_at, source, stale_until, failed_at, last_failure) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (url) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at, \
             source = excluded.source, stale_until = excluded.stale_until, failed_at = excluded.failed_at, last_failure = excluded.last_failure",
            &[s(url.as_str()), s(&d.document), n(d.fetched_at), n(d.expires_at), s(d.source.as_str()), n(d.stale_until), failed_at, why],
        )
        .await
        .map_err(|e| err(format!("storing a client metadata document: {}", e.0)))
        .map(|_| ())
    }

    async fn forget_document(&self, url: &ClientIdUrl) -> StoreResult<()> {
        self.exec("DELETE FROM client_metadata_documents WHERE url = ?1", &[s(url.as_str())]).await.map(|_| ())
    }

    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError> {
        cimd_fetch::fetch(self.document_fetcher.as_ref(), url).await
    }
}
