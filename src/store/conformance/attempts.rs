//! `AttemptLog`: at most `max` attempts per key since a time, reserved one
//! by one; a release takes back exactly one.

use super::case::{io, same, Fixture, Outcome};
use crate::store::attempts::AttemptLog;

pub async fn at_most_max_since_a_time<S: AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let (key, other) = (f.id("attempts"), f.id("other-attempts"));
    let since = f.now - 60;
    for (i, expected) in [true, true, false].into_iter().enumerate() {
        same(io(s.reserve_attempt(&key, since, 2, f.now).await)?, expected, &format!("attempt {i} of 2"))?;
    }
    same(io(s.reserve_attempt(&other, since, 2, f.now).await)?, true, "another key has its own count")?;
    same(io(s.reserve_attempt(&key, f.now + 1, 2, f.now + 2).await)?, true, "attempts before `since` do not count")?;
    Ok(())
}

pub async fn a_release_takes_back_one_attempt<S: AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let key = f.id("attempts");
    let since = f.now - 60;
    for i in 0..2 {
        same(io(s.reserve_attempt(&key, since, 2, f.now).await)?, true, &format!("attempt {i} of 2"))?;
    }
    io(s.release_attempt(&key, f.now).await)?;
    same(io(s.reserve_attempt(&key, since, 2, f.now).await)?, true, "the released attempt's place")?;
    same(io(s.reserve_attempt(&key, since, 2, f.now).await)?, false, "only one was released, of two at the same time")
}
