//! Whether passkeys are offered, and the passkey section of the consent
//! flow's sign-in page: below the handlers, so the sign-in page can offer
//! passkeys without importing the endpoints that render it again.

use super::ceremony::RelyingParty;
use super::page;
use crate::protocol::context::Ctx;

/// Passkeys are on when a setup code is configured and Gatehouse is reached
/// by a host name (an IP address cannot be an RP ID).
pub(crate) fn relying_party<S>(ctx: &Ctx<'_, S>) -> Option<RelyingParty> {
    ctx.config.passkey_setup_code.as_ref()?;
    RelyingParty::for_issuer(&ctx.issuer)
}

/// The passkey section of the consent flow's sign-in page, when passkeys are on.
pub fn consent_sign_in<S>(ctx: &Ctx<'_, S>, request_id: &str, csrf: &str) -> Option<String> {
    relying_party(ctx)?;
    Some(page::sign_in_section(&[("request", request_id), ("csrf", csrf)]))
}
