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
use wasm_bindgen::{JsCast, JsValue};
use worker::{D1Database, D1PreparedStatement};

use super::row::{self, Cell};

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
        changes(&settle(stmt.inner().run()).await?)
    }

    /// Runs statements as one transaction; the rows each one changed.
    pub(super) async fn batch(&self, stmts: Vec<D1PreparedStatement>) -> StoreResult<Vec<usize>> {
        self.forget_read_ahead();
        self.faults.round_trip().await;
        // A loop rather than `collect` into a `Result` (as in `all_rows`).
        let results = self.batch_results(&stmts).await?;
        let mut changed = Vec::with_capacity(results.length() as usize);
        for r in results.iter() {
            changed.push(changes(&r)?);
        }
        Ok(changed)
    }

    /// The results of statements run as one batch (one transaction, one round trip), in order.
    pub(super) async fn batch_results(&self, stmts: &[D1PreparedStatement]) -> StoreResult<js_sys::Array> {
        let list: js_sys::Array = stmts.iter().map(|st| JsValue::from(st.inner().clone())).collect();
        let db: &worker::worker_sys::D1Database = self.db.as_ref().unchecked_ref();
        Ok(settle(db.batch(list)).await?.unchecked_into())
    }

    /// Every row of one query.
    pub(super) async fn all<T: FromRow>(&self, sql: &str, args: &[JsValue]) -> StoreResult<Vec<T>> {
        let stmt = self.stmt(sql, args)?;
        self.faults.round_trip().await;
        all_rows(stmt).await
    }

    pub(super) async fn first<T: FromRow>(&self, sql: &str, args: &[JsValue]) -> StoreResult<Option<T>> {
        let stmt = self.stmt(sql, args)?;
        self.faults.round_trip().await;
        first_row(stmt).await
    }
}

// D1 through `worker_sys`, the JavaScript API itself, rather than through
// `worker::D1PreparedStatement::{first, all, run}` and `D1Result::meta`: those
// read rows and metadata with serde_wasm_bindgen, whose code per row type was
// most of the D1 layer's bytes in the wasm. Rows are read by hand (`D1Row`,
// `edge::row`) with the same rules.

/// A D1 promise's value; its rejection (a failed statement) as a `StoreError`.
async fn settle(promise: Result<js_sys::Promise, JsValue>) -> StoreResult<JsValue> {
    let js = |e: JsValue| err(worker::Error::from(e));
    wasm_bindgen_futures::JsFuture::from(promise.map_err(js)?).await.map_err(js)
}

/// `meta.changes` of a statement's result: how many rows it changed (0 when D1
/// does not say). As `D1Result::meta` read it: `meta` must be an object,
/// `changes` absent, null or a count.
pub(super) fn changes(result: &JsValue) -> StoreResult<usize> {
    let meta = D1Row::of(js_sys::Reflect::get(result, &JsValue::from_str("meta")).unwrap_or(JsValue::UNDEFINED))
        .ok_or_else(|| err("D1: a result has no meta object"))?;
    Ok(row::opt_count("changes", meta.cell("changes"))?.unwrap_or(0) as usize)
}

/// The rows of a statement's result (`results`: none when absent).
pub(super) fn result_rows(result: &JsValue) -> js_sys::Array {
    let rows = js_sys::Reflect::get(result, &JsValue::from_str("results")).unwrap_or(JsValue::UNDEFINED);
    if rows.is_null() || rows.is_undefined() {
        return js_sys::Array::new();
    }
    js_sys::Array::from(&rows)
}

/// A row read: `None` for null or undefined (no row), an error for anything else
/// that is not an object, or for the first column `from_row` found missing or mistyped.
pub(super) fn read_row<T: FromRow>(v: JsValue) -> StoreResult<Option<T>> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    let r = D1Row::of(v).ok_or_else(|| err("D1: a row is not an object"))?;
    let row = T::from_row(&r);
    match r.failed.into_inner() {
        Some(e) => Err(e),
        None => Ok(Some(row)),
    }
}

pub(super) async fn first_row<T: FromRow>(stmt: D1PreparedStatement) -> StoreResult<Option<T>> {
    read_row(settle(stmt.inner().first(None)).await?)
}

pub(super) async fn all_rows<T: FromRow>(stmt: D1PreparedStatement) -> StoreResult<Vec<T>> {
    let rows = result_rows(&settle(stmt.inner().all()).await?);
    // A loop rather than `collect` into a `Result`: smaller per row type.
    let mut out = Vec::with_capacity(rows.length() as usize);
    for r in rows.iter() {
        out.push(read_row(r)?.ok_or_else(|| err("D1: a row is null"))?);
    }
    Ok(out)
}

/// A row type read from a D1 row by hand, one `D1Row` reader per column.
/// `read_row` fails it if a column could not be read.
pub(super) trait FromRow {
    fn from_row(r: &D1Row) -> Self;
}

/// One D1 row: a JavaScript object, column name to value.
///
/// Its readers do not return a `Result`: a column that is missing or of the
/// wrong type reads as the type's default, and the first such column's error
/// is kept for `read_row` to return instead of the row. Each `?` in a
/// `from_row` would have compiled its own exit, dropping the columns already
/// read (most of each row type's code in the wasm).
pub(super) struct D1Row {
    obj: JsValue,
    failed: std::cell::RefCell<Option<StoreError>>,
}

impl D1Row {
    fn of(v: JsValue) -> Option<D1Row> {
        v.is_object().then(|| D1Row { obj: v, failed: Default::default() })
    }

    /// The column's value by its type (a missing column is `undefined`, so `Null`).
    fn cell(&self, name: &str) -> Cell {
        // Reflect.get on an object throws only from a getter, which rows have none of.
        let v = js_sys::Reflect::get(&self.obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        if let Some(s) = v.as_string() {
            Cell::Text(s)
        } else if let Some(f) = v.as_f64() {
            Cell::Number(f)
        } else if v.is_null() || v.is_undefined() {
            Cell::Null
        } else {
            Cell::Other
        }
    }

    /// The value read, or the default after keeping the first error.
    fn keep<T: Default>(&self, read: StoreResult<T>) -> T {
        read.unwrap_or_else(|e| {
            self.failed.borrow_mut().get_or_insert(e);
            T::default()
        })
    }

    pub fn text(&self, name: &str) -> String {
        self.keep(row::text(name, self.cell(name)))
    }

    pub fn opt_text(&self, name: &str) -> Option<String> {
        self.keep(row::opt_text(name, self.cell(name)))
    }

    pub fn int(&self, name: &str) -> i64 {
        self.keep(row::int(name, self.cell(name)))
    }

    pub fn opt_int(&self, name: &str) -> Option<i64> {
        self.keep(row::opt_int(name, self.cell(name)))
    }

    pub fn count(&self, name: &str) -> u32 {
        self.keep(row::count(name, self.cell(name)))
    }
}

/// A `... AS n` count, for every module's counting queries.
pub(super) struct Count {
    pub n: u32,
}

impl FromRow for Count {
    fn from_row(r: &D1Row) -> Self {
        Count { n: r.count("n") }
    }
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

