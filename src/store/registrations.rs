//! Dynamic registrations counted per source and clock hour
//! (`registration_policy`'s cap), and their storage trait.

use super::StoreResult;

/// Counting of registrations, one row per source and window.
#[allow(async_fn_in_trait)]
pub trait RegistrationCounter {
    /// Adds one registration for `source` in the window starting at `window`
    /// and returns the window's count including it (one statement, so
    /// concurrent registrations each see a distinct count).
    async fn count_registration(&self, source: &str, window: i64) -> StoreResult<u32>;
}
