//! A short memory of metadata-document fetches that failed (draft-ietf-oauth-
//! client-id-metadata-document §8.6: the fetch is a request the client makes
//! the server send). Good documents are cached in storage; a failure was
//! refetched on every request that named the URL, so anyone could keep
//! Gatehouse fetching a slow or broken URL, each try holding a request for up
//! to `FETCH_TIMEOUT_SECONDS`. For `TTL` seconds after a failure the same URL
//! gets the same refusal without a fetch.
//!
//! Kept per isolate (no storage write per failure), at most `CAPACITY` URLs,
//! the oldest forgotten first.

use std::cell::RefCell;

use super::error::CimdError;
use super::ClientIdUrl;

/// How long a failed fetch is remembered.
pub const TTL: i64 = 60;
const CAPACITY: usize = 256;

#[derive(Default)]
pub struct FailedFetches {
    /// (url, remembered until, why).
    entries: Vec<(String, i64, CimdError)>,
    /// The slot to reuse when all are full and live: they are reused in turn.
    next: usize,
}

impl FailedFetches {
    /// The refusal of a fetch of `url` that failed less than `TTL` ago.
    pub fn recent(&self, url: &str, now: i64) -> Option<CimdError> {
        self.entries.iter().find(|(u, until, _)| u == url && *until > now).map(|(_, _, why)| why.clone())
    }

    /// Takes the place of this URL's entry, else of an expired one, else
    /// (all `CAPACITY` full) of the oldest.
    pub fn note(&mut self, url: &str, why: &CimdError, now: i64) {
        let entry = (url.to_string(), now + TTL, why.clone());
        let slot = (self.entries.iter().position(|(u, _, _)| u == url)).or_else(|| self.entries.iter().position(|(_, until, _)| *until <= now));
        match slot {
            Some(i) => self.entries[i] = entry,
            None if self.entries.len() < CAPACITY => self.entries.push(entry),
            None => {
                self.entries[self.next] = entry;
                self.next = (self.next + 1) % CAPACITY;
            }
        }
    }
}

thread_local! {
    static FAILED: RefCell<FailedFetches> = const { RefCell::new(FailedFetches { entries: Vec::new(), next: 0 }) };
}

/// See [`FailedFetches::recent`], for this isolate.
pub fn recent(url: &ClientIdUrl, now: i64) -> Option<CimdError> {
    FAILED.with(|f| f.borrow().recent(url.as_str(), now))
}

/// Remembers that fetching `url` failed with `why`.
pub fn note(url: &ClientIdUrl, why: &CimdError, now: i64) {
    FAILED.with(|f| f.borrow_mut().note(url.as_str(), why, now));
}

/// Forgets every failure of this isolate (native tests: one world each).
#[cfg(test)]
pub fn forget_all() {
    FAILED.with(|f| *f.borrow_mut() = FailedFetches::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_remembered_for_ttl_seconds() {
        let mut f = FailedFetches::default();
        f.note("https://a.example/c", &CimdError::new("HTTP 500"), 1000);
        assert_eq!(f.recent("https://a.example/c", 1000 + TTL - 1), Some(CimdError::new("HTTP 500")));
        assert_eq!(f.recent("https://b.example/c", 1000), None, "per URL");
        assert_eq!(f.recent("https://a.example/c", 1000 + TTL), None, "forgotten after TTL");
    }

    #[test]
    fn it_holds_at_most_capacity_urls_forgetting_the_oldest() {
        let mut f = FailedFetches::default();
        for i in 0..CAPACITY + 10 {
            f.note(&format!("https://a.example/{i}"), &CimdError::new("x"), 1000);
        }
        assert_eq!(f.entries.len(), CAPACITY);
        for i in 0..10 {
            assert_eq!(f.recent(&format!("https://a.example/{i}"), 1000), None, "the ten oldest are forgotten");
        }
        for i in 10..CAPACITY + 10 {
            assert!(f.recent(&format!("https://a.example/{i}"), 1000).is_some(), "{i} is remembered");
        }
        f.note("https://a.example/20", &CimdError::new("again"), 1001);
        assert_eq!(f.entries.len(), CAPACITY, "a URL noted again replaces its entry");
        assert_eq!(f.recent("https://a.example/20", 1001), Some(CimdError::new("again")));
        f.note("https://b.example/", &CimdError::new("x"), 1000 + TTL);
        assert_eq!(f.entries.len(), CAPACITY, "an expired entry makes room");
        assert!(f.recent("https://a.example/20", 1000 + TTL).is_some(), "the live one stays");
    }
}
