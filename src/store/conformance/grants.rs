//! `GrantStore`: grants, codes claimed once, refresh tokens rotated once.

use super::case::{check, io, same, Fixture, Outcome};
use super::records;
use crate::store::attempts::{AttemptLog, SignInWrite};
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::grants::{ApprovalWrite, CodeRecord, GrantRecord, GrantStore};
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

/// The approval of a pending request: the grant, its code, "remember" and
/// the audit event.
fn approval<'a>(f: &Fixture, g: &'a GrantRecord, c: &'a CodeRecord, p: &'a str, r: &'a RememberedConsent, e: &'a AuditEvent) -> ApprovalWrite<'a> {
    ApprovalWrite { grant: g, code: c, pending: Some((p, f.now)), remember: Some(r), audit: e, signed_in: None }
}

fn remembered(f: &Fixture, g: &GrantRecord, scope: &str) -> RememberedConsent {
    RememberedConsent { subject: g.subject.clone(), client_id: g.client_id.clone(), scope: scope.into(), created_at: f.now, expires_at: f.now + 100 }
}

/// The audit events of this fixture's client, newest first.
async fn events_of<S: AuditLog>(s: &S, f: &Fixture) -> Result<Vec<String>, String> {
    let client = f.id("client");
    Ok(io(s.recent_audit(500).await)?.into_iter().filter(|e| e.client_id.as_deref() == Some(&client)).map(|e| e.event).collect())
}

pub async fn from_pending_once<S: GrantStore + PendingRequests + ConsentMemory + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let (g1, g2) = (records::grant(f, "grant-1"), records::grant(f, "grant-2"));
    let (c1, c2) = (records::code(f, "code-1", &g1, f.now + 60), records::code(f, "code-2", &g2, f.now + 60));
    let (r1, r2) = (remembered(f, &g1, "mcp"), remembered(f, &g2, "mcp admin"));
    let e1 = AuditEvent::consent(true, &g1.subject, &g1.client_id, "mcp", Some(&g1.grant_id), f.now);
    let e2 = AuditEvent::consent(true, &g2.subject, &g2.client_id, "mcp admin", Some(&g2.grant_id), f.now);
    same(io(s.store_approval(&approval(f, &g1, &c1, &p.id, &r1, &e1)).await)?, true, "the first consent")?;
    same(io(s.store_approval(&approval(f, &g2, &c2, &p.id, &r2, &e2)).await)?, false, "a second consent of the same request")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "the request after consent")?;
    same(io(s.grant(&g1.grant_id).await)?, Some(g1.clone()), "the first grant")?;
    same(io(s.code(&c1.code_hash).await)?, Some(c1), "the first code")?;
    same(io(s.remembered_consent(&g1.subject, &g1.client_id, f.now).await)?, Some(r1), "the first \"remember\"")?;
    same(events_of(s, f).await?, vec!["consent.approve".to_string()], "one audit event, the first consent's")?;
    same(io(s.grant(&g2.grant_id).await)?, None, "the losing grant")?;
    same(io(s.code(&c2.code_hash).await)?, None, "the losing code")
}

/// A remembered approval consumes nothing, and stores its grant, code and event.
pub async fn remembered_approval<S: GrantStore + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    let e = AuditEvent::consent_remembered(&g.subject, &g.client_id, "mcp", &g.grant_id, f.now);
    same(io(s.store_approval(&ApprovalWrite { grant: &g, code: &c, pending: None, remember: None, audit: &e, signed_in: None }).await)?, true, "the approval")?;
    same(io(s.grant(&g.grant_id).await)?, Some(g.clone()), "the grant")?;
    same(io(s.code(&c.code_hash).await)?, Some(c), "the code")?;
    same(events_of(s, f).await?, vec![e.event.clone()], "its audit event")
}

pub async fn from_expired_pending_writes_nothing<S: GrantStore + PendingRequests + ConsentMemory + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now);
    io(s.create_pending(&p).await)?;
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    let r = remembered(f, &g, "mcp");
    let e = AuditEvent::consent(true, &g.subject, &g.client_id, "mcp", Some(&g.grant_id), f.now);
    same(io(s.store_approval(&approval(f, &g, &c, &p.id, &r, &e)).await)?, false, "consent of an expired request")?;
    same(io(s.grant(&g.grant_id).await)?, None, "no grant")?;
    same(io(s.code(&c.code_hash).await)?, None, "no code")?;
    same(io(s.remembered_consent(&g.subject, &g.client_id, f.now).await)?, None, "nothing remembered")?;
    same(events_of(s, f).await?, Vec::<String>::new(), "no audit event")
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

/// An approval with the password that signed in for it (POST /login's
/// "Allow and sign in"): the attempt released and the sign-in audited in
/// the same write, whether or not the request was still pending; the grant
/// only by the approval that consumed the request.
pub async fn approval_with_a_sign_in<S: GrantStore + PendingRequests + AttemptLog + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let (p, key, since) = super::pending::signing_in(s, f).await?;
    let (g1, g2) = (records::grant(f, "grant-1"), records::grant(f, "grant-2"));
    let (c1, c2) = (records::code(f, "code-1", &g1, f.now + 60), records::code(f, "code-2", &g2, f.now + 60));
    let login = super::pending::event(f, "login.success");
    let e1 = AuditEvent::consent(true, &g1.subject, &g1.client_id, "mcp", Some(&g1.grant_id), f.now);
    let e2 = AuditEvent::consent(true, &g2.subject, &g2.client_id, "mcp", Some(&g2.grant_id), f.now);
    let keys = [key.clone()];
    let signed_in = Some(SignInWrite { release: &keys, at: f.now, audit: &login });
    let write = |g, c, e| ApprovalWrite { grant: g, code: c, pending: Some((p.id.as_str(), f.now)), remember: None, audit: e, signed_in };
    same(io(s.store_approval(&write(&g1, &c1, &e1)).await)?, true, "the approval")?;
    same(io(s.grant(&g1.grant_id).await)?, Some(g1.clone()), "its grant")?;
    same(io(s.code(&c1.code_hash).await)?, Some(c1.clone()), "its code")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 1, "the released attempt's place")?;
    same(io(s.store_approval(&write(&g2, &c2, &e2)).await)?, false, "a second approval of the same request")?;
    same(io(s.grant(&g2.grant_id).await)?, None, "no second grant")?;
    same(io(s.code(&c2.code_hash).await)?, None, "no second code")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 1, "released by the losing approval too")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 0, "one at a time")?;
    let mut events = events_of(s, f).await?;
    events.reverse();
    same(events, ["login.success", "consent.approve", "login.success"].map(String::from).to_vec(), "both sign-ins, one approval")
}
