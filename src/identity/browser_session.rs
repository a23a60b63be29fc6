//! Browser state for login and consent: a random browser-binding cookie, the
//! signed session cookie and its server-side revocation (sign-out, "sign out
//! everywhere"), and CSRF tokens bound to both the browser and the pending
//! request (RFC 9700 §4.7, requirements.md §E).


use crate::base::signing_key::SigningKey;
use crate::protocol::context::Ctx;
use crate::base::http::HttpRequest;
use crate::base::login_method::LoginMethod;
use crate::base::mac::mac;
use crate::base::encoding::{b64url, b64url_decode};
use crate::store::StoreResult;
use crate::base::types::{Secret, Subject, TokenHash};

pub const BROWSER_COOKIE: &str = "__Host-gatehouse-browser";
pub const SESSION_COOKIE: &str = "__Host-gatehouse-session";
/// How long an owner login lasts before the password is asked again.
pub const SESSION_TTL: i64 = 8 * 3600;
const BROWSER_TTL: i64 = 30 * 24 * 3600;

/// `__Host-` cookies: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax.
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

/// The browser binding: the existing cookie, or a fresh one to set.
pub struct Browser {
    pub cookie: Secret,
    pub is_new: bool,
}

impl Browser {
    pub fn from_request(req: &HttpRequest) -> Result<Self, crate::base::error::OAuthError> {
        match req.cookie(BROWSER_COOKIE).filter(|v| v.len() == 43 && b64url_decode(v).is_some()) {
            Some(v) => Ok(Browser { cookie: Secret::new(v), is_new: false }),
            None => Ok(Browser { cookie: crate::base::random::secret()?, is_new: true }),
        }
    }

    /// The existing cookie only: a POST without it is refused.
    pub fn existing(req: &HttpRequest) -> Option<Secret> {
        req.cookie(BROWSER_COOKIE).map(Secret::new)
    }

    pub fn set_cookie_header(&self) -> Option<String> {
        self.is_new.then(|| set_cookie(BROWSER_COOKIE, self.cookie.expose(), BROWSER_TTL))
    }

    pub fn hash(&self) -> TokenHash {
        self.cookie.hash()
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    Secret::new(a).ct_eq(b)
}

/// CSRF token for a form of pending request `request_id`, in `browser`.
pub fn csrf_token(key: &SigningKey, request_id: &str, browser: &Secret) -> String {
    mac(&key.derive("csrf"), &[request_id, browser.expose()])
}

/// Any trusted key will do: a form shown just before a key rotation must
/// still submit after it.
pub fn csrf_valid<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, request_id: &str, browser: &Secret, presented: &str) -> bool {
    keys.into_iter().any(|key| ct_eq(&csrf_token(key, request_id, browser), presented))
}

/// The owner's session, signed as a password login (see `session_cookie_as`).
pub fn session_cookie(key: &SigningKey, subject: &Subject, browser: &Secret, now: i64) -> String {
    session_cookie_as(key, subject, LoginMethod::Password, browser, now)
}

/// The session cookie: `subject.expiry.method.mac`, bound to the browser
/// cookie so a stolen session cookie alone is not enough. The method is
/// signed with the rest: managing passkeys needs a passkey login.
pub fn session_cookie_as(key: &SigningKey, subject: &Subject, method: LoginMethod, browser: &Secret, now: i64) -> String {
    let sub = b64url(subject.as_str().as_bytes());
    let exp = (now + SESSION_TTL).to_string();
    let sig = mac(&key.derive("session"), &[&sub, &exp, method.as_str(), browser.expose()]);
    set_cookie(SESSION_COOKIE, &format!("{sub}.{exp}.{}.{sig}", method.as_str()), SESSION_TTL)
}

/// Who is signed in, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub subject: Subject,
    pub method: LoginMethod,
    /// This sign-in's cookie, for revocation: the SHA-256 of its signature.
    pub id: TokenHash,
    pub expires_at: i64,
}

impl Session {
    pub fn issued_at(&self) -> i64 {
        self.expires_at - SESSION_TTL
    }
}

/// The session a cookie proves, if it is valid for this browser under any
/// trusted key (a key rotation logs nobody out), not looking at revocations:
/// use [`current`]. Cookies from before the method was recorded
/// (`subject.expiry.mac`) could only come from the password.
fn signed<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, req: &HttpRequest, browser: &Secret, now: i64) -> Option<Session> {
    let raw = req.cookie(SESSION_COOKIE)?;
    let parts: Vec<&str> = raw.split('.').collect();
    let (sub, exp, method, sig) = match parts[..] {
        [sub, exp, sig] => (sub, exp, None, sig),
        [sub, exp, method, sig] => (sub, exp, Some(method), sig),
        _ => return None,
    };
    let signed: Vec<&str> = match method {
        None => vec![sub, exp, browser.expose()],
        Some(m) => vec![sub, exp, m, browser.expose()],
    };
    if !keys.into_iter().any(|key| ct_eq(&mac(&key.derive("session"), &signed), sig)) {
        return None;
    }
    let expires_at = exp.parse::<i64>().ok()?;
    if expires_at <= now {
        return None;
    }
    let method = match method {
        None => LoginMethod::Password,
        Some(m) => LoginMethod::parse(m)?,
    };
    let subject = String::from_utf8(b64url_decode(sub)?).ok().map(Subject::new)?;
    Some(Session { subject, method, id: TokenHash::of(sig), expires_at })
}

