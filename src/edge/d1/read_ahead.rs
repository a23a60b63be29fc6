//! `ReadAhead` on D1: what a request will read, as one batch of SELECTs
//! (one round trip), kept until each is read once.

use super::ahead::{Ahead, ReservedAhead};
use super::clients::{client_record, ClientRow, CLIENT_BY_ID};
use super::consents::{consent_record, ConsentRow, CONSENT_OF};
use super::limits::recorded;
use super::grants::{code_record, grant_record, refresh_record, CodeRow, GrantRow, RefreshRow, CODE_BY_HASH, REFRESH_BY_HASH};
use super::pending::{pending_record, PendingRow, PENDING_BY_ID};
use super::session_revocations::{EVERYONE, SESSION_REVOKED};
use super::{changes, n, read_row, result_rows, s, Count, D1Store, FromRow};
use crate::store::read_ahead::{ReadAhead, Reads, TokenRead};
use crate::store::StoreResult;

/// The first row of one statement's result.
fn first_row<T: FromRow>(results: &js_sys::Array, i: u32) -> StoreResult<Option<T>> {
    read_row(result_rows(&results.get(i)).get(0))
}

/// The client of a pending request, read with it.
const CLIENT_OF_PENDING: &str = "SELECT * FROM clients WHERE client_id = (SELECT client_id FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2)";
const GRANT_OF_CODE: &str = "SELECT * FROM grants WHERE grant_id = (SELECT grant_id FROM auth_codes WHERE code_hash = ?1)";
const GRANT_OF_REFRESH: &str = "SELECT * FROM grants WHERE grant_id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = ?1)";

impl ReadAhead for D1Store {
    async fn read_ahead(&self, reads: &Reads<'_>) -> StoreResult<()> {
        if reads.is_empty() {
            return Ok(());
        }
        // Statements in this order; each present read takes the next index.
        let mut stmts = Vec::new();
        if let Some(token) = reads.token {
            let (by_hash, grant_of, hash) = match token {
                TokenRead::Code(h) => (CODE_BY_HASH, GRANT_OF_CODE, h),
                TokenRead::Refresh(h) => (REFRESH_BY_HASH, GRANT_OF_REFRESH, h),
            };
            stmts.push(self.stmt(by_hash, &[s(hash.as_str())])?);
            stmts.push(self.stmt(grant_of, &[s(hash.as_str())])?);
        }
        if let Some((id, now)) = reads.pending {
            stmts.push(self.stmt(PENDING_BY_ID, &[s(id), n(now)])?);
        }
        match (reads.client, reads.pending) {
            (Some(id), _) => stmts.push(self.stmt(CLIENT_BY_ID, &[s(id.as_str())])?),
            (None, Some((id, now))) => stmts.push(self.stmt(CLIENT_OF_PENDING, &[s(id), n(now)])?),
            (None, None) => {}
        }
        if let Some((session, issued_at)) = reads.session {
            stmts.push(self.stmt(SESSION_REVOKED, &[s(session.as_str()), s(EVERYONE), n(issued_at)])?);
        }
        if let Some((subject, client, now)) = reads.consent {
            stmts.push(self.stmt(CONSENT_OF, &[s(subject.as_str()), s(client.as_str()), n(now)])?);
        }
        // Last, so that each reservation after the first follows the one before (`changes()`).
        let reserve = reads.reserve.zip(reads.pending);
        if let Some((r, (id, at))) = reserve {
            stmts.extend(self.reserve_stmts(r.limits, r.since, r.now, Some((id, at, r.browser.as_str())))?);
        }

        self.faults.round_trip().await;
        let results = self.batch_results(&stmts).await?;

        let mut i = 0;
        let mut next = || {
            i += 1;
            i - 1
        };
        let mut ahead = Ahead::default();
        if let Some(token) = reads.token {
            match token {
                TokenRead::Code(h) => ahead.code = Some((h.clone(), first_row::<CodeRow>(&results, next())?.map(code_record))),
                TokenRead::Refresh(h) => ahead.refresh = Some((h.clone(), first_row::<RefreshRow>(&results, next())?.map(refresh_record))),
            }
            // A grant that is not there is not remembered: its read goes to D1 (and finds nothing).
            ahead.grant = first_row::<GrantRow>(&results, next())?.map(grant_record).map(|g| (g.grant_id.clone(), Some(g)));
        }
        if let Some((id, now)) = reads.pending {
            ahead.pending = Some(((id.to_string(), now), first_row::<PendingRow>(&results, next())?.map(pending_record)));
        }
        match (reads.client, reads.pending) {
            (Some(id), _) => ahead.client = Some((id.clone(), first_row::<ClientRow>(&results, next())?.map(client_record).transpose()?)),
            // Known by the id the pending request names, so only when there is one.
            (None, Some(_)) => {
                ahead.client = first_row::<ClientRow>(&results, next())?.map(client_record).transpose()?.map(|c| (c.client_id.clone(), Some(c)))
            }
            (None, None) => {}
        }
        if let Some((session, issued_at)) = reads.session {
            let revoked = first_row::<Count>(&results, next())?.is_some_and(|r| r.n != 0);
            ahead.session = Some(((session.clone(), issued_at), revoked));
        }
        if let Some((subject, client, now)) = reads.consent {
            ahead.consent = Some(((subject.clone(), client.clone(), now), first_row::<ConsentRow>(&results, next())?.map(consent_record)));
        }
        if let Some((r, _)) = reserve {
            let mut changed = Vec::with_capacity(r.limits.len());
            for _ in 0..r.limits.len() {
                changed.push(changes(&results.get(next()))?);
            }
            let recorded = recorded(changed.into_iter());
            // Only a reservation whose condition held stands for the caller's: otherwise
            // nothing was recorded and its `reserve_attempts` must go to storage.
            let held = ahead.pending.as_ref().and_then(|(_, p)| p.as_ref()).is_some_and(|p| p.browser == *r.browser);
            *self.reserved.borrow_mut() =
                held.then(|| ReservedAhead { limits: r.limits.to_vec(), since: r.since, now: r.now, recorded });
        }
        *self.ahead.borrow_mut() = ahead;
        Ok(())
    }
}
