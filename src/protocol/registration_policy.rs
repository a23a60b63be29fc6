//! Registration policy for RFC 7591 §3 dynamic registration: which redirect
//! URIs an owner accepts (RFC 7591 §5 leaves this to server policy; RFC 8252
//! §7.3 defines the loopback pattern), and how many registrations one source
//! may make per hour.
//!
//! Claude registers a new client on every connection (requirements.md §B), so
//! the cap exists to stop storage growth from a flood, not to meter clients:
//! the default is far above what any real user does.

use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::redirect_uri::RedirectUri;
use crate::base::source::SourceKey;
use crate::store::StoreResult;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::clients::{ClientRecord, ClientStore};

/// The counting window: one clock hour.
pub const WINDOW: i64 = 3600;

// The settings moved to config/registration.rs (issue 13); the old paths keep working.
use crate::config::registration::{RedirectPattern, RegistrationPolicy};
#[cfg(test)]
use crate::config::registration::parse_allowlist;

/// Whether the owner's policy admits this (already validated) redirect URI.
/// Also meant for the redirect URIs of client metadata documents.
pub fn redirect_allowed(policy: &RegistrationPolicy, uri: &RedirectUri) -> bool {
    let Some(patterns) = &policy.allowlist else { return true };
    patterns.iter().any(|p| match p {
        RedirectPattern::Exact(s) => uri.as_str() == s,
        RedirectPattern::Prefix(s) => uri.as_str().starts_with(s.as_str()),
        RedirectPattern::Loopback => uri.is_loopback(),
    })
}

/// Refuses the first redirect URI the policy does not admit, naming it.
pub fn check_redirects(policy: &RegistrationPolicy, uris: &[RedirectUri]) -> OAuthResult<()> {
    match uris.iter().find(|u| !redirect_allowed(policy, u)) {
        None => Ok(()),
        Some(u) => Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!("redirect URI {:?} is not allowed by this server's registration policy", u.as_str()),
        )),
    }
}

/// Start of the clock hour `now` falls in.
pub fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW)
}

/// Seconds until the current window ends (at least 1).
pub fn retry_after(now: i64) -> i64 {
    (window_start(now) + WINDOW - now).max(1)
}

use crate::store::registrations::RegistrationCounter;

/// The outcome of counting one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the hourly cap: answer 429 with this `Retry-After` (seconds).
    OverCap { retry_after: i64 },
}

/// Stores `client` and its audit `event`, counted against its source's hourly
/// cap: over the cap neither is stored. The count, the insert and the event
/// are one store transaction, so a registration that fails half-way uses up
/// none of the cap. (Without a cap: the insert, then the event on its own.)
pub async fn store_counted<S: RegistrationCounter + ClientStore + AuditLog>(
    policy: &RegistrationPolicy,
    store: &S,
    client: &ClientRecord,
    event: &AuditEvent,
    ip: &str,
    now: i64,
) -> StoreResult<Admission> {
    if policy.per_hour == 0 {
        store.create_client(client).await?;
        store.audit(event).await;
        return Ok(Admission::Admitted);
    }
    let stored = store.register_counted(client, event, SourceKey::from_ip(ip).as_str(), window_start(now), policy.per_hour).await?;
    Ok(if stored { Admission::Admitted } else { Admission::OverCap { retry_after: retry_after(now) } })
}

