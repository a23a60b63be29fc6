//! Gatehouse: an OAuth 2.1 authorization server and authenticating gateway for
//! self-hosted MCP servers, run as a Cloudflare Worker.
//!
//! `oauth` is the protocol core and `gateway` what is done to MCP traffic on
//! its way to the origin: plain Rust, no `worker` types, tested natively.
//! `edge` is the thin worker adapter (routing, D1 storage, proxying) and only
//! exists in the wasm32 build.

pub mod gateway;
pub mod oauth;

#[cfg(target_arch = "wasm32")]
mod edge;
