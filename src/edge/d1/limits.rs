//! Guessing limits (`oauth::attempt_limit`) and per-source budgets
//! (`oauth::source_budget`) on D1. Each check is one statement that counts and
//! records together, so concurrent requests cannot all read the same count.

use super::{n, s, Count, D1Store};
use crate::store::attempts::AttemptLog;
use crate::store::budgets::BudgetCounter;
use crate::store::StoreResult;

impl AttemptLog for D1Store {
    async fn reserve_attempt(&self, key: &str, since: i64, max: u32, now: i64) -> StoreResult<bool> {
        let recorded = self
            .exec(
                "INSERT INTO login_failures (key, at) SELECT ?1, ?2 \
                 WHERE (SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at >= ?3) < ?4",
                &[s(key), n(now), n(since), n(max.into())],
            )
            .await?;
        Ok(recorded == 1)
    }

    async fn release_attempt(&self, key: &str, at: i64) -> StoreResult<()> {
        // Attempts under one key at one second are alike: any one of them will do.
        self.exec(
            "DELETE FROM login_failures WHERE rowid = (SELECT rowid FROM login_failures WHERE key = ?1 AND at = ?2 LIMIT 1)",
            &[s(key), n(at)],
        )
        .await
        .map(|_| ())
    }
}

impl BudgetCounter for D1Store {
    async fn count_spend(&self, kind: &str, source: &str, window: i64) -> StoreResult<u32> {
        let row = self
            .first::<Count>(
                "INSERT INTO source_counts (kind, source, window_start, n) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (kind, source, window_start) DO UPDATE SET n = n + 1 RETURNING n",
                &[s(kind), s(source), n(window)],
            )
            .await?;
        // No row back would mean the upsert did not happen: count it as over.
        Ok(row.map(|c| c.n).unwrap_or(u32::MAX))
    }
}
