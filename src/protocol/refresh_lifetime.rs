//! How long a refresh token may be used, OAuth 2.1 §4.3 and RFC 9700
//! §4.14.2: each rotated token lives `REFRESH_TOKEN_TTL` from its own issue
//! (idle expiry), no token outlives the grant's `REFRESH_ABSOLUTE_TTL`
//! (absolute expiry), and a rotated token keeps working for the grace
//! window only (hosts refresh in parallel and retry).

use crate::config::Config;
use crate::store::grants::GrantRecord;
use crate::store::grants::RefreshRecord;

/// What a presented refresh token may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshUse {
    /// Never used: rotate it.
    Fresh,
    /// Rotated less than the grace window ago: a parallel or retried refresh.
    WithinGrace,
    /// Rotated longer ago: it leaked, and its grant must be revoked.
    Replayed,
    /// Past its idle or absolute expiry, or its grant is revoked.
    Expired,
}

/// The end of the grant's life: no refresh token is valid at or after it.
pub fn grant_deadline(grant: &GrantRecord, config: &Config) -> i64 {
    grant.created_at.saturating_add(config.refresh_absolute_ttl)
}

/// The expiry of a refresh token issued now: idle lifetime, capped by the
/// grant's absolute deadline.
pub fn new_token_expiry(grant: &GrantRecord, config: &Config, now: i64) -> i64 {
    now.saturating_add(config.refresh_token_ttl).min(grant_deadline(grant, config))
}

/// The effective expiry of a stored token (older rows may predate the cap).
pub fn expiry(record: &RefreshRecord, grant: &GrantRecord, config: &Config) -> i64 {
    record.expires_at.min(grant_deadline(grant, config))
}

pub fn classify(record: &RefreshRecord, grant: &GrantRecord, config: &Config, now: i64) -> RefreshUse {
    if grant.revoked_at.is_some() || expiry(record, grant, config) <= now {
        return RefreshUse::Expired;
    }
    match record.used_at {
        None => RefreshUse::Fresh,
        Some(used) if now - used > config.refresh_grace => RefreshUse::Replayed,
        Some(_) => RefreshUse::WithinGrace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::testing_config;
    use crate::base::types::{ClientId, GrantId, Subject, TokenHash};

    const T0: i64 = 1_800_000_000;

    fn grant() -> GrantRecord {
        GrantRecord {
            grant_id: GrantId::new("g"),
            client_id: ClientId::new("c"),
            subject: Subject::new("owner"),
            scope: "mcp".into(),
            resource: "https://x/mcp".into(),
            created_at: T0,
            revoked_at: None,
        }
    }

    fn token(expires_at: i64, used_at: Option<i64>) -> RefreshRecord {
        RefreshRecord { token_hash: TokenHash::of("t"), grant_id: GrantId::new("g"), client_id: ClientId::new("c"), expires_at, used_at, successor_hash: None }
    }

    #[test]
    fn a_new_token_lives_the_idle_ttl_but_never_past_the_grant_deadline() {
        let c = testing_config();
        let g = grant();
        assert_eq!(new_token_expiry(&g, &c, T0 + 5), T0 + 5 + c.refresh_token_ttl);
        let late = T0 + c.refresh_absolute_ttl - 10;
        assert_eq!(new_token_expiry(&g, &c, late), T0 + c.refresh_absolute_ttl);
    }

    #[test]
    fn use_is_classified_by_idle_expiry_absolute_expiry_grace_and_revocation() {
        let c = testing_config();
        let g = grant();
        let now = T0 + 100;
        assert_eq!(classify(&token(now + 1, None), &g, &c, now), RefreshUse::Fresh);
        assert_eq!(classify(&token(now, None), &g, &c, now), RefreshUse::Expired, "idle expiry");
        assert_eq!(classify(&token(now + 1, Some(now - c.refresh_grace)), &g, &c, now), RefreshUse::WithinGrace);
        assert_eq!(classify(&token(now + 1, Some(now - c.refresh_grace - 1)), &g, &c, now), RefreshUse::Replayed);
        let deadline = T0 + c.refresh_absolute_ttl;
        assert_eq!(classify(&token(deadline + 999, None), &g, &c, deadline), RefreshUse::Expired, "absolute expiry");
        let revoked = GrantRecord { revoked_at: Some(now), ..grant() };
        assert_eq!(classify(&token(now + 1, None), &revoked, &c, now), RefreshUse::Expired);
    }
}
