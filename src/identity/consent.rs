//! Owner login and consent (MCP security best practices: consent per client;
//! requirements.md §E). Each POST checks, in order: form body, browser
//! cookie, pending request of that browser, CSRF token; then does one thing.

use crate::base::page::{self, fail_page};
use crate::protocol::attempt_limit::{self, Counted};
use crate::store::audit::{AuditEvent, LoginOutcome, LoginPage};
use super::approval::{checked_post, finish, load, FormPost};
use super::authorize::client_view;
use crate::protocol::context::Ctx;
use crate::base::error::{OAuthError, OAuthResult};
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use super::sign_in::delegate;
use crate::base::outbound::Net;
use super::sign_in::remembered_consent;
use super::pages;
use crate::base::redirect_uri::RedirectUri;
use super::browser_session;
use crate::base::source::SourceKey;
use crate::protocol::store::Store;
use crate::store::pending::PendingAuthorization;
use crate::base::types::Subject;

/// Who denied, in the audit log, when nobody was signed in.
pub const NOT_SIGNED_IN: &str = "(not signed in)";

pub(crate) fn login_again(ctx: &Ctx<'_, impl Store>, post: &FormPost, status: u16, error: Option<&str>) -> HttpResponse {
    let csrf = browser_session::csrf_token(&ctx.config.signing_key, &post.pending.id, &post.browser);
    let host = RedirectUri::from_stored(post.pending.redirect_uri.clone()).host();
    let view = client_view(&post.client, &post.pending.scope, &host);
    let mut options = super::sign_in::options::for_request(ctx, &post.pending.id, &csrf);
    options.remember_days = remembered_consent::days_offered(ctx.config, &post.client, &post.pending.redirect_uri);
    pages::login_page(status, &view, &post.pending.id, &csrf, error, &options)
}

/// `POST /login`: checks the owner password, then 303 to the consent page.
pub async fn login<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if !super::sign_in::password::enabled(ctx.config) {
        return super::sign_in::password::switched_off_page();
    }
    let post = match checked_post(ctx, req).await {
        Ok(post) => post,
        Err(page) => return page,
    };
    match check_password(ctx, req, &post).await {
        Ok(true) => {
            let subject = Subject::owner();
            let cookie = browser_session::session_cookie(&ctx.config.signing_key, &subject, &post.browser, ctx.now);
            HttpResponse::see_other(&format!("/consent?request={}", post.pending.id)).with_header("set-cookie", cookie)
        }
        Ok(false) => login_again(ctx, &post, 401, Some("That password is not right.")),
        Err(e) if e.status() == 429 => login_again(ctx, &post, 429, Some(&e.description)),
        Err(e) => fail_page(e),
    }
}

async fn check_password<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, post: &FormPost) -> OAuthResult<bool> {
    let given = post.params.get("password").unwrap_or("");
    check_owner_password(ctx, req, given, LoginPage::Consent, Some(&post.pending)).await
}

/// The owner password check of every sign-in form (`/login`, `/admin`):
/// limited per source and, on `/login`, per pending request
/// (`attempt_limit`), and every password checked is audited.
pub async fn check_owner_password<S: Store>(
    ctx: &Ctx<'_, S>,
    req: &HttpRequest,
    given: &str,
    page: LoginPage,
    pending: Option<&PendingAuthorization>,
) -> OAuthResult<bool> {
    // Switched off (`PASSWORD_LOGIN=off`): no password is right. The pages
    // refuse before this; this keeps any other caller from a check that passes.
    let Some(password) = ctx.config.owner_password.as_ref() else {
        return Err(OAuthError::new(crate::base::error::ErrorCode::AccessDenied, super::sign_in::password::SWITCHED_OFF));
    };
    let source = SourceKey::of(req);
    let mut under = vec![Counted::source(attempt_limit::PASSWORD_PER_SOURCE, &source)];
    if let Some(p) = pending {
        under.push(Counted { limit: attempt_limit::PASSWORD_PER_REQUEST, per: &p.id });
    }
    let Some(reserved) = attempt_limit::reserve(ctx.store, &under, ctx.now).await? else {
        // Not audited: attempts refused unchecked could flood the log; the
        // failures that led here are in it, and each 429 is in the request log.
        return Err(OAuthError::new(
            crate::base::error::ErrorCode::TooManyRequests,
            "Too many wrong passwords. Wait 15 minutes and try again.",
        ));
    };
    let ok = password.ct_eq(given);
    if ok {
        attempt_limit::release(ctx.store, reserved).await?;
    } else {
        attempt_limit::keep(reserved);
    }
    let owner = Subject::owner();
    let client = pending.map(|p| &p.client_id);
    let outcome = if ok { LoginOutcome::Success } else { LoginOutcome::WrongPassword };
    ctx.store.audit(&AuditEvent::login(outcome, page, req, &owner, client, ctx.now)).await;
    Ok(ok)
}

