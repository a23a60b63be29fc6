//! The worker adapter. `routes` (the route table) is plain Rust, tested and
//! fuzzed natively; everything else here exists only in the wasm32 build:
//! the entry points (`entry`), D1 storage (`d1*`), the `/mcp` forwarding
//! (`mcp`) and outbound fetches.

pub mod routes;
#[cfg(any(test, feature = "fuzzing"))]
pub mod routes_reference;

#[cfg(target_arch = "wasm32")]
mod body;
#[cfg(target_arch = "wasm32")]
mod cimd_fetch;
#[cfg(all(target_arch = "wasm32", feature = "test-faults"))]
mod conformance;
#[cfg(target_arch = "wasm32")]
mod convert;
#[cfg(target_arch = "wasm32")]
mod d1;
#[cfg(target_arch = "wasm32")]
mod d1_admin;
#[cfg(target_arch = "wasm32")]
mod d1_audit;
#[cfg(target_arch = "wasm32")]
mod d1_cimd;
#[cfg(target_arch = "wasm32")]
mod d1_client_assertion;
#[cfg(target_arch = "wasm32")]
mod d1_consent;
#[cfg(target_arch = "wasm32")]
mod d1_faults;
#[cfg(target_arch = "wasm32")]
mod d1_limits;
#[cfg(target_arch = "wasm32")]
mod d1_maintenance;
#[cfg(target_arch = "wasm32")]
mod d1_passkey;
#[cfg(target_arch = "wasm32")]
mod d1_policy;
#[cfg(target_arch = "wasm32")]
mod d1_revoked_grants;
#[cfg(target_arch = "wasm32")]
mod d1_sessions;
#[cfg(target_arch = "wasm32")]
mod d1_upstream;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod mcp;
#[cfg(target_arch = "wasm32")]
pub(crate) mod outbound;
#[cfg(target_arch = "wasm32")]
mod webcrypto;
