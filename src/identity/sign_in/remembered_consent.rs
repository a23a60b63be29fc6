//! Remembered consent (MCP security best practices, "consent per client";
//! issue 5): a person who ticks "Remember for N days" on the consent page is
//! not asked again when the same client, in a browser signed in as the same
//! subject, asks for no more than the scope approved then, and its identity
//! is assured (RFC 8252 §8.6: `may_skip_consent`). One record per
//! (subject, client), replaced by each remembered approval.
//!
//! Forgotten when any grant of that (subject, client) is revoked — RFC 7009
//! `/revoke`, the admin page, refresh or code reuse — or the client is deleted.
//! On D1 that is database triggers (migration 0006), so no revocation path can
//! forget to forget; the lookup also refuses a record older than a revocation
//! of that pair, in case a trigger were ever missing.

use crate::config::Config;
use crate::base::redirect_uri::RedirectUri;
use crate::base::scope::Scopes;
use crate::store::clients::AuthMethod;
use crate::store::clients::ClientRecord;
use crate::store::StoreResult;
use crate::base::types::{ClientId, Subject};

const DAY: i64 = 24 * 3600;

use crate::store::consents::{ConsentMemory, RememberedConsent};

/// The record of `subject` approving `client` for `scope`, remembered for
/// `days` days (0: nothing to remember). Stored with the approval's grant
/// (`GrantStore::store_approval`), by every approval path: the consent page,
/// and a delegated login's callback that carries the checkbox through.
pub fn record(subject: &Subject, client: &ClientId, scope: &str, days: u32, now: i64) -> Option<RememberedConsent> {
    (days > 0).then(|| RememberedConsent {
        subject: subject.clone(),
        client_id: client.clone(),
        scope: Scopes::from_config(scope).to_string(),
        created_at: now,
        expires_at: now + i64::from(days) * DAY,
    })
}

/// Whether a remembered approval lets this request skip the consent page:
/// same subject and client, not expired, and `scope` within the approved one.
pub async fn covers(store: &impl ConsentMemory, subject: &Subject, client: &ClientId, scope: &str, now: i64) -> StoreResult<bool> {
    Ok(match store.remembered_consent(subject, client, now).await? {
        Some(r) => r.expires_at > now && Scopes::from_config(&r.scope).includes(&Scopes::from_config(scope)),
        None => false,
    })
}

/// RFC 8252 §8.6: a request is answered without asking only when the
/// client's identity is assured, and that includes requests an earlier
/// approval would cover. It is for a confidential client (it proves itself
/// when it redeems the code) or an https redirect URI (TLS proves who
/// receives the code). A public client redirecting to a loopback port or a
/// private-use scheme could be any program on the device: always ask.
pub fn may_skip_consent(client: &ClientRecord, redirect_uri: &str) -> bool {
    client.auth_method != AuthMethod::None || RedirectUri::from_stored(redirect_uri).proves_client_identity()
}

/// How many days the "Remember" box offers for this request: none where a
/// remembered approval could never be used (`may_skip_consent`).
pub fn days_offered(config: &Config, client: &ClientRecord, redirect_uri: &str) -> u32 {
    if may_skip_consent(client, redirect_uri) {
        config.consent_remember_days
    } else {
        0
    }
}

/// Whether the consent form's checkbox was ticked.
pub fn ticked(value: Option<&str>) -> bool {
    matches!(value, Some("on" | "1" | "yes" | "true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::{block_on, MemoryStore};

    fn store_with_client(id: &str) -> MemoryStore {
        let s = MemoryStore::default();
        let c = crate::store::clients::ClientRecord {
            client_id: ClientId::new(id),
            secret_hash: None,
            auth_method: crate::store::clients::AuthMethod::None,
            redirect_uris: vec![],
            grant_types: vec!["authorization_code".into()],
            client_name: None,
            metadata: serde_json::Value::Null,
            created_at: 0,
        };
        s.clients.borrow_mut().insert(id.into(), c);
        s
    }

    /// Stores `record`'s approval, as `store_approval` does with a grant.
    async fn remember(s: &MemoryStore, sub: &Subject, client: &ClientId, scope: &str, days: u32, now: i64) -> StoreResult<()> {
        match record(sub, client, scope, days, now) {
            Some(r) => s.remember_consent(&r).await,
            None => Ok(()),
        }
    }

    #[test]
    fn covers_same_or_narrower_scope_until_expiry() {
        let s = store_with_client("c1");
        let (sub, client) = (Subject::new("access:a@example.com"), ClientId::new("c1"));
        block_on(remember(&s, &sub, &client, "write mcp", 30, 1000)).unwrap();
        assert!(block_on(covers(&s, &sub, &client, "mcp", 1001)).unwrap());
        assert!(block_on(covers(&s, &sub, &client, "mcp write", 1001)).unwrap());
        assert!(!block_on(covers(&s, &sub, &client, "mcp admin", 1001)).unwrap(), "wider scope");
        assert!(!block_on(covers(&s, &Subject::new("owner"), &client, "mcp", 1001)).unwrap(), "other subject");
        assert!(!block_on(covers(&s, &sub, &ClientId::new("c2"), "mcp", 1001)).unwrap(), "other client");
        assert!(block_on(covers(&s, &sub, &client, "mcp", 1000 + 30 * DAY - 1)).unwrap());
        assert!(!block_on(covers(&s, &sub, &client, "mcp", 1000 + 30 * DAY)).unwrap(), "expired");
    }

    #[test]
    fn zero_days_remembers_nothing() {
        let s = store_with_client("c1");
        let (sub, client) = (Subject::new("owner"), ClientId::new("c1"));
        block_on(remember(&s, &sub, &client, "mcp", 0, 1000)).unwrap();
        assert!(!block_on(covers(&s, &sub, &client, "mcp", 1001)).unwrap());
        assert!(s.remembered.borrow().is_empty());
    }

    #[test]
    fn a_later_approval_replaces_the_earlier_one() {
        let s = store_with_client("c1");
        let (sub, client) = (Subject::new("owner"), ClientId::new("c1"));
        block_on(remember(&s, &sub, &client, "mcp write", 30, 1000)).unwrap();
        block_on(remember(&s, &sub, &client, "mcp", 30, 2000)).unwrap();
        assert!(!block_on(covers(&s, &sub, &client, "mcp write", 2001)).unwrap());
        assert_eq!(s.remembered.borrow().len(), 1);
    }

    #[test]
    fn the_days_setting_is_checked() {
        let with = |v: &str| {
            let v = v.to_string();
            crate::config::Config::from_lookup(move |k| match k {
                "SIGNING_KEY" => Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".into()),
                "OWNER_PASSWORD" => Some("correct horse".into()),
                "CONSENT_REMEMBER_DAYS" => Some(v.clone()),
                _ => None,
            })
        };
        assert_eq!(with("").unwrap().consent_remember_days, 30, "default");
        assert_eq!(with("0").unwrap().consent_remember_days, 0);
        assert_eq!(with(" 365 ").unwrap().consent_remember_days, 365);
        for bad in ["366", "-1", "a week"] {
            assert_eq!(with(bad).unwrap_err().variable, "CONSENT_REMEMBER_DAYS", "{bad}");
        }
    }

    #[test]
    fn only_a_ticked_box_counts() {
        assert!(ticked(Some("on")));
        assert!(!ticked(None));
        assert!(!ticked(Some("")));
        assert!(!ticked(Some("off")));
    }
}
