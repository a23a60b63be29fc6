//! Dynamic registrations counted per source and clock hour
//! (`registration_policy`'s cap), and their storage trait.

use super::clients::ClientRecord;
use super::StoreResult;

/// Counting of registrations, one row per source and window.
#[allow(async_fn_in_trait)]
pub trait RegistrationCounter {
    /// Adds one registration for `source` in the window starting at `window`
    /// and, when the window's count including it is at most `cap`, stores
    /// `client`; true when it was stored. The count and the insert are one
    /// transaction: a registration that fails to store uses up none of the
    /// cap, and concurrent registrations each see a distinct count.
    async fn register_counted(&self, client: &ClientRecord, source: &str, window: i64, cap: u32) -> StoreResult<bool>;
}
