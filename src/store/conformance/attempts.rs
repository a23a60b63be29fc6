//! `AttemptLog`: at most `max` attempts per key since a time, reserved in
//! order until a full key; a release takes back exactly one per key.

use super::case::{io, same, Fixture, Outcome};
use crate::store::attempts::AttemptLog;

pub async fn at_most_max_since_a_time<S: AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let (key, other) = (f.id("attempts"), f.id("other-attempts"));
    let since = f.now - 60;
    for (i, expected) in [1, 1, 0].into_iter().enumerate() {
        same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, expected, &format!("attempt {i} of 2"))?;
    }
    same(io(s.reserve_attempts(&[(other.clone(), 2)], since, f.now).await)?, 1, "another key has its own count")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], f.now + 1, f.now + 2).await)?, 1, "attempts before `since` do not count")?;
    Ok(())
}

pub async fn reserved_in_order_until_a_full_key<S: AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let (a, b, c) = (f.id("a"), f.id("b"), f.id("c"));
    let since = f.now - 60;
    same(io(s.reserve_attempts(&[(b.clone(), 1)], since, f.now).await)?, 1, "b's one attempt")?;
    let all = [(a.clone(), 5), (b.clone(), 1), (c.clone(), 5)];
    same(io(s.reserve_attempts(&all, since, f.now).await)?, 1, "a recorded, b full, c not tried")?;
    same(io(s.reserve_attempts(&[(a.clone(), 1)], since, f.now).await)?, 0, "a holds one attempt now")?;
    same(io(s.reserve_attempts(&[(c.clone(), 1)], since, f.now).await)?, 1, "c holds none before this")
}

pub async fn a_release_takes_back_one_attempt<S: AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let (key, other) = (f.id("attempts"), f.id("other-attempts"));
    let since = f.now - 60;
    let both = [(key.clone(), 2), (other.clone(), 2)];
    for i in 0..2 {
        same(io(s.reserve_attempts(&both, since, f.now).await)?, 2, &format!("attempt {i} of 2 under both"))?;
    }
    io(s.release_attempts(&[key.clone(), other.clone()], f.now).await)?;
    same(io(s.reserve_attempts(&both, since, f.now).await)?, 2, "the released attempts' places")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 0, "only one was released, of two at the same time")?;
    same(io(s.reserve_attempts(&[(other.clone(), 2)], since, f.now).await)?, 0, "and one under the other key")
}
