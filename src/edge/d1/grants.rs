//! `GrantStore` on D1: a grant with its first code, codes claimed once,
//! refresh tokens rotated once.

use worker::D1PreparedStatement;

use super::ahead::take;
use super::audit::{log_written, AUDIT_INSERT_AFTER_A_CHANGE};
use super::consents::REMEMBER_UPSERT_AFTER_A_CHANGE;
use super::{n, s, Count, D1Row, D1Store, FromRow};
use crate::base::pkce::CodeChallenge;
use crate::base::types::{ClientId, GrantId, Subject, TokenHash};
use crate::store::grants::{ApprovalWrite, CodeRecord, GrantRecord, GrantStore, RefreshRecord};
use crate::store::StoreResult;

macro_rules! grant_insert {
    () => {
        "INSERT INTO grants (grant_id, client_id, subject, scope, resource, created_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6"
    };
}
macro_rules! code_insert {
    () => {
        "INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, scope, resource, grant_id, expires_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
    };
}
/// `AFTER_A_CHANGE`: only if the batch's previous statement changed a row.
const GRANT_INSERT: &str = grant_insert!();
const GRANT_INSERT_AFTER_A_CHANGE: &str = concat!(grant_insert!(), " WHERE changes() = 1");
const CODE_INSERT: &str = code_insert!();
const CODE_INSERT_AFTER_A_CHANGE: &str = concat!(code_insert!(), " WHERE changes() = 1");

pub(super) struct GrantRow {
    grant_id: String,
    client_id: String,
    subject: String,
    scope: String,
    resource: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl FromRow for GrantRow {
    fn from_row(r: &D1Row) -> Self {
        GrantRow {
            grant_id: r.text("grant_id"),
            client_id: r.text("client_id"),
            subject: r.text("subject"),
            scope: r.text("scope"),
            resource: r.text("resource"),
            created_at: r.int("created_at"),
            revoked_at: r.opt_int("revoked_at"),
        }
    }
}

pub(super) struct CodeRow {
    code_hash: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    resource: String,
    grant_id: String,
    expires_at: i64,
    used_at: Option<i64>,
}

impl FromRow for CodeRow {
    fn from_row(r: &D1Row) -> Self {
        CodeRow {
            code_hash: r.text("code_hash"),
            client_id: r.text("client_id"),
            redirect_uri: r.text("redirect_uri"),
            code_challenge: r.text("code_challenge"),
            scope: r.text("scope"),
            resource: r.text("resource"),
            grant_id: r.text("grant_id"),
            expires_at: r.int("expires_at"),
            used_at: r.opt_int("used_at"),
        }
    }
}

pub(super) struct RefreshRow {
    token_hash: String,
    grant_id: String,
    client_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    successor_hash: Option<String>,
}

impl FromRow for RefreshRow {
    fn from_row(r: &D1Row) -> Self {
        RefreshRow {
            token_hash: r.text("token_hash"),
            grant_id: r.text("grant_id"),
            client_id: r.text("client_id"),
            expires_at: r.int("expires_at"),
            used_at: r.opt_int("used_at"),
            successor_hash: r.opt_text("successor_hash"),
        }
    }
}

impl D1Store {
    /// `sql`: `GRANT_INSERT` or `GRANT_INSERT_AFTER_A_CHANGE`.
    fn grant_insert(&self, g: &GrantRecord, sql: &str) -> StoreResult<D1PreparedStatement> {
        self.stmt(
            sql,
            &[s(g.grant_id.as_str()), s(g.client_id.as_str()), s(g.subject.as_str()), s(&g.scope), s(&g.resource), n(g.created_at)],
        )
    }

    /// `sql`: `CODE_INSERT` or `CODE_INSERT_AFTER_A_CHANGE`.
    fn code_insert(&self, c: &CodeRecord, sql: &str) -> StoreResult<D1PreparedStatement> {
        self.stmt(
            sql,
            &[
                s(c.code_hash.as_str()),
                s(c.client_id.as_str()),
                s(&c.redirect_uri),
                s(c.code_challenge.as_str()),
                s(&c.scope),
                s(&c.resource),
                s(c.grant_id.as_str()),
                n(c.expires_at),
            ],
        )
    }
}

impl GrantStore for D1Store {
    async fn create_grant(&self, g: &GrantRecord, c: &CodeRecord) -> StoreResult<()> {
        // A batch is one transaction: never a code without its grant.
        let stmts = vec![self.grant_insert(g, GRANT_INSERT)?, self.code_insert(c, CODE_INSERT)?];
        self.batch(stmts).await.map(|_| ())
    }