use crate::store::session_revocations::SessionRevocations;

/// The session of this request: a valid cookie for this browser that was
/// not signed out. Storage is asked only when the cookie is valid.
pub async fn current<S: SessionRevocations>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> StoreResult<Option<Session>> {
    let Some(s) = presented(ctx, req, browser) else { return Ok(None) };
    Ok((!ctx.store.session_revoked(&s.id, s.issued_at()).await?).then_some(s))
}

/// The session `req` presents, valid for `browser` but not yet checked
/// against revocations: what a page reads ahead (`ReadAhead`) before it asks
/// [`current`].
pub fn presented<S>(ctx: &Ctx<'_, S>, req: &HttpRequest, browser: &Secret) -> Option<Session> {
    signed(ctx.config.verification_keys(), req, browser, ctx.now)
}

/// Ends `session` for every copy of its cookie.
pub async fn sign_out<S: SessionRevocations>(ctx: &Ctx<'_, S>, session: &Session) -> StoreResult<()> {
    ctx.store.revoke_session(&session.id, ctx.now, session.expires_at).await
}

/// Ends every session issued so far, of everyone. A sign-in within the same
/// second is ended too: times are whole seconds, and the doubt goes to revoking.
pub async fn sign_out_everywhere<S: SessionRevocations>(ctx: &Ctx<'_, S>) -> StoreResult<()> {
    ctx.store.revoke_all_sessions(ctx.now).await
}

