//! The periodic cleanup (the cron trigger): the cut-offs that the settings
//! give a run, and the run. What each cut-off removes, and the storage that
//! removes it, is `store::maintenance`.
//!
//! Lifetimes come from OAuth 2.1 §4.1.2 (codes), §4.3.1 / RFC 9700 §4.14
//! (refresh rotation) and RFC 7591 §3 (registered clients are server state
//! the server may expire; a deleted client gets `invalid_client`, RFC 6749
//! §5.2, which makes MCP clients register again).

use crate::config::Config;
use crate::protocol::attempt_limit::WINDOW as LOGIN_WINDOW;
use crate::protocol::registration_policy;
use crate::protocol::token_lifetime;
use crate::store::maintenance::{Cutoffs, Maintenance, Removed};
use crate::store::StoreResult;

const DAY: i64 = 24 * 3600;
/// Audit events are kept this long: long enough to look back on an incident,
/// short enough that the table cannot grow without bound.
pub const AUDIT_RETENTION_DAYS: i64 = 180;

/// The cut-offs of a run at `now` under these settings.
pub fn cutoffs(config: &Config, now: i64) -> Cutoffs {
    let (client_created_before, client_unused_since) = match config.stale_client_days {
        0 => (0, 0),
        days => {
            let idle = days as i64 * DAY;
            // A client's refresh tokens outlive its last issuance by the
            // refresh lifetime; deleting it earlier would log a user out
            // who still holds a valid token.
            (now - idle, now - idle.max(config.refresh_token_ttl))
        }
    };
    Cutoffs {
        now,
        client_created_before,
        client_unused_since,
        code_expired_before: now - token_lifetime::longest(config),
        grant_revoked_before: now - token_lifetime::longest(config),
        login_failure_before: now - LOGIN_WINDOW,
        registration_window_before: registration_policy::window_start(now),
        audit_before: now - AUDIT_RETENTION_DAYS * DAY,
    }
}

