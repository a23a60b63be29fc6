//! Owner login and consent (MCP security best practices: consent per client;
//! requirements.md §E). Each POST checks, in order: form body, browser
//! cookie, pending request of that browser, CSRF token; then does one thing.

use crate::base::page::{self, fail_page};
use super::attempt_limit::{self, Counted};
use super::audit::{AuditEvent, LoginOutcome, LoginPage};
use super::authorize::{client_view, redirect_to_client};
use super::clients::{self, LookupError};
use super::context::Ctx;
use super::error::{OAuthError, OAuthResult};
use super::form::Params;
use super::http::{HttpRequest, HttpResponse};
use super::login::delegate;
use super::outbound::Net;
use super::login::remembered_consent;
use super::pages;
use super::random;
use super::redirect_uri::RedirectUri;
use super::session;
use super::source::SourceKey;
use super::store::{ClientRecord, CodeRecord, GrantRecord, PendingAuthorization, Store};
use super::types::{GrantId, Secret, Subject};

/// Who denied, in the audit log, when nobody was signed in.
pub const NOT_SIGNED_IN: &str = "(not signed in)";

/// A checked form post for one pending request.
pub(crate) struct FormPost {
    pub(crate) params: Params,
    pub(crate) browser: Secret,
    pub(crate) pending: PendingAuthorization,
    pub(crate) client: ClientRecord,
}

fn expired_page() -> HttpResponse {
    page::error_page(
        400,
        "This sign-in request has expired",
        "It was already used, or it is more than 10 minutes old. Start connecting again from your MCP client.",
    )
}

/// Loads and checks the pending request a form or link refers to.
pub(crate) async fn load<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, params: Params, check_csrf: bool) -> Result<FormPost, HttpResponse> {
    let browser = session::Browser::existing(req).ok_or_else(|| {
        page::error_page(400, "Cookies are needed", "Your browser did not send Gatehouse's cookie. Allow cookies for this site and start again.")
    })?;
    let id = params.get("request").ok_or_else(expired_page)?.to_string();
    let pending = ctx.store.pending(&id, ctx.now).await.map_err(|e| fail_page(e.into()))?.ok_or_else(expired_page)?;
    if pending.browser != browser.hash() {
        return Err(page::error_page(403, "Wrong browser", "This sign-in was started in another browser. Start again from your MCP client."));
    }
    if check_csrf {
        let ok = params.get("csrf").is_some_and(|t| session::csrf_valid(ctx.config.verification_keys(), &id, &browser, t));
        if !ok {
            return Err(page::error_page(403, "Form expired", "The form was stale or not sent by Gatehouse's own page. Start again from your MCP client."));
        }
    }
    let client = clients::find(ctx, pending.client_id.as_str()).await.map_err(|e| match e {
        LookupError::Unknown => page::error_page(400, "Unknown client", "The client that asked for access no longer exists."),
        LookupError::Refused(why) => page::error_page(400, "This client can no longer be used", &why.to_string()),
        LookupError::Unavailable(e) => fail_page(e.into()),
    })?;
    Ok(FormPost { params, browser, pending, client })
}

/// A form POST that passed every check of `load`, CSRF included.
pub(crate) async fn checked_post<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> Result<FormPost, HttpResponse> {
    load(ctx, req, page::form_body(req)?, true).await
}

pub(crate) fn login_again(ctx: &Ctx<'_, impl Store>, post: &FormPost, status: u16, error: Option<&str>) -> HttpResponse {
    let csrf = session::csrf_token(&ctx.config.signing_key, &post.pending.id, &post.browser);
    let host = RedirectUri::from_stored(post.pending.redirect_uri.clone()).host();
    let view = client_view(&post.client, &post.pending.scope, &host);
    let mut options = super::login::options(ctx, &post.pending.id, &csrf);
    options.remember_days = remembered_consent::days_offered(ctx.config, &post.client, &post.pending.redirect_uri);
    pages::login_page(status, &view, &post.pending.id, &csrf, error, &options)
}

