//! The owner password: POST /login (which, with the sign-in page's
//! decision, also answers the request in the same write, so a first
//! authorization by password is one form), the password check every sign-in
//! form shares (limited per source and per pending request, and audited),
//! and switching it off
//! (`PASSWORD_LOGIN=off`): then the sign-in pages show no password field and
//! every password form is refused with a page saying why, so an owner who
//! signs in only through Cloudflare Access (or another method) has no shared
//! password that could be guessed.

use crate::base::error::{OAuthError, OAuthResult};
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::page::{self, fail_page};
use crate::base::source::SourceKey;
use crate::base::types::Subject;
use crate::config::Config;
use crate::identity::approval::{decision, finish, load};
use crate::identity::sign_in::remembered_consent;
use crate::identity::browser_session;
use crate::protocol::attempt_limit::{self, Counted, Reserved};
use crate::protocol::context::Ctx;
use crate::protocol::store::Store;
use crate::store::audit::{AuditEvent, LoginOutcome, LoginPage};
use crate::store::attempts::SignInWrite;
use crate::store::pending::PendingAuthorization;
use crate::store::StoreResult;

pub const SWITCHED_OFF: &str =
    "Password sign-in is switched off on this server (PASSWORD_LOGIN=off). Sign in with the method its owner configured instead.";

/// Whether the owner password signs in here.
pub fn enabled(config: &Config) -> bool {
    config.password_enabled()
}

/// The answer to a password form while password sign-in is off.
pub fn switched_off_page() -> HttpResponse {
    page::error_page(403, "Password sign-in is switched off", SWITCHED_OFF)
}

/// `POST /login`: checks the owner password and signs the browser in. With
/// the sign-in page's decision (`decision=approve|deny`, the "Allow and sign
/// in" and "Deny" buttons) it also finishes the request as the consent page
/// would: a code, or `access_denied`, straight back to the client. Without
/// one (a form from before the decision moved here) it goes on to the
/// consent page.
pub async fn login<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if !enabled(ctx.config) {
        return switched_off_page();
    }
    let params = match page::form_body(req) {
        Ok(params) => params,
        Err(page) => return page,
    };
    // Read before anything is reserved, so a malformed form costs no attempt.
    let approve = match decision(&params) {
        Ok(approve) => approve,
        Err(page) => return page,
    };
    // The attempt `verify_owner_password` reserves, reserved with the reads
    // (one round trip, not two) for this browser's pending request only.
    let limits = password_limits(req, params.get("request"));
    let post = match load(ctx, req, params, true, Some(&limits)).await {
        Ok(post) => post,
        Err(page) => return page,
    };
    let given = post.params.get("password").unwrap_or("");
    match verify_owner_password(ctx, req, given, LoginPage::Consent, Some(&post.pending), limits).await {
        Ok(Some(right)) => {
            let subject = Subject::owner();
            let cookie = browser_session::session_cookie(&ctx.config.signing_key, &subject, &post.browser, ctx.now);
            let Some(approve) = approve else {
                if let Err(e) = right.settle(ctx).await {
                    return fail_page(e.into());
                }
                return HttpResponse::see_other(&format!("/consent?request={}", post.pending.id)).with_header("set-cookie", cookie);
            };
            // The sign-in's writes go in the decision's one write; if that
            // fails the page is a 503 without the cookie, and the person's
            // retry of the same form signs in and decides again.
            let remember = approve && remembered_consent::ticked(post.params.get("remember"));
            match finish(ctx, &post.pending, &post.client, subject, approve, remember, Some(right.write())).await {
                Ok(answer) => answer.with_header("set-cookie", cookie),
                Err(e) => fail_page(e),
            }
        }
        Ok(None) => super::page::show_again(ctx, &post, 401, Some("That password is not right.")),
        Err(e) if e.status() == 429 => super::page::show_again(ctx, &post, 429, Some(&e.description)),
        Err(e) => fail_page(e),
    }
}

/// A right owner password whose writes are still to be made: the release
/// of its reserved attempts and its `login.success` audit event. Made on
/// their own by `settle`, or by the caller as part of its own write
/// (`write`, `SignInWrite`); dropped unmade, the attempt stays counted.
#[must_use]
pub(crate) struct RightPassword {
    reserved: Reserved,
    audit: AuditEvent,
}

