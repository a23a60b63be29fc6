//! `Maintenance` in memory: the same predicates as the D1 SQL, for the
//! native tests.

use crate::base::types::{ClientId, GrantId};
use crate::store::maintenance::{Cutoffs, Maintenance, Removed};
use crate::store::StoreResult;

use super::MemoryStore;

impl Maintenance for MemoryStore {
    async fn remove_stale(&self, cut: &Cutoffs) -> StoreResult<Removed> {
        use std::collections::HashSet;
        let count = |before: usize, after: usize| (before - after) as u64;
        let used = self.last_used.borrow();
        let clients: HashSet<String> = self
            .clients
            .borrow()
            .values()
            .filter(|c| cut.stale_client(c.created_at, used.get(c.client_id.as_str()).copied()))
            .map(|c| c.client_id.to_string())
            .collect();
        let grants: HashSet<String> = self
            .grants
            .borrow()
            .values()
            .filter(|g| clients.contains(g.client_id.as_str()) || cut.stale_grant(g.revoked_at))
            .map(|g| g.grant_id.to_string())
            .collect();
        let owned = |client: &ClientId, grant: Option<&GrantId>| {
            clients.contains(client.as_str()) || grant.is_some_and(|g| grants.contains(g.as_str()))
        };
        let mut r = Removed::default();
        macro_rules! retain {
            ($field:ident, $map:expr, $keep:expr) => {{
                let mut m = $map.borrow_mut();
                let before = m.len();
                m.retain($keep);
                r.$field = count(before, m.len());
            }};
        }
        retain!(refresh_tokens, self.refresh, |_, t| !(owned(&t.client_id, Some(&t.grant_id)) || cut.stale_refresh(t.expires_at)));
        retain!(auth_codes, self.codes, |_, c| !(owned(&c.client_id, Some(&c.grant_id)) || cut.stale_code(c.expires_at)));
        retain!(pending_authorizations, self.pending, |_, p| !(owned(&p.client_id, None) || cut.stale_pending(p.expires_at)));
        retain!(grants, self.grants, |id, _| !grants.contains(id));
        retain!(clients, self.clients, |id, _| !clients.contains(id));
        retain!(registration_counts, self.registrations, |(_, w), _| !cut.stale_registration_window(*w));
        let mut f = self.failures.borrow_mut();
        let before = f.len();
        f.retain(|(_, at)| !cut.stale_login_failure(*at));
        r.login_failures = count(before, f.len());
        let mut a = self.audit.borrow_mut();
        let before = a.len();
        a.retain(|e| !cut.stale_audit_event(e.at));
        r.audit_events = count(before, a.len());
        retain!(upstream_states, self.upstream, |_, (u, _)| !cut.expired(u.expires_at));
        retain!(passkey_challenges, self.passkeys.challenges, |_, (_, _, expires_at)| !cut.expired(*expires_at));
        retain!(remembered_consents, self.remembered, |_, c| !cut.expired(c.expires_at));
        retain!(source_counts, self.spends, |(_, _, w), _| !cut.stale_registration_window(*w));
        retain!(session_revocations, self.sessions.revoked, |_, expires_at| !cut.expired(*expires_at));
        let mut all = self.sessions.everywhere.borrow_mut();
        if all.is_some_and(|(_, expires_at)| cut.expired(expires_at)) {
            *all = None;
            r.session_revocations += 1;
        }
        Ok(r)
    }
}
