//! `SessionRevocations`: one session signed out, and "sign out everywhere"
//! up to a time. The second is global in a shared database: it runs last.

use super::case::{io, same, Fixture, Outcome};
use crate::base::types::TokenHash;
use crate::store::session_revocations::SessionRevocations;

pub async fn one_session<S: SessionRevocations>(s: &S, f: &Fixture) -> Outcome {
    let (id, other) = (TokenHash::of(&f.id("session")), TokenHash::of(&f.id("other-session")));
    same(io(s.session_revoked(&id, f.now + 10).await)?, false, "before the sign-out")?;
    io(s.revoke_session(&id, f.now + 20, f.now + 3600).await)?;
    same(io(s.session_revoked(&id, f.now + 10).await)?, true, "the signed-out session")?;
    same(io(s.session_revoked(&other, f.now + 10).await)?, false, "another session")
}

pub async fn everywhere_up_to_a_time<S: SessionRevocations>(s: &S, f: &Fixture) -> Outcome {
    let id = TokenHash::of(&f.id("session"));
    io(s.revoke_all_sessions(f.now).await)?;
    same(io(s.session_revoked(&id, f.now).await)?, true, "a session issued at the sign-out")?;
    same(io(s.session_revoked(&id, f.now - 100).await)?, true, "a session issued before it")?;
    same(io(s.session_revoked(&id, f.now + 1).await)?, false, "a session issued after it")
}
