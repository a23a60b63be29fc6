//! The periodic cleanup on D1: the predicates of `store::maintenance::Cutoffs`
//! as SQL, all in one batch (one transaction), so rows owned by a removed
//! client or grant never outlive it and a half-done run cannot happen.

use super::{n, D1Store};
use crate::store::maintenance::{Cutoffs, Maintenance, Removed};
use crate::store::StoreResult;

/// `Cutoffs::stale_client`; binds ?1 = client_created_before, ?2 = client_unused_since.
const STALE_CLIENTS: &str =
    "SELECT client_id FROM clients WHERE created_at < ?1 AND (last_used_at IS NULL OR last_used_at < ?2)";

impl Maintenance for D1Store {
    async fn remove_stale(&self, cut: &Cutoffs) -> StoreResult<Removed> {
        // `Cutoffs::stale_grant`, plus every grant of a stale client; ?3 = grant_revoked_before.
        let stale_grants =
            format!("SELECT grant_id FROM grants WHERE (revoked_at IS NOT NULL AND revoked_at < ?3) OR client_id IN ({STALE_CLIENTS})");
        let owned = |table_cutoff: &str| {
            format!("client_id IN ({STALE_CLIENTS}) OR grant_id IN ({stale_grants}) OR {table_cutoff}")
        };
        let args = [n(cut.client_created_before), n(cut.client_unused_since), n(cut.grant_revoked_before)];
        // Children first, then grants, then clients: every statement sees the
        // same stale set because the batch is one transaction.
        let statements = vec![
            self.stmt(&format!("DELETE FROM refresh_tokens WHERE {}", owned("expires_at <= ?4")), &[args[0].clone(), args[1].clone(), args[2].clone(), n(cut.now)])?,
            self.stmt(&format!("DELETE FROM auth_codes WHERE {}", owned("expires_at < ?4")), &[args[0].clone(), args[1].clone(), args[2].clone(), n(cut.code_expired_before)])?,
            self.stmt(
                &format!("DELETE FROM pending_authorizations WHERE client_id IN ({STALE_CLIENTS}) OR expires_at <= ?3"),
                &[args[0].clone(), args[1].clone(), n(cut.now)],
            )?,
            self.stmt(&format!("DELETE FROM grants WHERE grant_id IN ({stale_grants})"), &args)?,
            self.stmt(&format!("DELETE FROM clients WHERE client_id IN ({STALE_CLIENTS})"), &args[..2])?,
            self.stmt("DELETE FROM login_failures WHERE at < ?1", &[n(cut.login_failure_before)])?,
            self.stmt("DELETE FROM registration_counts WHERE window_start < ?1", &[n(cut.registration_window_before)])?,
            self.stmt("DELETE FROM audit_events WHERE at < ?1", &[n(cut.audit_before)])?,
            // `Cutoffs::expired`.
            self.stmt("DELETE FROM upstream_states WHERE expires_at <= ?1", &[n(cut.now)])?,
            self.stmt("DELETE FROM passkey_challenges WHERE expires_at <= ?1", &[n(cut.now)])?,
            self.stmt("DELETE FROM remembered_consents WHERE expires_at <= ?1", &[n(cut.now)])?,
            self.stmt("DELETE FROM source_counts WHERE window_start < ?1", &[n(cut.registration_window_before)])?,
            self.stmt("DELETE FROM session_revocations WHERE expires_at <= ?1", &[n(cut.now)])?,
        ];
        let results = self.batch(statements).await?;
        let mut changes = results.iter().map(|n| *n as u64);
        let mut next = || changes.next().unwrap_or(0);
        Ok(Removed {
            refresh_tokens: next(),
            auth_codes: next(),
            pending_authorizations: next(),
            grants: next(),
            clients: next(),
            login_failures: next(),
            registration_counts: next(),
            audit_events: next(),
            upstream_states: next(),
            passkey_challenges: next(),
            remembered_consents: next(),
            source_counts: next(),
            session_revocations: next(),
        })
    }
}
