//! The passkey endpoints. Every POST checks, in order: form body, browser
//! cookie, CSRF token (bound to the browser, and for changes to the session),
//! then the ceremony; answers are 303 redirects or HTML pages, and
//! `/passkeys/challenge` answers JSON for `/passkey.js`.
//!
//! - `GET /passkey.js`: the script the passkey forms run.
//! - `POST /passkeys/challenge`: a login challenge for any browser; a
//!   registration challenge only with a passkey session or the setup code.
//! - `POST /passkeys/login`: login by passkey; continues to consent (with
//!   `request`) or to `/admin` or `/passkeys` (with `next`).
//! - `GET|POST /passkeys/setup`: the first passkey, with the one-time code.
//! - `GET|POST /passkeys`: the owner's list; add and remove need a passkey session.

use serde_json::json;

use super::ceremony::{CeremonyError, RelyingParty};
use super::flow::{self, Assertion, FlowError, Registration};
use super::offer::relying_party;
use super::page::{self, Manage};
use super::CHALLENGE_TTL;
use crate::store::passkeys::PasskeyStore;
use crate::store::passkeys::Purpose;
use crate::store::audit::AuditEvent;
use crate::protocol::attempt_limit::{self, Counted};
use crate::protocol::context::Ctx;
use crate::base::error::{ErrorCode, OAuthError};
use crate::base::form::Params;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::login_method::LoginMethod;
use crate::base::page::{error_page, fail_page, form_body};
use crate::base::encoding::b64url;
use crate::identity::browser_session::{self, Browser, Session, SESSION_COOKIE};
use crate::base::signature::SignatureVerifier;
use crate::base::source::SourceKey;
use crate::protocol::source_budget::{self, Budget, Spend};
use crate::protocol::store::Store;
use crate::base::types::{Secret, Subject};

/// CSRF purposes (with the browser cookie) of the forms outside a pending request.
const LOGIN_FORM: &str = "passkey-login";
const SETUP_FORM: &str = "passkey-setup";
/// Where a passkey sign-in outside the consent flow may continue to.
const NEXT_PAGES: &[&str] = &["/admin", "/passkeys"];
/// WebAuthn's user handle for the single owner.
const USER_HANDLE: &[u8] = b"gatehouse-owner";
const NAME_MAX: usize = 60;

fn off_page<S>(ctx: &Ctx<'_, S>) -> HttpResponse {
    if ctx.config.passkey_setup_code.is_none() {
        error_page(404, "Passkeys are off", "Set the PASSKEY_SETUP_CODE secret (npm run deploy does) to use passkeys.")
    } else {
        error_page(
            400,
            "Passkeys need a host name",
            "Open Gatehouse at its host name (for example http://localhost:8787), not at an IP address: an IP address cannot hold a passkey.",
        )
    }
}

/// The passkey section of `/admin`'s sign-in page, when passkeys are on.
pub fn admin_sign_in<S>(ctx: &Ctx<'_, S>, browser: &Secret) -> Option<String> {
    relying_party(ctx)?;
    Some(page::sign_in_section(&[("next", "/admin"), ("csrf", &csrf(ctx, LOGIN_FORM, browser))]))
}

fn csrf<S>(ctx: &Ctx<'_, S>, purpose: &str, browser: &Secret) -> String {
    browser_session::csrf_token(&ctx.config.signing_key, purpose, browser)
}

fn csrf_ok<S>(ctx: &Ctx<'_, S>, purpose: &str, browser: &Secret, params: &Params) -> bool {
    params.get("csrf").is_some_and(|t| browser_session::csrf_valid(ctx.config.verification_keys(), purpose, browser, t))
}

/// Changes on `/passkeys` are bound to this sign-in's session cookie too.
fn manage_purpose(req: &HttpRequest) -> String {
    format!("passkeys:{}", req.cookie(SESSION_COOKIE).unwrap_or(""))
}

fn json_error(status: u16, description: &str) -> HttpResponse {
    let code = if status == 429 { ErrorCode::TooManyRequests } else { ErrorCode::InvalidRequest };
    HttpResponse::oauth_error(&OAuthError::new(code, description)).with_status(status)
}

