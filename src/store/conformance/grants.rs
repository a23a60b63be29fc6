//! `GrantStore`: grants, codes claimed once, refresh tokens rotated once.

use super::case::{check, io, same, Fixture, Outcome};
use super::records;
use crate::store::grants::GrantStore;
use crate::store::pending::PendingRequests;

pub async fn create_and_read<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    same(io(s.client_approved(&g.client_id).await)?, false, "approved before any grant")?;
    io(s.create_grant(&g, &c).await)?;
    same(io(s.grant(&g.grant_id).await)?, Some(g.clone()), "the grant read back")?;
    same(io(s.code(&c.code_hash).await)?, Some(c), "the code read back")?;
    same(io(s.client_approved(&g.client_id).await)?, true, "approved with a live grant")
}

pub async fn from_pending_once<S: GrantStore + PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let (g1, g2) = (records::grant(f, "grant-1"), records::grant(f, "grant-2"));
    let (c1, c2) = (records::code(f, "code-1", &g1, f.now + 60), records::code(f, "code-2", &g2, f.now + 60));
    same(io(s.create_grant_from_pending(&p.id, f.now, &g1, &c1).await)?, true, "the first consent")?;
    same(io(s.create_grant_from_pending(&p.id, f.now, &g2, &c2).await)?, false, "a second consent of the same request")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "the request after consent")?;
    same(io(s.grant(&g1.grant_id).await)?, Some(g1), "the first grant")?;
    same(io(s.grant(&g2.grant_id).await)?, None, "the losing grant")?;
    same(io(s.code(&c2.code_hash).await)?, None, "the losing code")
}

pub async fn from_expired_pending_writes_nothing<S: GrantStore + PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now);
    io(s.create_pending(&p).await)?;
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    same(io(s.create_grant_from_pending(&p.id, f.now, &g, &c).await)?, false, "consent of an expired request")?;
    same(io(s.grant(&g.grant_id).await)?, None, "no grant")?;
    same(io(s.code(&c.code_hash).await)?, None, "no code")
}

pub async fn claim_code_once<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    io(s.create_grant(&g, &c).await)?;
    same(io(s.claim_code(&c.code_hash, f.now, None).await)?, true, "the first claim")?;
    same(io(s.claim_code(&c.code_hash, f.now + 1, None).await)?, false, "the second claim")?;
    let stored = io(s.code(&c.code_hash).await)?.ok_or("the claimed code is gone")?;
    same(stored.used_at, Some(f.now), "used_at is the first claim's time")
}

pub async fn claim_code_stores_the_first_refresh_once<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    io(s.create_grant(&g, &c).await)?;
    let (first, second) = (records::refresh(f, "refresh-1", &g), records::refresh(f, "refresh-2", &g));
    same(io(s.claim_code(&c.code_hash, f.now, Some(&first)).await)?, true, "the first claim")?;
    same(io(s.refresh(&first.token_hash).await)?, Some(first), "the first refresh token")?;
    same(io(s.claim_code(&c.code_hash, f.now, Some(&second)).await)?, false, "a second claim")?;
    same(io(s.refresh(&second.token_hash).await)?, None, "the losing claim's refresh token")
}

pub async fn expired_code_is_not_claimed<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now);
    io(s.create_grant(&g, &c).await)?;
    let r = records::refresh(f, "refresh", &g);
    same(io(s.claim_code(&c.code_hash, f.now, Some(&r)).await)?, false, "a claim at the code's expiry")?;
    same(io(s.refresh(&r.token_hash).await)?, None, "no refresh token")
}

pub async fn rotated_once<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    io(s.create_grant(&g, &records::code(f, "code", &g, f.now + 60)).await)?;
    let r = records::refresh(f, "refresh", &g);
    io(s.create_refresh(&r).await)?;
    let (next, rival) = (records::refresh(f, "next", &g), records::refresh(f, "rival", &g));
    same(io(s.rotate_refresh(&r.token_hash, &next, f.now).await)?, true, "the first rotation")?;
    same(io(s.rotate_refresh(&r.token_hash, &rival, f.now).await)?, false, "a racing rotation")?;
    let stored = io(s.refresh(&r.token_hash).await)?.ok_or("the rotated token is gone")?;
    same(stored.used_at, Some(f.now), "used_at")?;
    same(stored.successor_hash, Some(next.token_hash.clone()), "the successor is the winner's")?;
    same(io(s.refresh(&next.token_hash).await)?.map(|t| t.grant_id), Some(g.grant_id), "the winner's successor is stored")?;
    same(io(s.refresh(&rival.token_hash).await)?, None, "the loser's successor is not")
}

pub async fn revoked_once_at_the_first_time<S: GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    io(s.create_grant(&g, &records::code(f, "code", &g, f.now + 60)).await)?;
    io(s.revoke_grant(&g.grant_id, f.now).await)?;
    io(s.revoke_grant(&g.grant_id, f.now + 5).await)?;
    let stored = io(s.grant(&g.grant_id).await)?.ok_or("the revoked grant is gone")?;
    same(stored.revoked_at, Some(f.now), "revoked_at is the first revocation's time")?;
    check(!io(s.client_approved(&g.client_id).await)?, || "a client whose only grant is revoked is still approved".into())
}