impl RightPassword {
    /// The writes, for the write that answers the request.
    pub(crate) fn write(&self) -> SignInWrite<'_> {
        self.reserved.released_with(&self.audit)
    }

    /// The writes on their own: the release (one write, which must succeed),
    /// then the audit event.
    async fn settle<S: Store>(self, ctx: &Ctx<'_, S>) -> StoreResult<()> {
        attempt_limit::release(ctx.store, self.reserved).await?;
        ctx.store.audit(&self.audit).await;
        Ok(())
    }
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
    let limits = password_limits(req, pending.map(|p| p.id.as_str()));
    match verify_owner_password(ctx, req, given, page, pending, limits).await? {
        Some(right) => {
            right.settle(ctx).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `check_owner_password` up to its writes for a right password, which it
/// returns (`RightPassword`) for the caller to make; a wrong one is audited
/// here and its attempt stays counted. `limits`: `password_limits` of the
/// request and `pending`.
async fn verify_owner_password<S: Store>(
    ctx: &Ctx<'_, S>,
    req: &HttpRequest,
    given: &str,
    page: LoginPage,
    pending: Option<&PendingAuthorization>,
    limits: Vec<(String, u32)>,
) -> OAuthResult<Option<RightPassword>> {
    // Switched off (`PASSWORD_LOGIN=off`): no password is right. The pages
    // refuse before this; this keeps any other caller from a check that passes.
    let Some(password) = ctx.config.owner_password.as_ref() else {
        return Err(OAuthError::new(crate::base::error::ErrorCode::AccessDenied, SWITCHED_OFF));
    };
    let Some(reserved) = attempt_limit::reserve_arguments(ctx.store, limits, ctx.now).await? else {
        // Not audited: attempts refused unchecked could flood the log; the
        // failures that led here are in it, and each 429 is in the request log.
        return Err(OAuthError::new(
            crate::base::error::ErrorCode::TooManyRequests,
            "Too many wrong passwords. Wait 15 minutes and try again.",
        ));
    };
    let owner = Subject::owner();
    let client = pending.map(|p| &p.client_id);
    if password.ct_eq(given) {
        let audit = AuditEvent::login(LoginOutcome::Success, page, req, &owner, client, ctx.now);
        return Ok(Some(RightPassword { reserved, audit }));
    }
    attempt_limit::keep(reserved);
    ctx.store.audit(&AuditEvent::login(LoginOutcome::WrongPassword, page, req, &owner, client, ctx.now)).await;
    Ok(None)
}

/// What an owner password attempt counts under (`attempt_limit::arguments`):
/// its source and, on `/login`, the pending request it was typed for.
fn password_limits(req: &HttpRequest, pending: Option<&str>) -> Vec<(String, u32)> {
    let source = SourceKey::of(req);
    let mut under = vec![Counted::source(attempt_limit::PASSWORD_PER_SOURCE, &source)];
    if let Some(id) = pending {
        under.push(Counted { limit: attempt_limit::PASSWORD_PER_REQUEST, per: id });
    }
    attempt_limit::arguments(&under)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    const ACCESS: [(&str, &str); 2] = [("CF_ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com"), ("CF_ACCESS_AUD", "aud-tag")];

    #[test]
    fn on_by_default_and_then_the_password_is_required() {
        let c = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")]).unwrap();
        assert!(enabled(&c));
        let e = config(&[("SIGNING_KEY", KEY)]).unwrap_err();
        assert_eq!(e.variable, "OWNER_PASSWORD");
        assert!(e.problem.contains("PASSWORD_LOGIN=off"), "{e}");
    }

    #[test]
    fn off_needs_no_password_but_another_method() {
        let mut pairs = vec![("SIGNING_KEY", KEY), ("PASSWORD_LOGIN", "off")];
        let e = config(&pairs).unwrap_err();
        assert_eq!(e.variable, "PASSWORD_LOGIN");
        assert!(e.problem.contains("no other login method"), "{e}");
        pairs.extend(ACCESS);
        let c = config(&pairs).unwrap();
        assert!(!enabled(&c));
        assert!(c.owner_password.is_none());
        // A password left behind as a secret is not used once sign-in by password is off.
        pairs.push(("OWNER_PASSWORD", "correct horse"));
        let c = config(&pairs).unwrap();
        assert!(!enabled(&c) && c.owner_password.is_none());
    }

    #[test]
    fn only_on_or_off() {
        for v in ["yes", "false", "0"] {
            let e = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PASSWORD_LOGIN", v)]).unwrap_err();
            assert_eq!(e.variable, "PASSWORD_LOGIN");
        }
        let c = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PASSWORD_LOGIN", " ON ")]).unwrap();
        assert!(enabled(&c));
    }

    #[test]
    fn the_refusal_is_a_page_that_says_why() {
        let r = switched_off_page();
        assert_eq!(r.status, 403);
        assert!(r.body.contains("PASSWORD_LOGIN=off"));
    }
}
