//! Delegated login: the person signs in at an upstream provider, after
//! consenting here (MCP authorization spec §2.9 "third-party authorization";
//! MCP security best practices, confused deputy: consent is asked by
//! Gatehouse, before the browser leaves). The one place that knows which
//! providers exist: `Upstream`.
//!
//! `start` (POST /consent with `via`): consent was given on the sign-in page
//! of a browser without a session; a single-use state bound to this browser
//! is stored (`upstream_state`), with whether "Remember" was ticked, and the
//! browser is sent upstream.
//! `callback` (GET /callback/<provider>), in order: the state is claimed once
//! by the browser that started it; the pending request is still this
//! browser's; a provider's `access_denied` goes back to the MCP client as
//! `access_denied`; else the code is redeemed for an identity that passed the
//! allow-lists; that identity gets a Gatehouse session and the MCP client
//! its authorization code, exactly as a consent approval (`approval::finish`),
//! remembered for next time if it was ticked at the start.

use crate::base::page;
use super::upstream_state;
use super::upstream_state::STATE_COOKIE;
use super::upstream_state::STATE_TTL;
use crate::store::upstream_states::UpstreamState;
use super::{github, oidc, remembered_consent, Identity, LoginError};
use crate::base::login_method::LoginMethod;
use crate::store::audit::{AuditEvent, UpstreamOutcome};
use crate::config::Config;
use crate::identity::approval::{self, FormPost};
use crate::protocol::context::Ctx;
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::outbound::Net;
use crate::identity::pages::UpstreamButton;
use crate::base::random;
use crate::identity::browser_session;
use crate::protocol::source_budget::{self, Budget, Spend};
use crate::protocol::store::Store;
use crate::base::types::{Secret, Subject, TokenHash};

/// Every kind of upstream provider; each is on or off by configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    Oidc,
    Github,
}

impl Upstream {
    pub const ALL: [Upstream; 2] = [Upstream::Oidc, Upstream::Github];

    /// In `via=`, in `/callback/<provider>` and in stored states.
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Oidc => "oidc",
            Upstream::Github => "github",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }

    pub fn method(self) -> LoginMethod {
        match self {
            Upstream::Oidc => LoginMethod::Oidc,
            Upstream::Github => LoginMethod::Github,
        }
    }

    /// The button label when configured; `None` when this provider is off.
    pub fn label(self, config: &Config) -> Option<String> {
        match self {
            Upstream::Oidc => config.oidc.as_ref().map(|c| c.label.clone()),
            Upstream::Github => config.github.as_ref().map(|_| "GitHub".to_string()),
        }
    }

    async fn authorize_url(self, net: &impl Net, config: &Config, leg: &Leg<'_>, state: &str, challenge: &str) -> Result<String, LoginError> {
        match (self, &config.oidc, &config.github) {
            (Upstream::Oidc, Some(cfg), _) => oidc::authorize_url(net, cfg, leg.redirect_uri, state, challenge, leg.nonce, leg.now).await,
            (Upstream::Github, _, Some(cfg)) => Ok(github::authorize_url(cfg, leg.redirect_uri, state, challenge)),
            _ => Err(not_configured()),
        }
    }

    async fn identify(self, net: &impl Net, config: &Config, leg: &Leg<'_>, code: &str, verifier: &Secret) -> Result<Identity, LoginError> {
        match (self, &config.oidc, &config.github) {
            (Upstream::Oidc, Some(cfg), _) => oidc::identify(net, cfg, code, leg.redirect_uri, verifier, leg.nonce, leg.now).await,
            // GitHub has no ID token, so no nonce: the state and PKCE bind the answer.
            (Upstream::Github, _, Some(cfg)) => github::identify(net, cfg, code, leg.redirect_uri, verifier.expose()).await,
            _ => Err(not_configured()),
        }
    }

    /// RFC 9207: the authorization response's `iss`, when sent, must be the
    /// provider we sent the browser to (mix-up defence).
    fn issuer(self, config: &Config) -> Option<&str> {
        match self {
            Upstream::Oidc => config.oidc.as_ref().map(|c| c.issuer.as_str()),
            Upstream::Github => None,
        }
    }
}

/// What both ends of one delegated login share.
struct Leg<'a> {
    /// Our callback, sent upstream at the start and again with the code.
    redirect_uri: &'a str,
    nonce: &'a str,
    now: i64,
}

