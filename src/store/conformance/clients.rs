//! `ClientStore`: a registered client reads back as it was written.

use super::case::{check, io, same, Fixture, Outcome};
use super::records;
use crate::base::types::ClientId;
use crate::store::clients::ClientStore;

pub async fn round_trip<S: ClientStore>(s: &S, f: &Fixture) -> Outcome {
    let c = records::client(f, "client");
    io(s.create_client(&c).await)?;
    same(io(s.client(&c.client_id).await)?, Some(c), "the client read back")
}

pub async fn unknown_is_none<S: ClientStore>(s: &S, f: &Fixture) -> Outcome {
    same(io(s.client(&ClientId::new(f.id("never-registered"))).await)?, None, "an unknown client")
}

/// Client ids are random, so a second client under one id is a bug to
/// surface, never a silent replacement of the first (D1's primary key).
pub async fn duplicate_id_is_refused<S: ClientStore>(s: &S, f: &Fixture) -> Outcome {
    let first = records::client(f, "client");
    io(s.create_client(&first).await)?;
    let mut second = records::client(f, "client");
    second.client_name = Some("an impostor".into());
    check(s.create_client(&second).await.is_err(), || "a second client under the same id was accepted".into())?;
    same(io(s.client(&first.client_id).await)?, Some(first), "the first client, unchanged")
}
