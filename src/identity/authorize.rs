//! The authorization endpoint, OAuth 2.1 §4.1.1 with RFC 7636 (PKCE),
//! RFC 8707 (resource) and RFC 9207 (`iss` in responses), as a list of named
//! checks. Until the client and redirect URI are validated, every failure is
//! an error page: redirecting to an unvalidated URI is an open redirector
//! (RFC 9700 §4.11). After that, failures redirect with `error`, `state`,
//! `iss`, but only for a client the owner has approved (§4.11.2).

use super::pages::client_view;
use crate::base::page;
use crate::protocol::clients;
use super::approval::{self, Approval};
use crate::protocol::authorization_response::redirect_to_client;
use crate::protocol::context::Ctx;
use super::sign_in::{self, remembered_consent, Identity};
use crate::base::error::{ErrorCode, OAuthError, OAuthResult};
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use super::pages;
use crate::base::pkce::CodeChallenge;
use crate::base::random;
use crate::base::redirect_uri::RedirectUri;
use crate::base::resource::{self, Resource};
use crate::base::scope::Scopes;
use super::browser_session::{self, Browser};
use crate::protocol::source_budget::{self, Budget};
use crate::protocol::store::Store;
use crate::store::clients::ClientRecord;
use crate::store::pending::PendingAuthorization;
use crate::store::pending::PENDING_TTL;
use crate::store::read_ahead::Reads;

/// An /authorize request that passed every check.
#[derive(Debug)]
pub struct ValidRequest {
    pub client: ClientRecord,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: CodeChallenge,
    pub scope: Scopes,
    pub resource: Resource,
}

/// Why a request was refused, and how it may be answered.
#[derive(Debug)]
pub enum Refusal {
    /// Client or redirect URI not trusted: show a page, never redirect.
    Page(OAuthError),
    /// Redirect to the validated redirect URI with the error.
    Redirect(String),
}

fn check_params(query: &str) -> Result<Params, Refusal> {
    Params::parse(query.as_bytes()).map_err(Refusal::Page)
}

/// A registered client, or a metadata-document client (fetched and checked
/// before anything else happens; the client is not trusted, so any failure
/// is a page).
async fn check_client<S: Store>(ctx: &Ctx<'_, S>, p: &Params) -> Result<ClientRecord, Refusal> {
    let id = p.get("client_id").ok_or_else(|| Refusal::Page(OAuthError::invalid_request("client_id is missing")))?;
    clients::find(ctx, id).await.map_err(|e| Refusal::Page(e.into()))
}

fn check_redirect_uri(client: &ClientRecord, p: &Params) -> Result<(RedirectUri, String), Refusal> {
    let mismatch = || Refusal::Page(OAuthError::invalid_request("redirect_uri does not match any URI this client registered"));
    match p.get("redirect_uri") {
        Some(requested) => client
            .redirect_uris
            .iter()
            .find(|r| r.matches(requested))
            .map(|r| (r.clone(), requested.to_string()))
            .ok_or_else(mismatch),
        // OAuth 2.1 §4.1.1: optional only when exactly one is registered.
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), only.as_str().to_string())),
            _ => Err(Refusal::Page(OAuthError::invalid_request("redirect_uri is required"))),
        },
    }
}

fn check_response_type(p: &Params) -> OAuthResult<()> {
    match p.get("response_type") {
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported")),
        None => Err(OAuthError::invalid_request("response_type is missing")),
    }
}

fn check_pkce(p: &Params) -> OAuthResult<CodeChallenge> {
    CodeChallenge::from_request(p.get("code_challenge"), p.get("code_challenge_method"))
}

fn check_scope<S>(ctx: &Ctx<'_, S>, p: &Params) -> OAuthResult<Scopes> {
    Scopes::from_request(p.get("scope"), &ctx.config.scopes)
}

fn check_resource<S>(ctx: &Ctx<'_, S>, p: &Params) -> OAuthResult<Resource> {
    resource::check_requested(p.get("resource"), &ctx.issuer)
}

fn check_state(p: &Params) -> OAuthResult<()> {
    match p.get("state") {
        Some(s) if s.len() > 1000 => Err(OAuthError::invalid_request("state is too long")),
        _ => Ok(()),
    }
}

/// Runs every check in order; reading this function is reading the policy.
pub async fn validate<S: Store>(ctx: &Ctx<'_, S>, query: &str) -> Result<ValidRequest, Refusal> {
    let p = check_params(query)?;
    let client = check_client(ctx, &p).await?;
    let (registered, redirect_uri) = check_redirect_uri(&client, &p)?;

    // From here on the redirect URI is trusted, so errors go back to the client
    // (without a state too long to echo).
    let state = p.get("state").filter(|s| s.len() <= 1000).map(str::to_string);
    let to_client = |e: OAuthError| {
        Refusal::Redirect(redirect_to_client(
            &registered,
            &redirect_uri,
            &ctx.issuer,
            state.as_deref(),
            &[("error", e.code.as_str()), ("error_description", &e.description)],
        ))
    };
    let run = || -> OAuthResult<(CodeChallenge, Scopes, Resource)> {
        check_response_type(&p)?;
        if !client.grant_types.iter().any(|g| g == "authorization_code") {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client may not use the authorization code grant"));
        }
        let challenge = check_pkce(&p)?;
        let scope = check_scope(ctx, &p)?;
        let resource = check_resource(ctx, &p)?;
        check_state(&p)?;
        Ok((challenge, scope, resource))
    };
    let (challenge, scope, resource) = match run() {
        Ok(checked) => checked,
        Err(e) if check_redirect_trusted(ctx, &client).await? => return Err(to_client(e)),
        Err(e) => return Err(Refusal::Page(e)),
    };
    Ok(ValidRequest { client, redirect_uri, state, challenge, scope, resource })
}