    async fn store_approval(&self, a: &ApprovalWrite<'_>) -> StoreResult<bool> {
        // One transaction. After a pending request's DELETE, each statement
        // runs only if the one before it changed a row (`changes()` reads the
        // last completed statement), so a request already consumed or
        // expired writes nothing.
        let mut stmts = Vec::with_capacity(8);
        // The sign-in that came with it goes first, outside that chain: it
        // is written whatever became of the request.
        if let Some(w) = &a.signed_in {
            stmts.extend(self.sign_in_stmts(w)?);
        }
        // The first statement of the chain: whether it changed a row says whether this approval was stored.
        let first = stmts.len();
        let (grant, code, remember, audit) = match a.pending {
            Some((id, now)) => {
                self.hold_claim().await;
                stmts.push(self.stmt("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2", &[s(id), n(now)])?);
                (GRANT_INSERT_AFTER_A_CHANGE, CODE_INSERT_AFTER_A_CHANGE, REMEMBER_UPSERT_AFTER_A_CHANGE, AUDIT_INSERT_AFTER_A_CHANGE)
            }
            // Without a request to consume the chain still holds: each insert changes a row.
            None => (GRANT_INSERT, CODE_INSERT_AFTER_A_CHANGE, REMEMBER_UPSERT_AFTER_A_CHANGE, AUDIT_INSERT_AFTER_A_CHANGE),
        };
        stmts.push(self.grant_insert(a.grant, grant)?);
        stmts.push(self.code_insert(a.code, code)?);
        if let Some(r) = a.remember {
            stmts.push(self.remember_upsert(r, remember)?);
        }
        stmts.push(self.audit_insert(a.audit, audit)?);
        let stored = self.batch(stmts).await?.get(first).copied() == Some(1);
        log_written(a.signed_in.as_ref(), a.audit, stored);
        Ok(stored)
    }

    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().grant, id) {
            return Ok(read);
        }
        Ok(self.first::<GrantRow>("SELECT * FROM grants WHERE grant_id = ?1", &[s(id.as_str())]).await?.map(grant_record))
    }

    async fn revoke_grant(&self, id: &GrantId, now: i64) -> StoreResult<()> {
        self.exec("UPDATE grants SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL", &[s(id.as_str()), n(now)])
            .await
            .map(|_| ())
    }

    async fn client_approved(&self, client: &ClientId) -> StoreResult<bool> {
        let c = self
            .first::<Count>("SELECT COUNT(*) AS n FROM (SELECT 1 FROM grants WHERE client_id = ?1 AND revoked_at IS NULL LIMIT 1)", &[s(client.as_str())])
            .await?;
        Ok(c.is_some_and(|c| c.n > 0))
    }

    async fn code(&self, hash: &TokenHash) -> StoreResult<Option<CodeRecord>> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().code, hash) {
            return Ok(read);
        }
        Ok(self.first::<CodeRow>(CODE_BY_HASH, &[s(hash.as_str())]).await?.map(code_record))
    }

    async fn claim_code(&self, hash: &TokenHash, now: i64, first_refresh: Option<&RefreshRecord>) -> StoreResult<bool> {
        self.hold_claim().await;
        let claim = self.stmt(
            "UPDATE auth_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            &[s(hash.as_str()), n(now)],
        )?;
        let mut stmts = vec![claim];
        if let Some(r) = first_refresh {
            // Written only by the claim that won (`changes()`: the claim just before), in the same transaction.
            stmts.push(self.stmt(
                "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, expires_at) SELECT ?1, ?2, ?3, ?4 WHERE changes() = 1",
                &[s(r.token_hash.as_str()), s(r.grant_id.as_str()), s(r.client_id.as_str()), n(r.expires_at)],
            )?);
        }
        stmts.push(self.stmt(
            "UPDATE clients SET last_used_at = ?2 WHERE client_id = (SELECT client_id FROM auth_codes WHERE code_hash = ?1)",
            &[s(hash.as_str()), n(now)],
        )?);
        Ok(self.batch(stmts).await?.first().copied() == Some(1))
    }

    async fn create_refresh(&self, r: &RefreshRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (token_hash) DO NOTHING",
            &[s(r.token_hash.as_str()), s(r.grant_id.as_str()), s(r.client_id.as_str()), n(r.expires_at)],
        )
        .await
        .map(|_| ())
    }

    async fn refresh(&self, hash: &TokenHash) -> StoreResult<Option<RefreshRecord>> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().refresh, hash) {
            return Ok(read);
        }
        Ok(self.first::<RefreshRow>(REFRESH_BY_HASH, &[s(hash.as_str())]).await?.map(refresh_record))
    }

    async fn rotate_refresh(&self, hash: &TokenHash, successor: &RefreshRecord, now: i64) -> StoreResult<bool> {
        self.hold_claim().await;
        let r = successor;
        let stmts = vec![
            self.stmt(
                "UPDATE refresh_tokens SET used_at = ?2, successor_hash = ?3 WHERE token_hash = ?1 AND used_at IS NULL",
                &[s(hash.as_str()), n(now), s(r.token_hash.as_str())],
            )?,
            // Only after the claim above marked the token (`changes()`), in the same transaction.
            self.stmt(
                "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, expires_at) SELECT ?1, ?2, ?3, ?4 WHERE changes() = 1 \
                 ON CONFLICT (token_hash) DO NOTHING",
                &[s(r.token_hash.as_str()), s(r.grant_id.as_str()), s(r.client_id.as_str()), n(r.expires_at)],
            )?,
            self.stmt("UPDATE clients SET last_used_at = ?2 WHERE client_id = ?1", &[s(r.client_id.as_str()), n(now)])?,
            self.stmt("UPDATE grants SET last_refresh_at = ?2 WHERE grant_id = ?1", &[s(r.grant_id.as_str()), n(now)])?,
        ];
        Ok(self.batch(stmts).await?.first().copied() == Some(1))
    }

    async fn record_token_use(&self, client: &ClientId, refreshed: Option<&GrantId>, now: i64) -> StoreResult<()> {
        let mut batch = vec![self.stmt("UPDATE clients SET last_used_at = ?2 WHERE client_id = ?1", &[s(client.as_str()), n(now)])?];
        if let Some(g) = refreshed {
            batch.push(self.stmt("UPDATE grants SET last_refresh_at = ?2 WHERE grant_id = ?1", &[s(g.as_str()), n(now)])?);
        }
        self.batch(batch).await.map(|_| ())
    }
}

