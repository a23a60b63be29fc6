//! `UpstreamStates`: a delegated sign-in's state is claimed once, by the
//! browser that started it, before it expires.

use super::case::{io, same, Fixture, Outcome};
use crate::base::types::TokenHash;
use crate::store::upstream_states::{UpstreamState, UpstreamStates};

fn state(f: &Fixture, expires_at: i64) -> UpstreamState {
    UpstreamState {
        state_hash: TokenHash::of(&f.id("state")),
        cookie_hash: TokenHash::of(&f.id("browser")),
        provider: "github".into(),
        pending_id: f.id("pending"),
        nonce: "n-0S6_WzA2Mj".into(),
        remember: true,
        expires_at,
    }
}

pub async fn claimed_once_by_its_browser<S: UpstreamStates>(s: &S, f: &Fixture) -> Outcome {
    let st = state(f, f.now + 600);
    io(s.create_upstream_state(&st, f.now).await)?;
    let other = TokenHash::of(&f.id("another-browser"));
    same(io(s.claim_upstream_state(&st.state_hash, &other, f.now).await)?, None, "a claim from another browser")?;
    same(io(s.claim_upstream_state(&st.state_hash, &st.cookie_hash, f.now).await)?, Some(st.clone()), "the claim of its browser")?;
    same(io(s.claim_upstream_state(&st.state_hash, &st.cookie_hash, f.now).await)?, None, "a replay")
}

pub async fn expired_is_not_claimed<S: UpstreamStates>(s: &S, f: &Fixture) -> Outcome {
    let st = state(f, f.now);
    io(s.create_upstream_state(&st, f.now - 600).await)?;
    same(io(s.claim_upstream_state(&st.state_hash, &st.cookie_hash, f.now).await)?, None, "a claim at its expiry")
}
