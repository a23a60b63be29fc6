//! Consent (MCP security best practices: consent per client;
//! requirements.md §E). Each POST checks, in order: form body, browser
//! cookie, pending request of that browser, CSRF token; then does one thing.

use crate::base::page::{self, fail_page};
use super::approval::{checked_post, decision, finish, load, FormPost};
use super::pages::client_view;
use super::sign_in::page::show_again;
use crate::protocol::context::Ctx;
use crate::base::error::OAuthResult;
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use super::sign_in::delegate;
use crate::base::outbound::Net;
use super::sign_in::remembered_consent;
use super::pages;
use crate::base::redirect_uri::RedirectUri;
use super::browser_session;
use crate::protocol::store::Store;
use crate::base::types::Subject;

/// Who denied, in the audit log, when nobody was signed in.
pub const NOT_SIGNED_IN: &str = "(not signed in)";

/// `GET /consent`: the consent page for a logged-in owner.
pub async fn show<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let params = match Params::parse(req.query.as_bytes()) {
        Ok(p) => p,
        Err(e) => return page::error_page(400, "Bad request", &e.description),
    };
    let post = match load(ctx, req, params, false, None).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let key = &ctx.config.signing_key;
    match browser_session::current(ctx, req, &post.browser).await {
        Ok(Some(_)) => {}
        Ok(None) => return show_again(ctx, &post, 200, None),
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
    let approve = match decision(&post.params) {
        Ok(Some(approve)) => approve,
        Ok(None) => return page::error_page(400, "Bad request", "Choose Allow or Deny."),
        Err(page) => return page,
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
        return show_again(ctx, &post, 401, Some("Your sign-in expired; sign in again."));
    };
    let remember = approve && remembered_consent::ticked(post.params.get("remember"));
    match finish(ctx, &post.pending, &post.client, subject, approve, remember, None).await {
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
    let answer = finish(ctx, &post.pending, &post.client, Subject::new(NOT_SIGNED_IN), false, false, None).await?;
    if trusted || answer.status != 303 {
        return Ok(answer);
    }
    Ok(page::error_page(200, "Access denied", "You denied this client access. Nothing was shared with it."))
}

