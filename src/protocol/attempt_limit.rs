//! Limits on guessing a secret a person types: the owner password and the
//! passkey setup code (RFC 6819 §5.1.4.2.3, online guessing; NIST SP 800-63B
//! §5.2.2, rate limiting).
//!
//! An attempt is reserved before the secret is compared, by one conditional
//! statement that records it only while fewer than `max` are recorded: of any
//! number of concurrent guesses exactly `max` are compared, the rest refused
//! unchecked. Counting failures after the comparison let every guess of a
//! burst read the same count and pass. An attempt that proves right is
//! released, so the owner's own sign-ins never count against them: on its
//! own (`release`), or within the write that answers the request the secret
//! was typed for (`Reserved::released_with`), which saves a round trip. If
//! that write fails the attempt stays counted, as a failed release does.
//!
//! Each secret is limited per source (`source::SourceKey`: an IPv4 address or
//! an IPv6 /64) and, for the password typed during an MCP client's
//! authorization, per pending request too: one pending request cannot be
//! guessed at from many addresses.

use crate::base::source::SourceKey;
use crate::store::pending::PENDING_TTL;
use crate::store::StoreResult;

/// The window every limit counts over (also the cleanup's cut-off).
pub const WINDOW: i64 = 15 * 60;

/// At most `max` attempts per `WINDOW` for one key of this limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    /// The key's prefix: `<scope>:<source or request id>`.
    pub scope: &'static str,
    pub max: u32,
}

/// Owner-password attempts from one source (on `/login` and `/admin` alike).
pub const PASSWORD_PER_SOURCE: AttemptLimit = AttemptLimit { scope: "login", max: 5 };
/// Owner-password attempts on one pending authorization request.
pub const PASSWORD_PER_REQUEST: AttemptLimit = AttemptLimit { scope: "login-request", max: 5 };
/// Passkey setup-code attempts from one source.
pub const SETUP_CODE_PER_SOURCE: AttemptLimit = AttemptLimit { scope: "passkey-setup", max: 5 };

// A pending request must not outlive the window that counts its attempts.
const _: () = assert!(PENDING_TTL <= WINDOW);

use crate::store::attempts::{AttemptLog, SignInWrite};
use crate::store::audit::AuditEvent;

/// What one attempt is counted under.
pub struct Counted<'a> {
    pub limit: AttemptLimit,
    /// The source key or request id the limit counts per.
    pub per: &'a str,
}

impl Counted<'_> {
    pub fn source(limit: AttemptLimit, source: &SourceKey) -> Counted<'_> {
        Counted { limit, per: source.as_str() }
    }

    fn key(&self) -> String {
        format!("{}:{}", self.limit.scope, self.per)
    }
}

/// Attempts reserved under each of their keys: release them if the secret was right.
#[must_use]
pub struct Reserved {
    keys: Vec<String>,
    at: i64,
}

/// What `reserve` asks the store for (`AttemptLog::reserve_attempts`'s
/// limits): for a store to reserve ahead (`ReserveAhead`).
pub fn arguments(under: &[Counted<'_>]) -> Vec<(String, u32)> {
    under.iter().map(|c| (c.key(), c.limit.max)).collect()
}

/// The start of the window `reserve` counts over at `now`.
pub fn since(now: i64) -> i64 {
    now - WINDOW
}

/// Reserves one attempt under every limit, in order, in one write: `None`
/// (too many) at the first limit already reached; earlier reservations then
/// stay counted.
pub async fn reserve<S: AttemptLog>(store: &S, under: &[Counted<'_>], now: i64) -> StoreResult<Option<Reserved>> {
    reserve_arguments(store, arguments(under), now).await
}

/// `reserve` of limits already written as `arguments` (which a store may
/// have reserved ahead, `ReserveAhead`).
pub async fn reserve_arguments<S: AttemptLog>(store: &S, limits: Vec<(String, u32)>, now: i64) -> StoreResult<Option<Reserved>> {
    if store.reserve_attempts(&limits, since(now), now).await? < limits.len() {
        return Ok(None);
    }
    Ok(Some(Reserved { keys: limits.into_iter().map(|(k, _)| k).collect(), at: now }))
}

impl Reserved {
    /// The release of these attempts with the sign-in's `audit` event, for
    /// the caller to make part of the write that answers its request
    /// (`SignInWrite`) instead of a write of its own.
    pub fn released_with<'a>(&'a self, audit: &'a AuditEvent) -> SignInWrite<'a> {
        SignInWrite { release: &self.keys, at: self.at, audit }
    }
}

/// The secret was right: its attempt does not count.
pub async fn release<S: AttemptLog>(store: &S, reserved: Reserved) -> StoreResult<()> {
    store.release_attempts(&reserved.keys, reserved.at).await
}

/// The secret was wrong: its attempt stays counted.
pub fn keep(reserved: Reserved) {
    drop(reserved);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::{block_on, MemoryStore};

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn exactly_max_attempts_are_reserved_per_key_and_window() {
        let store = MemoryStore::default();
        let a = SourceKey::from_ip("198.51.100.1");
        let b = SourceKey::from_ip("198.51.100.2");
        let try_at = |s: &SourceKey, t| block_on(reserve(&store, &[Counted::source(PASSWORD_PER_SOURCE, s)], t)).unwrap();
        for _ in 0..PASSWORD_PER_SOURCE.max {
            keep(try_at(&a, NOW).expect("within the limit"));
        }
        assert!(try_at(&a, NOW).is_none(), "the sixth is refused");
        assert!(try_at(&b, NOW).is_some(), "another source has its own count");
        assert!(try_at(&a, NOW + WINDOW).is_none(), "a window is WINDOW seconds long, both ends included");
        assert!(try_at(&a, NOW + WINDOW + 1).is_some(), "the window slides");
    }

    #[test]
    fn a_released_attempt_does_not_count() {
        let store = MemoryStore::default();
        let s = SourceKey::from_ip("2001:db8::1");
        for _ in 0..20 {
            let r = block_on(reserve(&store, &[Counted::source(PASSWORD_PER_SOURCE, &s)], NOW)).unwrap().unwrap();
            block_on(release(&store, r)).unwrap();
        }
        assert!(store.failures.borrow().is_empty());
    }

    #[test]
    fn every_limit_must_admit_and_the_first_refusal_stops() {
        let store = MemoryStore::default();
        let s = SourceKey::from_ip("198.51.100.1");
        let both = |id| [Counted::source(PASSWORD_PER_SOURCE, &s), Counted { limit: PASSWORD_PER_REQUEST, per: id }];
        for _ in 0..PASSWORD_PER_REQUEST.max {
            keep(block_on(reserve(&store, &both("ar_1"), NOW)).unwrap().unwrap());
        }
        let keys: Vec<String> = store.failures.borrow().iter().map(|(k, _)| k.clone()).collect();
        assert!(keys.contains(&"login:198.51.100.1".to_string()) && keys.contains(&"login-request:ar_1".to_string()), "{keys:?}");
        assert!(block_on(reserve(&store, &both("ar_2"), NOW)).unwrap().is_none(), "the source is spent");
        let other = SourceKey::from_ip("198.51.100.9");
        let from_other = [Counted::source(PASSWORD_PER_SOURCE, &other), Counted { limit: PASSWORD_PER_REQUEST, per: "ar_1" }];
        assert!(block_on(reserve(&store, &from_other, NOW)).unwrap().is_none(), "the request is spent, whatever the source");
    }
}
