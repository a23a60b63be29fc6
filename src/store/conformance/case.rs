//! What a case is given and how it fails: the fixture (ids and clock of
//! one run), and the checks every case file uses.

use std::future::Future;
use std::pin::Pin;

/// What one run of a case may use: a prefix no other run shares, and the
/// clock it pretends it is.
pub struct Fixture {
    pub prefix: String,
    pub now: i64,
}

impl Fixture {
    /// An id unique to this run.
    pub fn id(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

pub type Outcome = Result<(), String>;
pub type CaseFn<S> = for<'a> fn(&'a S, &'a Fixture) -> Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// One case: a name (`area/what`) and its body.
pub struct Case<S> {
    pub name: &'static str,
    pub run: CaseFn<S>,
}

/// Fails the case with `what` unless `cond`.
pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> Outcome {
    if cond { Ok(()) } else { Err(what()) }
}

/// Fails the case unless `a == b`, showing both.
pub(crate) fn same<T: PartialEq + std::fmt::Debug>(a: T, b: T, what: &str) -> Outcome {
    check(a == b, || format!("{what}: {a:?} != {b:?}"))
}

/// A store error as a case failure.
pub(crate) fn io<T>(r: crate::store::StoreResult<T>) -> Result<T, String> {
    r.map_err(|e| format!("storage error: {}", e.0))
}
