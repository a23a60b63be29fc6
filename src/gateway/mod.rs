//! The gateway core: what Gatehouse does to MCP traffic between client and
//! origin (MCP Streamable HTTP transport, spec 2025-06-18 to 2026-07-28 §Transports).
//! Plain Rust without `worker` types, tested natively; `edge::mcp` adapts
//! it to the Workers runtime.

pub mod assertion;
pub mod forward_plan;
pub mod guard;
pub mod headers;
pub mod jsonrpc;
pub mod mcp_session;
pub mod mirrored_headers;
pub mod policy;
pub mod refusal;
pub mod response_plan;
pub mod revoked_grants;
pub mod sse;
pub mod state;
pub mod strict_body;
pub mod verified_tokens;
