//! The `Store` on Cloudflare D1. Races are settled by SQLite: each claim is
//! one conditional UPDATE/DELETE and the winner is whoever changed a row.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::d1_faults::Faults;
use crate::base::error::StoreError;
use crate::base::pkce::CodeChallenge;
use crate::base::redirect_uri::RedirectUri;
use crate::store::clients::{AuthMethod, ClientRecord, ClientStore};
use crate::store::grants::{CodeRecord, GrantRecord, GrantStore, RefreshRecord};
use crate::store::pending::{PendingAuthorization, PendingRequests};
use crate::store::StoreResult;
use crate::base::types::{ClientId, GrantId, Subject, TokenHash};

pub struct D1Store {
    pub(super) db: D1Database,
    /// The optional `CIMD_FETCH` egress binding (see `cimd_fetch`).
    pub(super) document_fetcher: Option<worker::Fetcher>,
    /// `TEST_CLAIM_DELAY_MS` (0 outside tests): see `hold_claim`.
    claim_delay_ms: u32,
    /// Failures on request, in test builds only (`d1_faults`).
    pub(super) faults: std::rc::Rc<Faults>,
}

impl D1Store {
    pub fn new(db: D1Database) -> Self {
        D1Store { db, document_fetcher: None, claim_delay_ms: 0, faults: Default::default() }
    }

    pub fn with_faults(mut self, faults: std::rc::Rc<Faults>) -> Self {
        self.faults = faults;
        self
    }

    /// Fault injection for the security suite: wait before one-time claims.
    pub fn with_claim_delay_ms(mut self, ms: u32) -> Self {
        self.claim_delay_ms = ms;
        self
    }

    /// The caller has read and checked the row by now. Waiting here (a JS
    /// timer, so other requests run meanwhile) lets concurrent requests all pass
    /// those checks: then only the claim's own condition can pick one winner.
    pub(super) async fn hold_claim(&self) {
        if self.claim_delay_ms > 0 {
            worker::Delay::from(std::time::Duration::from_millis(self.claim_delay_ms.into())).await;
        }
    }

    pub fn with_document_fetcher(mut self, fetcher: Option<worker::Fetcher>) -> Self {
        self.document_fetcher = fetcher;
        self
    }


    pub(super) fn stmt(&self, sql: &str, args: &[JsValue]) -> StoreResult<D1PreparedStatement> {
        self.faults.statement()?;
        self.db.prepare(sql).bind(args).map_err(err)
    }

    pub(super) async fn exec(&self, sql: &str, args: &[JsValue]) -> StoreResult<usize> {
        self.exec_stmt(self.stmt(sql, args)?).await
    }

    pub(super) async fn exec_stmt(&self, stmt: D1PreparedStatement) -> StoreResult<usize> {
        self.faults.round_trip().await;
        let r = stmt.run().await.map_err(err)?;
        Ok(r.meta().map_err(err)?.and_then(|m| m.changes).unwrap_or(0))
    }

    /// Runs statements as one transaction; the rows each one changed.
    pub(super) async fn batch(&self, stmts: Vec<D1PreparedStatement>) -> StoreResult<Vec<usize>> {
        self.faults.round_trip().await;
        let results = self.db.batch(stmts).await.map_err(err)?;
        results.iter().map(|r| Ok(r.meta().map_err(err)?.and_then(|m| m.changes).unwrap_or(0))).collect()
    }

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

    /// Every row of one query.
    pub(super) async fn all<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[JsValue]) -> StoreResult<Vec<T>> {
        let stmt = self.stmt(sql, args)?;
        self.faults.round_trip().await;
        stmt.all().await.map_err(err)?.results::<T>().map_err(err)
    }

    pub(super) async fn first<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[JsValue]) -> StoreResult<Option<T>> {
        let stmt = self.stmt(sql, args)?;
        self.faults.round_trip().await;
        stmt.first::<T>(None).await.map_err(err)
    }
}

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

