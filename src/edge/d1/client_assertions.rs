//! `ClientAssertionStore` on the edge: spent assertion ids in D1 (migration
//! 0010) and clients' key sets fetched like metadata documents (`cimd_fetch`,
//! through the `CIMD_FETCH` binding when bound).

use crate::edge::cimd_fetch;
use super::{err, n, s, D1Store};
use crate::protocol::cimd::auth_methods::JwksUri;
use crate::protocol::cimd::{FetchError, FetchedDocument};
use crate::protocol::client_assertion::{ClientAssertionStore, MAX_KEY_SET_BYTES};
use crate::store::StoreResult;
use crate::base::types::{ClientId, TokenHash};

impl ClientAssertionStore for D1Store {
    async fn claim_assertion_id(&self, client: &ClientId, jti: &TokenHash, remember_until: i64, now: i64) -> StoreResult<bool> {
        // One transaction: expired ids go (anyone with a document and a key
        // can add rows), then the claim. The claim alone decides: it inserts,
        // or revives an expired row, or changes nothing when the id is live.
        self.hold_claim().await;
        let statements = vec![
            self.stmt("DELETE FROM client_assertion_ids WHERE expires_at <= ?1", &[n(now)])?,
            self.stmt(
                "INSERT INTO client_assertion_ids (client_id, jti_hash, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (client_id, jti_hash) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE client_assertion_ids.expires_at <= ?4",
                &[s(client.as_str()), s(jti.as_str()), n(remember_until), n(now)],
            )?,
        ];
        let results = self.batch(statements).await.map_err(|e| err(format!("claiming a client assertion id: {}", e.0)))?;
        let claimed = results.get(1).copied().unwrap_or(0);
        Ok(claimed == 1)
    }

    async fn fetch_key_set(&self, url: &JwksUri) -> Result<FetchedDocument, FetchError> {
        cimd_fetch::fetch_capped(self.document_fetcher.as_ref(), url.url(), MAX_KEY_SET_BYTES, "jwks_fetch").await
    }
}