fn not_configured() -> LoginError {
    LoginError::Invalid("That sign-in provider is not configured on this server.".into())
}

/// The "Allow and sign in with …" buttons of the sign-in page.
pub fn buttons(config: &Config) -> Vec<UpstreamButton> {
    Upstream::ALL.into_iter().filter_map(|u| u.label(config).map(|label| UpstreamButton { id: u.as_str(), label })).collect()
}

/// Where the provider sends the browser back to.
pub fn callback_uri(issuer: &str, up: Upstream) -> String {
    format!("{issuer}/callback/{}", up.as_str())
}

fn outcome_of(e: &LoginError) -> UpstreamOutcome {
    match e {
        LoginError::Upstream(_) => UpstreamOutcome::Failed,
        LoginError::Refused(_) => UpstreamOutcome::Refused,
        LoginError::Invalid(_) => UpstreamOutcome::Invalid,
    }
}

fn why(e: &LoginError) -> &str {
    match e {
        LoginError::Upstream(w) | LoginError::Refused(w) | LoginError::Invalid(w) => w,
    }
}

/// Consent was given with `via=<provider>` by a browser without a session:
/// remember the login and send the browser to the provider.
pub(crate) async fn start<S: Store>(ctx: &Ctx<'_, S>, net: &impl Net, req: &HttpRequest, post: &FormPost, via: &str) -> HttpResponse {
    let Some(up) = Upstream::parse(via).filter(|u| u.label(ctx.config).is_some()) else {
        return not_configured().page();
    };
    // Each start stores a row and may fetch the provider's metadata: budgeted per source.
    match source_budget::spend(ctx, req, Spend::UpstreamSignIn).await {
        Ok(Budget::Within) => {}
        Ok(Budget::Spent { retry_after }) => return source_budget::spent_page(retry_after),
        Err(e) => return crate::base::page::fail_page(e.into()),
    }
    let audit = |outcome, why: Option<&str>| AuditEvent::upstream_login(outcome, up.as_str(), req, None, Some(&post.pending.client_id), why, ctx.now);
    let (state, cookie, nonce) = match (random::secret(), random::secret(), oidc::new_nonce()) {
        (Ok(s), Ok(c), Ok(n)) => (s, c, n),
        _ => return page::error_page(503, "Try again", "No secure random source was available."),
    };
    let challenge = upstream_state::pkce_challenge(&upstream_state::pkce_verifier(&state, &cookie));
    let redirect_uri = callback_uri(&ctx.issuer, up);
    let leg = Leg { redirect_uri: &redirect_uri, nonce: &nonce, now: ctx.now };
    let url = match up.authorize_url(net, ctx.config, &leg, state.expose(), &challenge).await {
        Ok(url) => url,
        Err(e) => {
            ctx.store.audit(&audit(outcome_of(&e), Some(why(&e)))).await;
            return e.page();
        }
    };
    let record = UpstreamState {
        state_hash: state.hash(),
        cookie_hash: cookie.hash(),
        provider: up.as_str().into(),
        pending_id: post.pending.id.clone(),
        nonce,
        remember: remembered_consent::ticked(post.params.get("remember")),
        expires_at: ctx.now + STATE_TTL,
    };
    if let Err(e) = ctx.store.create_upstream_state(&record, ctx.now).await {
        let e: crate::base::error::OAuthError = e.into();
        return page::error_page(e.status(), "Something went wrong", &e.description);
    }
    ctx.store.audit(&audit(UpstreamOutcome::Started, None)).await;
    HttpResponse::see_other(&url).with_header("set-cookie", upstream_state::set_state_cookie(&cookie))
}

/// `GET /callback/<provider>`. The state cookie is spent whatever happens.
pub async fn callback<S: Store>(ctx: &Ctx<'_, S>, net: &impl Net, req: &HttpRequest) -> HttpResponse {
    let name = req.path.strip_prefix("/callback/").unwrap_or("").trim_end_matches('/');
    let resp = match Upstream::parse(name).filter(|u| u.label(ctx.config).is_some()) {
        None => page::error_page(404, "Unknown sign-in provider", "This server has no sign-in provider by that name."),
        Some(up) => match finish_login(ctx, net, req, up).await {
            Ok(resp) => resp,
            Err((e, client)) => {
                // Anyone may call the callback with made-up values: budgeted per source.
                let event = AuditEvent::upstream_login(outcome_of(&e), up.as_str(), req, None, client.as_ref(), Some(why(&e)), ctx.now);
                source_budget::audit_refusal(ctx, req, &event).await;
                e.page()
            }
        },
    };
    resp.with_header("set-cookie", upstream_state::clear_state_cookie())
}

