//! The audit log on D1 (`audit_events`, migration 0007), plus its JSON log
//! line for `wrangler tail`.

use worker::D1PreparedStatement;

use super::{n, opt, s, D1Row, D1Store, FromRow};
use crate::store::attempts::SignInWrite;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::StoreResult;

struct EventRow {
    at: i64,
    event: String,
    subject: Option<String>,
    client_id: Option<String>,
    detail: Option<String>,
}

impl FromRow for EventRow {
    fn from_row(r: &D1Row) -> Self {
        EventRow {
            at: r.int("at"),
            event: r.text("event"),
            subject: r.opt_text("subject"),
            client_id: r.opt_text("client_id"),
            detail: r.opt_text("detail"),
        }
    }
}

macro_rules! audit_insert {
    () => {
        "INSERT INTO audit_events (at, event, subject, client_id, detail) SELECT ?1, ?2, ?3, ?4, ?5"
    };
}
/// `AFTER_A_CHANGE`: only if the batch's previous statement changed a row.
pub(super) const AUDIT_INSERT: &str = audit_insert!();
pub(super) const AUDIT_INSERT_AFTER_A_CHANGE: &str = concat!(audit_insert!(), " WHERE changes() = 1");

impl D1Store {
    /// `sql`: `AUDIT_INSERT` or `AUDIT_INSERT_AFTER_A_CHANGE`.
    pub(super) fn audit_insert(&self, e: &AuditEvent, sql: &str) -> StoreResult<D1PreparedStatement> {
        self.stmt(sql, &[n(e.at), s(&e.event), opt(e.subject.as_deref()), opt(e.client_id.as_deref()), s(&e.detail.to_string())])
    }
}

/// The log lines of a batch that wrote its events with the rest: the
/// sign-in's, written whatever else happened, and `audit` when its write
/// took place (`stored`; its insert ran `AFTER_A_CHANGE`).
pub(super) fn log_written(signed_in: Option<&SignInWrite<'_>>, audit: &AuditEvent, stored: bool) {
    if let Some(w) = signed_in {
        worker::console_log!("{}", w.audit.log_line());
    }
    if stored {
        worker::console_log!("{}", audit.log_line());
    }
}

impl AuditLog for D1Store {
    async fn audit(&self, e: &AuditEvent) {
        worker::console_log!("{}", e.log_line());
        let stored = match self.audit_insert(e, AUDIT_INSERT) {
            Ok(stmt) => self.exec_stmt(stmt).await,
            Err(e) => Err(e),
        };
        if let Err(failure) = stored {
            // The event itself is in the line above; the action it records goes on.
            worker::console_error!("{}", serde_json::json!({"event": "audit_store_failed", "audit": e.event, "error": failure.0}));
        }
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let rows = self.all::<EventRow>("SELECT at, event, subject, client_id, detail FROM audit_events ORDER BY id DESC LIMIT ?1", &[n(limit.into())]).await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEvent {
                at: r.at,
                event: r.event,
                subject: r.subject,
                client_id: r.client_id,
                // Rows written by other tools may hold anything: shown as text then.
                detail: r.detail.map(|d| serde_json::from_slice(d.as_bytes()).unwrap_or(serde_json::Value::String(d))).unwrap_or_default(),
            })
            .collect())
    }
}
