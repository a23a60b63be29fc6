//! What goes to the origin for an admitted request: the client's forwarded
//! headers, who is calling (`X-Gatehouse-*` and the signed assertion, since
//! the client's own token is never passed through: MCP authorization,
//! §Token Passthrough), the origin's own credentials, and where to send it.

use super::assertion::{self, Identity};
use super::guard::Admitted;
use super::jsonrpc;
use super::refusal;
use super::state::GatewayState;
use crate::base::ed25519::Ed25519;
use crate::base::http::HttpResponse;
use crate::config::forwarding::SERVICE_BINDING_URL;
use crate::config::Config;

/// The origin request's headers (set in order) and URL.
#[derive(Debug)]
pub struct ForwardPlan<'c> {
    pub headers: Vec<(String, String)>,
    /// With a binding, the URL handed to it; else the URL fetched.
    pub url: &'c str,
}

/// `client_ip`: what the runtime says the client's address is.
/// `bound`: whether `ORIGIN` is bound to a service or a Workers VPC service.
pub async fn forward_plan<'c>(
    config: &'c Config,
    crypto: &impl Ed25519,
    issuer: &str,
    state: &GatewayState,
    a: &Admitted,
    now: i64,
    client_ip: Option<String>,
    bound: bool,
) -> Result<ForwardPlan<'c>, HttpResponse> {
    let fwd = &config.forward;
    // With a binding, ORIGIN_URL (when set) is the URL handed to it: for a Workers VPC service
    // its scheme picks plain HTTP or TLS for the tunnel's last hop and its path is the MCP
    // endpoint (the host and port are the VPC service's own).
    let url = match (bound, &fwd.origin_url) {
        (_, Some(u)) => u.as_str(),
        (true, None) => SERVICE_BINDING_URL,
        (false, None) => {
            return Err(refusal::rpc(502, jsonrpc::SERVER_ERROR, "Gatehouse has no origin configured: set ORIGIN_URL or bind a service named ORIGIN"))
        }
    };
    let claims = &a.token.claims;
    let mut headers = a.forwarded.clone();
    headers.push(("x-gatehouse-user".into(), claims.sub.clone()));
    headers.push(("x-gatehouse-client".into(), claims.client_id.clone()));
    headers.push(("x-gatehouse-scope".into(), claims.scope.clone()));
    let who = Identity { iss: issuer, aud: &fwd.audience, sub: &claims.sub, client_id: &claims.client_id, scope: &claims.scope };
    let signed = assertion::get_or_sign(&state.assertions, crypto, &config.signing_key, &who, now).await;
    let Ok(assertion) = signed else {
        return Err(refusal::rpc(503, jsonrpc::SERVER_ERROR, "the gateway could not sign the identity assertion; try again"));
    };
    headers.push(("x-gatehouse-assertion".into(), assertion));
    if let Some(ip) = client_ip {
        headers.push(("x-forwarded-for".into(), ip));
    }
    if let Some((id, secret)) = &fwd.access {
        headers.push(("cf-access-client-id".into(), id.clone()));
        headers.push(("cf-access-client-secret".into(), secret.expose().to_string()));
    }
    if let Some((name, secret)) = &fwd.shared_secret {
        headers.push((name.clone(), secret.expose().to_string()));
    }
    Ok(ForwardPlan { headers, url })
}
