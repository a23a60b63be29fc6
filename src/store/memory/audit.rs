//! `AuditLog` in memory (same semantics as `edge::d1_audit`).

use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::StoreResult;

use super::MemoryStore;

impl AuditLog for MemoryStore {
    async fn audit(&self, event: &AuditEvent) {
        self.audit.borrow_mut().push(event.clone());
    }
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        if *self.fail.borrow() {
            return Err(crate::base::error::StoreError("injected failure".into()));
        }
        Ok(self.audit.borrow().iter().rev().take(limit as usize).cloned().collect())
    }
}
