//! `PendingRequests` on D1.

use wasm_bindgen::JsValue;

use super::ahead::take;
use super::audit::{log_written, AUDIT_INSERT_AFTER_A_CHANGE};
use super::limits::SPEND_UPSERT;
use super::{n, opt, s, D1Row, D1Store, FromRow};
use crate::base::pkce::CodeChallenge;
use crate::base::types::{ClientId, TokenHash};
use crate::store::budgets::BudgetSpend;
use crate::store::pending::{DenialWrite, PendingAuthorization, PendingRequests};
use crate::store::StoreResult;

pub(super) struct PendingRow {
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

impl FromRow for PendingRow {
    fn from_row(r: &D1Row) -> Self {
        PendingRow {
            id: r.text("id"),
            client_id: r.text("client_id"),
            redirect_uri: r.text("redirect_uri"),
            state: r.opt_text("state"),
            code_challenge: r.text("code_challenge"),
            scope: r.text("scope"),
            resource: r.text("resource"),
            browser_hash: r.text("browser_hash"),
            expires_at: r.int("expires_at"),
        }
    }
}

/// The columns of a pending request, in `pending_args`' order (?1 to ?9).
const PENDING_COLUMNS: &str = "pending_authorizations (id, client_id, redirect_uri, state, code_challenge, scope, resource, browser_hash, expires_at)";

fn pending_args(p: &PendingAuthorization) -> Vec<JsValue> {
    vec![
        s(&p.id),
        s(p.client_id.as_str()),
        s(&p.redirect_uri),
        opt(p.state.as_deref()),
        s(p.code_challenge.as_str()),
        s(&p.scope),
        s(&p.resource),
        s(p.browser.as_str()),
        n(p.expires_at),
    ]
}

impl PendingRequests for D1Store {
    async fn create_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        let sql = format!("INSERT INTO {PENDING_COLUMNS} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        self.exec(&sql, &pending_args(p)).await.map(|_| ())
    }

    async fn create_pending_counted(&self, p: &PendingAuthorization, spend: &BudgetSpend<'_>) -> StoreResult<bool> {
        let count = self.stmt(SPEND_UPSERT, &[s(spend.kind), s(spend.source), n(spend.window)])?;
        // The insert reads the count the first statement left: one transaction,
        // so a failed insert takes the count back with it.
        let mut args = pending_args(p);
        args.extend([s(spend.kind), s(spend.source), n(spend.window), n(i64::from(spend.cap))]);
        let insert = self.stmt(
            &format!(
                "INSERT INTO {PENDING_COLUMNS} SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 \
                 WHERE (SELECT n FROM source_counts WHERE kind = ?10 AND source = ?11 AND window_start = ?12) <= ?13"
            ),
            &args,
        )?;
        Ok(self.batch(vec![count, insert]).await?.get(1).copied() == Some(1))
    }

    async fn pending(&self, id: &str, now: i64) -> StoreResult<Option<PendingAuthorization>> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().pending, &(id.to_string(), now)) {
            return Ok(read);
        }
        Ok(self.first::<PendingRow>(PENDING_BY_ID, &[s(id), n(now)]).await?.map(pending_record))
    }

    async fn store_denial(&self, d: &DenialWrite<'_>) -> StoreResult<bool> {
        self.hold_claim().await;
        // One transaction: the sign-in first (written either way), then the
        // DELETE, and the denial's event only if that DELETE changed a row.
        let mut stmts = match &d.signed_in {
            Some(w) => self.sign_in_stmts(w)?,
            None => Vec::with_capacity(2),
        };
        let first = stmts.len();
        let (id, now) = d.pending;
        stmts.push(self.stmt("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2", &[s(id), n(now)])?);
        stmts.push(self.audit_insert(d.audit, AUDIT_INSERT_AFTER_A_CHANGE)?);
        let stored = self.batch(stmts).await?.get(first).copied() == Some(1);
        log_written(d.signed_in.as_ref(), d.audit, stored);
        Ok(stored)
    }
}


/// An unexpired pending request by id (?1) at ?2.
pub(super) const PENDING_BY_ID: &str = "SELECT * FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2";

pub(super) fn pending_record(r: PendingRow) -> PendingAuthorization {
    PendingAuthorization {
        id: r.id,
        client_id: ClientId::new(r.client_id),
        redirect_uri: r.redirect_uri,
        state: r.state,
        code_challenge: CodeChallenge::from_stored(r.code_challenge),
        scope: r.scope,
        resource: r.resource,
        browser: TokenHash::from_stored(r.browser_hash),
        expires_at: r.expires_at,
    }
}