type Failure = (LoginError, Option<crate::base::types::ClientId>);

async fn finish_login<S: Store>(ctx: &Ctx<'_, S>, net: &impl Net, req: &HttpRequest, up: Upstream) -> Result<HttpResponse, Failure> {
    let invalid = |why: &str| (LoginError::Invalid(why.into()), None);
    let params = Params::parse(req.query.as_bytes()).map_err(|_| invalid("The provider's answer is malformed."))?;
    let state = params.get("state").map(Secret::new).ok_or_else(|| invalid("The provider's answer carries no state."))?;
    let foreign = "This sign-in was not started in this browser, was already completed, or is more than 10 minutes old. Start again from your MCP client.";
    let cookie = req.cookie(STATE_COOKIE).filter(|c| !c.is_empty()).map(Secret::new).ok_or_else(|| invalid(foreign))?;
    let claimed = ctx.store.claim_upstream_state(&TokenHash::of(state.expose()), &cookie.hash(), ctx.now).await;
    let record = match claimed {
        Ok(Some(r)) if r.provider == up.as_str() => r,
        Ok(_) => return Err(invalid(foreign)),
        Err(e) => return Err((LoginError::Upstream(format!("Gatehouse's storage failed: {}", e.0)), None)),
    };
    if let (Some(sent), Some(expected)) = (params.get("iss"), up.issuer(ctx.config)) {
        if sent != expected {
            return Err(invalid("The answer came from another issuer than the provider this sign-in was sent to."));
        }
    }
    let request = url::form_urlencoded::Serializer::new(String::new()).append_pair("request", &record.pending_id).finish();
    let post = match Params::parse(request.as_bytes()) {
        Ok(p) => approval::load(ctx, req, p, false, None).await,
        Err(_) => return Err(invalid(foreign)),
    };
    // The pending request's own page (expired, other browser, client gone) says it best.
    let post = match post {
        Ok(p) => p,
        Err(page) => return Ok(page),
    };
    let client = Some(post.pending.client_id.clone());
    let fail = |e: LoginError| (e, client.clone());
    if let Some(error) = params.get("error") {
        if error == "access_denied" {
            let who = Subject::new(format!("{}:(declined upstream)", up.as_str()));
            ctx.store.audit(&AuditEvent::upstream_login(UpstreamOutcome::Denied, up.as_str(), req, None, client.as_ref(), None, ctx.now)).await;
            return Ok(approval::finish(ctx, &post.pending, &post.client, who, false, false, None).await.unwrap_or_else(crate::base::page::fail_page));
        }
        let code = if error.len() <= 40 && error.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') { error } else { "unknown" };
        return Err(fail(LoginError::Upstream(format!("The provider answered with the error {code}."))));
    }
    let code = params.get("code").ok_or_else(|| fail(LoginError::Invalid("The provider's answer carries neither a code nor an error.".into())))?;
    let verifier = upstream_state::pkce_verifier(&state, &cookie);
    let redirect_uri = callback_uri(&ctx.issuer, up);
    let leg = Leg { redirect_uri: &redirect_uri, nonce: &record.nonce, now: ctx.now };
    let identity = up.identify(net, ctx.config, &leg, code, &verifier).await.map_err(fail)?;
    let mut success = AuditEvent::upstream_login(UpstreamOutcome::Success, up.as_str(), req, Some(&identity.subject), client.as_ref(), None, ctx.now);
    if let (Some(account), Some(detail)) = (&identity.account, success.detail.as_object_mut()) {
        detail.insert("account".into(), account.as_str().into());
    }
    ctx.store.audit(&success).await;
    let session = browser_session::session_cookie_as(&ctx.config.signing_key, &identity.subject, identity.method, &post.browser, ctx.now);
    let resp = approval::finish(ctx, &post.pending, &post.client, identity.subject, true, record.remember, None).await.unwrap_or_else(crate::base::page::fail_page);
    Ok(resp.with_header("set-cookie", session))
}

#[cfg(test)]
#[path = "delegate_tests.rs"]
mod tests;
