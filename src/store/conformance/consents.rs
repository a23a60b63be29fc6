//! `ConsentMemory`: one remembered approval per (subject, client), until it
//! expires or a grant of the pair is revoked.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::base::types::{ClientId, Subject};
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::grants::GrantStore;

fn approval(f: &Fixture, scope: &str, expires_at: i64) -> RememberedConsent {
    RememberedConsent {
        subject: Subject::new(f.id("owner")),
        client_id: ClientId::new(f.id("client")),
        scope: scope.into(),
        created_at: f.now,
        expires_at,
    }
}

pub async fn remembered_until_it_expires<S: ConsentMemory>(s: &S, f: &Fixture) -> Outcome {
    let r = approval(f, "mcp", f.now + 100);
    io(s.remember_consent(&r).await)?;
    same(io(s.remembered_consent(&r.subject, &r.client_id, f.now).await)?, Some(r.clone()), "the approval read back")?;
    same(io(s.remembered_consent(&r.subject, &r.client_id, f.now + 100).await)?, None, "the approval at its expiry")?;
    same(io(s.remembered_consent(&Subject::new(f.id("someone-else")), &r.client_id, f.now).await)?, None, "another subject's")
}

pub async fn replaced_for_the_same_pair<S: ConsentMemory>(s: &S, f: &Fixture) -> Outcome {
    io(s.remember_consent(&approval(f, "mcp", f.now + 100)).await)?;
    let second = approval(f, "mcp mcp:admin", f.now + 200);
    io(s.remember_consent(&second).await)?;
    same(io(s.remembered_consent(&second.subject, &second.client_id, f.now).await)?, Some(second), "the later approval")
}

pub async fn forgotten_when_a_grant_of_the_pair_is_revoked<S: ConsentMemory + GrantStore>(s: &S, f: &Fixture) -> Outcome {
    let r = approval(f, "mcp", f.now + 1000);
    io(s.remember_consent(&r).await)?;
    let mut g = records::grant(f, "grant");
    g.subject = r.subject.clone();
    io(s.create_grant(&g, &records::code(f, "code", &g, f.now + 60)).await)?;
    same(io(s.remembered_consent(&r.subject, &r.client_id, f.now + 1).await)?, Some(r.clone()), "before the revocation")?;
    io(s.revoke_grant(&g.grant_id, f.now + 2).await)?;
    same(io(s.remembered_consent(&r.subject, &r.client_id, f.now + 3).await)?, None, "after a grant of the pair was revoked")
}
