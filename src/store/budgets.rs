//! Per-source budgets (`source_budget`): spends counted per kind, source and
//! clock hour, and their storage trait.

use super::StoreResult;

/// Counting of spends, one row per kind, source and window.
#[allow(async_fn_in_trait)]
pub trait BudgetCounter {
    /// Adds one spend of `kind` for `source` in the window starting at
    /// `window` and returns the window's count including it (one statement,
    /// so concurrent spends each see a distinct count).
    async fn count_spend(&self, kind: &str, source: &str, window: i64) -> StoreResult<u32>;
}
