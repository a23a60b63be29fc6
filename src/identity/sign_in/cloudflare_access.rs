//! Cloudflare Access in front of `/authorize` (issue 5): Access has already
//! signed the person in and sends its application token in the
//! `Cf-Access-Jwt-Assertion` header. We verify it as Cloudflare documents
//! ("Validate JWTs"): RS256 (RFC 7518 §3.3) against the team's keys at
//! `<team domain>/cdn-cgi/access/certs` (a JWK Set, RFC 7517 §5, beside PEM
//! copies we do not need), `iss` = the team domain, `aud` containing the
//! application's audience tag, `exp`/`iat`/`nbf` (RFC 7519 §4.1). A valid
//! token is a login as `access:<email>`: no second login, on `/authorize`
//! and on `/admin`.
//!
//! The keys are cached per isolate for an hour and fetched again when a token
//! names an unknown `kid` (Access rotates keys every six weeks), at most once
//! a minute so that made-up `kid`s cannot turn into a flood of fetches.

use std::rc::Rc;

use crate::base::page;
use crate::identity::authorize;
use crate::store::audit::AuditEvent;
use crate::config::cloudflare_access::{looks_like_email, CloudflareAccess};
use crate::protocol::context::Ctx;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::jws::{self, ClaimChecks, JwsError};
use crate::base::key_set_cache::{Fetch, FetchedKeys, KeySetCache, KeysError, Refetch};
use crate::base::outbound::{Net, OutboundRequest};
use crate::identity::browser_session;
use crate::protocol::source_budget;
use crate::base::signature::{self, Alg, PublicJwk};
use crate::protocol::store::Store;
use crate::base::types::Subject;

use super::{Identity, LoginError};
use crate::base::login_method::LoginMethod;

/// The request header Access adds (Cloudflare: "Validate JWTs").
pub const ASSERTION_HEADER: &str = "cf-access-jwt-assertion";
/// Clock skew allowed on `exp`, `iat` and `nbf`.
pub const LEEWAY: i64 = 60;
/// Keys older than this are fetched again.
pub const CERTS_MAX_AGE: i64 = 3600;
/// Least time between two fetches of the keys.
pub const CERTS_MIN_REFETCH: i64 = 60;

/// The team's signing keys, kept between requests (one per isolate in the
/// worker; tests make their own): `key_set_cache` with one entry.
pub struct CertsCache(KeySetCache);

impl Default for CertsCache {
    fn default() -> Self {
        CertsCache(KeySetCache::new(1))
    }
}

thread_local! {
    pub(crate) static ISOLATE_CERTS: Rc<CertsCache> = Rc::new(CertsCache::default());
}

/// An unknown kid fetches again once the keys are a minute old.
const REFETCH: Refetch = Refetch { min_interval: CERTS_MIN_REFETCH, kid_backoff: 0 };

/// The keys, or why not (a `LoginError::Upstream` message).
async fn fetch_keys(url: &str, net: &impl Net) -> Result<FetchedKeys, String> {
    let unreachable = |why: String| format!("Cloudflare Access's signing keys could not be fetched from {url}: {why}");
    let resp = net.send(OutboundRequest::get(url).with_header("accept", "application/json")).await.map_err(|e| unreachable(e.to_string()))?;
    if resp.status != 200 {
        return Err(unreachable(format!("HTTP {}", resp.status)));
    }
    let keys = signature::parse_jwk_set(&resp.body).map_err(|_| unreachable("the answer is not a JWK Set".into()))?;
    let keys: Vec<PublicJwk> = keys.into_iter().filter(|k| k.suits(Alg::Rs256)).collect();
    if keys.is_empty() {
        return Err(unreachable("it lists no RS256 key".into()));
    }
    Ok(FetchedKeys { keys, lifetime: CERTS_MAX_AGE })
}

fn invalid(e: JwsError) -> LoginError {
    LoginError::Invalid(format!("The Cloudflare Access sign-in could not be verified ({e}). Open the connection link again."))
}

