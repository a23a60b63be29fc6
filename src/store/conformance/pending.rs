//! `PendingRequests`: a request waits until it expires or is consumed once.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::store::pending::PendingRequests;

pub async fn round_trip<S: PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    same(io(s.pending(&p.id, f.now).await)?, Some(p), "the pending request read back")
}

pub async fn expired_is_absent<S: PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now);
    io(s.create_pending(&p).await)?;
    same(io(s.pending(&p.id, f.now).await)?, None, "a request at its expiry")?;
    same(io(s.consume_pending(&p.id, f.now).await)?, false, "consuming an expired request")
}

pub async fn consumed_once<S: PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    same(io(s.consume_pending(&p.id, f.now).await)?, true, "the first consume")?;
    same(io(s.consume_pending(&p.id, f.now).await)?, false, "the second consume")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "a consumed request")
}