/// A form POST's parameters and the browser cookie it must carry.
fn form(req: &HttpRequest) -> Result<(Params, Secret), HttpResponse> {
    let params = form_body(req)?;
    let browser = Browser::existing(req).ok_or_else(|| {
        error_page(400, "Cookies are needed", "Your browser did not send Gatehouse's cookie. Allow cookies for this site and start again.")
    })?;
    Ok((params, browser))
}

async fn session_of<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> Result<Option<Session>, HttpResponse> {
    browser_session::current(ctx, req, browser).await.map_err(|e| fail_page(e.into()))
}

/// Passkeys are the owner's credentials: only the owner (signed in with
/// the password or a passkey) sees them, not people signed in upstream or
/// through Access, even when `ADMIN_SUBJECTS` lets them use `/admin`.
fn is_owner(s: &Session) -> bool {
    s.subject.as_str() == Subject::OWNER
}

async fn passkey_session<S: Store>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> Result<bool, OAuthError> {
    let s = browser_session::current(ctx, req, browser).await?;
    Ok(s.is_some_and(|s| is_owner(&s) && s.method == LoginMethod::Passkey))
}

fn with_browser_cookie(page: HttpResponse, browser: &Browser) -> HttpResponse {
    match browser.set_cookie_header() {
        Some(c) => page.with_header("set-cookie", c),
        None => page,
    }
}

fn audit(ctx_now: i64, event: &str, req: &HttpRequest, detail: serde_json::Value) -> AuditEvent {
    let mut detail = detail;
    if let Some(m) = detail.as_object_mut() {
        m.insert("ip".into(), req.client_ip().chars().take(45).collect::<String>().into());
    }
    AuditEvent { at: ctx_now, event: event.into(), subject: Some(Subject::OWNER.into()), client_id: None, detail }
}

/// `GET /passkey.js`.
pub fn script() -> HttpResponse {
    HttpResponse::new(200, "text/javascript; charset=utf-8", super::script::SCRIPT)
}

// ---- the setup code --------------------------------------------------------

enum SetupCode {
    Good,
    Wrong,
    Spent,
    TooMany,
}

/// The setup code given in a form: limited per source like the password
/// (`attempt_limit`, reserved before comparing), compared in constant time,
/// and refused once spent.
async fn check_setup_code<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest, given: &str) -> Result<SetupCode, OAuthError> {
    let Some(code) = ctx.config.passkey_setup_code.as_ref() else { return Ok(SetupCode::Wrong) };
    let source = SourceKey::of(req);
    let under = [Counted::source(attempt_limit::SETUP_CODE_PER_SOURCE, &source)];
    let Some(reserved) = attempt_limit::reserve(ctx.store, &under, ctx.now).await? else {
        return Ok(SetupCode::TooMany);
    };
    if !code.ct_eq(given) {
        attempt_limit::keep(reserved);
        ctx.store.audit(&audit(ctx.now, "passkey.setup_refused", req, json!({}))).await;
        return Ok(SetupCode::Wrong);
    }
    attempt_limit::release(ctx.store, reserved).await?;
    if ctx.store.setup_code_spent(&code.hash()).await? {
        return Ok(SetupCode::Spent);
    }
    Ok(SetupCode::Good)
}

fn spent_page() -> HttpResponse {
    error_page(
        410,
        "The setup code was already used",
        "A passkey was enrolled with it. Sign in with that passkey at /passkeys to add more; to start over, set a new PASSKEY_SETUP_CODE.",
    )
}

// ---- POST /passkeys/challenge ----------------------------------------------

