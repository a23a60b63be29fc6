//! What an answered consent becomes (OAuth 2.1 §4.1.2): the pending request
//! a form refers to, loaded and checked; on approval a grant and its
//! authorization code, on denial `access_denied`; either way the redirect
//! back to the client. Shared by the consent page, POST /login with the
//! sign-in page's decision (`sign_in::password`), the delegated sign-ins
//! (`login::delegate`) and remembered consent (`authorize`).

use crate::base::page::{self, fail_page};
use crate::protocol::authorization_response::redirect_to_client;
use crate::store::audit::AuditEvent;
use crate::protocol::clients::{self, LookupError};
use crate::protocol::context::Ctx;
use crate::base::error::{OAuthError, OAuthResult};
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use super::sign_in::remembered_consent;
use crate::base::random;
use super::browser_session;
use crate::protocol::store::Store;
use crate::store::clients::ClientRecord;
use crate::store::consents::RememberedConsent;
use crate::store::attempts::SignInWrite;
use crate::store::grants::{ApprovalWrite, CodeRecord, GrantRecord};
use crate::store::pending::{DenialWrite, PendingAuthorization};
use crate::store::read_ahead::{Reads, ReserveAhead};
use crate::protocol::attempt_limit;
use crate::base::types::{GrantId, Secret, Subject};

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

/// Loads and checks the pending request a form or link refers to. With
/// `reserve` (the password form's attempt limits, `attempt_limit::arguments`)
/// the attempt is reserved in the same round trip as the reads, for this
/// browser's pending request only (`ReserveAhead`).
pub(crate) async fn load<S: Store>(
    ctx: &Ctx<'_, S>,
    req: &HttpRequest,
    params: Params,
    check_csrf: bool,
    reserve: Option<&[(String, u32)]>,
) -> Result<FormPost, HttpResponse> {
    let browser = browser_session::Browser::existing(req).ok_or_else(|| {
        page::error_page(400, "Cookies are needed", "Your browser did not send Gatehouse's cookie. Allow cookies for this site and start again.")
    })?;
    let id = params.get("request").ok_or_else(expired_page)?.to_string();
    // Before anything is read or reserved: a form Gatehouse's page did not
    // send costs no round trip and no attempt.
    if check_csrf {
        let ok = params.get("csrf").is_some_and(|t| browser_session::csrf_valid(ctx.config.verification_keys(), &id, &browser, t));
        if !ok {
            return Err(page::error_page(403, "Form expired", "The form was stale or not sent by Gatehouse's own page. Start again from your MCP client."));
        }
    }
    // The pending request, its client and the session (which every page
    // taking this path asks next) in one round trip.
    let session = browser_session::presented(ctx, req, &browser);
    let hash = browser.hash();
    let reserve = reserve.map(|limits| ReserveAhead { limits, since: attempt_limit::since(ctx.now), now: ctx.now, browser: &hash });
    let reads = Reads { pending: Some((&id, ctx.now)), session: session.as_ref().map(|s| (&s.id, s.issued_at())), reserve, ..Reads::default() };
    ctx.store.read_ahead(&reads).await.map_err(|e| fail_page(e.into()))?;
    let pending = ctx.store.pending(&id, ctx.now).await.map_err(|e| fail_page(e.into()))?.ok_or_else(expired_page)?;
    if pending.browser != hash {
        return Err(page::error_page(403, "Wrong browser", "This sign-in was started in another browser. Start again from your MCP client."));
    }
    let client = clients::find(ctx, pending.client_id.as_str()).await.map_err(|e| match e {
        LookupError::Unknown => page::error_page(400, "Unknown client", "The client that asked for access no longer exists."),
        LookupError::Refused(why) => page::error_page(400, "This client can no longer be used", &why.to_string()),
        LookupError::Unavailable(e) => fail_page(e.into()),
    })?;
    Ok(FormPost { params, browser, pending, client })
}

/// The owner's decision on a form: `Some(true)` for Allow, `Some(false)`
/// for Deny, `None` when the form carries none; anything else is refused
/// with the page that asks for one of the two.
pub(crate) fn decision(params: &Params) -> Result<Option<bool>, HttpResponse> {
    match params.get("decision") {
        None => Ok(None),
        Some("approve") => Ok(Some(true)),
        Some("deny") => Ok(Some(false)),
        Some(_) => Err(page::error_page(400, "Bad request", "Choose Allow or Deny.")),
    }
}

/// A form POST that passed every check of `load`, CSRF included.
pub(crate) async fn checked_post<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> Result<FormPost, HttpResponse> {
    load(ctx, req, page::form_body(req)?, true, None).await
}

/// Consumes the pending request once and answers the MCP client: a code for
/// a new grant to `subject` (remembered for next time if asked), or
/// `access_denied`. Either is one write, which also carries `signed_in`,
/// the writes of the password that signed in with this decision (POST
/// /login), so that signing in and deciding cost one round trip.
pub(crate) async fn finish<S: Store>(
    ctx: &Ctx<'_, S>,
    p: &PendingAuthorization,
    client: &ClientRecord,
    subject: Subject,
    approve: bool,
    remember: bool,
    signed_in: Option<SignInWrite<'_>>,
) -> OAuthResult<HttpResponse> {
    if !approve {
        let back = back_to_client(ctx, client, p)?;
        let audit = AuditEvent::consent(false, &subject, &p.client_id, &p.scope, None, ctx.now);
        if !ctx.store.store_denial(&DenialWrite { pending: (&p.id, ctx.now), audit: &audit, signed_in }).await? {
            return Ok(expired_page());
        }
        return Ok(HttpResponse::see_other(&back(&[("error", "access_denied"), ("error_description", "the owner denied access")])));
    }
    let remember = (remember && remembered_consent::may_skip_consent(client, &p.redirect_uri))
        .then(|| remembered_consent::record(&subject, &p.client_id, &p.scope, ctx.config.consent_remember_days, ctx.now))
        .flatten();
    issue_code(ctx, client, p, subject, Approval::ConsentPage { remember: remember.as_ref(), signed_in }).await
}

/// How an approval was given, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Approval<'a> {
    /// The person pressed Allow just now: the pending request is consumed
    /// in the same write as the grant, and "Remember" stored with it, and
    /// the password sign-in that came with the Allow (`finish`).
    ConsentPage { remember: Option<&'a RememberedConsent>, signed_in: Option<SignInWrite<'a>> },
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
/// sends the browser back to the client with the code, in one write with
/// its audit event. A request approved on the consent page is consumed in
/// that write (a storage failure leaves it pending, so the person's retry
/// works); a remembered approval's request was never stored.
pub async fn issue_code<S: Store>(
    ctx: &Ctx<'_, S>,
    client: &ClientRecord,
    p: &PendingAuthorization,
    subject: Subject,
    how: Approval<'_>,
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
    let (pending, remember, signed_in, audit) = match how {
        Approval::ConsentPage { remember, signed_in } => (
            Some((p.id.as_str(), ctx.now)),
            remember,
            signed_in,
            AuditEvent::consent(true, &grant.subject, &p.client_id, &p.scope, Some(&grant.grant_id), ctx.now),
        ),
        Approval::Remembered => (None, None, None, AuditEvent::consent_remembered(&grant.subject, &p.client_id, &p.scope, &grant.grant_id, ctx.now)),
    };
    if !ctx.store.store_approval(&ApprovalWrite { grant: &grant, code: &record, pending, remember, audit: &audit, signed_in }).await? {
        return Ok(expired_page());
    }
    Ok(HttpResponse::see_other(&back(&[("code", code.expose())])))
}
