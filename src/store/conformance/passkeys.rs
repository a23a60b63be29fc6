//! `PasskeyStore`: a challenge is consumed once, by the browser it was
//! issued to, for its purpose, before it expires; a setup code is spent
//! once; a passkey id is stored once and its counter moves only from the
//! value the caller read.

use super::case::{io, same, Fixture, Outcome};
use crate::base::signature::{Alg, PublicJwk};
use crate::base::types::TokenHash;
use crate::store::passkeys::{Passkey, PasskeyStore, Purpose};

pub async fn challenge_consumed_once_by_its_browser<S: PasskeyStore>(s: &S, f: &Fixture) -> Outcome {
    let (challenge, browser) = (TokenHash::of(&f.id("challenge")), TokenHash::of(&f.id("browser")));
    io(s.create_challenge(&challenge, Purpose::Login, &browser, f.now + 300).await)?;
    let stranger = TokenHash::of(&f.id("another-browser"));
    same(io(s.consume_challenge(&challenge, Purpose::Login, &stranger, f.now).await)?, false, "another browser")?;
    same(io(s.consume_challenge(&challenge, Purpose::Register, &browser, f.now).await)?, false, "another purpose")?;
    same(io(s.consume_challenge(&challenge, Purpose::Login, &browser, f.now).await)?, true, "its browser, its purpose")?;
    same(io(s.consume_challenge(&challenge, Purpose::Login, &browser, f.now).await)?, false, "a replay")?;
    let late = TokenHash::of(&f.id("late-challenge"));
    io(s.create_challenge(&late, Purpose::Login, &browser, f.now).await)?;
    same(io(s.consume_challenge(&late, Purpose::Login, &browser, f.now).await)?, false, "at its expiry")
}

pub async fn setup_code_spent_once<S: PasskeyStore>(s: &S, f: &Fixture) -> Outcome {
    let code = TokenHash::of(&f.id("setup-code"));
    same(io(s.setup_code_spent(&code).await)?, false, "a fresh code")?;
    same(io(s.spend_setup_code(&code, f.now).await)?, true, "the first spend")?;
    same(io(s.spend_setup_code(&code, f.now).await)?, false, "a second spend")?;
    same(io(s.setup_code_spent(&code).await)?, true, "spent")
}

pub async fn stored_once_and_counted_forward<S: PasskeyStore>(s: &S, f: &Fixture) -> Outcome {
    // As `cose` makes it from an authenticator's key (with `alg`): D1 keeps
    // the algorithm and coordinates as columns and rebuilds this JWK.
    let public_key: PublicJwk = serde_json::from_value(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    }))
    .map_err(|e| e.to_string())?;
    let p = Passkey { id: f.id("credential"), alg: Alg::EdDsa, public_key, sign_count: 0, name: "laptop".into(), created_at: f.now, last_used_at: None };
    same(io(s.add_passkey(&p).await)?, true, "the first add")?;
    same(io(s.add_passkey(&p).await)?, false, "the same id again")?;
    same(io(s.passkey(&p.id).await)?, Some(p.clone()), "read back")?;
    same(io(s.use_passkey(&p.id, 0, 5, f.now + 1).await)?, true, "counter 0 -> 5")?;
    same(io(s.use_passkey(&p.id, 0, 6, f.now + 2).await)?, false, "a use that read the old counter")?;
    let used = io(s.passkey(&p.id).await)?.ok_or("the passkey is gone")?;
    same((used.sign_count, used.last_used_at), (5, Some(f.now + 1)), "counter and last use")?;
    same(io(s.remove_passkey(&p.id).await)?, true, "removed")?;
    same(io(s.remove_passkey(&p.id).await)?, false, "removed twice")?;
    same(io(s.passkey(&p.id).await)?, None, "gone")
}
