//! Guessing limits (`oauth::attempt_limit`) and per-source budgets
//! (`oauth::source_budget`) on D1. Each check is one statement that counts and
//! records together, so concurrent requests cannot all read the same count.

use worker::D1PreparedStatement;

use super::audit::AUDIT_INSERT;
use super::{n, s, Count, D1Store};
use crate::store::attempts::{AttemptLog, SignInWrite};
use crate::store::budgets::BudgetCounter;
use crate::store::StoreResult;

macro_rules! reserve {
    () => {
        "INSERT INTO login_failures (key, at) SELECT ?1, ?2 WHERE (SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at >= ?3) < ?4"
    };
}
const RESERVE: &str = reserve!();
const RESERVE_AFTER_A_CHANGE: &str = concat!(reserve!(), " AND changes() = 1");
/// The first reservation of a read-ahead (`ReserveAhead`): only while the
/// pending request ?5 is there at ?6 for the browser ?7.
const RESERVE_FOR_PENDING: &str = concat!(
    reserve!(),
    " AND EXISTS (SELECT 1 FROM pending_authorizations WHERE id = ?5 AND expires_at > ?6 AND browser_hash = ?7)"
);

impl AttemptLog for D1Store {
    async fn reserve_attempts(&self, limits: &[(String, u32)], since: i64, now: i64) -> StoreResult<usize> {
        let ahead = self.reserved.borrow_mut().take_if(|r| r.limits == limits && r.since == since && r.now == now);
        if let Some(made) = ahead {
            return Ok(made.recorded);
        }
        let stmts = self.reserve_stmts(limits, since, now, None)?;
        Ok(recorded(self.batch(stmts).await?.into_iter()))
    }

    async fn release_attempts(&self, keys: &[String], at: i64) -> StoreResult<()> {
        let stmts = self.release_stmts(keys, at)?;
        self.batch(stmts).await.map(|_| ())
    }
}

/// How many of a reservation's statements recorded their attempt: those
/// up to the first that did not (`changes()` stops the rest).
pub(super) fn recorded(changed: impl Iterator<Item = usize>) -> usize {
    changed.take_while(|c| *c == 1).count()
}

impl D1Store {
    /// The statements of `reserve_attempts`, in its order; with `pending`
    /// (id, time, browser) the first only while that pending request is
    /// there for that browser (`ReserveAhead`), and so every one.
    pub(super) fn reserve_stmts(
        &self,
        limits: &[(String, u32)],
        since: i64,
        now: i64,
        pending: Option<(&str, i64, &str)>,
    ) -> StoreResult<Vec<D1PreparedStatement>> {
        let mut stmts = Vec::with_capacity(limits.len());
        for (i, (key, max)) in limits.iter().enumerate() {
            let mut args = vec![s(key), n(now), n(since), n((*max).into())];
            // After the first, only if the statement before recorded its attempt (`changes()`).
            let sql = match (i, pending) {
                (0, None) => RESERVE,
                (0, Some((id, at, browser))) => {
                    args.extend([s(id), n(at), s(browser)]);
                    RESERVE_FOR_PENDING
                }
                _ => RESERVE_AFTER_A_CHANGE,
            };
            stmts.push(self.stmt(sql, &args)?);
        }
        Ok(stmts)
    }

    fn release_stmts(&self, keys: &[String], at: i64) -> StoreResult<Vec<D1PreparedStatement>> {
        // Attempts under one key at one second are alike: any one of them will do.
        // A loop rather than `collect` into a `Result` (as in `all_rows`).
        let mut stmts = Vec::with_capacity(keys.len());
        for key in keys {
            stmts.push(self.stmt("DELETE FROM login_failures WHERE rowid = (SELECT rowid FROM login_failures WHERE key = ?1 AND at = ?2 LIMIT 1)", &[s(key), n(at)])?);
        }
        Ok(stmts)
    }

    /// A right secret's writes (`SignInWrite`), unconditional: to go first in
    /// the batch of the write that answers its request, before that write's
    /// `changes()` chain starts.
    pub(super) fn sign_in_stmts(&self, w: &SignInWrite<'_>) -> StoreResult<Vec<D1PreparedStatement>> {
        let mut stmts = self.release_stmts(w.release, w.at)?;
        stmts.push(self.audit_insert(w.audit, AUDIT_INSERT)?);
        Ok(stmts)
    }
}

/// One more spend of kind ?1 by source ?2 in the window starting at ?3.
pub(super) const SPEND_UPSERT: &str = "INSERT INTO source_counts (kind, source, window_start, n) VALUES (?1, ?2, ?3, 1) \
     ON CONFLICT (kind, source, window_start) DO UPDATE SET n = n + 1";

impl BudgetCounter for D1Store {
    async fn count_spend(&self, kind: &str, source: &str, window: i64) -> StoreResult<u32> {
        let row = self.first::<Count>(&format!("{SPEND_UPSERT} RETURNING n"), &[s(kind), s(source), n(window)]).await?;
        // No row back would mean the upsert did not happen: count it as over.
        Ok(row.map(|c| c.n).unwrap_or(u32::MAX))
    }
}
