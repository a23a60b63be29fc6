//! Migration shim (issue 13): the records and their traits live in `store/`
//! now, one trait per area. `Store` is the transition bound of the plan's
//! hinge 2: it names every storage trait the handlers need, with a blanket
//! impl, so the handlers keep `S: Store` until their layer's step gives each
//! its real bounds. It moves to `store/mod.rs` (as `Stores`) once the traits
//! it names all live in `store/`, and goes in step 6.

pub use crate::store::StoreResult;
pub use crate::store::clients::{AuthMethod, ClientRecord, ClientStore};
pub use crate::store::grants::{CodeRecord, GrantRecord, GrantStore, RefreshRecord};
pub use crate::store::pending::{PendingAuthorization, PendingRequests};

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
{
}
