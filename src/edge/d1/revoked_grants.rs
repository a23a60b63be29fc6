//! The revoked-grant reads of `gateway::revoked_grants` on D1. The set query uses
//! the partial index `grants_revoked_at` (migration 0002), so it touches only
//! the few grants revoked within the last access-token lifetime.

use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use super::faults::Faults;
use super::{all_rows, first_row, D1Row, FromRow};
use crate::base::error::StoreError;
use crate::store::revoked_grants::RevokedGrants;
use crate::store::StoreResult;
use crate::base::types::GrantId;

pub struct D1Revocations<'a> {
    env: &'a Env,
    faults: &'a Faults,
}

impl<'a> D1Revocations<'a> {
    pub fn new(env: &'a Env, faults: &'a Faults) -> Self {
        D1Revocations { env, faults }
    }

    /// The database, for one statement.
    fn db(&self) -> StoreResult<D1Database> {
        self.faults.statement()?;
        self.env.d1("DB").map_err(err)
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

struct Row {
    grant_id: String,
}

impl FromRow for Row {
    fn from_row(r: &D1Row) -> Self {
        Row {
            grant_id: r.text("grant_id"),
        }
    }
}

impl RevokedGrants for D1Revocations<'_> {
    async fn revoked_since(&self, since: i64) -> StoreResult<Vec<GrantId>> {
        revoked_since(&self.db()?, self.faults, since).await
    }

    async fn is_revoked(&self, id: &GrantId) -> StoreResult<bool> {
        is_revoked(&self.db()?, self.faults, id).await
    }
}

/// The same reads on the store the endpoints use, for the conformance suite
/// (the test build's only; `/mcp` reads through `D1Revocations`).
#[cfg(feature = "test-faults")]
impl RevokedGrants for super::D1Store {
    async fn revoked_since(&self, since: i64) -> StoreResult<Vec<GrantId>> {
        self.faults.statement()?;
        revoked_since(&self.db, &self.faults, since).await
    }

    async fn is_revoked(&self, id: &GrantId) -> StoreResult<bool> {
        self.faults.statement()?;
        is_revoked(&self.db, &self.faults, id).await
    }
}

async fn revoked_since(db: &D1Database, faults: &Faults, since: i64) -> StoreResult<Vec<GrantId>> {
    let stmt = db.prepare("SELECT grant_id FROM grants WHERE revoked_at >= ?1").bind(&[JsValue::from_f64(since as f64)]).map_err(err)?;
    faults.round_trip().await;
    let rows = all_rows::<Row>(stmt).await?;
    Ok(rows.into_iter().map(|r| GrantId::new(r.grant_id)).collect())
}

async fn is_revoked(db: &D1Database, faults: &Faults, id: &GrantId) -> StoreResult<bool> {
    // A grant that is gone (deleted with its client) counts as revoked.
    let stmt = db.prepare("SELECT grant_id FROM grants WHERE grant_id = ?1 AND revoked_at IS NULL").bind(&[JsValue::from_str(id.as_str())]).map_err(err)?;
    faults.round_trip().await;
    let live = first_row::<Row>(stmt).await?;
    Ok(live.is_none())
}
