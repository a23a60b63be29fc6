//! `ClientStore` on D1.

use wasm_bindgen::JsValue;

use super::ahead::take;
use super::{err, json_list, n, opt, s, D1Row, D1Store, FromRow};
use crate::base::redirect_uri::RedirectUri;
use crate::base::types::{ClientId, TokenHash};
use crate::store::clients::{AuthMethod, ClientRecord, ClientStore};
use crate::store::StoreResult;

pub(super) struct ClientRow {
    client_id: String,
    secret_hash: Option<String>,
    auth_method: String,
    redirect_uris: String,
    grant_types: String,
    client_name: Option<String>,
    metadata: String,
    created_at: i64,
}

impl FromRow for ClientRow {
    fn from_row(r: &D1Row) -> Self {
        ClientRow {
            client_id: r.text("client_id"),
            secret_hash: r.opt_text("secret_hash"),
            auth_method: r.text("auth_method"),
            redirect_uris: r.text("redirect_uris"),
            grant_types: r.text("grant_types"),
            client_name: r.opt_text("client_name"),
            metadata: r.text("metadata"),
            created_at: r.int("created_at"),
        }
    }
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
        if let Some(read) = take(&mut self.ahead.borrow_mut().client, id) {
            return Ok(read);
        }
        self.first::<ClientRow>(CLIENT_BY_ID, &[s(id.as_str())]).await?.map(client_record).transpose()
    }
}

pub(super) const CLIENT_BY_ID: &str = "SELECT * FROM clients WHERE client_id = ?1";

pub(super) fn client_record(r: ClientRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId::new(r.client_id),
        secret_hash: r.secret_hash.map(TokenHash::from_stored),
        auth_method: AuthMethod::parse(&r.auth_method).ok_or_else(|| err("bad auth_method in store"))?,
        redirect_uris: json_list::<String>(&r.redirect_uris)?.into_iter().map(RedirectUri::from_stored).collect(),
        grant_types: json_list(&r.grant_types)?,
        client_name: r.client_name,
        metadata: serde_json::from_slice(r.metadata.as_bytes()).map_err(err)?,
        created_at: r.created_at,
    })
}

