//! Canned metadata documents for native tests: the in-memory store answers
//! fetches from a table and counts them, and stores copies like D1 does.

use std::cell::RefCell;
use std::collections::HashMap;

use super::{ClientDocuments, ClientIdUrl, FetchError, FetchedDocument, StoredDocument};
use crate::store::StoreResult;
use crate::store::memory::MemoryStore;

#[derive(Default)]
pub struct CannedDocuments {
    pub answers: RefCell<HashMap<String, Result<FetchedDocument, FetchError>>>,
    /// Every URL fetched, in order.
    pub fetched: RefCell<Vec<String>>,
    /// The stored copies, by URL.
    pub cache: RefCell<HashMap<String, StoredDocument>>,
}

impl CannedDocuments {
    /// Serves `body` at `url` with status 200 and the given Cache-Control.
    pub fn serve(&self, url: &str, body: &str, cache_control: Option<&str>) {
        self.answer(url, Ok(FetchedDocument { status: 200, body: body.as_bytes().to_vec(), cache_control: cache_control.map(str::to_string), expires: None, date: None }));
    }
    pub fn answer(&self, url: &str, answer: Result<FetchedDocument, FetchError>) {
        self.answers.borrow_mut().insert(url.to_string(), answer);
    }
    pub fn fetch_count(&self, url: &str) -> usize {
        self.fetched.borrow().iter().filter(|u| *u == url).count()
    }
    /// The stored copy of `url`, if any.
    pub fn stored(&self, url: &str) -> Option<StoredDocument> {
        self.cache.borrow().get(url).cloned()
    }
}

/// Past every use: neither fresh nor able to stand in (as D1's cleanup).
fn spent(d: &StoredDocument, now: i64) -> bool {
    d.expires_at <= now && d.stale_until <= now
}

impl ClientDocuments for MemoryStore {
    async fn stored_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<StoredDocument>> {
        self.check()?;
        Ok(self.documents.cache.borrow().get(url.as_str()).filter(|d| !spent(d, now)).cloned())
    }
    async fn store_document(&self, url: &ClientIdUrl, document: &StoredDocument, now: i64) -> StoreResult<()> {
        self.check()?;
        let mut cache = self.documents.cache.borrow_mut();
        cache.retain(|_, d| !spent(d, now));
        cache.insert(url.as_str().into(), document.clone());
        Ok(())
    }
    async fn forget_document(&self, url: &ClientIdUrl) -> StoreResult<()> {
        self.check()?;
        self.documents.cache.borrow_mut().remove(url.as_str());
        Ok(())
    }
    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError> {
        self.documents.fetched.borrow_mut().push(url.as_str().into());
        let answers = self.documents.answers.borrow();
        answers.get(url.as_str()).cloned().unwrap_or(Err(FetchError::Unreachable))
    }
}
