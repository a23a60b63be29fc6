//! Per-source budgets for what anyone can make Gatehouse store without
//! holding any credential (RFC 6819 §4.4.1.4 and §5.1.4.2.3: bound the
//! resources an unauthenticated caller consumes): pending sign-ins at
//! `/authorize`, passkey challenges, delegated sign-ins in flight, and the
//! audit rows of refused sign-ins.
//!
//! Each kind has its own count per source (`source::SourceKey`) and clock
//! hour, one upsert per spend (`BudgetCounter`), removed by the cron after
//! the hour. Over the budget the row is not written: the request gets a 429
//! (or, for an audit row, only the request log line). Registrations have
//! their own cap (`registration_policy`); guessing limits are in
//! `attempt_limit`, which bounds the rows its attempts write.

use crate::base::page;
use super::context::Ctx;
use crate::base::http::{HttpRequest, HttpResponse};
use super::registration_policy::{retry_after, window_start};
use crate::base::source::SourceKey;
use crate::store::StoreResult;

/// What a spend stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// A pending authorization request (`/authorize` showing a sign-in or consent page).
    PendingSignIn,
    /// A passkey challenge (`/passkeys/challenge`).
    PasskeyChallenge,
    /// A delegated sign-in sent to an upstream provider (`login::delegate`).
    UpstreamSignIn,
    /// An audit row for a sign-in refused to someone not signed in.
    RefusalAudit,
}

impl Spend {
    pub fn as_str(self) -> &'static str {
        match self {
            Spend::PendingSignIn => "pending",
            Spend::PasskeyChallenge => "passkey_challenge",
            Spend::UpstreamSignIn => "upstream",
            Spend::RefusalAudit => "refusal_audit",
        }
    }
}

use crate::store::budgets::{BudgetCounter, BudgetSpend};
use crate::store::pending::{PendingAuthorization, PendingRequests};

/// The outcome of one spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Within,
    /// Over the budget: answer 429 with this `Retry-After` (seconds).
    Spent { retry_after: i64 },
}

/// Counts one `what` for the source of `req`.
pub async fn spend<S: BudgetCounter>(ctx: &Ctx<'_, S>, req: &HttpRequest, what: Spend) -> StoreResult<Budget> {
    let per_hour = ctx.config.source_budget_per_hour;
    if per_hour == 0 {
        return Ok(Budget::Within);
    }
    let n = ctx.store.count_spend(what.as_str(), SourceKey::of(req).as_str(), window_start(ctx.now)).await?;
    Ok(if n > per_hour { Budget::Spent { retry_after: retry_after(ctx.now) } } else { Budget::Within })
}

/// Stores a pending sign-in, counted against the source's budget
/// (`Spend::PendingSignIn`) in the same write: over the budget nothing is stored.
pub async fn store_pending<S: BudgetCounter + PendingRequests>(ctx: &Ctx<'_, S>, req: &HttpRequest, p: &PendingAuthorization) -> StoreResult<Budget> {
    let cap = ctx.config.source_budget_per_hour;
    if cap == 0 {
        ctx.store.create_pending(p).await?;
        return Ok(Budget::Within);
    }
    let source = SourceKey::of(req);
    let spend = BudgetSpend { kind: Spend::PendingSignIn.as_str(), source: source.as_str(), window: window_start(ctx.now), cap };
    let stored = ctx.store.create_pending_counted(p, &spend).await?;
    Ok(if stored { Budget::Within } else { Budget::Spent { retry_after: retry_after(ctx.now) } })
}

/// The page a person sees when their address has used up a budget.
pub fn spent_page(retry_after: i64) -> HttpResponse {
    page::error_page(
        429,
        "Too many sign-in requests",
        &format!(
            "Too many sign-ins were started from your network address this hour. Try again in {} minutes.",
            (retry_after + 59) / 60
        ),
    )
    .with_header("retry-after", retry_after.to_string())
}

/// Stores the audit event of a refused sign-in while the source's budget
/// lasts; past it the refusal is in the request log only.
pub async fn audit_refusal<S: super::store::Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, event: &crate::store::audit::AuditEvent) {
    // A counting failure must not hide the event: store it then.
    if !matches!(spend(ctx, req, Spend::RefusalAudit).await, Ok(Budget::Spent { .. })) {
        ctx.store.audit(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::{block_on, MemoryStore};

    fn from(ip: &str) -> HttpRequest {
        HttpRequest { headers: vec![("cf-connecting-ip".into(), ip.into())], ..Default::default() }
    }

    fn budget(per_hour: u32) -> crate::config::Config {
        let mut config = crate::testing::testing_config();
        config.source_budget_per_hour = per_hour;
        config
    }

    fn ctx<'a>(config: &'a crate::config::Config, store: &'a MemoryStore, now: i64) -> Ctx<'a, MemoryStore> {
        Ctx { config, store, issuer: "https://gh.example".into(), now }
    }

    #[test]
    fn each_kind_has_its_own_count_per_source_and_hour() {
        let (config, store) = (budget(3), MemoryStore::default());
        let now = 100 * 3600 + 60;
        let go = |ip, what, t| block_on(spend(&ctx(&config, &store, t), &from(ip), what)).unwrap();
        for _ in 0..3 {
            assert_eq!(go("2001:db8:1:1::1", Spend::PendingSignIn, now), Budget::Within);
        }
        assert_eq!(go("2001:db8:1:1:ffff::2", Spend::PendingSignIn, now), Budget::Spent { retry_after: 3540 }, "the same /64");
        assert_eq!(go("2001:db8:1:1::1", Spend::PasskeyChallenge, now), Budget::Within, "another kind");
        assert_eq!(go("2001:db8:1:2::1", Spend::PendingSignIn, now), Budget::Within, "another /64");
        assert_eq!(go("2001:db8:1:1::1", Spend::PendingSignIn, now + 3600), Budget::Within, "the next hour");
        assert_eq!(spent_page(3540).status, 429);
        assert_eq!(spent_page(3540).header("retry-after"), Some("3540"));
    }

    #[test]
    fn zero_means_no_budget_and_no_counting() {
        let (config, store) = (budget(0), MemoryStore::default());
        let ctx = ctx(&config, &store, 0);
        for _ in 0..500 {
            assert_eq!(block_on(spend(&ctx, &from("198.51.100.1"), Spend::RefusalAudit)).unwrap(), Budget::Within);
        }
        assert!(store.spends.borrow().is_empty());
    }

    #[test]
    fn refusal_audits_stop_at_the_budget() {
        let (config, store) = (budget(2), MemoryStore::default());
        let ctx = ctx(&config, &store, 0);
        let event = crate::store::audit::AuditEvent { at: 0, event: "login.failure".into(), subject: None, client_id: None, detail: serde_json::json!({}) };
        for _ in 0..5 {
            block_on(audit_refusal(&ctx, &from("198.51.100.1"), &event));
        }
        block_on(audit_refusal(&ctx, &from("198.51.100.2"), &event));
        assert_eq!(store.audit.borrow().len(), 3);
    }
}