/// A challenge for `/passkey.js`, as JSON: `challenge`, `rpId`, `timeout` and
/// (for a registration) `userId`.
pub async fn challenge<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let (params, browser) = match form(req) {
        Ok(f) => f,
        Err(_) => return json_error(400, "send a form with Gatehouse's browser cookie"),
    };
    let Some(rp) = relying_party(ctx) else { return json_error(404, "passkeys are not available at this address") };
    let Some(purpose) = params.get("purpose").and_then(Purpose::parse) else {
        return json_error(400, "purpose must be login or register");
    };
    let needs_code = match purpose {
        Purpose::Register => passkey_session(ctx, req, &browser).await.map(|with_passkey| !with_passkey),
        Purpose::Login => Ok(false),
    };
    let checked = match needs_code {
        Ok(true) => check_setup_code(ctx, req, params.get("setup_code").unwrap_or("")).await,
        Ok(false) => Ok(SetupCode::Good),
        Err(e) => Err(e),
    };
    match checked {
        Ok(SetupCode::Good) => {}
        Ok(SetupCode::Wrong) => return json_error(403, "That setup code is not right."),
        Ok(SetupCode::Spent) => return json_error(410, "The setup code was already used. Sign in with your passkey to add more."),
        Ok(SetupCode::TooMany) => return json_error(429, "Too many wrong setup codes. Wait 15 minutes and try again."),
        Err(e) => return HttpResponse::oauth_error(&e),
    }
    match source_budget::spend(ctx, req, Spend::PasskeyChallenge).await {
        Ok(Budget::Within) => {}
        Ok(Budget::Spent { retry_after }) => {
            return json_error(429, "Too many passkey challenges from your network address; try again later.").with_header("retry-after", retry_after.to_string())
        }
        Err(e) => return HttpResponse::oauth_error(&OAuthError::from(e)),
    }
    match flow::issue_challenge(ctx.store, purpose, &browser.hash(), ctx.now).await {
        Ok(challenge) => HttpResponse::json(
            200,
            &json!({"challenge": challenge, "rpId": rp.id, "timeout": CHALLENGE_TTL * 1000, "userId": b64url(USER_HANDLE)}),
        ),
        Err(e) => HttpResponse::oauth_error(&e),
    }
}

// ---- POST /passkeys/login --------------------------------------------------

fn assertion(params: &Params) -> Result<Assertion, CeremonyError> {
    let credential_id = params.get("credential_id").filter(|s| !s.is_empty() && s.len() <= 1400).ok_or(CeremonyError::Malformed("credential id"))?;
    Ok(Assertion {
        credential_id: credential_id.to_string(),
        client_data: flow::field(params.get("client_data"), "clientDataJSON")?,
        authenticator_data: flow::field(params.get("authenticator_data"), "authenticatorData")?,
        signature: flow::field(params.get("signature"), "signature")?,
    })
}

fn registration(params: &Params) -> Result<Registration, CeremonyError> {
    Ok(Registration {
        client_data: flow::field(params.get("client_data"), "clientDataJSON")?,
        attestation_object: flow::field(params.get("attestation_object"), "attestationObject")?,
    })
}

async fn verify_login<S: Store + PasskeyStore>(
    ctx: &Ctx<'_, S>,
    net: &impl SignatureVerifier,
    rp: &RelyingParty,
    req: &HttpRequest,
    params: &Params,
    browser: &Secret,
    page: &str,
) -> Result<(), FlowError> {
    let result = match assertion(params) {
        Ok(a) => flow::authenticate(ctx.store, net, rp, &browser.hash(), &a, ctx.now).await,
        Err(e) => Err(e.into()),
    };
    match &result {
        Ok(p) => ctx.store.audit(&audit(ctx.now, "login.success", req, json!({"page": page, "method": "passkey", "passkey": p.name}))).await,
        // Anyone may send a made-up assertion: its row counts against a budget.
        Err(FlowError::Refused(e)) => {
            let event = audit(ctx.now, "login.failure", req, json!({"page": page, "method": "passkey", "reason": e.message()}));
            source_budget::audit_refusal(ctx, req, &event).await
        }
        Err(FlowError::Failed(_)) => {}
    }
    result.map(|_| ())
}

fn passkey_cookie<S>(ctx: &Ctx<'_, S>, browser: &Secret) -> String {
    browser_session::session_cookie_as(&ctx.config.signing_key, &Subject::owner(), LoginMethod::Passkey, browser, ctx.now)
}

