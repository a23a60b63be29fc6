//! What is kept: one storage trait per area with its records, no super-traits.
//! Imports only `base`; `store/memory/` holds the in-memory store for native tests.

pub mod audit;
pub mod clients;
pub mod grants;
pub mod pending;

#[cfg(test)]
pub mod memory;

pub type StoreResult<T> = Result<T, crate::base::error::StoreError>;
