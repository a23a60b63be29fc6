//! `ReadAhead`: reading ahead never changes what a read returns. A read
//! after a write sees the write; a second read sees storage.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::base::types::{Subject, TokenHash};
use crate::store::clients::ClientStore;
use crate::store::consents::{ConsentMemory, RememberedConsent};
use crate::store::grants::GrantStore;
use crate::store::pending::{DenialWrite, PendingRequests};
use crate::store::attempts::AttemptLog;
use crate::store::read_ahead::{ReadAhead, Reads, ReserveAhead, TokenRead};
use crate::store::session_revocations::SessionRevocations;

pub async fn answers_as_storage_would<S: ReadAhead + GrantStore + ClientStore>(s: &S, f: &Fixture) -> Outcome {
    let client = records::client(f, "client");
    io(s.create_client(&client).await)?;
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    io(s.create_grant(&g, &c).await)?;
    let code = TokenRead::Code(c.code_hash.clone());
    io(s.read_ahead(&Reads { client: Some(&client.client_id), token: Some(&code), ..Reads::default() }).await)?;
    same(io(s.client(&client.client_id).await)?.map(|r| r.client_id), Some(client.client_id.clone()), "the client, read ahead")?;
    same(io(s.code(&c.code_hash).await)?, Some(c.clone()), "the code, read ahead")?;
    same(io(s.grant(&g.grant_id).await)?, Some(g.clone()), "its grant, read ahead")?;
    same(io(s.code(&c.code_hash).await)?, Some(c.clone()), "the code, read again")?;

    io(s.read_ahead(&Reads { token: Some(&code), ..Reads::default() }).await)?;
    same(io(s.claim_code(&c.code_hash, f.now, None).await)?, true, "the claim")?;
    same(io(s.code(&c.code_hash).await)?.and_then(|r| r.used_at), Some(f.now), "the code read after the claim")?;

    let r = records::refresh(f, "refresh", &g);
    io(s.create_refresh(&r).await)?;
    let refresh = TokenRead::Refresh(r.token_hash.clone());
    io(s.read_ahead(&Reads { client: Some(&client.client_id), token: Some(&refresh), ..Reads::default() }).await)?;
    let next = records::refresh(f, "next", &g);
    same(io(s.rotate_refresh(&r.token_hash, &next, f.now).await)?, true, "the rotation")?;
    same(io(s.refresh(&r.token_hash).await)?.and_then(|t| t.successor_hash), Some(next.token_hash), "the token read after the rotation")?;
    let unknown = records::refresh(f, "never-stored", &g);
    let unknown = TokenRead::Refresh(unknown.token_hash.clone());
    io(s.read_ahead(&Reads { token: Some(&unknown), ..Reads::default() }).await)?;
    let TokenRead::Refresh(hash) = &unknown else { unreachable!() };
    same(io(s.refresh(hash).await)?, None, "a token that is not there")
}