/// `POST /passkeys/login`.
pub async fn login<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, net: &impl SignatureVerifier, req: &HttpRequest) -> HttpResponse {
    let Some(rp) = relying_party(ctx) else { return off_page(ctx) };
    let (params, browser) = match form(req) {
        Ok(f) => f,
        Err(page) => return page,
    };
    if params.get("request").is_some() {
        // During an MCP client's authorization: the same checks as the
        // password form (pending request of this browser, its CSRF token).
        let post = match crate::identity::approval::checked_post(ctx, req).await {
            Ok(post) => post,
            Err(page) => return page,
        };
        return match verify_login(ctx, net, &rp, req, &post.params, &post.browser, "login").await {
            Ok(()) => HttpResponse::see_other(&format!("/consent?request={}", post.pending.id)).with_header("set-cookie", passkey_cookie(ctx, &post.browser)),
            Err(FlowError::Refused(e)) => crate::identity::sign_in::page::show_again(ctx, &post, 401, Some(e.message())),
            Err(FlowError::Failed(e)) => fail_page(e),
        };
    }
    let next = params.get("next").filter(|n| NEXT_PAGES.contains(n)).unwrap_or("/admin").to_string();
    if !csrf_ok(ctx, LOGIN_FORM, &browser, &params) {
        return page::sign_in_page(403, &next, &csrf(ctx, LOGIN_FORM, &browser), Some("The form was stale; sign in again."));
    }
    match verify_login(ctx, net, &rp, req, &params, &browser, next.trim_start_matches('/')).await {
        Ok(()) => HttpResponse::see_other(&next).with_header("set-cookie", passkey_cookie(ctx, &browser)),
        Err(FlowError::Refused(e)) => page::sign_in_page(401, &next, &csrf(ctx, LOGIN_FORM, &browser), Some(e.message())),
        Err(FlowError::Failed(e)) => fail_page(e),
    }
}

// ---- /passkeys/setup -------------------------------------------------------

/// `GET /passkeys/setup`.
pub async fn setup_show<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if relying_party(ctx).is_none() {
        return off_page(ctx);
    }
    let browser = match Browser::from_request(req) {
        Ok(b) => b,
        Err(e) => return fail_page(e),
    };
    let spent = match ctx.config.passkey_setup_code.as_ref() {
        Some(code) => ctx.store.setup_code_spent(&code.hash()).await,
        None => Ok(true),
    };
    let page = match spent {
        Ok(true) => spent_page(),
        Ok(false) => page::setup_page(200, &csrf(ctx, SETUP_FORM, &browser.cookie), None),
        Err(e) => fail_page(e.into()),
    };
    with_browser_cookie(page, &browser)
}

fn name_of(params: &Params) -> String {
    let name: String = params.get("name").unwrap_or("").trim().chars().filter(|c| !c.is_control()).take(NAME_MAX).collect();
    if name.is_empty() { "passkey".into() } else { name }
}

/// `POST /passkeys/setup`: the first passkey; spends the setup code.
pub async fn setup<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let Some(rp) = relying_party(ctx) else { return off_page(ctx) };
    let (params, browser) = match form(req) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let again = |status, error: &str| page::setup_page(status, &csrf(ctx, SETUP_FORM, &browser), Some(error));
    if !csrf_ok(ctx, SETUP_FORM, &browser, &params) {
        return again(403, "The form was stale; try again.");
    }
    match check_setup_code(ctx, req, params.get("setup_code").unwrap_or("")).await {
        Ok(SetupCode::Good) => {}
        Ok(SetupCode::Wrong) => return again(401, "That setup code is not right."),
        Ok(SetupCode::Spent) => return spent_page(),
        Ok(SetupCode::TooMany) => return again(429, "Too many wrong setup codes. Wait 15 minutes and try again."),
        Err(e) => return fail_page(e),
    }
    let passkey = match registration(&params) {
        Ok(reg) => flow::verify_registration(ctx.store, &rp, &browser.hash(), &reg, &name_of(&params), ctx.now).await,
        Err(e) => Err(e.into()),
    };
    let passkey = match passkey {
        Ok(p) => p,
        Err(FlowError::Refused(e)) => return again(400, e.message()),
        Err(FlowError::Failed(e)) => return fail_page(e),
    };
    let Some(code) = ctx.config.passkey_setup_code.as_ref() else { return off_page(ctx) };
    // Spent before the passkey is stored: of two setups racing with the one
    // code, only one gets a passkey in.
    match ctx.store.spend_setup_code(&code.hash(), ctx.now).await {
        Ok(true) => {}
        Ok(false) => return spent_page(),
        Err(e) => return fail_page(e.into()),
    }
    match flow::add(ctx.store, &passkey).await {
        Ok(()) => {}
        Err(FlowError::Refused(e)) => return again(400, e.message()),
        Err(FlowError::Failed(e)) => return fail_page(e),
    }
    ctx.store.audit(&audit(ctx.now, "passkey.add", req, json!({"name": passkey.name, "alg": passkey.alg.name(), "via": "setup_code"}))).await;
    HttpResponse::see_other("/passkeys").with_header("set-cookie", passkey_cookie(ctx, &browser))
}

