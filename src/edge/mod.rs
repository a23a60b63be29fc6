//! The worker adapter. `routes` (the route table) is plain Rust, tested and
//! fuzzed natively, and so are the rules of `row` (a D1 column's value read
//! as a field); everything else here exists only in the wasm32 build:
//! the entry points (`entry`), D1 storage (`d1/`, one file per storage trait), the `/mcp` forwarding
//! (`mcp`) and outbound fetches.

pub mod routes;
#[cfg(any(test, feature = "fuzzing"))]
pub mod routes_reference;

#[cfg(target_arch = "wasm32")]
mod apart;
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
mod deadline;
#[cfg(target_arch = "wasm32")]
mod entry;
// Plain Rust (tested natively); only `d1` uses it.
#[cfg(any(target_arch = "wasm32", test))]
mod row;
#[cfg(target_arch = "wasm32")]
mod hot;
#[cfg(target_arch = "wasm32")]
mod isolate_config;
#[cfg(target_arch = "wasm32")]
mod mcp;
#[cfg(target_arch = "wasm32")]
pub(crate) mod outbound;
#[cfg(target_arch = "wasm32")]
mod webcrypto;
