//! `RevokedGrants`: what the `/mcp` revocation cache refills from.

use super::case::{check, io, same, Fixture, Outcome};
use super::records;
use crate::base::types::GrantId;
use crate::store::grants::GrantStore;
use crate::store::revoked_grants::RevokedGrants;

pub async fn since_is_inclusive<S: GrantStore + RevokedGrants>(s: &S, f: &Fixture) -> Outcome {
    let (revoked, live) = (records::grant(f, "revoked"), records::grant(f, "live"));
    for g in [&revoked, &live] {
        io(s.create_grant(g, &records::code(f, &format!("code-{}", g.grant_id.as_str()), g, f.now + 60)).await)?;
    }
    io(s.revoke_grant(&revoked.grant_id, f.now).await)?;
    let since = io(s.revoked_since(f.now).await)?;
    check(since.contains(&revoked.grant_id), || format!("revoked_since(now) misses the grant revoked at now: {since:?}"))?;
    check(!since.contains(&live.grant_id), || "revoked_since lists a live grant".into())?;
    let later = io(s.revoked_since(f.now + 1).await)?;
    check(!later.contains(&revoked.grant_id), || "revoked_since(now + 1) lists a grant revoked at now".into())?;
    same(io(s.is_revoked(&revoked.grant_id).await)?, true, "is_revoked of the revoked grant")?;
    same(io(s.is_revoked(&live.grant_id).await)?, false, "is_revoked of the live grant")
}

pub async fn unknown_counts_as_revoked<S: RevokedGrants>(s: &S, f: &Fixture) -> Outcome {
    same(io(s.is_revoked(&GrantId::new(f.id("gone"))).await)?, true, "is_revoked of a grant that is not stored")
}
