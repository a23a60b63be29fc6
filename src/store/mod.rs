//! What is kept: one storage trait per area with its records, no super-traits.
//! Imports only `base`; `store/memory/` holds the in-memory store for native tests.
