//! Canned metadata documents for native tests: the in-memory store answers
//! fetches from a table and counts them, and caches like D1 does.

use std::cell::RefCell;
use std::collections::HashMap;

use super::{ClientDocuments, ClientIdUrl, FetchError, FetchedDocument};
use crate::oauth::store::StoreResult;
use crate::oauth::testing::MemoryStore;

#[derive(Default)]
pub struct CannedDocuments {
    pub answers: RefCell<HashMap<String, Result<FetchedDocument, FetchError>>>,
    /// Every URL fetched, in order.
    pub fetched: RefCell<Vec<String>>,
    pub cache: RefCell<HashMap<String, (String, i64)>>,
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
}

impl ClientDocuments for MemoryStore {
    async fn cached_document(&self, url: &ClientIdUrl, now: i64) -> StoreResult<Option<String>> {
        self.check()?;
        Ok(self.documents.cache.borrow().get(url.as_str()).filter(|(_, exp)| *exp > now).map(|(d, _)| d.clone()))
    }
    async fn cache_document(&self, url: &ClientIdUrl, document: &str, _now: i64, expires_at: i64) -> StoreResult<()> {
        self.check()?;
        self.documents.cache.borrow_mut().insert(url.as_str().into(), (document.into(), expires_at));
        Ok(())
    }
    async fn fetch_document(&self, url: &ClientIdUrl) -> Result<FetchedDocument, FetchError> {
        self.documents.fetched.borrow_mut().push(url.as_str().into());
        let answers = self.documents.answers.borrow();
        answers.get(url.as_str()).cloned().unwrap_or(Err(FetchError::Unreachable))
    }
}
