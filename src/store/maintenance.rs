//! What the periodic cleanup removes, as cut-offs and pure predicates, and
//! the storage trait that removes it. The storage runs them (the D1 SQL in
//! `edge::d1_maintenance` mirrors the predicates here one for one); the
//! cut-offs themselves come from the settings (`operate::maintenance::cutoffs`).

use serde::Serialize;

use super::StoreResult;

/// Times before which rows are stale. Every comparison is strict ("older than").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub now: i64,
    /// Clients created before this ...
    pub client_created_before: i64,
    /// ... and issued no token since this (or never) are removed, with
    /// everything they own. Both are 0 (nothing matches) when disabled.
    pub client_unused_since: i64,
    /// Codes that expired before this. A used code is kept a while after
    /// expiry so that its replay still revokes what it issued.
    pub code_expired_before: i64,
    /// Revoked grants revoked before this: their access tokens have expired.
    pub grant_revoked_before: i64,
    pub login_failure_before: i64,
    /// Counting windows (registrations, `source_budget`) that started before this.
    pub registration_window_before: i64,
    pub audit_before: i64,
}

impl Cutoffs {
    pub fn stale_client(&self, created_at: i64, last_used_at: Option<i64>) -> bool {
        created_at < self.client_created_before && last_used_at.is_none_or(|t| t < self.client_unused_since)
    }

    pub fn stale_pending(&self, expires_at: i64) -> bool {
        self.expired(expires_at)
    }

    /// Short-lived sign-in rows (upstream states, passkey challenges) and
    /// remembered consents past their expiry: reads already ignore them.
    pub fn expired(&self, expires_at: i64) -> bool {
        expires_at <= self.now
    }

    pub fn stale_code(&self, expires_at: i64) -> bool {
        expires_at < self.code_expired_before
    }

    /// Expired refresh tokens only. A rotated token is kept until it
    /// expires: its reuse is how a stolen token is detected (RFC 9700
    /// §4.14.2), and that needs the row.
    pub fn stale_refresh(&self, expires_at: i64) -> bool {
        expires_at <= self.now
    }

    pub fn stale_grant(&self, revoked_at: Option<i64>) -> bool {
        revoked_at.is_some_and(|t| t < self.grant_revoked_before)
    }

    pub fn stale_login_failure(&self, at: i64) -> bool {
        at < self.login_failure_before
    }

    pub fn stale_registration_window(&self, window_start: i64) -> bool {
        window_start < self.registration_window_before
    }

    pub fn stale_audit_event(&self, at: i64) -> bool {
        at < self.audit_before
    }
}

/// Rows removed per table, logged as one JSON line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub clients: u64,
    pub grants: u64,
    pub auth_codes: u64,
    pub refresh_tokens: u64,
    pub pending_authorizations: u64,
    pub login_failures: u64,
    pub registration_counts: u64,
    pub audit_events: u64,
    pub upstream_states: u64,
    pub passkey_challenges: u64,
    pub remembered_consents: u64,
    /// Budget counts of past hours (`source_budget`).
    pub source_counts: u64,
    /// Sign-outs whose cookies have expired anyway (`session`).
    pub session_revocations: u64,
}

/// Storage that can remove everything stale under the cut-offs. Rows owned
/// by a removed client or grant go with it, in one transaction.
#[allow(async_fn_in_trait)]
pub trait Maintenance {
    async fn remove_stale(&self, cut: &Cutoffs) -> StoreResult<Removed>;
}
