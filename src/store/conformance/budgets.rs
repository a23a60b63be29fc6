//! `BudgetCounter`: each spend counted once, per kind, source and window.

use super::case::{io, same, Fixture, Outcome};
use crate::store::budgets::BudgetCounter;

pub async fn counted_per_kind_source_and_window<S: BudgetCounter>(s: &S, f: &Fixture) -> Outcome {
    let (source, other) = (f.id("source"), f.id("other-source"));
    let window = f.now - f.now.rem_euclid(3600);
    for n in 1..=3 {
        same(io(s.count_spend("pending", &source, window).await)?, n, &format!("spend {n}"))?;
    }
    same(io(s.count_spend("pending", &other, window).await)?, 1, "another source")?;
    same(io(s.count_spend("upstream", &source, window).await)?, 1, "another kind")?;
    same(io(s.count_spend("pending", &source, window + 3600).await)?, 1, "the next window")
}
