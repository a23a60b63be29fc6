//! Dynamic registrations counted per source and clock hour
//! (`registration_policy`'s cap), and their storage trait.

use super::audit::AuditEvent;
use super::clients::ClientRecord;
use super::StoreResult;

/// Counting of registrations, one row per source and window.
#[allow(async_fn_in_trait)]
pub trait RegistrationCounter {
    /// Adds one registration for `source` in the window starting at `window`
    /// and, when the window's count including it is at most `cap`, stores
    /// `client` and its audit `event`; true when it was stored. The count, the
    /// insert and the event are one transaction (one round trip on D1): a
    /// registration that fails to store uses up none of the cap and records
    /// nothing, and concurrent registrations each see a distinct count.
    async fn register_counted(&self, client: &ClientRecord, event: &AuditEvent, source: &str, window: i64, cap: u32) -> StoreResult<bool>;
}
