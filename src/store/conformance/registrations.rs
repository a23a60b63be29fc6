//! `RegistrationCounter`: at most `cap` clients stored per source and window,
//! each with its audit event, and a refused registration stores nothing.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::clients::{ClientRecord, ClientStore};
use crate::store::registrations::RegistrationCounter;

pub async fn at_most_cap_per_source_and_window<S: RegistrationCounter + ClientStore + AuditLog>(s: &S, f: &Fixture) -> Outcome {
    let (source, other) = (f.id("source"), f.id("other-source"));
    for (i, expected) in [true, true, false].into_iter().enumerate() {
        let c = records::client(f, &format!("client-{i}"));
        same(io(s.register_counted(&c, &registered(&c, f), &source, f.now, 2).await)?, expected, &format!("registration {i} of 2"))?;
        same(io(s.client(&c.client_id).await)?.is_some(), expected, &format!("client {i} stored"))?;
        same(recorded(s, &c).await?, expected, &format!("client {i}'s registration event recorded"))?;
    }
    let c = records::client(f, "client-other");
    same(io(s.register_counted(&c, &registered(&c, f), &other, f.now, 2).await)?, true, "another source has its own count")?;
    let c = records::client(f, "client-next-window");
    same(io(s.register_counted(&c, &registered(&c, f), &source, f.now + 3600, 2).await)?, true, "the next window starts afresh")
}

fn registered(c: &ClientRecord, f: &Fixture) -> AuditEvent {
    AuditEvent { at: f.now, event: "client.register".into(), subject: None, client_id: Some(c.client_id.as_str().into()), detail: serde_json::json!({}) }
}

/// Whether the latest events hold `c`'s registration (each case's client ids are its own).
async fn recorded<S: AuditLog>(s: &S, c: &ClientRecord) -> Result<bool, String> {
    let events = io(s.recent_audit(50).await)?;
    Ok(events.iter().any(|e| e.event == "client.register" && e.client_id.as_deref() == Some(c.client_id.as_str())))
}
