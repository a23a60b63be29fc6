//! The owner's admin page, `/admin` (issue 6, "Operate"): registered clients
//! and active grants, with "revoke" for a grant and "delete" for a client.
//!
//! Behind the owner's session cookie (`session.rs`); signing in here uses the
//! same password check and rate limit as `/login`. Every action is a form POST
//! carrying a CSRF token bound to this browser and this sign-in
//! (RFC 9700 §4.7), answers 303 back to the page (requirements.md §D), and
//! writes an audit event.

use crate::base::error::OAuthResult;
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::page::{error_page, fail_page, form_body};
use crate::base::types::{ClientId, GrantId, Secret, Subject};
use crate::identity::sign_in::password::check_owner_password;
use crate::protocol::context::Ctx;
use crate::identity::sign_in::password;
use crate::identity::browser_session::{self, Browser, Session, SESSION_COOKIE};
use crate::protocol::store::Store;
use crate::store::admin::AdminQueries;
use crate::store::audit::{AuditEvent, LoginPage, RevokedBy};
use crate::store::StoreResult;

use self::page::{Dashboard, RECENT};

pub mod access;
mod page;

/// At most this many clients and grants are listed (Claude registers a new
/// client on every connection, so the list can grow long).
pub const MAX_LISTED: u32 = 200;
const LOGIN_FORM: &str = "admin-login";

/// Who is on this page.
enum Visitor {
    /// An administrator's session (`Config::is_admin`).
    Admin(Session),
    /// Someone signed in upstream, say: they may connect MCP clients but
    /// administer the server only when listed in `ADMIN_SUBJECTS`; why not.
    Outsider(String),
    Nobody,
}

async fn visitor<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> StoreResult<Visitor> {
    Ok(match browser_session::current(ctx, req, browser).await? {
        None => Visitor::Nobody,
        Some(s) if ctx.config.is_admin(&s.subject) => Visitor::Admin(s),
        Some(s) => Visitor::Outsider(format!(
            "You are signed in as {}, which may connect MCP clients but not manage this server. Sign in as the owner, or the owner can add it to ADMIN_SUBJECTS.",
            s.subject.as_str()
        )),
    })
}

fn login_csrf<S>(ctx: &Ctx<'_, S>, browser: &Secret) -> String {
    browser_session::csrf_token(&ctx.config.signing_key, LOGIN_FORM, browser)
}

/// The sign-in form, with a passkey sign-in beside the password when passkeys are on.
fn login_form<S>(ctx: &Ctx<'_, S>, browser: &Secret, status: u16, error: Option<&str>) -> HttpResponse {
    let passkey = crate::identity::sign_in::passkey::handlers::admin_sign_in(ctx, browser);
    page::login_with(status, &login_csrf(ctx, browser), error, password::enabled(ctx.config), passkey.as_deref())
}

/// Bound to the browser and to this sign-in's session cookie: forms from an
/// earlier sign-in, or from another browser, are stale.
fn action_purpose(req: &HttpRequest) -> String {
    format!("admin:{}", req.cookie(SESSION_COOKIE).unwrap_or(""))
}

fn action_csrf<S>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> String {
    browser_session::csrf_token(&ctx.config.signing_key, &action_purpose(req), browser)
}

/// `GET /admin`: the dashboard for the signed-in owner, else the sign-in form.
pub async fn show<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let browser = match Browser::from_request(req) {
        Ok(b) => b,
        Err(e) => return fail_page(e),
    };
    let owner_sign_in = password::enabled(ctx.config) || crate::identity::sign_in::passkey::handlers::admin_sign_in(ctx, &browser.cookie).is_some();
    let page = match visitor(ctx, req, &browser.cookie).await {
        Err(e) => fail_page(e.into()),
        Ok(Visitor::Admin(s)) => dashboard(ctx, req, &browser.cookie, s.subject).await.unwrap_or_else(fail_page),
        Ok(Visitor::Outsider(why)) if owner_sign_in => login_form(ctx, &browser.cookie, 403, Some(&why)),
        Ok(Visitor::Outsider(why)) => error_page(403, "Not an administrator", &why),
        Ok(Visitor::Nobody) if !owner_sign_in => password::switched_off_page(),
        Ok(Visitor::Nobody) => login_form(ctx, &browser.cookie, 200, None),
    };
    match browser.set_cookie_header() {
        Some(c) => page.with_header("set-cookie", c),
        None => page,
    }
}

async fn dashboard<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret, subject: Subject) -> OAuthResult<HttpResponse> {
    let (clients, total_clients) = ctx.store.clients_overview(MAX_LISTED).await?;
    let grants = ctx.store.active_grants(MAX_LISTED).await?;
    let events = ctx.store.recent_audit(RECENT).await?;
    Ok(page::dashboard(&Dashboard {
        subject,
        csrf: action_csrf(ctx, req, browser),
        clients,
        total_clients,
        grants,
        events,
    }))
}

