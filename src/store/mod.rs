//! What is kept: one storage trait per area with its records, no super-traits.
//! Imports only `base`; `store/memory/` holds the in-memory store for native tests.

pub mod admin;
pub mod attempts;
pub mod audit;
pub mod budgets;
pub mod client_documents;
pub mod clients;
pub mod consents;
pub mod grants;
pub mod maintenance;
pub mod passkeys;
pub mod pending;
pub mod read_ahead;
pub mod registrations;
pub mod revoked_grants;
pub mod session_revocations;
pub mod upstream_states;

#[cfg(test)]
pub mod memory;

#[cfg(any(test, feature = "test-faults"))]
pub mod conformance;

pub type StoreResult<T> = Result<T, crate::base::error::StoreError>;
