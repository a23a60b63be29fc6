//! `AdminQueries` in memory (same semantics as `edge::d1_admin`).

use crate::base::error::StoreError;
use crate::base::types::ClientId;
use crate::store::admin::{AdminQueries, ClientSummary, GrantSummary};
use crate::store::StoreResult;

use super::MemoryStore;

impl AdminQueries for MemoryStore {
    async fn clients_overview(&self, limit: u32) -> StoreResult<(Vec<ClientSummary>, u32)> {
        let clients = self.clients.borrow();
        let grants = self.grants.borrow();
        let mut all: Vec<ClientSummary> = clients
            .values()
            .map(|c| ClientSummary {
                client_id: c.client_id.clone(),
                client_name: c.client_name.clone(),
                redirect_uris: c.redirect_uris.clone(),
                created_at: c.created_at,
                last_used_at: self.last_used.borrow().get(c.client_id.as_str()).copied(),
                active_grants: grants.values().filter(|g| g.client_id == c.client_id && g.revoked_at.is_none()).count() as u32,
            })
            .collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.client_id.as_str().cmp(a.client_id.as_str())));
        let total = all.len() as u32;
        all.truncate(limit as usize);
        Ok((all, total))
    }

    async fn active_grants(&self, limit: u32) -> StoreResult<Vec<GrantSummary>> {
        let clients = self.clients.borrow();
        let mut all: Vec<GrantSummary> = self
            .grants
            .borrow()
            .values()
            .filter(|g| g.revoked_at.is_none())
            .map(|g| GrantSummary {
                grant_id: g.grant_id.clone(),
                client_id: g.client_id.clone(),
                client_name: clients.get(g.client_id.as_str()).and_then(|c| c.client_name.clone()),
                subject: g.subject.clone(),
                scope: g.scope.clone(),
                created_at: g.created_at,
                last_refresh_at: self.last_refresh.borrow().get(g.grant_id.as_str()).copied(),
                document: g.client_id.as_str().starts_with("https://").then(|| {
                    let copy = self.documents.cache.borrow().get(g.client_id.as_str()).cloned();
                    (copy.as_ref().map(|d| d.source), copy.and_then(|d| d.failure).map(|f| f.1))
                }),
            })
            .collect();
        all.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        all.truncate(limit as usize);
        Ok(all)
    }

    async fn delete_client(&self, id: &ClientId, now: i64) -> StoreResult<u32> {
        if *self.fail.borrow() {
            return Err(StoreError("injected failure".into()));
        }
        let mut revoked = 0;
        for g in self.grants.borrow_mut().values_mut().filter(|g| &g.client_id == id && g.revoked_at.is_none()) {
            g.revoked_at = Some(now);
            revoked += 1;
        }
        self.codes.borrow_mut().retain(|_, c| &c.client_id != id);
        self.refresh.borrow_mut().retain(|_, r| &r.client_id != id);
        self.pending.borrow_mut().retain(|_, p| &p.client_id != id);
        self.clients.borrow_mut().remove(id.as_str());
        Ok(revoked)
    }
}