/// What the browser pages read ahead: a pending request with its client,
/// a session's revocation, a remembered consent; each read as storage would
/// answer it, by its own key only, and fresh after a write.
pub async fn pages_read_as_storage_would<S: ReadAhead + ClientStore + PendingRequests + SessionRevocations + ConsentMemory>(
    s: &S,
    f: &Fixture,
) -> Outcome {
    let client = records::client(f, "client");
    io(s.create_client(&client).await)?;
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let (session, other) = (TokenHash::of(&f.id("session")), TokenHash::of(&f.id("other-session")));
    io(s.revoke_session(&other, f.now, f.now + 3600).await)?;
    let owner = Subject::new(f.id("owner"));
    let remembered = RememberedConsent { subject: owner.clone(), client_id: client.client_id.clone(), scope: "mcp".into(), created_at: f.now, expires_at: f.now + 100 };
    io(s.remember_consent(&remembered).await)?;

    let reads = Reads {
        pending: Some((&p.id, f.now)),
        session: Some((&session, f.now)),
        consent: Some((&owner, &client.client_id, f.now)),
        ..Reads::default()
    };
    io(s.read_ahead(&reads).await)?;
    same(io(s.pending(&p.id, f.now + 600).await)?, None, "the pending request at another time, expired")?;
    same(io(s.pending(&p.id, f.now).await)?, Some(p.clone()), "the pending request, read ahead")?;
    same(io(s.client(&client.client_id).await)?.map(|c| c.client_id), Some(client.client_id.clone()), "its client, read ahead")?;
    same(io(s.session_revoked(&other, f.now).await)?, true, "another session, signed out")?;
    same(io(s.session_revoked(&session, f.now).await)?, false, "the session, read ahead")?;
    same(io(s.remembered_consent(&owner, &client.client_id, f.now + 100).await)?, None, "the consent at its expiry")?;
    same(io(s.remembered_consent(&owner, &client.client_id, f.now).await)?, Some(remembered.clone()), "the consent, read ahead")?;

    io(s.read_ahead(&reads).await)?;
    io(s.revoke_session(&session, f.now, f.now + 3600).await)?;
    let deny = super::pending::event(f, "consent.deny");
    same(io(s.store_denial(&DenialWrite { pending: (&p.id, f.now), audit: &deny, signed_in: None }).await)?, true, "the pending request consumed")?;
    same(io(s.session_revoked(&session, f.now).await)?, true, "the session read after its sign-out")?;
    same(io(s.pending(&p.id, f.now).await)?, None, "the pending request read after it was consumed")?;

    let gone = Reads { pending: Some((&p.id, f.now)), ..Reads::default() };
    io(s.read_ahead(&gone).await)?;
    same(io(s.pending(&p.id, f.now).await)?, None, "a pending request that is not there")
}

/// The password form's reservation made with the reads (`ReserveAhead`):
/// for the pending request's own browser it is the caller's next
/// `reserve_attempts`, made once; for another browser, or a request that is
/// not there, nothing is recorded and that call is the caller's to make.
pub async fn reserves_only_for_the_pending_requests_browser<S: ReadAhead + PendingRequests + AttemptLog>(s: &S, f: &Fixture) -> Outcome {
    let p = records::pending(f, "pending", f.now + 600);
    io(s.create_pending(&p).await)?;
    let since = f.now - 60;
    let ahead = |id, browser, limits| Reads {
        pending: Some((id, f.now)),
        reserve: Some(ReserveAhead { limits, since, now: f.now, browser }),
        ..Reads::default()
    };

    let (source, request) = (f.id("source"), f.id("request"));
    let limits = [(source.clone(), 2), (request.clone(), 2)];
    let stranger = TokenHash::of(&f.id("stranger"));
    let made_up = f.id("made-up");
    io(s.read_ahead(&ahead(&p.id, &stranger, &limits)).await)?;
    io(s.read_ahead(&ahead(&made_up, &p.browser, &limits)).await)?;
    let one_each = [(source, 1), (request, 1)];
    same(io(s.reserve_attempts(&one_each, since, f.now).await)?, 2, "no attempt recorded for another browser or a made-up request")?;

    let limits = [(f.id("source-2"), 2), (f.id("request-2"), 2)];
    io(s.read_ahead(&ahead(&p.id, &p.browser, &limits)).await)?;
    same(io(s.pending(&p.id, f.now).await)?, Some(p.clone()), "the pending request, read with the reservation")?;
    same(io(s.reserve_attempts(&limits, since, f.now).await)?, 2, "the first attempt under both")?;
    same(io(s.reserve_attempts(&limits, since, f.now).await)?, 2, "the second")?;
    same(io(s.reserve_attempts(&limits, since, f.now).await)?, 0, "both full: the first was recorded once")?;
    io(s.read_ahead(&ahead(&p.id, &p.browser, &limits)).await)?;
    same(io(s.reserve_attempts(&limits, since, f.now).await)?, 0, "full keys, reserved with the reads")
}
