//! Registration counting (RFC 7591 §3 registration policy) on D1: the count's
//! upsert, the client's insert and its audit event in one batch, so concurrent
//! registrations from one source each see their own number and a failed
//! insert counts nothing.

use super::audit::{log_written, AUDIT_INSERT_AFTER_A_CHANGE};
use super::clients::{client_args, CLIENT_COLUMNS};
use super::{n, s, D1Store};
use crate::store::audit::AuditEvent;
use crate::store::clients::ClientRecord;
use crate::store::registrations::RegistrationCounter;
use crate::store::StoreResult;

impl RegistrationCounter for D1Store {
    async fn register_counted(&self, client: &ClientRecord, event: &AuditEvent, source: &str, window: i64, cap: u32) -> StoreResult<bool> {
        let count = self.stmt(
            "INSERT INTO registration_counts (source, window_start, n) VALUES (?1, ?2, 1) \
             ON CONFLICT (source, window_start) DO UPDATE SET n = n + 1",
            &[s(source), n(window)],
        )?;
        // The insert reads the count the first statement left: one transaction,
        // so a failed insert takes the count back with it.
        let mut args = client_args(client)?;
        args.extend([s(source), n(window), n(i64::from(cap))]);
        let insert = self.stmt(
            &format!(
                "INSERT INTO {CLIENT_COLUMNS} SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
                 WHERE (SELECT n FROM registration_counts WHERE source = ?9 AND window_start = ?10) <= ?11"
            ),
            &args,
        )?;
        // The event only after an insert that took place (`changes()`).
        let audit = self.audit_insert(event, AUDIT_INSERT_AFTER_A_CHANGE)?;
        let stored = self.batch(vec![count, insert, audit]).await?.get(1).copied() == Some(1);
        log_written(None, event, stored);
        Ok(stored)
    }
}
