//! The admin page's queries on D1 (`crate::store::admin::AdminQueries`).

use super::{json_list, n, s, Count, D1Row, D1Store, FromRow};
use crate::store::admin::{AdminQueries, ClientSummary, GrantSummary};
use crate::store::client_documents::DocumentSource;
use crate::base::redirect_uri::RedirectUri;
use crate::store::StoreResult;
use crate::base::types::{ClientId, GrantId, Subject};

struct ClientRow {
    client_id: String,
    client_name: Option<String>,
    redirect_uris: String,
    created_at: i64,
    last_used_at: Option<i64>,
    active_grants: u32,
}

impl FromRow for ClientRow {
    fn from_row(r: &D1Row) -> Self {
        ClientRow {
            client_id: r.text("client_id"),
            client_name: r.opt_text("client_name"),
            redirect_uris: r.text("redirect_uris"),
            created_at: r.int("created_at"),
            last_used_at: r.opt_int("last_used_at"),
            active_grants: r.count("active_grants"),
        }
    }
}

struct GrantRow {
    grant_id: String,
    client_id: String,
    client_name: Option<String>,
    subject: String,
    scope: String,
    created_at: i64,
    last_refresh_at: Option<i64>,
    document_source: Option<String>,
    last_failure: Option<String>,
}

impl FromRow for GrantRow {
    fn from_row(r: &D1Row) -> Self {
        GrantRow {
            grant_id: r.text("grant_id"),
            client_id: r.text("client_id"),
            client_name: r.opt_text("client_name"),
            subject: r.text("subject"),
            scope: r.text("scope"),
            created_at: r.int("created_at"),
            last_refresh_at: r.opt_int("last_refresh_at"),
            document_source: r.opt_text("document_source"),
            last_failure: r.opt_text("last_failure"),
        }
    }
}

impl AdminQueries for D1Store {
    async fn clients_overview(&self, limit: u32) -> StoreResult<(Vec<ClientSummary>, u32)> {
        let rows = self.all::<ClientRow>("SELECT c.client_id, c.client_name, c.redirect_uris, c.created_at, c.last_used_at, \
                 (SELECT COUNT(*) FROM grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL) AS active_grants \
                 FROM clients c ORDER BY c.created_at DESC, c.client_id DESC LIMIT ?1",
                &[n(limit.into())],).await?;
        let total = self.first::<Count>("SELECT COUNT(*) AS n FROM clients", &[]).await?.map(|c| c.n).unwrap_or(0);
        // A loop rather than `collect` into a `Result` (as in `all_rows`).
        let mut clients = Vec::with_capacity(rows.len());
        for r in rows {
            clients.push(ClientSummary {
                client_id: ClientId::new(r.client_id),
                client_name: r.client_name,
                redirect_uris: json_list::<String>(&r.redirect_uris)?.into_iter().map(RedirectUri::from_stored).collect(),
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                active_grants: r.active_grants,
            });
        }
        Ok((clients, total))
    }

    async fn active_grants(&self, limit: u32) -> StoreResult<Vec<GrantSummary>> {
        let rows = self.all::<GrantRow>("SELECT g.grant_id, g.client_id, c.client_name, g.subject, g.scope, g.created_at, g.last_refresh_at, \
                 d.source AS document_source, d.last_failure \
                 FROM grants g LEFT JOIN clients c ON c.client_id = g.client_id \
                 LEFT JOIN client_metadata_documents d ON d.url = g.client_id \
                 WHERE g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id DESC LIMIT ?1",
                &[n(limit.into())],).await?;
        Ok(rows
            .into_iter()
            .map(|r| GrantSummary {
                // A metadata-document client's id is its https URL; registered ids never are.
                document: r.client_id.starts_with("https://").then(|| (r.document_source.as_deref().map(|s| DocumentSource::parse(s).unwrap_or(DocumentSource::Pinned)), r.last_failure)),
                grant_id: GrantId::new(r.grant_id),
                client_id: ClientId::new(r.client_id),
                client_name: r.client_name,
                subject: Subject::new(r.subject),
                scope: r.scope,
                created_at: r.created_at,
                last_refresh_at: r.last_refresh_at,
            })
            .collect())
    }

    async fn delete_client(&self, id: &ClientId, now: i64) -> StoreResult<u32> {
        let client = s(id.as_str());
        let stmts = vec![
            // Revoked, not deleted: access tokens already issued from these
            // grants must be recognised as revoked until they expire.
            self.stmt("UPDATE grants SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL", &[client.clone(), n(now)])?,
            self.stmt("DELETE FROM auth_codes WHERE client_id = ?1", &[client.clone()])?,
            self.stmt("DELETE FROM refresh_tokens WHERE client_id = ?1", &[client.clone()])?,
            self.stmt("DELETE FROM pending_authorizations WHERE client_id = ?1", &[client.clone()])?,
            self.stmt("DELETE FROM clients WHERE client_id = ?1", &[client])?,
        ];
        // One batch is one transaction: never a client half deleted.
        let results = self.batch(stmts).await?;
        let revoked = match results.first() {
            Some(n) => *n,
            None => 0,
        };
        Ok(revoked as u32)
    }
}
