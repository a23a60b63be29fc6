//! `ReadAhead`: reading ahead never changes what a read returns. A read
//! after a write sees the write; a second read sees storage.

use super::case::{io, same, Fixture, Outcome};
use super::records;
use crate::store::clients::ClientStore;
use crate::store::grants::GrantStore;
use crate::store::read_ahead::{ReadAhead, TokenRead};

pub async fn answers_as_storage_would<S: ReadAhead + GrantStore + ClientStore>(s: &S, f: &Fixture) -> Outcome {
    let client = records::client(f, "client");
    io(s.create_client(&client).await)?;
    let g = records::grant(f, "grant");
    let c = records::code(f, "code", &g, f.now + 60);
    io(s.create_grant(&g, &c).await)?;
    io(s.read_ahead(Some(&client.client_id), &TokenRead::Code(c.code_hash.clone())).await)?;
    same(io(s.client(&client.client_id).await)?.map(|r| r.client_id), Some(client.client_id.clone()), "the client, read ahead")?;
    same(io(s.code(&c.code_hash).await)?, Some(c.clone()), "the code, read ahead")?;
    same(io(s.grant(&g.grant_id).await)?, Some(g.clone()), "its grant, read ahead")?;
    same(io(s.code(&c.code_hash).await)?, Some(c.clone()), "the code, read again")?;

    io(s.read_ahead(None, &TokenRead::Code(c.code_hash.clone())).await)?;
    same(io(s.claim_code(&c.code_hash, f.now, None).await)?, true, "the claim")?;
    same(io(s.code(&c.code_hash).await)?.and_then(|r| r.used_at), Some(f.now), "the code read after the claim")?;

    let r = records::refresh(f, "refresh", &g);
    io(s.create_refresh(&r).await)?;
    io(s.read_ahead(Some(&client.client_id), &TokenRead::Refresh(r.token_hash.clone())).await)?;
    let next = records::refresh(f, "next", &g);
    same(io(s.rotate_refresh(&r.token_hash, &next, f.now).await)?, true, "the rotation")?;
    same(io(s.refresh(&r.token_hash).await)?.and_then(|t| t.successor_hash), Some(next.token_hash), "the token read after the rotation")?;
    let unknown = records::refresh(f, "never-stored", &g);
    io(s.read_ahead(None, &TokenRead::Refresh(unknown.token_hash.clone())).await)?;
    same(io(s.refresh(&unknown.token_hash).await)?, None, "a token that is not there")
}
