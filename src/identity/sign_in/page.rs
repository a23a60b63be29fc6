//! The sign-in page of one pending request: what it offers (the password,
//! the upstream providers' buttons, passkeys) and showing it again after a
//! failed attempt. Below the sign-in endpoints that show it again, so
//! nothing loops back.

use super::{delegate, passkey, remembered_consent};
use crate::base::http::HttpResponse;
use crate::base::redirect_uri::RedirectUri;
use crate::identity::approval::FormPost;
use crate::identity::browser_session;
use crate::identity::pages::{self, client_view};
use crate::protocol::store::Store;
use crate::protocol::context::Ctx;


/// What the sign-in page offers under this configuration.
pub fn for_request<S>(ctx: &Ctx<'_, S>, request_id: &str, csrf: &str) -> pages::LoginOptions {
    pages::LoginOptions {
        password: ctx.config.password_enabled(),
        upstreams: delegate::buttons(ctx.config),
        passkey: passkey::offer::consent_sign_in(ctx, request_id, csrf),
        remember_days: ctx.config.consent_remember_days,
    }
}

/// The sign-in page of a pending request again, with `error` (a wrong
/// password, an expired sign-in, a refused passkey).
pub(crate) fn show_again(ctx: &Ctx<'_, impl Store>, post: &FormPost, status: u16, error: Option<&str>) -> HttpResponse {
    let csrf = browser_session::csrf_token(&ctx.config.signing_key, &post.pending.id, &post.browser);
    let host = RedirectUri::from_stored(post.pending.redirect_uri.clone()).host();
    let view = client_view(&post.client, &post.pending.scope, &host);
    let mut options = for_request(ctx, &post.pending.id, &csrf);
    options.remember_days = remembered_consent::days_offered(ctx.config, &post.client, &post.pending.redirect_uri);
    pages::login_page(status, &view, &post.pending.id, &csrf, error, &options)
}

