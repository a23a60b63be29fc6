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
use std::collections::VecDeque;

use super::{CimdError, ClientIdUrl};

/// How long a failed fetch is remembered.
pub const TTL: i64 = 60;
const CAPACITY: usize = 256;

#[derive(Default)]
pub struct FailedFetches {
    /// (url, remembered until, why), oldest first.
    entries: VecDeque<(String, i64, CimdError)>,
}

impl FailedFetches {
    /// The refusal of a fetch of `url` that failed less than `TTL` ago.
    pub fn recent(&mut self, url: &str, now: i64) -> Option<CimdError> {
        self.entries.retain(|(_, until, _)| *until > now);
        self.entries.iter().find(|(u, _, _)| u == url).map(|(_, _, why)| why.clone())
    }

    pub fn note(&mut self, url: &str, why: &CimdError, now: i64) {
        self.entries.retain(|(u, _, _)| u != url);
        if self.entries.len() >= CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back((url.to_string(), now + TTL, why.clone()));
    }
}

thread_local! {
    static FAILED: RefCell<FailedFetches> = RefCell::new(FailedFetches::default());
}

/// See [`FailedFetches::recent`], for this isolate.
pub fn recent(url: &ClientIdUrl, now: i64) -> Option<CimdError> {
    FAILED.with(|f| f.borrow_mut().recent(url.as_str(), now))
}

/// Remembers that fetching `url` failed with `why`.
pub fn note(url: &ClientIdUrl, why: &CimdError, now: i64) {
    FAILED.with(|f| f.borrow_mut().note(url.as_str(), why, now));
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
        assert_eq!(f.recent("https://a.example/0", 1000), None);
        assert!(f.recent(&format!("https://a.example/{}", CAPACITY + 9), 1000).is_some());
        f.note("https://a.example/20", &CimdError::new("again"), 1001);
        assert_eq!(f.entries.len(), CAPACITY, "a URL noted again replaces its entry");
        assert_eq!(f.recent("https://a.example/20", 1001), Some(CimdError::new("again")));
    }
}
