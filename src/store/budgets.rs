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

/// One spend of `kind` by `source` in the window starting at `window`,
/// allowed while the window's count, with it, is at most `cap`.
#[derive(Debug, Clone, Copy)]
pub struct BudgetSpend<'a> {
    pub kind: &'a str,
    pub source: &'a str,
    pub window: i64,
    pub cap: u32,
}
