//! The in-memory store and a tiny executor, for native tests of the
//! endpoints: one file per storage trait, as `edge::d1` will have (issue 13).
//! Same semantics as the D1 store: conditional claims.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::base::error::StoreError;
use crate::store::clients::ClientRecord;
use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};
use crate::store::pending::PendingAuthorization;
use crate::store::StoreResult;

mod admin;
mod attempts;
mod audit;
mod budgets;
mod clients;
mod consents;
mod grants;
mod maintenance;
pub mod passkeys;
mod pending;
mod registrations;
mod revoked_grants;
pub mod session_revocations;
mod upstream_states;

/// Runs a future whose awaits never pend (the memory store's).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    pub clients: RefCell<HashMap<String, ClientRecord>>,
    pub pending: RefCell<HashMap<String, PendingAuthorization>>,
    pub grants: RefCell<HashMap<String, GrantRecord>>,
    pub codes: RefCell<HashMap<String, CodeRecord>>,
    pub refresh: RefCell<HashMap<String, RefreshRecord>>,
    pub failures: RefCell<Vec<(String, i64)>>,
    /// Registrations per (source, window start).
    pub registrations: RefCell<HashMap<(String, i64), u32>>,
    /// Budget spends per (kind, source, window start) (`source_budget`).
    pub spends: RefCell<HashMap<(String, String, i64), u32>>,
    /// Revoked sessions by id, and the last "sign out everywhere" (`session`).
    pub sessions: session_revocations::MemorySessions,
    /// Clients' `last_used_at`.
    pub last_used: RefCell<HashMap<String, i64>>,
    pub audit: RefCell<Vec<crate::store::audit::AuditEvent>>,
    pub last_refresh: RefCell<HashMap<String, i64>>,
    pub fail: RefCell<bool>,
    /// Storage calls so far, and the call from which every call fails: a
    /// test sweeps a failure over each call of a flow in turn.
    pub calls: Cell<u32>,
    pub fail_from: Cell<Option<u32>>,
    /// Remembered consents by (subject, client) (`login::remembered_consent`).
    pub remembered: RefCell<HashMap<(String, String), crate::store::consents::RememberedConsent>>,
    /// Metadata documents "on the web" and their cache (`cimd::canned`).
    pub documents: crate::protocol::cimd::canned::CannedDocuments,
    /// Delegated logins in flight (`login::upstream_state`), and whether claimed.
    pub upstream: RefCell<HashMap<String, (crate::store::upstream_states::UpstreamState, bool)>>,
    /// Passkeys, their challenges and spent setup codes (`testing::passkeys`).
    pub passkeys: passkeys::MemoryPasskeys,
    /// Spent client assertion ids and key sets "on the web" (`client_assertion::memory`).
    pub assertions: crate::protocol::client_assertion::memory::MemoryAssertions,
}

impl MemoryStore {
    pub(crate) fn check(&self) -> StoreResult<()> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        if *self.fail.borrow() || self.fail_from.get().is_some_and(|n| call >= n) {
            Err(StoreError("injected failure".into()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod conformance_tests {
    use super::MemoryStore;
    use crate::store::conformance::{cases, Fixture};

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        let all = cases::<MemoryStore>();
        assert!(all.len() >= 16, "{} cases", all.len());
        let failures: Vec<String> = all
            .iter()
            .filter_map(|case| {
                let store = MemoryStore::default();
                let fixture = Fixture { prefix: "conformance-".into(), now: 1_800_000_000 };
                crate::store::memory::block_on((case.run)(&store, &fixture)).err().map(|e| format!("{}: {e}", case.name))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// Nothing to save: the memory store has no round trips.
impl crate::store::read_ahead::ReadAhead for MemoryStore {}
