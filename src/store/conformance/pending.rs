//! `PendingRequests`: a request waits until it expires or is consumed once;
//! a denial's event is stored only by the denial that consumed it, the
//! sign-in that came with it (`SignInWrite`) either way.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::store::attempts::{AttemptLog, SignInWrite};
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::pending::{DenialWrite, PendingAuthorization, PendingRequests};

/// The owner's denial of this fixture's client's request `id`.
fn denial<'a>(f: &Fixture, id: &'a str, audit: &'a AuditEvent, signed_in: Option<SignInWrite<'a>>) -> DenialWrite<'a> {
    DenialWrite { pending: (id, f.now), audit, signed_in }
}

pub(super) fn event(f: &Fixture, name: &str) -> AuditEvent {
    AuditEvent { at: f.now, event: name.into(), subject: Some("owner".into()), client_id: Some(f.id("client")), detail: serde_json::json!({}) }
}

/// The audit events of this fixture's client, oldest first.
pub(super) async fn events_of<S: AuditLog>(s: &S, f: &Fixture) -> Result<Vec<String>, String> {
    let client = f.id("client");
    let mut events: Vec<String> =
        io(s.recent_audit(500).await)?.into_iter().filter(|e| e.client_id.as_deref() == Some(&client)).map(|e| e.event).collect();
    events.reverse();
    Ok(events)
}

pub async fn round_trip<S: PendingRequests>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    same(io(s.pending(&p.id, f.now).await)?, Some(p), "the pending request read back")
}

pub async fn expired_is_absent<S: PendingRequests + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now);
    io(s.create_pending(&p).await)?;
    same(io(s.pending(&p.id, f.now).await)?, None, "a request at its expiry")?;
    let deny = event(f, "consent.deny");
    same(io(s.store_denial(&denial(f, &p.id, &deny, None)).await)?, false, "denying an expired request")?;
    same(events_of(s, f).await?, Vec::<String>::new(), "no event for it")
}

pub async fn consumed_once<S: PendingRequests + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let deny = event(f, "consent.deny");
    same(io(s.store_denial(&denial(f, &p.id, &deny, None)).await)?, true, "the first denial")?;
    same(io(s.store_denial(&denial(f, &p.id, &deny, None)).await)?, false, "the second denial")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "a consumed request")?;
    same(events_of(s, f).await?, vec!["consent.deny".to_string()], "one event, the first denial's")
}

/// A pending request and a password being tried for it: both of the
/// key's two attempts reserved, as POST /login's check leaves them before
/// the write that answers the request. Returns (request, key, window start).
pub(super) async fn signing_in<S: PendingRequests + AttemptLog>(s: &S, f: &Fixture) -> Result<(PendingAuthorization, String, i64), String> {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let key = f.id("attempts");
    let since = f.now - 60;
    for i in 0..2 {
        same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 1, &format!("attempt {i} of 2"))?;
    }
    Ok((p, key, since))
}

/// A denial with the password that signed in for it: the attempt released
/// and the sign-in audited whether or not the request was still pending.
pub async fn denial_with_a_sign_in<S: PendingRequests + AttemptLog + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let (p, key, since) = signing_in(s, f).await?;
    let (login, deny) = (event(f, "login.success"), event(f, "consent.deny"));
    let keys = [key.clone()];
    let signed_in = SignInWrite { release: &keys, at: f.now, audit: &login };
    same(io(s.store_denial(&denial(f, &p.id, &deny, Some(signed_in))).await)?, true, "the denial")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "the request, denied")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 1, "the released attempt's place")?;
    same(io(s.store_denial(&denial(f, &p.id, &deny, Some(signed_in))).await)?, false, "a second denial of the same request")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 1, "released by the losing denial too")?;
    same(io(s.reserve_attempts(&[(key.clone(), 2)], since, f.now).await)?, 0, "one at a time")?;
    same(
        events_of(s, f).await?,
        ["login.success", "consent.deny", "login.success"].map(String::from).to_vec(),
        "both sign-ins, one denial",
    )
}