/// Checks an assertion and returns whom it proves.
pub async fn verify(cfg: &CloudflareAccess, cache: &CertsCache, net: &impl Net, assertion: &str, now: i64) -> Result<Identity, LoginError> {
    let token = jws::parse(assertion.trim()).map_err(invalid)?;
    // Access signs with RS256 only: anything else did not come from Access.
    if token.alg != Alg::Rs256 {
        return Err(invalid(JwsError::UnsupportedAlg));
    }
    let url = cfg.certs_url();
    let fetch = || -> Fetch<'_> { Box::pin(fetch_keys(&url, net)) };
    cache.0.verify(&url, &token, net, now, REFETCH, &fetch).await.map_err(|e| match e {
        KeysError::Fetch(why) => LoginError::Upstream(why),
        KeysError::Jws(e) => invalid(e),
    })?;
    let checks = ClaimChecks { issuer: &cfg.team_domain, audience: &cfg.audience, now, leeway: LEEWAY };
    jws::check_claims(&token.claims, &checks).map_err(invalid)?;
    // Application tokens say "app"; the team-wide token is not for us.
    if token.str_claim("type").is_some_and(|t| t != "app") {
        return Err(invalid(JwsError::Claim("not an application token".into())));
    }
    let email = token
        .str_claim("email")
        .map(str::to_ascii_lowercase)
        .filter(|e| looks_like_email(e))
        .ok_or_else(|| LoginError::Refused("Cloudflare Access vouched for no e-mail address (a service token cannot sign in here).".into()))?;
    if let Some(allowed) = &cfg.allowed_emails {
        if !allowed.contains(&email) {
            return Err(LoginError::Refused(format!("{email} is not on this server's CF_ACCESS_ALLOWED_EMAILS list.")));
        }
    }
    Ok(Identity {
        subject: Subject::new(format!("access:{email}")),
        method: LoginMethod::Access,
        email: Some(email),
        name: None,
        groups: Vec::new(),
        account: None,
    })
}

/// Access is configured and no other way in is.
fn only_method(config: &crate::config::Config) -> bool {
    !super::password::enabled(config) && config.other_login_methods() == [LoginMethod::Access]
}

fn absent_page() -> HttpResponse {
    page::error_page(
        403,
        "Sign in through Cloudflare Access",
        "This server accepts only Cloudflare Access sign-ins, and this request did not come through Access. \
Open the connection link on the address protected by your Access application.",
    )
}

/// `GET /authorize` with Cloudflare Access in front. A valid assertion signs
/// the person in; an invalid one is refused with a page. Without one: the
/// usual login page, or, when Access is the only way in and the browser has
/// no session, a page saying to come through Access.
pub async fn authorize<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, net: &impl Net) -> HttpResponse {
    let Some(cfg) = ctx.config.access.as_ref() else { return authorize::handle(ctx, req).await };
    let Some(assertion) = req.header(ASSERTION_HEADER) else {
        let signed_in = match browser_session::Browser::existing(req) {
            Some(b) => match browser_session::current(ctx, req, &b).await {
                Ok(s) => s.is_some(),
                Err(e) => return storage_failed(e),
            },
            None => false,
        };
        if only_method(ctx.config) && !signed_in {
            return absent_page();
        }
        return authorize::handle(ctx, req).await;
    };
    let cache = ISOLATE_CERTS.with(Rc::clone);
    match verify(cfg, &cache, net, assertion, ctx.now).await {
        Ok(identity) => {
            ctx.store.audit(&AuditEvent::delegated_login(LoginMethod::Access, Ok(&identity.subject), req, ctx.now)).await;
            authorize::handle_identified(ctx, req, Some(&identity)).await
        }
        Err(e) => refused(ctx, req, e).await,
    }
}

pub(crate) fn storage_failed(e: crate::base::error::StoreError) -> HttpResponse {
    crate::base::page::fail_page(e.into())
}

/// A refused assertion: audited against the source's budget, then the page.
pub(crate) async fn refused<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, e: LoginError) -> HttpResponse {
    let why = match &e {
        LoginError::Upstream(w) | LoginError::Refused(w) | LoginError::Invalid(w) => w.as_str(),
    };
    // Anyone may send a made-up assertion: its row counts against a budget.
    source_budget::audit_refusal(ctx, req, &AuditEvent::delegated_login(LoginMethod::Access, Err(why), req, ctx.now)).await;
    e.page()
}

#[cfg(test)]
#[path = "cloudflare_access_tests.rs"]
mod tests;
