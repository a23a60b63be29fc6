//! `PendingRequests` on D1.

use serde::Deserialize;

use super::{n, opt, s, D1Store};
use crate::base::pkce::CodeChallenge;
use crate::base::types::{ClientId, TokenHash};
use crate::store::pending::{PendingAuthorization, PendingRequests};
use crate::store::StoreResult;

#[derive(Deserialize)]
struct PendingRow {
    id: String,
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    scope: String,
    resource: String,
    browser_hash: String,
    expires_at: i64,
}

impl PendingRequests for D1Store {
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        self.exec(
            "INSERT INTO pending_authorizations (id, client_id, redirect_uri, state, code_challenge, scope, resource, browser_hash, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                s(&p.id),
                s(p.client_id.as_str()),
                s(&p.redirect_uri),
                opt(p.state.as_deref()),
                s(p.code_challenge.as_str()),
                s(&p.scope),
                s(&p.resource),
                s(p.browser.as_str()),
                n(p.expires_at),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>> {
        let row = self
            .first::<PendingRow>("SELECT * FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2", &[s(id), n(now)])
            .await?;
        Ok(row.map(|r| PendingAuthorization {
            id: r.id,
            client_id: ClientId::new(r.client_id),
            redirect_uri: r.redirect_uri,
            state: r.state,
            code_challenge: CodeChallenge::from_stored(r.code_challenge),
            scope: r.scope,
            resource: r.resource,
            browser: TokenHash::from_stored(r.browser_hash),
            expires_at: r.expires_at,
        }))
    }

    async fn consume_pending(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.hold_claim().await;
        let changed = self
            .exec("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2", &[s(id), n(now)])
            .await?;
        Ok(changed == 1)
    }
}