/// The 429 answer's error (RFC 6585 §4, in the OAuth error shape).
pub fn over_cap_error(policy: &RegistrationPolicy) -> OAuthError {
    OAuthError::new(
        ErrorCode::TooManyRequests,
        format!("too many client registrations from this address (at most {} per hour); try again later", policy.per_hour),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::{block_on, MemoryStore};

    fn policy(list: &str) -> RegistrationPolicy {
        RegistrationPolicy { allowlist: parse_allowlist(list).unwrap(), per_hour: 0 }
    }

    /// Whether registration would admit `uri`: it must parse, then pass the list.
    fn allowed(p: &RegistrationPolicy, uri: &str) -> bool {
        RedirectUri::parse(uri).is_ok_and(|u| redirect_allowed(p, &u))
    }

    #[test]
    fn no_allowlist_allows_everything_valid() {
        let p = policy("  ");
        assert_eq!(p.allowlist, None);
        assert!(allowed(&p, "https://anything.example/cb"));
        assert!(allowed(&p, "cursor://anysphere.cursor-mcp/oauth/callback"));
    }

    #[test]
    fn exact_entries_match_the_whole_string_only() {
        let p = policy("https://claude.ai/api/mcp/auth_callback");
        assert!(allowed(&p, "https://claude.ai/api/mcp/auth_callback"));
        for near in [
            "https://claude.ai/api/mcp/auth_callback/",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://Claude.ai/api/mcp/auth_callback",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.com/api/mcp/auth_callback",
        ] {
            assert!(!allowed(&p, near), "{near}");
        }
    }

    #[test]
    fn prefix_entries_match_by_string_prefix() {
        let p = policy("https://claude.ai/api/mcp/*");
        assert!(allowed(&p, "https://claude.ai/api/mcp/auth_callback"));
        assert!(!allowed(&p, "https://claude.ai/api/other"));
        assert!(!allowed(&p, "https://claude.ai.evil.example/api/mcp/x"));
    }

    /// Issue 15 item 5: the browser resolves these before it navigates, so a
    /// string prefix would vouch for a path outside it.
    #[test]
    fn a_prefix_cannot_be_left_by_dot_segments_encodings_or_backslashes() {
        let p = policy("https://claude.ai/api/mcp/*");
        for escape in [
            "https://claude.ai/api/mcp/../../evil",
            "https://claude.ai/api/mcp/%2e%2e/%2E%2E/evil",
            "https://claude.ai/api/mcp/.%2e/evil",
            "https://claude.ai/api/mcp/..\\..\\evil",
            "https://claude.ai/api/mcp/..%2F..%2Fevil",
            "https://claude.ai/api/mcp/..%5c..%5cevil",
            "https://claude.ai/api/mcp/./../evil",
        ] {
            let browser_goes_to = url::Url::parse(escape).unwrap();
            assert!(!allowed(&p, escape), "{escape} (a browser goes to {browser_goes_to})");
        }
        assert!(allowed(&p, "https://claude.ai/api/mcp/auth_callback"));
        assert!(parse_allowlist("https://claude.ai/api/../*").is_err(), "nor can the owner's prefix hold one");
    }

    #[test]
    fn loopback_means_http_loopback_on_any_port() {
        let p = policy("loopback");
        for ok in ["http://localhost:53682/callback", "http://127.0.0.1/", "http://[::1]:9000/cb", "http://127.0.0.1:1455/callback/abc"] {
            assert!(allowed(&p, ok), "{ok}");
        }
        for no in ["https://claude.ai/api/mcp/auth_callback", "https://localhost/cb", "cursor://anysphere.cursor-mcp/oauth/callback"] {
            assert!(!allowed(&p, no), "{no}");
        }
    }

    #[test]
    fn entries_combine() {
        let p = policy("loopback https://claude.ai/api/mcp/auth_callback cursor://anysphere.cursor-mcp/*");
        assert!(allowed(&p, "http://localhost:1/cb"));
        assert!(allowed(&p, "https://claude.ai/api/mcp/auth_callback"));
        assert!(allowed(&p, "cursor://anysphere.cursor-mcp/oauth/callback"));
        assert!(!allowed(&p, "https://vscode.dev/redirect"));
    }

    #[test]
    fn refusal_names_the_uri() {
        let p = policy("loopback");
        let uris = [RedirectUri::parse("http://localhost/cb").unwrap(), RedirectUri::parse("https://evil.example/cb").unwrap()];
        let e = check_redirects(&p, &uris).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        assert!(e.description.contains("https://evil.example/cb"), "{}", e.description);
        assert!(check_redirects(&p, &uris[..1]).is_ok());
    }

    #[test]
    fn unsafe_patterns_are_configuration_errors() {
        for bad in [
            "https://claude.ai*",
            "https://*.claude.ai/cb",
            "https://claude.ai/*/cb",
            "*",
            "javascript:*",
            "http://evil.example/*",
            "not a uri",
            "https://claude.ai/cb#frag",
            "https://user@claude.ai/*",
            "://x/*",
        ] {
            assert!(parse_allowlist(bad).is_err(), "{bad} should be refused");
        }
        let e = parse_allowlist("loopback https://secret-host.example*").unwrap_err();
        assert!(e.contains("entry 2") && !e.contains("secret-host"), "{e}");
    }

    #[test]
    fn windows_are_clock_hours() {
        assert_eq!(window_start(7200), 7200);
        assert_eq!(window_start(7201), 7200);
        assert_eq!(retry_after(7201), 3599);
        assert_eq!(retry_after(7200), 3600);
    }

    #[test]
    fn the_cap_admits_exactly_per_hour_per_source_and_window() {
        let store = MemoryStore::default();
        let p = RegistrationPolicy { allowlist: None, per_hour: 3 };
        let now = 10 * 3600 + 5;
        let admit_at = |ip, t| counted(&p, &store, ip, t).unwrap();
        for _ in 0..3 {
            assert_eq!(admit_at("198.51.100.1", now), Admission::Admitted);
        }
        assert_eq!(admit_at("198.51.100.1", now), Admission::OverCap { retry_after: 3595 });
        assert_eq!(admit_at("198.51.100.2", now), Admission::Admitted, "another source has its own count");
        assert_eq!(admit_at("198.51.100.1", now + 3600), Admission::Admitted, "the next hour starts afresh");
        assert_eq!(over_cap_error(&p).status(), 429);
    }

    #[test]
    fn zero_means_no_cap() {
        let store = MemoryStore::default();
        let p = RegistrationPolicy { allowlist: None, per_hour: 0 };
        for _ in 0..500 {
            assert_eq!(counted(&p, &store, "198.51.100.1", 0).unwrap(), Admission::Admitted);
        }
        assert!(store.registrations.borrow().is_empty(), "no counting without a cap");
        assert_eq!(store.clients.borrow().len(), 500);
        assert_eq!(store.audit.borrow().len(), 500);
    }

    /// A registration of a fresh client (a new id each call), with its event.
    fn counted(p: &RegistrationPolicy, store: &MemoryStore, ip: &str, now: i64) -> StoreResult<Admission> {
        let c = client();
        let event = AuditEvent { at: now, event: "client.register".into(), subject: None, client_id: Some(c.client_id.as_str().into()), detail: serde_json::json!({}) };
        block_on(store_counted(p, store, &c, &event, ip, now))
    }

    /// A fresh client record (a new id each call).
    fn client() -> ClientRecord {
        use crate::base::types::ClientId;
        use crate::store::clients::AuthMethod;
        ClientRecord {
            client_id: ClientId::new(crate::base::random::id("gh_").unwrap()),
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: vec![RedirectUri::parse("http://127.0.0.1/cb").unwrap()],
            grant_types: vec!["authorization_code".into()],
            client_name: None,
            metadata: serde_json::json!({}),
            created_at: 0,
        }
    }

    #[test]
    fn over_the_cap_nothing_is_stored() {
        let store = MemoryStore::default();
        let p = RegistrationPolicy { allowlist: None, per_hour: 2 };
        for _ in 0..4 {
            counted(&p, &store, "198.51.100.1", 0).unwrap();
        }
        assert_eq!(store.clients.borrow().len(), 2);
        assert_eq!(store.audit.borrow().len(), 2, "an event for each stored client only");
    }

    #[test]
    fn a_registration_that_fails_to_store_uses_none_of_the_cap() {
        let store = MemoryStore::default();
        let p = RegistrationPolicy { allowlist: None, per_hour: 1 };
        store.fail_from.set(Some(0));
        assert!(counted(&p, &store, "198.51.100.1", 0).is_err());
        store.fail_from.set(None);
        assert_eq!(counted(&p, &store, "198.51.100.1", 0).unwrap(), Admission::Admitted);
        assert_eq!(store.clients.borrow().len(), 1);
    }
}

/// The policy as `POST /register` applies it, over the in-memory store.
#[cfg(test)]
mod endpoint_tests {
    use super::*;
    use crate::protocol::context::Ctx;
    use crate::base::http::HttpRequest;
    use crate::protocol::register;
    use crate::store::memory::{block_on, MemoryStore};

    fn post(store: &MemoryStore, config: &crate::config::Config, ip: &str, uri: &str) -> crate::base::http::HttpResponse {
        let req = HttpRequest {
            method: "POST".into(),
            path: "/register".into(),
            headers: vec![("content-type".into(), "application/json".into()), ("cf-connecting-ip".into(), ip.into())],
            body: format!(r#"{{"redirect_uris":["{uri}"]}}"#).into_bytes(),
            ..Default::default()
        };
        let ctx = Ctx { config, store, issuer: "https://gh.example".into(), now: 3600 * 100 + 10 };
        block_on(register::handle(&ctx, &req))
    }

    #[test]
    fn a_dot_segment_escaping_the_allowed_prefix_is_refused_at_registration() {
        let mut config = crate::testing::testing_config();
        config.registration = RegistrationPolicy { allowlist: parse_allowlist("https://claude.ai/api/mcp/*").unwrap(), per_hour: 0 };
        let store = MemoryStore::default();
        for escape in ["https://claude.ai/api/mcp/../../evil", "https://claude.ai/api/mcp/%2e%2e/evil", "https://claude.ai/api/mcp/..\\\\evil"] {
            let r = post(&store, &config, "192.0.2.1", escape);
            assert_eq!(r.status, 400, "{escape}: {}", r.body);
            assert!(r.body.contains("invalid_redirect_uri"), "{}", r.body);
        }
        assert!(store.clients.borrow().is_empty());
        assert_eq!(post(&store, &config, "192.0.2.1", "https://claude.ai/api/mcp/auth_callback").status, 201);
    }

    #[test]
    fn refused_redirect_uris_store_nothing_and_use_no_quota() {
        let mut config = crate::testing::testing_config();
        config.registration = RegistrationPolicy { allowlist: parse_allowlist("loopback").unwrap(), per_hour: 1 };
        let store = MemoryStore::default();
        let r = post(&store, &config, "192.0.2.1", "https://evil.example/cb");
        assert_eq!(r.status, 400);
        assert!(r.body.contains("invalid_redirect_uri") && r.body.contains("https://evil.example/cb"), "{}", r.body);
        assert!(store.clients.borrow().is_empty());
        assert_eq!(post(&store, &config, "192.0.2.1", "http://127.0.0.1/cb").status, 201, "the refusal spent no quota");
    }

    #[test]
    fn over_the_cap_is_429_with_retry_after_and_stores_nothing() {
        let mut config = crate::testing::testing_config();
        config.registration.per_hour = 2;
        let store = MemoryStore::default();
        for _ in 0..2 {
            assert_eq!(post(&store, &config, "192.0.2.1", "http://127.0.0.1/cb").status, 201);
        }
        let r = post(&store, &config, "192.0.2.1", "http://127.0.0.1/cb");
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.body.contains("\"error\":\"slow_down\""), "{}", r.body);
        assert_eq!(r.header("retry-after"), Some("3590"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(store.clients.borrow().len(), 2);
        assert_eq!(store.audit.borrow().len(), 2, "an event for each stored client only");
    }
}