/// A `... AS n` count, for every module's counting queries.
#[derive(Deserialize)]
pub(super) struct Count {
    pub n: u32,
}

pub(super) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

pub(super) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub(super) fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

pub(super) fn opt(v: Option<&str>) -> JsValue {
    v.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

// `from_slice` rather than `from_str` throughout Gatehouse: each reader is its own copy of
// serde_json's parser in the wasm, and with one of them it is smaller (bench/NOTES.md).
pub(super) fn json_list<T: for<'de> Deserialize<'de>>(raw: &str) -> StoreResult<Vec<T>> {
    serde_json::from_slice(raw.as_bytes()).map_err(err)
}

#[derive(Deserialize)]
struct ClientRow {
    client_id: String,
    secret_hash: Option<String>,
    auth_method: String,
    redirect_uris: String,
    grant_types: String,
    client_name: Option<String>,
    metadata: String,
    created_at: i64,
}

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

#[derive(Deserialize)]
struct GrantRow {
    grant_id: String,
    client_id: String,
    subject: String,
    scope: String,
    resource: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

#[derive(Deserialize)]
struct CodeRow {
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

#[derive(Deserialize)]
struct RefreshRow {
    token_hash: String,
    grant_id: String,
    client_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    successor_hash: Option<String>,
}

/// The columns of a new client, in `CLIENT_INSERT`'s order (?1 to ?8).
pub(super) const CLIENT_COLUMNS: &str = "clients (client_id, secret_hash, auth_method, redirect_uris, grant_types, client_name, metadata, created_at)";

pub(super) fn client_args(c: &ClientRecord) -> StoreResult<Vec<JsValue>> {
    let uris: Vec<&str> = c.redirect_uris.iter().map(RedirectUri::as_str).collect();
    Ok(vec![
        s(c.client_id.as_str()),
        opt(c.secret_hash.as_ref().map(TokenHash::as_str)),
        s(c.auth_method.as_str()),
        s(&serde_json::to_string(&uris).map_err(err)?),
        s(&serde_json::to_string(&c.grant_types).map_err(err)?),
        opt(c.client_name.as_deref()),
        s(&c.metadata.to_string()),
        n(c.created_at),
    ])
}

impl ClientStore for D1Store {
    async fn create_client(&self, c: &ClientRecord) -> StoreResult<()> {
        let sql = format!("INSERT INTO {CLIENT_COLUMNS} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        self.exec(&sql, &client_args(c)?).await.map(|_| ())
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        let Some(r) = self.first::<ClientRow>("SELECT * FROM clients WHERE client_id = ?1", &[s(id.as_str())]).await? else {
            return Ok(None);
        };
        Ok(Some(ClientRecord {
            client_id: ClientId::new(r.client_id),
            secret_hash: r.secret_hash.map(TokenHash::from_stored),
            auth_method: AuthMethod::parse(&r.auth_method).ok_or_else(|| err("bad auth_method in store"))?,
            redirect_uris: json_list::<String>(&r.redirect_uris)?.into_iter().map(RedirectUri::from_stored).collect(),
            grant_types: json_list(&r.grant_types)?,
            client_name: r.client_name,
            metadata: serde_json::from_slice(r.metadata.as_bytes()).map_err(err)?,
            created_at: r.created_at,
        }))
    }
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

impl GrantStore for D1Store {
    async fn create_grant(&self, g: &GrantRecord, c: &CodeRecord) -> StoreResult<()> {
        // A batch is one transaction: never a code without its grant.
        let stmts = vec![self.grant_insert(g, GRANT_INSERT)?, self.code_insert(c, CODE_INSERT)?];
        self.batch(stmts).await.map(|_| ())
    }

    async fn create_grant_from_pending(&self, pending: &str, now: i64, g: &GrantRecord, c: &CodeRecord) -> StoreResult<bool> {
        self.hold_claim().await;
        // One transaction: each insert happens only if the statement before it
        // changed a row (`changes()` reads the last completed statement), so a
        // request already consumed or expired writes nothing.
        let consume = self.stmt("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2", &[s(pending), n(now)])?;
        let stmts = vec![consume, self.grant_insert(g, GRANT_INSERT_AFTER_A_CHANGE)?, self.code_insert(c, CODE_INSERT_AFTER_A_CHANGE)?];
        Ok(self.batch(stmts).await?.first().copied() == Some(1))
    }

    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        let row = self.first::<GrantRow>("SELECT * FROM grants WHERE grant_id = ?1", &[s(id.as_str())]).await?;
        Ok(row.map(|r| GrantRecord {
            grant_id: GrantId::new(r.grant_id),
            client_id: ClientId::new(r.client_id),
            subject: Subject::new(r.subject),
            scope: r.scope,
            resource: r.resource,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }))
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
        let row = self.first::<CodeRow>("SELECT * FROM auth_codes WHERE code_hash = ?1", &[s(hash.as_str())]).await?;
        Ok(row.map(|r| CodeRecord {
            code_hash: TokenHash::from_stored(r.code_hash),
            client_id: ClientId::new(r.client_id),
            redirect_uri: r.redirect_uri,
            code_challenge: CodeChallenge::from_stored(r.code_challenge),
            scope: r.scope,
            resource: r.resource,
            grant_id: GrantId::new(r.grant_id),
            expires_at: r.expires_at,
            used_at: r.used_at,
        }))
    }

    async fn claim_code(&self, hash: &TokenHash, now: i64, first_refresh: Option<&RefreshRecord>) -> StoreResult<bool> {
        self.hold_claim().await;
        let claim = self.stmt(
            "UPDATE auth_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            &[s(hash.as_str()), n(now)],
        )?;
        let Some(r) = first_refresh else {
            return Ok(self.exec_stmt(claim).await? == 1);
        };
        // The refresh token is written only by the claim that won, in the same transaction.
        let refresh = self.stmt(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, expires_at) SELECT ?1, ?2, ?3, ?4 WHERE changes() = 1",
            &[s(r.token_hash.as_str()), s(r.grant_id.as_str()), s(r.client_id.as_str()), n(r.expires_at)],
        )?;
        Ok(self.batch(vec![claim, refresh]).await?.first().copied() == Some(1))
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
        let row = self.first::<RefreshRow>("SELECT * FROM refresh_tokens WHERE token_hash = ?1", &[s(hash.as_str())]).await?;
        Ok(row.map(|r| RefreshRecord {
            token_hash: TokenHash::from_stored(r.token_hash),
            grant_id: GrantId::new(r.grant_id),
            client_id: ClientId::new(r.client_id),
            expires_at: r.expires_at,
            used_at: r.used_at,
            successor_hash: r.successor_hash.map(TokenHash::from_stored),
        }))
    }

    async fn claim_refresh(&self, hash: &TokenHash, successor: &TokenHash, now: i64) -> StoreResult<bool> {
        self.hold_claim().await;
        let changed = self
            .exec(
                "UPDATE refresh_tokens SET used_at = ?2, successor_hash = ?3 WHERE token_hash = ?1 AND used_at IS NULL",
                &[s(hash.as_str()), n(now), s(successor.as_str())],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn record_token_use(&self, client: &ClientId, refreshed: Option<&GrantId>, now: i64) -> StoreResult<()> {
        let mut batch = vec![self.stmt("UPDATE clients SET last_used_at = ?2 WHERE client_id = ?1", &[s(client.as_str()), n(now)])?];
        if let Some(g) = refreshed {
            batch.push(self.stmt("UPDATE grants SET last_refresh_at = ?2 WHERE grant_id = ?1", &[s(g.as_str()), n(now)])?);
        }
        self.batch(batch).await.map(|_| ())
    }
}
