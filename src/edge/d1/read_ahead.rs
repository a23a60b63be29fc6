//! `ReadAhead` on D1: the reads of a `/token` request as one batch of
//! SELECTs (one round trip), kept until each is read once.

use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use super::clients::{client_record, ClientRow, CLIENT_BY_ID};
use super::grants::{code_record, grant_record, refresh_record, CodeRow, GrantRow, RefreshRow, CODE_BY_HASH, REFRESH_BY_HASH};
use super::{err, s, D1Store};
use super::ahead::Ahead;
use crate::base::types::ClientId;
use crate::store::read_ahead::{ReadAhead, TokenRead};
use crate::store::StoreResult;

/// The first row of one statement's result. Read with `serde_wasm_bindgen::from_value`, the
/// function `D1PreparedStatement::first` uses, so each row type is deserialized by one copy of
/// the code (worker's `D1Result::results` compiles a second: 1.1 KB gzipped more, measured).
fn first_row<T: for<'de> Deserialize<'de>>(results: &js_sys::Array, i: u32) -> StoreResult<Option<T>> {
    let rows = js_sys::Reflect::get(&results.get(i), &JsValue::from_str("results")).map_err(|_| err("D1 batch: a result has no rows"))?;
    let row = js_sys::Array::from(&rows).get(0);
    if row.is_undefined() || row.is_null() {
        return Ok(None);
    }
    serde_wasm_bindgen::from_value(row).map(Some).map_err(err)
}

impl ReadAhead for D1Store {
    async fn read_ahead(&self, client: Option<&ClientId>, token: &TokenRead) -> StoreResult<()> {
        let (by_hash, grant_of, hash) = match token {
            TokenRead::Code(h) => (CODE_BY_HASH, "SELECT * FROM grants WHERE grant_id = (SELECT grant_id FROM auth_codes WHERE code_hash = ?1)", h),
            TokenRead::Refresh(h) => (REFRESH_BY_HASH, "SELECT * FROM grants WHERE grant_id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ?1)", h),
        };
        let mut stmts = vec![self.stmt(by_hash, &[s(hash.as_str())])?, self.stmt(grant_of, &[s(hash.as_str())])?];
        if let Some(id) = client {
            stmts.push(self.stmt(CLIENT_BY_ID, &[s(id.as_str())])?);
        }
        self.faults.round_trip().await;
        let list: js_sys::Array = stmts.iter().map(|st| JsValue::from(st.inner().clone())).collect();
        let db: &worker::worker_sys::D1Database = self.db.as_ref().unchecked_ref();
        let promise = db.batch(list).map_err(|e| err(worker::Error::from(e)))?;
        let results: js_sys::Array = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| err(worker::Error::from(e)))?.into();
        let mut ahead = Ahead::default();
        match token {
            TokenRead::Code(h) => ahead.code = Some((h.clone(), first_row::<CodeRow>(&results, 0)?.map(code_record))),
            TokenRead::Refresh(h) => ahead.refresh = Some((h.clone(), first_row::<RefreshRow>(&results, 0)?.map(refresh_record))),
        }
        // A grant that is not there is not remembered: its read goes to D1 (and finds nothing).
        ahead.grant = first_row::<GrantRow>(&results, 1)?.map(grant_record).map(|g| (g.grant_id.clone(), Some(g)));
        if let Some(id) = client {
            ahead.client = Some((id.clone(), first_row::<ClientRow>(&results, 2)?.map(client_record).transpose()?));
        }
        *self.ahead.borrow_mut() = ahead;
        Ok(())
    }
}
