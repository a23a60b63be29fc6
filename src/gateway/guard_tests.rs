//! `admit` end to end natively: a real signed token, the isolate's state and
//! the memory store's revoked grants (before, only the e2e suites saw these).

use super::*;
use crate::base::scope::Scopes;
use crate::base::types::{ClientId, Subject};
use crate::base::ed25519::Native;
use crate::store::memory::{block_on, MemoryStore};
use crate::testing::testing_config;
use crate::protocol::access_token::{issue, AccessClaims};
use crate::store::grants::{CodeRecord, GrantRecord, GrantStore};

const ISS: &str = "https://mcp.example.com";
const NOW: i64 = 1_800_000_000;

struct World {
    config: Config,
    store: MemoryStore,
    state: GatewayState,
}

impl World {
    fn new() -> Self {
        let w = World { config: testing_config(), store: MemoryStore::default(), state: GatewayState::default() };
        for gid in ["g1", "g2"] {
            let grant = GrantRecord {
                grant_id: GrantId::new(gid),
                client_id: ClientId::new("c1"),
                subject: Subject::new("owner"),
                scope: "mcp".into(),
                resource: format!("{ISS}/mcp"),
                created_at: NOW - 10,
                revoked_at: None,
            };
            let code = CodeRecord {
                code_hash: crate::base::types::Secret::new(format!("code-{gid}")).hash(),
                client_id: grant.client_id.clone(),
                redirect_uri: "http://127.0.0.1/cb".into(),
                code_challenge: crate::base::pkce::CodeChallenge::from_stored("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                scope: "mcp".into(),
                resource: grant.resource.clone(),
                grant_id: grant.grant_id.clone(),
                expires_at: NOW + 60,
                used_at: None,
            };
            block_on(w.store.create_grant(&grant, &code)).unwrap();
        }
        w
    }
    fn token(&self, gid: &str, scope: &str) -> String {
        let claims = AccessClaims {
            iss: ISS.into(),
            sub: "owner".into(),
            aud: format!("{ISS}/mcp"),
            client_id: "c1".into(),
            scope: scope.into(),
            jti: "at_1".into(),
            gid: gid.into(),
        };
        block_on(issue(&Native, &self.config.signing_key, claims, NOW - 5, 3600)).unwrap()
    }
    fn admit_at(&self, now_ms: i64, headers: &[(&str, &str)]) -> (Result<Admitted, Refusal>, Option<String>) {
        let g = Guard { config: &self.config, issuer: ISS, now: now_ms / 1000, now_ms, state: &self.state, revoked: &self.store, crypto: &Native };
        let head = HeaderPairs(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let mut client = None;
        let r = block_on(admit(&g, &head, &mut client));
        (r, client)
    }
    fn admit(&self, headers: &[(&str, &str)]) -> Result<Admitted, Refusal> {
        self.admit_at(NOW * 1000, headers).0
    }
}

fn refused(r: Result<Admitted, Refusal>) -> Refusal {
    r.expect_err("refused")
}

#[test]
fn no_bearer_token_is_401_without_an_error_code() {
    let w = World::new();
    for headers in [&[][..], &[("authorization", "Basic abc")], &[("authorization", "Bearer  ")]] {
        let r = refused(w.admit(headers)).answer;
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").unwrap().contains("resource_metadata="));
        assert!(!r.body.contains("invalid_token"), "{}", r.body);
    }
}

#[test]
fn a_token_we_did_not_issue_is_401_invalid_token() {
    let w = World::new();
    let mut other = World::new();
    other.config.signing_key = crate::base::signing_key::SigningKey::from_seed_b64(&crate::base::encoding::b64url(&[9; 32])).unwrap();
    let foreign = other.token("g1", "mcp");
    let (r, client) = w.admit_at(NOW * 1000, &[("authorization", &format!("Bearer {foreign}"))]);
    let r = refused(r).answer;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
    assert_eq!(client, None, "nobody is named by a token that does not verify");
}

#[test]
fn a_valid_token_is_admitted_and_its_token_never_forwarded() {
    let w = World::new();
    let t = w.token("g1", "mcp");
    let (r, client) = w.admit_at(NOW * 1000, &[("authorization", &format!("bearer {t}")), ("accept", "application/json"), ("mcp-protocol-version", "2025-11-25")]);
    let a = r.expect("admitted");
    assert_eq!(client.as_deref(), Some("c1"));
    assert_eq!(a.grant.as_str(), "g1");
    assert!(a.forwarded.iter().all(|(k, _)| k != "authorization"), "{:?}", a.forwarded);
    assert!(a.forwarded.iter().any(|(k, v)| k == "mcp-protocol-version" && v == "2025-11-25"));
    assert_eq!(a.body, BodyPlan::Read { declared: None, limit: w.config.forward.max_body_bytes });
}

#[test]
fn a_revoked_grant_is_refused_once_the_isolate_rereads_within_the_interval() {
    let w = World::new();
    let auth = format!("Bearer {}", w.token("g1", "mcp"));
    assert!(w.admit(&[("authorization", &auth)]).is_ok());
    block_on(w.store.revoke_grant(&GrantId::new("g1"), NOW)).unwrap();
    let interval_ms = w.config.revocation_check_seconds * 1000;
    let (r, client) = w.admit_at(NOW * 1000 + interval_ms - 1, &[("authorization", &auth)]);
    assert!(r.is_ok(), "within REVOCATION_CHECK_SECONDS the isolate answers from memory");
    assert_eq!(client.as_deref(), Some("c1"));
    let r = refused(w.admit_at(NOW * 1000 + interval_ms, &[("authorization", &auth)]).0).answer;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("revoked"), "{}", r.body);
    let other = format!("Bearer {}", w.token("g2", "mcp"));
    assert!(w.admit_at(NOW * 1000 + interval_ms, &[("authorization", &other)]).0.is_ok(), "another grant is untouched");
}

#[test]
fn storage_down_when_the_view_is_due_is_a_logged_503() {
    let w = World::new();
    *w.store.fail.borrow_mut() = true;
    let r = refused(w.admit(&[("authorization", &format!("Bearer {}", w.token("g1", "mcp")))]));
    assert_eq!(r.answer.status, 503);
    assert_eq!(r.answer.header("retry-after"), Some("1"));
    let body: serde_json::Value = serde_json::from_str(&r.answer.body).unwrap();
    assert_eq!(body["error"]["code"], jsonrpc::SERVER_ERROR);
    assert_eq!(r.log.unwrap()["event"], "revocation_check_failed");
}

#[test]
fn a_token_without_a_required_scope_is_403() {
    let mut w = World::new();
    w.config.scopes = Scopes::from_config("mcp extra");
    w.config.required_scopes = Scopes::from_config("extra");
    let r = refused(w.admit(&[("authorization", &format!("Bearer {}", w.token("g1", "mcp")))])).answer;
    assert_eq!(r.status, 403);
    assert!(w.admit(&[("authorization", &format!("Bearer {}", w.token("g1", "mcp extra")))]).is_ok());
}

#[test]
fn a_session_id_is_unwrapped_for_its_own_grant_only() {
    let w = World::new();
    let ours = w.state.session_key(&w.config.signing_key).wrap(&GrantId::new("g1"), "origin-session-7");
    let auth = format!("Bearer {}", w.token("g1", "mcp"));
    let a = w.admit(&[("authorization", &auth), ("mcp-session-id", &ours)]).unwrap();
    assert!(a.forwarded.contains(&("mcp-session-id".into(), "origin-session-7".into())));
    let theirs = w.state.session_key(&w.config.signing_key).wrap(&GrantId::new("g2"), "origin-session-7");
    for sid in [theirs.as_str(), "origin-session-7"] {
        let r = refused(w.admit(&[("authorization", &auth), ("mcp-session-id", sid)])).answer;
        assert_eq!(r.status, 404, "{sid}");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"]["code"], jsonrpc::SESSION_NOT_FOUND);
    }
}

#[test]
fn the_body_is_refused_by_its_declared_size_and_piped_only_when_framed_and_unread() {
    let mut w = World::new();
    let auth = format!("Bearer {}", w.token("g1", "mcp"));
    let limit = w.config.forward.max_body_bytes;
    let over = (limit + 1).to_string();
    let r = refused(w.admit(&[("authorization", &auth), ("content-length", &over)])).answer;
    assert_eq!(r.status, 413);
    let at = limit.to_string();
    assert_eq!(w.admit(&[("authorization", &auth), ("content-length", &at)]).unwrap().body, BodyPlan::Pipe);
    let chunked = w.admit(&[("authorization", &auth), ("content-length", "10"), ("transfer-encoding", "chunked")]).unwrap();
    assert_eq!(chunked.body, BodyPlan::Read { declared: Some(10), limit });
    w.config.forward.tool_policy = Some(crate::config::tool_policy::ToolPolicy::default());
    let policed = w.admit(&[("authorization", &auth), ("content-length", "10")]).unwrap();
    assert_eq!(policed.body, BodyPlan::Read { declared: Some(10), limit }, "a policy reads the body");
}

/// The `/mcp` hot path's own work, as `edge::mcp` runs it for every request after a token's
/// first: the guard, the forward plan and the response plan. It must touch storage only for
/// the first request (issue 14, target 4), and the loop doubles as a measurement of that
/// work without the runtime: `GATEHOUSE_HOT_PATH_ITERATIONS=200000 cargo test --release --lib
/// hot_path -- --nocapture` prints the time per request (bench/NOTES.md, session 32).
#[test]
fn the_hot_path_after_a_tokens_first_request_touches_no_storage() {
    use super::super::forward_plan::forward_plan;
    use super::super::response_plan::response_plan;
    let w = World::new();
    let auth = format!("Bearer {}", w.token("g1", "mcp"));
    let session = w.state.session_key(&w.config.signing_key).wrap(&GrantId::new("g1"), "4c0ae1b2-origin-session");
    // What the TypeScript SDK's client sends on a `tools/call`, as Node's fetch and Miniflare's entry
    // hand it over in the benchmark: @modelcontextprotocol/sdk 1.32.2, dist/esm/client/streamableHttp.js
    // (`_commonHeaders`: mcp-session-id, mcp-protocol-version, the token; `send`: content-type, accept);
    // undici 7.30.1, lib/web/fetch/index.js and util.js (accept-language, accept-encoding, user-agent,
    // sec-fetch-mode); Miniflare's entry worker (cf-connecting-ip, host). The origin's answer is the
    // SDK's stateful StreamableHTTPServerTransport answering as SSE (bench's demo/origin.mjs).
    let request: Vec<(&str, &str)> = vec![
        ("accept", "application/json, text/event-stream"),
        ("accept-encoding", "br, gzip, deflate"),
        ("accept-language", "*"),
        ("authorization", &auth),
        ("cf-connecting-ip", "127.0.0.1"),
        ("content-length", "98"),
        ("content-type", "application/json"),
        ("host", "127.0.0.1:8787"),
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-session-id", &session),
        ("sec-fetch-mode", "cors"),
        ("user-agent", "node"),
    ];
    let answer: Vec<(String, String)> = [
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("connection", "keep-alive"),
        ("mcp-session-id", "4c0ae1b2-origin-session"),
        ("date", "Fri, 04 Dec 2026 19:00:00 GMT"),
        ("transfer-encoding", "chunked"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let once = |now_ms: i64| {
        let (admitted, _) = w.admit_at(now_ms, &request);
        let a = admitted.expect("admitted");
        let plan = block_on(forward_plan(&w.config, &Native, ISS, &w.state, &a, now_ms / 1000, Some("127.0.0.1".into()), true)).expect("a forward plan");
        let out = response_plan(&w.config, &w.state, &a.grant, 200, answer.clone(), false).expect("a response plan");
        (a, plan.headers, out.headers)
    };
    let (a, sent, back) = once(NOW * 1000);
    assert_eq!(a.body, BodyPlan::Pipe);
    assert!(sent.contains(&("mcp-session-id".into(), "4c0ae1b2-origin-session".into())), "{sent:?}");
    assert!(sent.iter().any(|(k, _)| k == "x-gatehouse-assertion"));
    assert!(back.contains(&("mcp-session-id".into(), session.clone())), "{back:?}");
    let after_first = w.store.calls.get();
    assert!(after_first >= 1, "the first request reads the grant");

    let n: u32 = std::env::var("GATEHOUSE_HOT_PATH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let started = std::time::Instant::now();
    for i in 0..n {
        // Inside the revocation view's interval, as every request of a busy connection is.
        let (_, sent_again, back_again) = once(NOW * 1000 + i64::from(i % 1000));
        assert_eq!(sent_again.len(), sent.len());
        assert_eq!(back_again.len(), back.len());
    }
    let per = started.elapsed() / n;
    assert_eq!(w.store.calls.get(), after_first, "no storage call after the first request");
    if std::env::var_os("GATEHOUSE_HOT_PATH_ITERATIONS").is_some() {
        println!("hot path (guard, forward plan, response plan), native: {per:?} per request over {n}");
    }
}
