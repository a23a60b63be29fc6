//! The forwarding and response plans natively: what the origin is sent and
//! what the client gets back.

use super::*;
use crate::base::ed25519::Native;
use crate::store::memory::block_on;
use crate::base::types::Secret;
use crate::gateway::forward_plan::forward_plan;
use crate::gateway::guard::{Admitted, BodyPlan};
use crate::testing::testing_config;
use crate::protocol::access_token::{AccessClaims, VerifiedToken};

const ISS: &str = "https://mcp.example.com";

fn admitted(forwarded: &[(&str, &str)]) -> Admitted {
    let claims = AccessClaims {
        iss: ISS.into(),
        sub: "owner".into(),
        aud: format!("{ISS}/mcp"),
        client_id: "c1".into(),
        scope: "mcp".into(),
        jti: "j".into(),
        gid: "g1".into(),
    };
    Admitted {
        token: VerifiedToken { claims, expires_at: 2_000_000_000, issued_at: 1_800_000_000 },
        grant: GrantId::new("g1"),
        forwarded: forwarded.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: BodyPlan::Pipe,
    }
}

fn value<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn the_origin_learns_who_calls_and_gets_its_own_credentials_never_the_token() {
    let mut c = testing_config();
    c.forward.origin_url = Some("http://127.0.0.1:9000/mcp".into());
    c.forward.access = Some(("id.access".into(), Secret::new("access-secret")));
    c.forward.shared_secret = Some(("x-origin-key".into(), Secret::new("shh")));
    let state = GatewayState::default();
    let a = admitted(&[("accept", "application/json")]);
    let p = block_on(forward_plan(&c, &Native, ISS, &state, &a, 1_800_000_000, Some("203.0.113.9".into()), false)).unwrap();
    assert_eq!(p.url, "http://127.0.0.1:9000/mcp");
    let h = &p.headers;
    assert_eq!(value(h, "accept"), Some("application/json"));
    assert_eq!(value(h, "x-gatehouse-user"), Some("owner"));
    assert_eq!(value(h, "x-gatehouse-client"), Some("c1"));
    assert_eq!(value(h, "x-gatehouse-scope"), Some("mcp"));
    assert!(value(h, "x-gatehouse-assertion").is_some_and(|a| a.split('.').count() == 3));
    assert_eq!(value(h, "x-forwarded-for"), Some("203.0.113.9"));
    assert_eq!(value(h, "cf-access-client-id"), Some("id.access"));
    assert_eq!(value(h, "cf-access-client-secret"), Some("access-secret"));
    assert_eq!(value(h, "x-origin-key"), Some("shh"));
    assert!(value(h, "authorization").is_none());
}

#[test]
fn the_target_is_the_binding_or_the_url_and_neither_is_a_502() {
    let mut c = testing_config();
    let state = GatewayState::default();
    let a = admitted(&[]);
    c.forward.origin_url = None;
    assert_eq!(block_on(forward_plan(&c, &Native, ISS, &state, &a, 1_800_000_000, None, true)).unwrap().url, SERVICE_BINDING);
    let r = block_on(forward_plan(&c, &Native, ISS, &state, &a, 1_800_000_000, None, false)).unwrap_err();
    assert_eq!(r.status, 502);
    c.forward.origin_url = Some("http://vpc.internal/mcp".into());
    assert_eq!(block_on(forward_plan(&c, &Native, ISS, &state, &a, 1_800_000_000, None, true)).unwrap().url, "http://vpc.internal/mcp", "a VPC service gets ORIGIN_URL");
}

const SERVICE_BINDING: &str = crate::config::forwarding::SERVICE_BINDING_URL;

fn origin(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_answer_loses_hop_headers_and_its_session_id_is_wrapped_for_the_grant() {
    let c = testing_config();
    let state = GatewayState::default();
    let g = GrantId::new("g1");
    let h = origin(&[("content-type", "application/json"), ("connection", "keep-alive, x-private"), ("x-private", "1"), ("keep-alive", "5"), ("mcp-session-id", "s-7"), ("x-other", "kept")]);
    let p = response_plan(&c, &state, &g, 200, h, false).unwrap();
    assert!(!p.is_sse && !p.filter);
    assert_eq!(value(&p.headers, "x-other"), Some("kept"));
    assert!(value(&p.headers, "x-private").is_none() && value(&p.headers, "keep-alive").is_none() && value(&p.headers, "connection").is_none());
    let wrapped = value(&p.headers, "mcp-session-id").unwrap();
    assert_ne!(wrapped, "s-7");
    assert_eq!(state.session_key(&c.signing_key).unwrap(&g, wrapped).as_deref(), Some("s-7"));
}

#[test]
fn an_sse_answer_is_never_cached_and_a_failure_mcp_cannot_read_is_replaced() {
    let mut c = testing_config();
    let state = GatewayState::default();
    let g = GrantId::new("g1");
    let p = response_plan(&c, &state, &g, 200, origin(&[("content-type", "text/event-stream"), ("cache-control", "max-age=60")]), true).unwrap();
    assert!(p.is_sse);
    assert_eq!(p.headers.iter().filter(|(k, _)| k == "cache-control").map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["no-cache"]);
    assert!(!p.filter, "no policy, nothing to filter");
    c.forward.tool_policy = Some(crate::config::tool_policy::ToolPolicy::default());
    assert!(response_plan(&c, &state, &g, 200, origin(&[("content-type", "application/json")]), true).unwrap().filter);
    assert!(!response_plan(&c, &state, &g, 400, origin(&[("content-type", "application/json")]), true).unwrap().filter);
    let r = response_plan(&c, &state, &g, 502, origin(&[("content-type", "text/html")]), false).unwrap_err();
    assert_eq!(r.log.unwrap()["event"], "origin_error");
    let body: serde_json::Value = serde_json::from_str(&r.answer.body).unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
}