/// `POST /admin`: sign in, or one action of the signed-in owner.
pub async fn post<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let params = match form_body(req) {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Some(browser) = Browser::existing(req) else {
        return error_page(400, "Cookies are needed", "Your browser did not send Gatehouse's cookie. Allow cookies for this site and open /admin again.");
    };
    let action = params.get("action").unwrap_or("");
    if action == "login" {
        return login(ctx, req, &params, &browser).await;
    }
    let session = match visitor(ctx, req, &browser).await {
        Ok(Visitor::Admin(s)) => s,
        Ok(_) => return login_form(ctx, &browser, 401, Some("Sign in to continue.")),
        Err(e) => return fail_page(e.into()),
    };
    let subject = session.subject.clone();
    let csrf_ok = params
        .get("csrf")
        .is_some_and(|t| browser_session::csrf_valid(ctx.config.verification_keys(), &action_purpose(req), &browser, t));
    if !csrf_ok {
        return error_page(403, "Form expired", "The form was stale or not sent by Gatehouse's own page. Open /admin again and retry.");
    }
    let signed_out = match action {
        "logout" => browser_session::sign_out(ctx, &session).await.map(|()| AuditEvent::logout(&subject, ctx.now)),
        "logout_everywhere" => browser_session::sign_out_everywhere(ctx).await.map(|()| AuditEvent::logout_everywhere(&subject, ctx.now)),
        _ => return act(ctx, action, &params, &subject).await,
    };
    // Revoked server-side first: clearing the cookie alone would leave any copy of it working.
    match signed_out {
        Ok(event) => {
            ctx.store.audit(&event).await;
            HttpResponse::see_other("/admin").with_header("set-cookie", browser_session::clear_session_cookie())
        }
        Err(e) => fail_page(e.into()),
    }
}

/// One action on clients or grants.
async fn act<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, action: &str, params: &Params, subject: &Subject) -> HttpResponse {
    let done = match action {
        "revoke_grant" => revoke_grant(ctx, params, subject).await,
        "delete_client" => delete_client(ctx, params, subject).await,
        _ => return error_page(400, "Bad request", "Unknown action."),
    };
    match done {
        Ok(None) => HttpResponse::see_other("/admin"),
        Ok(Some(page)) => page,
        Err(e) => fail_page(e),
    }
}

async fn login<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, params: &Params, browser: &Secret) -> HttpResponse {
    if !password::enabled(ctx.config) {
        return password::switched_off_page();
    }
    let csrf_ok = params.get("csrf").is_some_and(|t| browser_session::csrf_valid(ctx.config.verification_keys(), LOGIN_FORM, browser, t));
    if !csrf_ok {
        return login_form(ctx, browser, 403, Some("The form was stale; sign in again."));
    }
    let given = params.get("password").unwrap_or("");
    match check_owner_password(ctx, req, given, LoginPage::Admin, None).await {
        Ok(true) => {
            let cookie = browser_session::session_cookie(&ctx.config.signing_key, &Subject::owner(), browser, ctx.now);
            HttpResponse::see_other("/admin").with_header("set-cookie", cookie)
        }
        Ok(false) => login_form(ctx, browser, 401, Some("That password is not right.")),
        Err(e) if e.status() == 429 => login_form(ctx, browser, 429, Some(&e.description)),
        Err(e) => fail_page(e),
    }
}

fn not_found(what: &str) -> HttpResponse {
    error_page(404, &format!("No such {what}"), &format!("That {what} does not exist (any more). Open /admin again."))
}

/// Revokes one grant; its refresh tokens stop working at once.
async fn revoke_grant<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, params: &Params, subject: &Subject) -> OAuthResult<Option<HttpResponse>> {
    let id = GrantId::new(params.get("grant").unwrap_or(""));
    let Some(grant) = ctx.store.grant(&id).await? else { return Ok(Some(not_found("grant"))) };
    // Revoking twice (a double click) changes and records nothing more.
    if grant.revoked_at.is_none() {
        ctx.store.revoke_grant(&id, ctx.now).await?;
        ctx.store.audit(&AuditEvent::grant_revoked(&id, &grant.client_id, RevokedBy::Admin, Some(subject), ctx.now)).await;
    }
    Ok(None)
}

async fn delete_client<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, params: &Params, subject: &Subject) -> OAuthResult<Option<HttpResponse>> {
    let id = ClientId::new(params.get("client").unwrap_or(""));
    let Some(client) = ctx.store.client(&id).await? else { return Ok(Some(not_found("client"))) };
    let revoked = ctx.store.delete_client(&id, ctx.now).await?;
    ctx.store.audit(&AuditEvent::client_deleted(&client, revoked, subject, ctx.now)).await;
    Ok(None)
}