/// RFC 9700 §4.11.2: an error goes back to the client with no page, so
/// automatically, only when the owner trusts its redirect URI, that is, has
/// approved the client and not revoked every grant since. Anyone may
/// register a client (DCR, a metadata document) with any redirect URI: until
/// the owner approves it, its errors are a page here, or a crafted request
/// would make this server an open redirector.
async fn check_redirect_trusted<S: Store>(ctx: &Ctx<'_, S>, client: &ClientRecord) -> Result<bool, Refusal> {
    ctx.store.client_approved(&client.client_id).await.map_err(|e| Refusal::Page(e.into()))
}


/// `GET /authorize`.
pub async fn handle<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    handle_identified(ctx, req, None).await
}

/// `GET /authorize` for a person whom a login method in front of Gatehouse
/// (Cloudflare Access) has already identified: the session is set for them
/// and the login page is skipped.
pub async fn handle_identified<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, identified: Option<&Identity>) -> HttpResponse {
    if let Err(e) = read_ahead(ctx, req, identified).await {
        return page::error_page(e.status(), "Something went wrong", &e.description);
    }
    let valid = match validate(ctx, &req.query).await {
        Ok(v) => v,
        Err(Refusal::Page(e)) => {
            let status = if e.status() >= 500 { e.status() } else { 400 };
            return page::error_page(status, "This connection request cannot be used", &e.description);
        }
        Err(Refusal::Redirect(to)) => return HttpResponse::see_other(&to),
    };
    match start(ctx, req, valid, identified).await {
        Ok(r) => r,
        Err(e) => page::error_page(e.status(), "Something went wrong", &e.description),
    }
}

/// What this request reads, in one round trip (issue 14): its registered
/// client, the browser's session and its revocation, and the remembered
/// consent of that person for that client. Each is still read and checked
/// below as if one by one; a request that turns out to need fewer reads
/// wasted only rows.
async fn read_ahead<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, identified: Option<&Identity>) -> OAuthResult<()> {
    let Ok(p) = Params::parse(req.query.as_bytes()) else { return Ok(()) };
    let client = p.get("client_id").and_then(clients::registered_id);
    let session = match identified {
        Some(_) => None,
        None => Browser::existing(req).and_then(|b| browser_session::presented(ctx, req, &b)),
    };
    let subject = identified.map(|i| &i.subject).or(session.as_ref().map(|s| &s.subject));
    let reads = Reads {
        client: client.as_ref(),
        session: session.as_ref().map(|s| (&s.id, s.issued_at())),
        consent: subject.zip(client.as_ref()).map(|(s, c)| (s, c, ctx.now)),
        ..Reads::default()
    };
    Ok(ctx.store.read_ahead(&reads).await?)
}

async fn start<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, v: ValidRequest, identified: Option<&Identity>) -> OAuthResult<HttpResponse> {
    let browser = Browser::from_request(req)?;
    let key = &ctx.config.signing_key;
    let (subject, session) = match identified {
        Some(id) => (Some(id.subject.clone()), Some(browser_session::session_cookie_as(key, &id.subject, id.method, &browser.cookie, ctx.now))),
        None => (browser_session::current(ctx, req, &browser.cookie).await?.map(|s| s.subject), None),
    };
    let with_cookies = |page: HttpResponse| {
        [browser.set_cookie_header(), session.clone()].into_iter().flatten().fold(page, |p, c| p.with_header("set-cookie", c))
    };
    let pending = PendingAuthorization {
        id: random::id("ar_")?,
        client_id: v.client.client_id.clone(),
        redirect_uri: v.redirect_uri.clone(),
        state: v.state.clone(),
        code_challenge: v.challenge.clone(),
        scope: v.scope.to_string(),
        resource: v.resource.as_str().to_string(),
        browser: browser.hash(),
        expires_at: ctx.now + PENDING_TTL,
    };
    if let (Some(subject), true) = (&subject, remembered_consent::may_skip_consent(&v.client, &v.redirect_uri)) {
        if remembered_consent::covers(ctx.store, subject, &v.client.client_id, &pending.scope, ctx.now).await? {
            // Approved before, with "remember": no page, so nothing pending to store.
            let to_client = approval::issue_code(ctx, &v.client, &pending, subject.clone(), Approval::Remembered).await?;
            return Ok(with_cookies(to_client));
        }
    }
    if let Budget::Spent { retry_after } = source_budget::store_pending(ctx, req, &pending).await? {
        return Ok(with_cookies(source_budget::spent_page(retry_after)));
    }
    let csrf = browser_session::csrf_token(key, &pending.id, &browser.cookie);
    let host = RedirectUri::from_stored(v.redirect_uri.clone()).host();
    let view = client_view(&v.client, &pending.scope, &host);
    let remember_days = remembered_consent::days_offered(ctx.config, &v.client, &v.redirect_uri);
    let page = if subject.is_some() {
        pages::consent_page(&view, &pending.id, &csrf, remember_days)
    } else {
        let options = pages::LoginOptions { remember_days, ..sign_in::page::for_request(ctx, &pending.id, &csrf) };
        pages::login_page(200, &view, &pending.id, &csrf, None, &options)
    };
    Ok(with_cookies(page))
}
