//! The store conformance suite: what every implementation of the storage
//! traits must do, written once and run on each store, so the in-memory
//! store of the native tests and D1 in the worker cannot drift apart.
//! Natively `store::memory` runs every case on a fresh `MemoryStore`; in
//! workerd the test build (feature `test-faults`, `build-faults/`) runs one
//! case per request on local D1 (`tests/e2e/store_conformance.test.mjs`).
//! Cases share D1's one database, so every id carries the fixture's prefix
//! and a case asserts only on its own rows.

mod attempts;
mod budgets;
mod case;
mod clients;
mod consents;
mod grants;
mod passkeys;
mod pending;
mod read_ahead;
mod records;
mod registrations;
mod revoked_grants;
mod session_revocations;
mod upstream_states;

pub use case::{Case, CaseFn, Fixture, Outcome};

use super::attempts::AttemptLog;
use super::audit::AuditLog;
use super::budgets::BudgetCounter;
use super::clients::ClientStore;
use super::grants::GrantStore;
use super::passkeys::PasskeyStore;
use super::pending::PendingRequests;
use super::read_ahead::ReadAhead;
use super::registrations::RegistrationCounter;
use super::consents::ConsentMemory;
use super::revoked_grants::RevokedGrants;
use super::session_revocations::SessionRevocations;
use super::upstream_states::UpstreamStates;

/// Every trait a store must implement to run the whole suite.
pub trait Conformant:
    ClientStore
    + PendingRequests
    + GrantStore
    + RevokedGrants
    + RegistrationCounter
    + ConsentMemory
    + UpstreamStates
    + SessionRevocations
    + AttemptLog
    + BudgetCounter
    + PasskeyStore
    + ReadAhead
    + AuditLog
{
}
impl<S> Conformant for S where
    S: ClientStore
        + PendingRequests
        + GrantStore
        + RevokedGrants
        + RegistrationCounter
        + ConsentMemory
        + UpstreamStates
        + SessionRevocations
        + AttemptLog
        + BudgetCounter
        + PasskeyStore
        + ReadAhead
        + AuditLog
{
}

macro_rules! case {
    ($name:literal, $f:path) => {
        Case { name: $name, run: |s, f| Box::pin($f(s, f)) }
    };
}

/// The cases, in a fixed order.
pub fn cases<S: Conformant>() -> Vec<Case<S>> {
    vec![
        case!("clients/round_trip", clients::round_trip),
        case!("clients/unknown_is_none", clients::unknown_is_none),
        case!("clients/duplicate_id_is_refused", clients::duplicate_id_is_refused),
        case!("pending/round_trip", pending::round_trip),
        case!("pending/expired_is_absent", pending::expired_is_absent),
        case!("pending/consumed_once", pending::consumed_once),
        case!("pending/denial_with_a_sign_in", pending::denial_with_a_sign_in),
        case!("grants/create_and_read", grants::create_and_read),
        case!("grants/from_pending_once", grants::from_pending_once),
        case!("grants/from_expired_pending_writes_nothing", grants::from_expired_pending_writes_nothing),
        case!("grants/remembered_approval", grants::remembered_approval),
        case!("grants/approval_with_a_sign_in", grants::approval_with_a_sign_in),
        case!("grants/claim_code_once", grants::claim_code_once),
        case!("grants/claim_code_stores_the_first_refresh_once", grants::claim_code_stores_the_first_refresh_once),
        case!("grants/expired_code_is_not_claimed", grants::expired_code_is_not_claimed),
        case!("grants/rotated_once", grants::rotated_once),
        case!("grants/revoked_once_at_the_first_time", grants::revoked_once_at_the_first_time),
        case!("revoked_grants/since_is_inclusive", revoked_grants::since_is_inclusive),
        case!("revoked_grants/unknown_counts_as_revoked", revoked_grants::unknown_counts_as_revoked),
        case!("registrations/at_most_cap_per_source_and_window", registrations::at_most_cap_per_source_and_window),
        case!("consents/remembered_until_it_expires", consents::remembered_until_it_expires),
        case!("consents/replaced_for_the_same_pair", consents::replaced_for_the_same_pair),
        case!("consents/forgotten_when_a_grant_of_the_pair_is_revoked", consents::forgotten_when_a_grant_of_the_pair_is_revoked),
        case!("upstream_states/claimed_once_by_its_browser", upstream_states::claimed_once_by_its_browser),
        case!("upstream_states/expired_is_not_claimed", upstream_states::expired_is_not_claimed),
        case!("attempts/at_most_max_since_a_time", attempts::at_most_max_since_a_time),
        case!("attempts/reserved_in_order_until_a_full_key", attempts::reserved_in_order_until_a_full_key),
        case!("attempts/a_release_takes_back_one_attempt", attempts::a_release_takes_back_one_attempt),
        case!("budgets/counted_per_kind_source_and_window", budgets::counted_per_kind_source_and_window),
        case!("passkeys/challenge_consumed_once_by_its_browser", passkeys::challenge_consumed_once_by_its_browser),
        case!("passkeys/setup_code_spent_once", passkeys::setup_code_spent_once),
        case!("passkeys/stored_once_and_counted_forward", passkeys::stored_once_and_counted_forward),
        case!("read_ahead/answers_as_storage_would", read_ahead::answers_as_storage_would),
        case!("read_ahead/pages_read_as_storage_would", read_ahead::pages_read_as_storage_would),
        case!("read_ahead/reserves_only_for_the_pending_requests_browser", read_ahead::reserves_only_for_the_pending_requests_browser),
        case!("session_revocations/one_session", session_revocations::one_session),
        // Global in a shared database: last.
        case!("session_revocations/everywhere_up_to_a_time", session_revocations::everywhere_up_to_a_time),
    ]
}
