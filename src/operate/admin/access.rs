//! `GET /admin` behind Cloudflare Access: an Access assertion signs the
//! owner's browser in (`identity::sign_in::cloudflare_access`), then the
//! dashboard is shown as without Access.

use std::rc::Rc;

use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::login_method::LoginMethod;
use crate::base::outbound::Net;
use crate::base::page;
use crate::identity::browser_session;
use crate::identity::sign_in::cloudflare_access::{refused, storage_failed, verify, ASSERTION_HEADER, ISOLATE_CERTS};
use crate::protocol::context::Ctx;
use crate::protocol::store::Store;
use crate::store::admin::AdminQueries;
use crate::store::audit::AuditEvent;

/// `GET /admin` with Cloudflare Access in front: a valid assertion in a
/// browser that is not signed in signs it in, then 303 back to `/admin` so
/// the page's forms are bound to the new session. Otherwise as without Access.
pub async fn show<S: AdminQueries + Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, net: &impl Net) -> HttpResponse {
    let (Some(cfg), Some(assertion)) = (ctx.config.access.as_ref(), req.header(ASSERTION_HEADER)) else {
        return super::show(ctx, req).await;
    };
    let browser = match browser_session::Browser::from_request(req) {
        Ok(b) => b,
        Err(e) => return page::error_page(e.status(), "Something went wrong", &e.description),
    };
    match browser_session::current(ctx, req, &browser.cookie).await {
        Ok(Some(_)) => return super::show(ctx, req).await,
        Ok(None) => {}
        Err(e) => return storage_failed(e),
    }
    let cache = ISOLATE_CERTS.with(Rc::clone);
    match verify(cfg, &cache, net, assertion, ctx.now).await {
        Ok(identity) => {
            ctx.store.audit(&AuditEvent::delegated_login(LoginMethod::Access, Ok(&identity.subject), req, ctx.now)).await;
            let session = browser_session::session_cookie_as(&ctx.config.signing_key, &identity.subject, identity.method, &browser.cookie, ctx.now);
            [browser.set_cookie_header(), Some(session)]
                .into_iter()
                .flatten()
                .fold(HttpResponse::see_other("/admin"), |r, c| r.with_header("set-cookie", c))
        }
        Err(e) => refused(ctx, req, e).await,
    }
}
