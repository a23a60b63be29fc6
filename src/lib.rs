//! Gatehouse: an OAuth 2.1 authorization server and authenticating gateway for
//! self-hosted MCP servers, run as a Cloudflare Worker.
//!
//! Layers, bottom to top, each importing only those below it (enforced by
//! tests/layering.rs): `base` -> `config` | `store` -> `protocol` ->
//! `identity` | `gateway` -> `operate` -> `edge`. All but `edge` are plain
//! Rust without `worker` types, tested natively; `edge` is the thin worker
//! adapter (routing, D1 storage, proxying); only its route table is built
//! natively. `testing` (test builds only) holds the shared test doubles and
//! the flow tests.

pub mod base;
pub mod config;
pub mod store;
pub mod protocol;
pub mod identity;
pub mod gateway;
pub mod operate;
#[cfg(test)]
mod testing;

pub mod edge;
