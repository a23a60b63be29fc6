//! The owner password: POST /login, the password check every sign-in form
//! shares (limited per source and per pending request, and audited), and
//! switching it off
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
use crate::identity::approval::{checked_post, FormPost};
use crate::identity::browser_session;
use crate::protocol::attempt_limit::{self, Counted};
use crate::protocol::context::Ctx;
use crate::protocol::store::Store;
use crate::store::audit::{AuditEvent, LoginOutcome, LoginPage};
use crate::store::pending::PendingAuthorization;

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

/// `POST /login`: checks the owner password, then 303 to the consent page.
pub async fn login<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if !enabled(ctx.config) {
        return switched_off_page();
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
        Ok(false) => super::page::show_again(ctx, &post, 401, Some("That password is not right.")),
        Err(e) if e.status() == 429 => super::page::show_again(ctx, &post, 429, Some(&e.description)),
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
        return Err(OAuthError::new(crate::base::error::ErrorCode::AccessDenied, SWITCHED_OFF));
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
