//! Remembered consent on D1 (`remembered_consents`, migration 0006). The
//! migration's triggers delete a row when a grant of its (subject, client) is
//! revoked or the client is deleted; the lookup also refuses a row older than
//! such a revocation, so a missing trigger could not bring one back.

use worker::D1PreparedStatement;

use super::ahead::take;
use super::{n, s, D1Row, D1Store, FromRow};
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::StoreResult;
use crate::base::types::{ClientId, Subject};

pub(super) struct ConsentRow {
    subject: String,
    client_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
}

impl FromRow for ConsentRow {
    fn from_row(r: &D1Row) -> Self {
        ConsentRow {
            subject: r.text("subject"),
            client_id: r.text("client_id"),
            scope: r.text("scope"),
            created_at: r.int("created_at"),
            expires_at: r.int("expires_at"),
        }
    }
}

impl ConsentMemory for D1Store {
    async fn remembered_consent(&self, subject: &Subject, client: &ClientId, now: i64) -> StoreResult<Option<RememberedConsent>> {
        if let Some(read) = take(&mut self.ahead.borrow_mut().consent, &(subject.clone(), client.clone(), now)) {
            return Ok(read);
        }
        let row = self.first::<ConsentRow>(CONSENT_OF, &[s(subject.as_str()), s(client.as_str()), n(now)]).await?;
        Ok(row.map(consent_record))
    }

    async fn remember_consent(&self, r: &RememberedConsent) -> StoreResult<()> {
        self.exec_stmt(self.remember_upsert(r, REMEMBER_UPSERT)?).await.map(|_| ())
    }
}

macro_rules! remember_upsert {
    ($when:literal) => {
        concat!(
            "INSERT INTO remembered_consents (subject, client_id, scope, created_at, expires_at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE ",
            $when,
            " ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at, expires_at = excluded.expires_at"
        )
    };
}
/// `AFTER_A_CHANGE`: only if the batch's previous statement changed a row.
/// (SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.)
const REMEMBER_UPSERT: &str = remember_upsert!("true");
pub(super) const REMEMBER_UPSERT_AFTER_A_CHANGE: &str = remember_upsert!("changes() = 1");

impl D1Store {
    /// `sql`: `REMEMBER_UPSERT` or `REMEMBER_UPSERT_AFTER_A_CHANGE`.
    pub(super) fn remember_upsert(&self, r: &RememberedConsent, sql: &str) -> StoreResult<D1PreparedStatement> {
        self.stmt(sql, &[s(r.subject.as_str()), s(r.client_id.as_str()), s(&r.scope), n(r.created_at), n(r.expires_at)])
    }
}

/// The unexpired remembered consent of subject ?1 for client ?2 at ?3, unless
/// a grant of that pair was revoked since it was stored.
pub(super) const CONSENT_OF: &str = "SELECT r.subject, r.client_id, r.scope, r.created_at, r.expires_at FROM remembered_consents r \
     WHERE r.subject = ?1 AND r.client_id = ?2 AND r.expires_at > ?3 \
     AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = r.client_id AND g.subject = r.subject AND g.revoked_at >= r.created_at)";

pub(super) fn consent_record(r: ConsentRow) -> RememberedConsent {
    RememberedConsent {
        subject: Subject::new(r.subject),
        client_id: ClientId::new(r.client_id),
        scope: r.scope,
        created_at: r.created_at,
        expires_at: r.expires_at,
    }
}
