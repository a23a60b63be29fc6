//! What the sign-in page of one pending request offers: the password, the
//! upstream providers' buttons, passkeys. Above the sign-in methods it lists
//! (which import `login` itself), so nothing loops back.

use super::{delegate, passkey, password};
use crate::protocol::context::Ctx;
use crate::identity::pages::LoginOptions;

/// What the sign-in page offers under this configuration.
pub fn for_request<S>(ctx: &Ctx<'_, S>, request_id: &str, csrf: &str) -> LoginOptions {
    LoginOptions {
        password: password::enabled(ctx.config),
        upstreams: delegate::buttons(ctx.config),
        passkey: passkey::offer::consent_sign_in(ctx, request_id, csrf),
        remember_days: ctx.config.consent_remember_days,
    }
}