pub(super) const CODE_BY_HASH: &str = "SELECT * FROM auth_codes WHERE code_hash = ?1";
pub(super) const REFRESH_BY_HASH: &str = "SELECT * FROM refresh_tokens WHERE token_hash = ?1";

pub(super) fn grant_record(r: GrantRow) -> GrantRecord {
    GrantRecord {
        grant_id: GrantId::new(r.grant_id),
        client_id: ClientId::new(r.client_id),
        subject: Subject::new(r.subject),
        scope: r.scope,
        resource: r.resource,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
    }
}

pub(super) fn code_record(r: CodeRow) -> CodeRecord {
    CodeRecord {
        code_hash: TokenHash::from_stored(r.code_hash),
        client_id: ClientId::new(r.client_id),
        redirect_uri: r.redirect_uri,
        code_challenge: CodeChallenge::from_stored(r.code_challenge),
        scope: r.scope,
        resource: r.resource,
        grant_id: GrantId::new(r.grant_id),
        expires_at: r.expires_at,
        used_at: r.used_at,
    }
}

pub(super) fn refresh_record(r: RefreshRow) -> RefreshRecord {
    RefreshRecord {
        token_hash: TokenHash::from_stored(r.token_hash),
        grant_id: GrantId::new(r.grant_id),
        client_id: ClientId::new(r.client_id),
        expires_at: r.expires_at,
        used_at: r.used_at,
        successor_hash: r.successor_hash.map(TokenHash::from_stored),
    }
}
