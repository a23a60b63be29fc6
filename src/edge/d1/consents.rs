//! Remembered consent on D1 (`remembered_consents`, migration 0006). The
//! migration's triggers delete a row when a grant of its (subject, client) is
//! revoked or the client is deleted; the lookup also refuses a row older than
//! such a revocation, so a missing trigger could not bring one back.

use serde::Deserialize;

use super::{n, s, D1Store};
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::StoreResult;
use crate::base::types::{ClientId, Subject};

#[derive(Deserialize)]
struct Row {
    subject: String,
    client_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
}

impl ConsentMemory for D1Store {
    async fn remembered_consent(&self, subject: &Subject, client: &ClientId, now: i64) -> StoreResult<Option<RememberedConsent>> {
        let row = self
            .first::<Row>(
                "SELECT r.subject, r.client_id, r.scope, r.created_at, r.expires_at FROM remembered_consents r \
                 WHERE r.subject = ?1 AND r.client_id = ?2 AND r.expires_at > ?3 \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = r.client_id AND g.subject = r.subject AND g.revoked_at >= r.created_at)",
                &[s(subject.as_str()), s(client.as_str()), n(now)],
            )
            .await?;
        Ok(row.map(|r| RememberedConsent {
            subject: Subject::new(r.subject),
            client_id: ClientId::new(r.client_id),
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }))
    }

    async fn remember_consent(&self, r: &RememberedConsent) -> StoreResult<()> {
        self.exec(
            "INSERT INTO remembered_consents (subject, client_id, scope, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at, expires_at = excluded.expires_at",
            &[s(r.subject.as_str()), s(r.client_id.as_str()), s(&r.scope), n(r.created_at), n(r.expires_at)],
        )
        .await
        .map(|_| ())
    }
}