// ---- /passkeys -------------------------------------------------------------

async fn manage_page<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret, session: &Session, error: Option<&str>) -> HttpResponse {
    let passkeys = match ctx.store.passkeys().await {
        Ok(p) => p,
        Err(e) => return fail_page(e.into()),
    };
    page::manage_page(&Manage {
        passkeys: &passkeys,
        may_change: session.method == LoginMethod::Passkey,
        csrf: &csrf(ctx, &manage_purpose(req), browser),
        login_csrf: &csrf(ctx, LOGIN_FORM, browser),
        error,
    })
}

/// `GET /passkeys`: the list for a signed-in owner, else a passkey sign-in.
pub async fn show<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    if relying_party(ctx).is_none() {
        return off_page(ctx);
    }
    let browser = match Browser::from_request(req) {
        Ok(b) => b,
        Err(e) => return fail_page(e),
    };
    let page = match session_of(ctx, req, &browser.cookie).await {
        Err(page) => page,
        Ok(None) => page::sign_in_page(200, "/passkeys", &csrf(ctx, LOGIN_FORM, &browser.cookie), None),
        Ok(Some(s)) if !is_owner(&s) => {
            let why = format!("You are signed in as {}. Passkeys belong to the owner: sign in as the owner to see them.", s.subject.as_str());
            page::sign_in_page(403, "/passkeys", &csrf(ctx, LOGIN_FORM, &browser.cookie), Some(&why))
        }
        Ok(Some(s)) => manage_page(ctx, req, &browser.cookie, &s, None).await,
    };
    with_browser_cookie(page, &browser)
}

/// `POST /passkeys`: `add` (a registration) or `remove` (`credential`), with a passkey session.
pub async fn post<S: Store + PasskeyStore>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    let Some(rp) = relying_party(ctx) else { return off_page(ctx) };
    let (params, browser) = match form(req) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let session = match session_of(ctx, req, &browser).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(session) = session.filter(|s| is_owner(s) && s.method == LoginMethod::Passkey) else {
        return error_page(403, "Sign in with a passkey first", "Adding or removing passkeys needs a passkey sign-in. Open /passkeys and sign in with a passkey.");
    };
    if !csrf_ok(ctx, &manage_purpose(req), &browser, &params) {
        return error_page(403, "Form expired", "The form was stale or not sent by Gatehouse's own page. Open /passkeys again and retry.");
    }
    match params.get("action") {
        Some("add") => {
            let result = match registration(&params) {
                Ok(reg) => flow::register(ctx.store, &rp, &browser.hash(), &reg, &name_of(&params), ctx.now).await,
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(p) => {
                    ctx.store.audit(&audit(ctx.now, "passkey.add", req, json!({"name": p.name, "alg": p.alg.name(), "via": "passkey_session"}))).await;
                    HttpResponse::see_other("/passkeys")
                }
                Err(FlowError::Refused(e)) => manage_page(ctx, req, &browser, &session, Some(e.message())).await,
                Err(FlowError::Failed(e)) if e.status() == 400 => manage_page(ctx, req, &browser, &session, Some(&e.description)).await,
                Err(FlowError::Failed(e)) => fail_page(e),
            }
        }
        Some("remove") => {
            let id = params.get("credential").unwrap_or("");
            match ctx.store.remove_passkey(id).await {
                Ok(true) => {
                    ctx.store.audit(&audit(ctx.now, "passkey.remove", req, json!({"credential": id.chars().take(64).collect::<String>()}))).await;
                    HttpResponse::see_other("/passkeys")
                }
                Ok(false) => error_page(404, "No such passkey", "That passkey does not exist (any more). Open /passkeys again."),
                Err(e) => fail_page(e.into()),
            }
        }
        _ => error_page(400, "Bad request", "Unknown action."),
    }
}
