//! `Store`: every storage trait the endpoints use, named once, with a
//! blanket impl, so a handler's bound is `S: Store` rather than a list of
//! twelve traits (the records and the traits themselves live in `store/`,
//! one trait per area). It is a bound, not a storage trait: nothing
//! implements it by hand.

use crate::store::clients::ClientStore;
use crate::store::grants::GrantStore;
use crate::store::pending::PendingRequests;

/// Every storage trait the protocol's handlers use.
pub trait Store:
    ClientStore
    + PendingRequests
    + GrantStore
    + super::cimd::ClientDocuments
    + crate::store::audit::AuditLog
    + crate::store::upstream_states::UpstreamStates
    + crate::store::consents::ConsentMemory
    + super::client_assertion::ClientAssertionStore
    + crate::store::attempts::AttemptLog
    + crate::store::budgets::BudgetCounter
    + crate::store::session_revocations::SessionRevocations
    + crate::store::read_ahead::ReadAhead
{
}

impl<T> Store for T where
    T: ClientStore
        + PendingRequests
        + GrantStore
        + super::cimd::ClientDocuments
        + crate::store::audit::AuditLog
        + crate::store::upstream_states::UpstreamStates
        + crate::store::consents::ConsentMemory
        + super::client_assertion::ClientAssertionStore
        + crate::store::attempts::AttemptLog
        + crate::store::budgets::BudgetCounter
        + crate::store::session_revocations::SessionRevocations
        + crate::store::read_ahead::ReadAhead
{
}
