//! `D1Store`: every storage trait on Cloudflare D1, one file per trait
//! (`clients.rs` implements `ClientStore`, and so on), over the helpers
//! here. Races are settled by SQLite: each claim is one conditional
//! UPDATE/DELETE (or a batch whose later statements run only after a
//! change), and the winner is whoever changed a row.

mod admin;
mod ahead;
mod audit;
mod client_assertions;
mod client_documents;
mod clients;
mod consents;
pub(super) mod faults;
mod grants;
mod limits;
mod maintenance;
mod passkeys;
mod pending;
mod read_ahead;
mod registrations;
pub(super) mod revoked_grants;
mod session_revocations;
mod upstream_states;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use faults::Faults;
use crate::base::error::StoreError;
use crate::store::StoreResult;

pub struct D1Store {
    pub(super) db: D1Database,
    /// The optional `CIMD_FETCH` egress binding (see `cimd_fetch`).
    pub(super) document_fetcher: Option<worker::Fetcher>,
    /// `TEST_CLAIM_DELAY_MS` (0 outside tests): see `hold_claim`.
    claim_delay_ms: u32,
    /// Failures on request, in test builds only (`faults`).
    pub(super) faults: std::rc::Rc<Faults>,
    /// What a `/token` request read ahead (`read_ahead`), until read.
    ahead: std::cell::RefCell<ahead::Ahead>,
    /// The attempt reservation made with the reads, until asked for.
    reserved: std::cell::RefCell<Option<ahead::ReservedAhead>>,
}

impl D1Store {
    pub fn new(db: D1Database) -> Self {
        D1Store { db, document_fetcher: None, claim_delay_ms: 0, faults: Default::default(), ahead: Default::default(), reserved: Default::default() }
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


    /// Every write ends what was read ahead: a read after it goes to D1. (The
    /// counters' `INSERT … RETURNING`, run through `first`, touch none of the
    /// records read ahead.)
    fn forget_read_ahead(&self) {
        *self.ahead.borrow_mut() = Default::default();
    }

    pub(super) fn stmt(&self, sql: &str, args: &[JsValue]) -> StoreResult<D1PreparedStatement> {
        self.faults.statement()?;
        self.db.prepare(sql).bind(args).map_err(err)
    }

    pub(super) async fn exec(&self, sql: &str, args: &[JsValue]) -> StoreResult<usize> {
        self.exec_stmt(self.stmt(sql, args)?).await
    }

    pub(super) async fn exec_stmt(&self, stmt: D1PreparedStatement) -> StoreResult<usize> {
        self.forget_read_ahead();
        self.faults.round_trip().await;
        let r = stmt.run().await.map_err(err)?;
        Ok(r.meta().map_err(err)?.and_then(|m| m.changes).unwrap_or(0))
    }

    /// Runs statements as one transaction; the rows each one changed.
    pub(super) async fn batch(&self, stmts: Vec<D1PreparedStatement>) -> StoreResult<Vec<usize>> {
        self.forget_read_ahead();
        self.faults.round_trip().await;
        let results = self.db.batch(stmts).await.map_err(err)?;
        results.iter().map(|r| Ok(r.meta().map_err(err)?.and_then(|m| m.changes).unwrap_or(0))).collect()
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