/// `POST /login`: checks the owner password, then 303 to the consent page.
pub async fn login<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if !super::login::password::enabled(ctx.config) {
        return super::login::password::switched_off_page();
    }
    let post = match checked_post(ctx, req).await {
        Ok(post) => post,
        Err(page) => return page,
    };
    match check_password(ctx, req, &post).await {
        Ok(true) => {
            let subject = Subject::owner();
            let cookie = session::session_cookie(&ctx.config.signing_key, &subject, &post.browser, ctx.now);
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
        return Err(OAuthError::new(super::error::ErrorCode::AccessDenied, super::login::password::SWITCHED_OFF));
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
            super::error::ErrorCode::TooManyRequests,
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
    match session::current(ctx, req, &post.browser).await {
        Ok(Some(_)) => {}
        Ok(None) => return login_again(ctx, &post, 200, None),
        Err(e) => return fail_page(e.into()),
    }
    let csrf = session::csrf_token(key, &post.pending.id, &post.browser);
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
    let signed_in = match session::current(ctx, req, &post.browser).await {
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

/// Consumes the pending request once and answers the MCP client: a code for
/// a new grant to `subject` (remembered for next time if asked), or
/// `access_denied`.
pub(crate) async fn finish<S: Store>(
    ctx: &Ctx<'_, S>,
    p: &PendingAuthorization,
    client: &ClientRecord,
    subject: Subject,
    approve: bool,
    remember: bool,
) -> OAuthResult<HttpResponse> {
    if !approve {
        let back = back_to_client(ctx, client, p)?;
        if !ctx.store.consume_pending(&p.id, ctx.now).await? {
            return Ok(expired_page());
        }
        ctx.store.audit(&AuditEvent::consent(false, &subject, &p.client_id, &p.scope, None, ctx.now)).await;
        return Ok(HttpResponse::see_other(&back(&[("error", "access_denied"), ("error_description", "the owner denied access")])));
    }
    // Before the grant, and safe to repeat: a failure here leaves the request
    // pending, and the person's retry of the same page writes it again.
    if remember && remembered_consent::may_skip_consent(client, &p.redirect_uri) {
        remembered_consent::remember(ctx.store, &subject, &p.client_id, &p.scope, ctx.config.consent_remember_days, ctx.now).await?;
    }
    issue_code(ctx, client, p, subject, Approval::ConsentPage).await
}

/// How an approval was given, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// The person pressed Allow just now: the pending request is consumed
    /// in the same write as the grant.
    ConsentPage,
    /// An earlier "remember" approval covers this request (`login::remembered_consent`).
    Remembered,
}

/// The redirect back to the client for a pending request, with `result`.
fn back_to_client<'a>(
    ctx: &'a Ctx<'_, impl Store>,
    client: &'a ClientRecord,
    p: &'a PendingAuthorization,
) -> OAuthResult<impl Fn(&[(&str, &str)]) -> String + 'a> {
    let registered = client
        .redirect_uris
        .iter()
        .find(|r| r.matches(&p.redirect_uri))
        .ok_or_else(|| OAuthError::invalid_request("the redirect URI is no longer registered"))?;
    let issuer = ctx.issuer.as_str();
    Ok(move |result: &[(&str, &str)]| redirect_to_client(registered, &p.redirect_uri, issuer, p.state.as_deref(), result))
}

/// Creates the grant and its authorization code for an approved request and
/// sends the browser back to the client with the code. A request approved on
/// the consent page is consumed in the same write (one write: a storage
/// failure leaves it pending, so the person's retry works); a remembered
/// approval's request was never stored.
pub async fn issue_code<S: Store>(
    ctx: &Ctx<'_, S>,
    client: &ClientRecord,
    p: &PendingAuthorization,
    subject: Subject,
    how: Approval,
) -> OAuthResult<HttpResponse> {
    let back = back_to_client(ctx, client, p)?;
    let code = random::secret()?;
    let grant = GrantRecord {
        grant_id: GrantId::new(random::id("gr_")?),
        client_id: p.client_id.clone(),
        subject,
        scope: p.scope.clone(),
        resource: p.resource.clone(),
        created_at: ctx.now,
        revoked_at: None,
    };
    let record = CodeRecord {
        code_hash: code.hash(),
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        code_challenge: p.code_challenge.clone(),
        scope: p.scope.clone(),
        resource: p.resource.clone(),
        grant_id: grant.grant_id.clone(),
        expires_at: ctx.now + ctx.config.auth_code_ttl,
        used_at: None,
    };
    match how {
        Approval::ConsentPage => {
            if !ctx.store.create_grant_from_pending(&p.id, ctx.now, &grant, &record).await? {
                return Ok(expired_page());
            }
        }
        Approval::Remembered => ctx.store.create_grant(&grant, &record).await?,
    }
    let event = match how {
        Approval::ConsentPage => AuditEvent::consent(true, &grant.subject, &p.client_id, &p.scope, Some(&grant.grant_id), ctx.now),
        Approval::Remembered => AuditEvent::consent_remembered(&grant.subject, &p.client_id, &p.scope, &grant.grant_id, ctx.now),
    };
    ctx.store.audit(&event).await;
    Ok(HttpResponse::see_other(&back(&[("code", code.expose())])))
}
