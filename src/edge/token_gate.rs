//! The checks on a verified access token at the MCP endpoint that need more
//! than the token: its grant not revoked (the per-isolate cache of
//! `gateway::revoked_grants`, read from D1 at most every
//! `REVOCATION_CHECK_SECONDS`) and the required scopes (`gateway::refusal`).

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Env, Response};

use super::d1_faults::Faults;
use super::d1_revoked_grants::D1Revocations;
use super::to_response;
use crate::protocol::access_token::VerifiedToken;
use crate::gateway::refusal;
use crate::config::Config;
use crate::base::http::HttpResponse;
use crate::gateway::revoked_grants::{self, RevocationCache};

thread_local! {
    /// This isolate's view of recently revoked grants; isolates do not share it.
    static REVOKED: Rc<RefCell<RevocationCache>> = Rc::new(RefCell::new(RevocationCache::new()));
}

/// `Some(response)` when the request must be refused; `None` to forward it.
pub async fn refuse(env: &Env, faults: &Faults, config: &Config, issuer: &str, token: &VerifiedToken) -> worker::Result<Option<Response>> {
    let cache = REVOKED.with(Rc::clone);
    // The binding is looked up only when D1 is read (the cache is stale or
    // does not cover this token), not on every request.
    let source = D1Revocations::new(env, faults);
    let now_ms = js_sys::Date::now() as i64;
    let refusal = match revoked_grants::grant_revoked(&cache, &source, config, token, now_ms).await {
        Ok(false) => refusal::check_scope(token, issuer, config).err(),
        Ok(true) => Some(refusal::revoked(issuer, config)),
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"event": "revocation_check_failed", "error": e.0}));
            // Fail closed: without a current view of revocations the bound
            // the README promises would not hold.
            let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Gatehouse storage is unavailable, try again"}});
            Some(HttpResponse::json(503, &body).with_header("retry-after", "1"))
        }
    };
    refusal.map(to_response).transpose()
}