/// `GET /consent`: the consent page for a logged-in owner.
pub async fn show<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let params = match Params::parse(req.query.as_bytes()) {
        Ok(p) => p,
        Err(e) => return page::error_page(400, "Bad request", &e.description),
    };
    let post = match load(ctx, req, params, false).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let key = &ctx.config.signing_key;
    match browser_session::current(ctx, req, &post.browser).await {
        Ok(Some(_)) => {}
        Ok(None) => return login_again(ctx, &post, 200, None),
        Err(e) => return fail_page(e.into()),
    }
    let csrf = browser_session::csrf_token(key, &post.pending.id, &post.browser);
    let host = RedirectUri::from_stored(post.pending.redirect_uri.clone()).host();
    let remember_days = remembered_consent::days_offered(ctx.config, &post.client, &post.pending.redirect_uri);
    pages::consent_page(&client_view(&post.client, &post.pending.scope, &host), &post.pending.id, &csrf, remember_days)
}

/// `POST /consent`: approve issues a code, deny returns `access_denied`;
/// either way the pending request is consumed once, so a replay does nothing.
/// Approving with `via=<provider>` from a browser without a session sends it
/// to that provider to sign in (`login::delegate`); with a session, `via` is
/// ignored and the signed-in person approves.
pub async fn decide<S: Store>(ctx: &Ctx<'_, S>, net: &impl Net, req: &HttpRequest) -> HttpResponse {
    let post = match checked_post(ctx, req).await {
        Ok(post) => post,
        Err(page) => return page,
    };
    let approve = match post.params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return page::error_page(400, "Bad request", "Choose Allow or Deny."),
    };
    let signed_in = match browser_session::current(ctx, req, &post.browser).await {
        Ok(s) => s.map(|s| s.subject),
        Err(e) => return fail_page(e.into()),
    };
    let Some(subject) = signed_in else {
        if let (true, Some(via)) = (approve, post.params.get("via")) {
            return delegate::start(ctx, net, req, &post, via).await;
        }
        // The sign-in page offers Deny next to the upstream buttons: refusing
        // needs no identity, only this browser's own pending request.
        if !approve && post.params.get("via").is_none() && !delegate::buttons(ctx.config).is_empty() {
            return deny_unidentified(ctx, &post).await.unwrap_or_else(fail_page);
        }
        return login_again(ctx, &post, 401, Some("Your sign-in expired; sign in again."));
    };
    let remember = approve && remembered_consent::ticked(post.params.get("remember"));
    match finish(ctx, &post.pending, &post.client, subject, approve, remember).await {
        Ok(r) => r,
        Err(e) => fail_page(e),
    }
}

/// Deny pressed by someone not signed in. RFC 9700 §4.11.2: the server
/// authenticates the person before redirecting; nobody is authenticated
/// here, so the browser goes back to the client only if the owner approved
/// that client before (as for /authorize errors); otherwise the request ends
/// on a page. A signed-in Deny does redirect: that person saw the page that
/// names the client and where the browser goes next, and chose (§4.11.2
/// leaves an untrusted URI to "the user to make the correct decision").
async fn deny_unidentified<S: Store>(ctx: &Ctx<'_, S>, post: &FormPost) -> OAuthResult<HttpResponse> {
    let trusted = ctx.store.client_approved(&post.client.client_id).await?;
    // `finish` consumes the request once and audits the denial; only its redirect is replaced.
    let answer = finish(ctx, &post.pending, &post.client, Subject::new(NOT_SIGNED_IN), false, false).await?;
    if trusted || answer.status != 303 {
        return Ok(answer);
    }
    Ok(page::error_page(200, "Access denied", "You denied this client access. Nothing was shared with it."))
}