/// One cleanup run.
pub async fn run<M: Maintenance>(store: &M, config: &Config, now: i64) -> StoreResult<Removed> {
    store.remove_stale(&cutoffs(config, now)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::pkce::CodeChallenge;
    use crate::base::types::{ClientId, GrantId, Subject, TokenHash};
    use crate::store::clients::{AuthMethod, ClientRecord};
    use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};
    use crate::store::memory::{block_on, MemoryStore};
    use crate::store::pending::PendingAuthorization;
    use std::collections::HashMap;

    const NOW: i64 = 1_800_000_000;

    fn config(stale_days: u32) -> Config {
        let mut c = crate::testing::testing_config();
        c.stale_client_days = stale_days;
        c
    }

    #[test]
    fn clients_go_only_when_old_and_unused() {
        let cut = cutoffs(&config(30), NOW);
        let old = NOW - 31 * DAY;
        assert!(cut.stale_client(old, None), "never used, created 31 days ago");
        assert!(cut.stale_client(old, Some(old)), "last used 31 days ago");
        assert!(!cut.stale_client(NOW - 29 * DAY, None), "too young");
        assert!(!cut.stale_client(old, Some(NOW - DAY)), "used yesterday");
        assert!(!cut.stale_client(NOW - 30 * DAY, None), "exactly 30 days is not older than 30 days");
    }

    #[test]
    fn a_client_outlives_its_refresh_tokens() {
        let mut c = config(7);
        c.refresh_token_ttl = 30 * DAY;
        let cut = cutoffs(&c, NOW);
        assert!(cut.stale_client(NOW - 8 * DAY, None), "never issued a token: 7 days suffice");
        assert!(!cut.stale_client(NOW - 40 * DAY, Some(NOW - 8 * DAY)), "its refresh token is still valid");
        assert!(cut.stale_client(NOW - 40 * DAY, Some(NOW - 31 * DAY)));
    }

    #[test]
    fn zero_days_never_removes_clients() {
        let cut = cutoffs(&config(0), NOW);
        assert!(!cut.stale_client(0, None));
        assert!(!cut.stale_client(1, Some(1)));
    }

    #[test]
    fn short_lived_rows_go_after_their_lifetimes() {
        let c = config(30);
        let cut = cutoffs(&c, NOW);
        assert!(cut.stale_pending(NOW) && !cut.stale_pending(NOW + 1));
        assert!(cut.stale_refresh(NOW - 1) && !cut.stale_refresh(NOW + 1));
        assert!(cut.stale_code(NOW - c.access_token_ttl - 1));
        assert!(!cut.stale_code(NOW - 5), "an expired code is kept for replay detection a while");
        assert!(cut.stale_grant(Some(NOW - c.access_token_ttl - 1)));
        assert!(!cut.stale_grant(Some(NOW - 10)), "its access tokens may still be in use");
        assert!(!cut.stale_grant(None), "live grants stay");
        assert!(cut.stale_login_failure(NOW - LOGIN_WINDOW - 1) && !cut.stale_login_failure(NOW - 10));
        let this_hour = registration_policy::window_start(NOW);
        assert!(cut.stale_registration_window(this_hour - 3600) && !cut.stale_registration_window(this_hour));
        assert!(cut.stale_audit_event(NOW - AUDIT_RETENTION_DAYS * DAY - 1) && !cut.stale_audit_event(NOW - 30 * DAY));
    }

    #[test]
    fn revoked_grants_are_kept_as_long_as_the_longest_client_lifetime() {
        let mut c = config(30);
        c.client_token_lifetimes = crate::config::token_lifetimes::parse("redirect:claude.ai=172800").unwrap();
        let cut = cutoffs(&c, NOW);
        assert!(!cut.stale_grant(Some(NOW - c.access_token_ttl - 1)), "a two-day token of that grant may still be in use");
        assert!(!cut.stale_grant(Some(NOW - 172_800 + 10)));
        assert!(cut.stale_grant(Some(NOW - 172_800 - 1)));
    }

    #[test]
    fn run_removes_stale_rows_and_what_they_own() {
        let store = MemoryStore::default();
        let c = config(30);
        seed(&store);
        let removed = block_on(run(&store, &c, NOW)).unwrap();
        assert_eq!(
            removed,
            Removed {
                clients: 1,
                grants: 2,
                auth_codes: 3,
                refresh_tokens: 3,
                pending_authorizations: 2,
                login_failures: 1,
                registration_counts: 1,
                audit_events: 1,
                upstream_states: 1,
                passkey_challenges: 1,
                remembered_consents: 1,
                source_counts: 1,
                session_revocations: 2,
            }
        );
        assert_eq!(store.spends.borrow().keys().map(|(k, _, _)| k.as_str()).collect::<Vec<_>>(), ["pending"]);
        assert_eq!(store.sessions.revoked.borrow().keys().collect::<Vec<_>>(), ["s_live"]);
        assert_eq!(*store.sessions.everywhere.borrow(), None);
        assert_eq!(keys(&store.upstream), ["u_live"]);
        assert_eq!(store.passkeys.challenges.borrow().keys().collect::<Vec<_>>(), ["ch_live"]);
        assert_eq!(store.remembered.borrow().values().map(|c| c.client_id.to_string()).collect::<Vec<_>>(), ["fresh"]);
        assert_eq!(keys(&store.clients), ["fresh"]);
        assert_eq!(keys(&store.grants), ["g_live", "g_revoked_recent"]);
        assert_eq!(keys(&store.refresh), ["r_live", "r_rotated"]);
        assert_eq!(keys(&store.codes), ["c_live"]);
        assert_eq!(keys(&store.pending), ["p_live"]);
        assert_eq!(store.failures.borrow().len(), 1);
        assert_eq!(store.registrations.borrow().len(), 1);
        assert_eq!(store.audit.borrow().iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["recent"]);
        assert_eq!(block_on(run(&store, &c, NOW)).unwrap(), Removed::default(), "a second run finds nothing");
    }

    fn keys<V>(m: &std::cell::RefCell<HashMap<String, V>>) -> Vec<String> {
        let mut k: Vec<String> = m.borrow().keys().cloned().collect();
        k.sort();
        k
    }

    /// One stale client with everything it owns, and one fresh client with
    /// live and stale rows of each kind.
    fn seed(store: &MemoryStore) {
        let client = |id: &str, created_at| ClientRecord {
            client_id: ClientId::new(id),
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: vec![],
            grant_types: vec![],
            client_name: None,
            metadata: serde_json::Value::Null,
            created_at,
        };
        let grant = |id: &str, client: &str, revoked_at| GrantRecord {
            grant_id: GrantId::new(id),
            client_id: ClientId::new(client),
            subject: Subject::new("owner"),
            scope: "mcp".into(),
            resource: "r".into(),
            created_at: NOW - DAY,
            revoked_at,
        };
        let code = |id: &str, client: &str, grant: &str, expires_at| CodeRecord {
            code_hash: TokenHash::from_stored(id),
            client_id: ClientId::new(client),
            redirect_uri: "u".into(),
            code_challenge: CodeChallenge::from_stored("c"),
            scope: "mcp".into(),
            resource: "r".into(),
            grant_id: GrantId::new(grant),
            expires_at,
            used_at: None,
        };
        let refresh = |id: &str, client: &str, grant: &str, expires_at, used_at| RefreshRecord {
            token_hash: TokenHash::from_stored(id),
            grant_id: GrantId::new(grant),
            client_id: ClientId::new(client),
            expires_at,
            used_at,
            successor_hash: None,
        };
        let pending = |id: &str, client: &str, expires_at| PendingAuthorization {
            id: id.into(),
            client_id: ClientId::new(client),
            redirect_uri: "u".into(),
            state: None,
            code_challenge: CodeChallenge::from_stored("c"),
            scope: "mcp".into(),
            resource: "r".into(),
            browser: TokenHash::from_stored("b"),
            expires_at,
        };
        for c in [client("old", NOW - 40 * DAY), client("fresh", NOW - DAY)] {
            store.clients.borrow_mut().insert(c.client_id.to_string(), c);
        }
        for g in [
            grant("g_old", "old", None),
            grant("g_live", "fresh", None),
            grant("g_revoked_old", "fresh", Some(NOW - 7200)),
            grant("g_revoked_recent", "fresh", Some(NOW - 10)),
        ] {
            store.grants.borrow_mut().insert(g.grant_id.to_string(), g);
        }
        for c in [
            code("c_old", "old", "g_old", NOW + 30),
            code("c_rev", "fresh", "g_revoked_old", NOW + 30),
            code("c_expired_long", "fresh", "g_live", NOW - 7200),
            code("c_live", "fresh", "g_live", NOW - 5),
        ] {
            store.codes.borrow_mut().insert(c.code_hash.as_str().into(), c);
        }
        for r in [
            refresh("r_old", "old", "g_old", NOW + DAY, None),
            refresh("r_rev", "fresh", "g_revoked_old", NOW + DAY, None),
            refresh("r_expired", "fresh", "g_live", NOW - 1, None),
            refresh("r_live", "fresh", "g_live", NOW + DAY, None),
            refresh("r_rotated", "fresh", "g_live", NOW + DAY, Some(NOW - 7200)),
        ] {
            store.refresh.borrow_mut().insert(r.token_hash.as_str().into(), r);
        }
        for p in [pending("p_old", "old", NOW + 60), pending("p_expired", "fresh", NOW - 1), pending("p_live", "fresh", NOW + 60)] {
            store.pending.borrow_mut().insert(p.id.clone(), p);
        }
        store.failures.borrow_mut().extend([("login:x".to_string(), NOW - LOGIN_WINDOW - 10), ("login:x".to_string(), NOW - 5)]);
        let hour = registration_policy::window_start(NOW);
        store.registrations.borrow_mut().extend([(("1.2.3.4".to_string(), hour - 3600), 5), (("1.2.3.4".to_string(), hour), 1)]);
        store.spends.borrow_mut().extend([(("pending".to_string(), "1.2.3.4".to_string(), hour - 3600), 9), (("pending".to_string(), "1.2.3.4".to_string(), hour), 1)]);
        store.sessions.revoked.borrow_mut().extend([("s_expired".to_string(), NOW), ("s_live".to_string(), NOW + 60)]);
        *store.sessions.everywhere.borrow_mut() = Some((NOW - crate::identity::browser_session::SESSION_TTL, NOW));
        let event = |name: &str, at| crate::store::audit::AuditEvent { at, event: name.into(), subject: None, client_id: None, detail: serde_json::json!({}) };
        store.audit.borrow_mut().extend([event("ancient", NOW - AUDIT_RETENTION_DAYS * DAY - 10), event("recent", NOW - DAY)]);
        // Sign-in leftovers: one expired and one live row of each kind.
        use crate::store::{consents::RememberedConsent, passkeys::Purpose, upstream_states::UpstreamState};
        for (id, expires_at) in [("u_expired", NOW), ("u_live", NOW + 60)] {
            let state = UpstreamState {
                state_hash: TokenHash::of(id),
                cookie_hash: TokenHash::of("cookie"),
                provider: "oidc".into(),
                pending_id: "p_live".into(),
                nonce: "n".into(),
                remember: false,
                expires_at,
            };
            store.upstream.borrow_mut().insert(id.into(), (state, false));
        }
        for (id, expires_at) in [("ch_expired", NOW - 1), ("ch_live", NOW + 60)] {
            store.passkeys.challenges.borrow_mut().insert(id.into(), (Purpose::Login, TokenHash::of("browser"), expires_at));
        }
        for (client, expires_at) in [("gone", NOW - 1), ("fresh", NOW + DAY)] {
            let consent = RememberedConsent { subject: Subject::new("owner"), client_id: ClientId::new(client), scope: "mcp".into(), created_at: NOW - DAY, expires_at };
            store.remembered.borrow_mut().insert(("owner".into(), client.into()), consent);
        }
    }
}
