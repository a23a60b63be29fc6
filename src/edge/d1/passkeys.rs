//! Passkeys on D1 (`crate::store::passkeys::PasskeyStore`, migration
//! 0008). Spending a challenge and a setup code, and moving a counter, are
//! each one conditional statement: the winner is whoever changed a row.

use super::{err, n, opt, s, Count, D1Row, D1Store, FromRow};
use crate::store::passkeys::{Passkey, PasskeyStore, Purpose};
use crate::base::signature::{Alg, PublicJwk};
use crate::store::StoreResult;
use crate::base::types::TokenHash;

struct Row {
    credential_id: String,
    alg: String,
    x: String,
    y: Option<String>,
    sign_count: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl FromRow for Row {
    fn from_row(r: &D1Row) -> Self {
        Row {
            credential_id: r.text("credential_id"),
            alg: r.text("alg"),
            x: r.text("x"),
            y: r.opt_text("y"),
            sign_count: r.int("sign_count"),
            name: r.text("name"),
            created_at: r.int("created_at"),
            last_used_at: r.opt_int("last_used_at"),
        }
    }
}

impl Row {
    fn into_passkey(self) -> StoreResult<Passkey> {
        let alg = Alg::from_name(&self.alg).ok_or_else(|| err("stored passkey has an unknown algorithm"))?;
        let public_key = jwk(alg, self.x, self.y);
        Ok(Passkey {
            id: self.credential_id,
            alg,
            public_key,
            sign_count: u32::try_from(self.sign_count).unwrap_or(u32::MAX),
            name: self.name,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// The key from its stored coordinates (kept as columns rather than JWK
/// JSON: no JWK (de)serializer in the wasm).
fn jwk(alg: Alg, x: String, y: Option<String>) -> PublicJwk {
    let (kty, crv) = if alg == Alg::Es256 { ("EC", "P-256") } else { ("OKP", "Ed25519") };
    PublicJwk { kty: kty.into(), kid: None, alg: Some(alg.name().into()), crv: Some(crv.into()), n: None, e: None, x: Some(x), y, use_: None }
}

const COLUMNS: &str = "credential_id, alg, x, y, sign_count, name, created_at, last_used_at";

impl PasskeyStore for D1Store {
    async fn create_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, expires_at: i64) -> StoreResult<()> {
        // Expired challenges go as new ones come: the table stays small
        // without a job of its own.
        self.exec("DELETE FROM passkey_challenges WHERE expires_at <= ?1", &[n(expires_at - crate::identity::sign_in::passkey::CHALLENGE_TTL)]).await?;
        self.exec(
            "INSERT INTO passkey_challenges (challenge_hash, purpose, browser, expires_at) VALUES (?1, ?2, ?3, ?4)",
            &[s(challenge.as_str()), s(purpose.as_str()), s(browser.as_str()), n(expires_at)],
        )
        .await?;
        Ok(())
    }

    async fn consume_challenge(&self, challenge: &TokenHash, purpose: Purpose, browser: &TokenHash, now: i64) -> StoreResult<bool> {
        let changed = self
            .exec(
                "DELETE FROM passkey_challenges WHERE challenge_hash = ?1 AND purpose = ?2 AND browser = ?3 AND expires_at > ?4",
                &[s(challenge.as_str()), s(purpose.as_str()), s(browser.as_str()), n(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn passkeys(&self) -> StoreResult<Vec<Passkey>> {
        let rows = self.all::<Row>(&format!("SELECT {COLUMNS} FROM passkeys ORDER BY created_at, credential_id"), &[]).await?;
        // A loop rather than `collect` into a `Result` (as in `all_rows`).
        let mut passkeys = Vec::with_capacity(rows.len());
        for r in rows {
            passkeys.push(r.into_passkey()?);
        }
        Ok(passkeys)
    }

    async fn passkey(&self, id: &str) -> StoreResult<Option<Passkey>> {
        self.first::<Row>(&format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?1"), &[s(id)]).await?.map(Row::into_passkey).transpose()
    }

    async fn add_passkey(&self, p: &Passkey) -> StoreResult<bool> {
        let x = p.public_key.x.as_deref().ok_or_else(|| err("passkey without a public key"))?;
        let changed = self
            .exec(
                // The cap is in the statement: concurrent additions cannot pass it together.
                "INSERT OR IGNORE INTO passkeys (credential_id, alg, x, y, sign_count, name, created_at, last_used_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL WHERE (SELECT COUNT(*) FROM passkeys) < ?8",
                &[s(&p.id), s(p.alg.name()), s(x), opt(p.public_key.y.as_deref()), n(p.sign_count.into()), s(&p.name), n(p.created_at), n(crate::store::passkeys::MAX_PASSKEYS as i64)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn use_passkey(&self, id: &str, old: u32, new: u32, now: i64) -> StoreResult<bool> {
        let changed = self
            .exec(
                "UPDATE passkeys SET sign_count = ?3, last_used_at = ?4 WHERE credential_id = ?1 AND sign_count = ?2",
                &[s(id), n(old.into()), n(new.into()), n(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn remove_passkey(&self, id: &str) -> StoreResult<bool> {
        Ok(self.exec("DELETE FROM passkeys WHERE credential_id = ?1", &[s(id)]).await? == 1)
    }

    async fn setup_code_spent(&self, code: &TokenHash) -> StoreResult<bool> {
        // `AS n` so the row reads as a `Count`, whose reader is already in the wasm.
        Ok(self.first::<Count>("SELECT 1 AS n FROM passkey_setup_codes WHERE code_hash = ?1", &[s(code.as_str())]).await?.is_some())
    }

    async fn spend_setup_code(&self, code: &TokenHash, now: i64) -> StoreResult<bool> {
        let changed = self
            .exec("INSERT OR IGNORE INTO passkey_setup_codes (code_hash, spent_at) VALUES (?1, ?2)", &[s(code.as_str()), n(now)])
            .await?;
        Ok(changed == 1)
    }
}
