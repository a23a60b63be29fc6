//! Registration counting (RFC 7591 §3 registration policy) on D1: one upsert
//! per registration that returns the new count, so concurrent registrations
//! from one source each see their own number.

use super::d1::{n, s, Count, D1Store};
use crate::store::registrations::RegistrationCounter;
use crate::store::StoreResult;

impl RegistrationCounter for D1Store {
    async fn count_registration(&self, source: &str, window: i64) -> StoreResult<u32> {
        let row = self
            .first::<Count>(
                "INSERT INTO registration_counts (source, window_start, n) VALUES (?1, ?2, 1) \
                 ON CONFLICT (source, window_start) DO UPDATE SET n = n + 1 RETURNING n",
                &[s(source), n(window)],
            )
            .await?;
        // No row back would mean the upsert did not happen: count it as over.
        Ok(row.map(|c| c.n).unwrap_or(u32::MAX))
    }
}
