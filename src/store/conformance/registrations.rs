//! `RegistrationCounter`: at most `cap` clients stored per source and window,
//! and a refused registration stores nothing.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::store::clients::ClientStore;
use crate::store::registrations::RegistrationCounter;

pub async fn at_most_cap_per_source_and_window<S: RegistrationCounter + ClientStore>(s: &S, f: &Fixture) -> Outcome {
    let (source, other) = (f.id("source"), f.id("other-source"));
    for (i, expected) in [true, true, false].into_iter().enumerate() {
        let c = records::client(f, &format!("client-{i}"));
        same(io(s.register_counted(&c, &source, f.now, 2).await)?, expected, &format!("registration {i} of 2"))?;
        same(io(s.client(&c.client_id).await)?.is_some(), expected, &format!("client {i} stored"))?;
    }
    let c = records::client(f, "client-other");
    same(io(s.register_counted(&c, &other, f.now, 2).await)?, true, "another source has its own count")?;
    let c = records::client(f, "client-next-window");
    same(io(s.register_counted(&c, &source, f.now + 3600, 2).await)?, true, "the next window starts afresh")
}