/// The clearing `Set-Cookie` for the session cookie.
pub fn clear_session_cookie() -> String {
    set_cookie(SESSION_COOKIE, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::signed as session;
    use crate::store::memory::{block_on, MemoryStore};
    use crate::testing::testing_config;

    fn session_subject<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, req: &HttpRequest, b: &Secret, now: i64) -> Option<Subject> {
        session(keys, req, b, now).map(|s| s.subject)
    }

    fn signed_in(c: &crate::config::Config, b: &Secret, now: i64) -> HttpRequest {
        let set = session_cookie(&c.signing_key, &Subject::new("owner"), b, now);
        req_with_cookie(set.split(';').next().unwrap())
    }

    #[test]
    fn sign_out_ends_every_copy_of_that_session_only() {
        let c = testing_config();
        let store = MemoryStore::default();
        let ctx = |now| Ctx { config: &c, store: &store, issuer: "https://gh.example".into(), now };
        let (b1, b2) = (Secret::new("browser-one"), Secret::new("browser-two"));
        let (mine, other) = (signed_in(&c, &b1, 1000), signed_in(&c, &b2, 1000));
        let session = block_on(current(&ctx(1001), &mine, &b1)).unwrap().expect("signed in");
        assert_eq!(session.issued_at(), 1000);
        block_on(sign_out(&ctx(1001), &session)).unwrap();
        assert_eq!(block_on(current(&ctx(1002), &mine, &b1)).unwrap(), None, "a copy of the cookie no longer works");
        assert!(block_on(current(&ctx(1002), &other, &b2)).unwrap().is_some(), "other sessions go on");
        assert_eq!(store.sessions.revoked.borrow().get(session.id.as_str()), Some(&(1000 + SESSION_TTL)), "kept until the cookie expires");
        assert!(block_on(current(&ctx(1003), &signed_in(&c, &b1, 1003), &b1)).unwrap().is_some(), "signing in again works");
    }

    #[test]
    fn sign_out_everywhere_ends_every_session_issued_until_then() {
        let c = testing_config();
        let store = MemoryStore::default();
        let ctx = |now| Ctx { config: &c, store: &store, issuer: "https://gh.example".into(), now };
        let b = Secret::new("browser");
        let (early, same_second) = (signed_in(&c, &b, 1000), signed_in(&c, &b, 2000));
        block_on(sign_out_everywhere(&ctx(2000))).unwrap();
        assert_eq!(block_on(current(&ctx(2001), &early, &b)).unwrap(), None);
        assert_eq!(block_on(current(&ctx(2001), &same_second, &b)).unwrap(), None, "the doubt goes to revoking");
        assert!(block_on(current(&ctx(2001), &signed_in(&c, &b, 2001), &b)).unwrap().is_some(), "later sign-ins work");
        *store.fail.borrow_mut() = true;
        assert!(block_on(current(&ctx(2002), &signed_in(&c, &b, 2001), &b)).is_err(), "storage down: an error, not a session");
        assert_eq!(block_on(current(&ctx(2002), &HttpRequest::default(), &b)).unwrap(), None, "no cookie: storage is not asked");
    }

    fn req_with_cookie(cookie: &str) -> HttpRequest {
        HttpRequest { headers: vec![("cookie".into(), cookie.into())], ..Default::default() }
    }

    #[test]
    fn csrf_is_bound_to_request_and_browser() {
        let c = testing_config();
        let b1 = Secret::new("browser-one");
        let b2 = Secret::new("browser-two");
        let t = csrf_token(&c.signing_key, "req1", &b1);
        assert!(csrf_valid([&c.signing_key], "req1", &b1, &t));
        assert!(!csrf_valid([&c.signing_key], "req2", &b1, &t));
        assert!(!csrf_valid([&c.signing_key], "req1", &b2, &t));
        assert!(!csrf_valid([&c.signing_key], "req1", &b1, ""));
    }

    #[test]
    fn session_round_trips_and_expires() {
        let c = testing_config();
        let b = Secret::new("browser");
        let set = session_cookie(&c.signing_key, &Subject::new("owner"), &b, 1000);
        let value = set.split(';').next().unwrap();
        let req = req_with_cookie(value);
        assert_eq!(session_subject([&c.signing_key], &req, &b, 1001), Some(Subject::new("owner")));
        assert_eq!(session_subject([&c.signing_key], &req, &b, 1000 + SESSION_TTL), None);
        assert_eq!(session_subject([&c.signing_key], &req, &Secret::new("other"), 1001), None);
        let forged = value.replace("b3duZXI", "YXR0YWNrZXI");
        assert_eq!(session_subject([&c.signing_key], &req_with_cookie(&forged), &b, 1001), None);
    }

    #[test]
    fn sessions_and_csrf_survive_a_key_rotation_until_retirement() {
        let old = testing_config().signing_key;
        let new = SigningKey::from_seed_b64(&b64url(&[42u8; 32])).unwrap();
        let b = Secret::new("browser");
        let set = session_cookie(&old, &Subject::new("owner"), &b, 1000);
        let req = req_with_cookie(set.split(';').next().unwrap());
        let csrf = csrf_token(&old, "req1", &b);
        assert_eq!(session_subject([&new, &old], &req, &b, 1001), Some(Subject::new("owner")));
        assert!(csrf_valid([&new, &old], "req1", &b, &csrf));
        assert_eq!(session_subject([&new], &req, &b, 1001), None);
        assert!(!csrf_valid([&new], "req1", &b, &csrf));
        let passkey = session_cookie_as(&old, &Subject::new("owner"), LoginMethod::Passkey, &b, 1000);
        let req = req_with_cookie(passkey.split(';').next().unwrap());
        assert_eq!(session([&new, &old], &req, &b, 1001).map(|s| s.method), Some(LoginMethod::Passkey));
        assert_eq!(session([&new], &req, &b, 1001), None);
    }

    fn legacy_cookie(key: &SigningKey, b: &Secret, exp: i64) -> String {
        let sub = b64url(b"owner");
        let sig = mac(&key.derive("session"), &[&sub, &exp.to_string(), b.expose()]);
        format!("{SESSION_COOKIE}={sub}.{exp}.{sig}")
    }

    #[test]
    fn the_login_method_is_signed_into_the_session() {
        let c = testing_config();
        let b = Secret::new("browser");
        let set = session_cookie_as(&c.signing_key, &Subject::new("owner"), LoginMethod::Passkey, &b, 1000);
        let value = set.split(';').next().unwrap();
        let s = session([&c.signing_key], &req_with_cookie(value), &b, 1001).unwrap();
        assert_eq!((s.subject.as_str(), s.method), ("owner", LoginMethod::Passkey));
        // A password session cannot be relabelled as a passkey one.
        let pw = session_cookie(&c.signing_key, &Subject::new("owner"), &b, 1000);
        let pw = pw.split(';').next().unwrap();
        assert_eq!(session([&c.signing_key], &req_with_cookie(pw), &b, 1001).unwrap().method, LoginMethod::Password);
        let relabelled = pw.replace(".password.", ".passkey.");
        assert_ne!(relabelled, pw);
        assert_eq!(session([&c.signing_key], &req_with_cookie(&relabelled), &b, 1001), None);
        // Nor can the method be dropped to pass as an old-format cookie.
        let parts: Vec<&str> = value.split('.').collect();
        let dropped = format!("{}.{}.{}", parts[0], parts[1], parts[3]);
        assert_eq!(session([&c.signing_key], &req_with_cookie(&dropped), &b, 1001), None);
    }

    #[test]
    fn cookies_from_before_the_method_was_kept_are_password_sessions() {
        let c = testing_config();
        let b = Secret::new("browser");
        let old = legacy_cookie(&c.signing_key, &b, 2000);
        assert_eq!(session([&c.signing_key], &req_with_cookie(&old), &b, 1001).unwrap().method, LoginMethod::Password);
        assert_eq!(session([&c.signing_key], &req_with_cookie(&old), &b, 2000), None, "still expires");
        assert_eq!(session([&c.signing_key], &req_with_cookie(&old), &Secret::new("x"), 1001), None, "still bound to the browser");
    }

    #[test]
    fn cookies_are_host_prefixed_and_locked_down() {
        let s = set_cookie(SESSION_COOKIE, "v", 10);
        assert!(s.starts_with("__Host-"));
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(s.contains(attr), "{s}");
        }
        assert!(!s.contains("Domain"));
    }
}
