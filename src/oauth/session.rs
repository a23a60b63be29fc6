//! Browser state for login and consent: a random browser-binding cookie, the
//! owner's signed session cookie, and CSRF tokens bound to both the browser
//! and the pending request (RFC 9700 §4.7, requirements.md §E).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::access_token::SigningKey;
use super::http::HttpRequest;
use super::random::{b64url, b64url_decode};
use super::types::{Secret, Subject, TokenHash};

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
    pub fn from_request(req: &HttpRequest) -> Result<Self, super::error::OAuthError> {
        match req.cookie(BROWSER_COOKIE).filter(|v| v.len() == 43 && b64url_decode(v).is_some()) {
            Some(v) => Ok(Browser { cookie: Secret::new(v), is_new: false }),
            None => Ok(Browser { cookie: super::random::secret()?, is_new: true }),
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

fn mac(key: &[u8; 32], parts: &[&str]) -> String {
    // HMAC-SHA256 accepts keys of any length; a 32-byte key cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p.as_bytes());
        m.update(&[0]);
    }
    b64url(&m.finalize().into_bytes())
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

/// The owner's session: `subject.expiry.mac`, bound to the browser cookie so a
/// stolen session cookie alone is not enough.
pub fn session_cookie(key: &SigningKey, subject: &Subject, browser: &Secret, now: i64) -> String {
    let sub = b64url(subject.as_str().as_bytes());
    let exp = (now + SESSION_TTL).to_string();
    let sig = mac(&key.derive("session"), &[&sub, &exp, browser.expose()]);
    set_cookie(SESSION_COOKIE, &format!("{sub}.{exp}.{sig}"), SESSION_TTL)
}

/// The logged-in subject, if the session cookie is valid for this browser
/// under any trusted key (a key rotation logs nobody out).
pub fn session_subject<'k>(keys: impl IntoIterator<Item = &'k SigningKey>, req: &HttpRequest, browser: &Secret, now: i64) -> Option<Subject> {
    let raw = req.cookie(SESSION_COOKIE)?;
    let mut parts = raw.split('.');
    let (sub, exp, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    if !keys.into_iter().any(|key| ct_eq(&mac(&key.derive("session"), &[sub, exp, browser.expose()]), sig)) {
        return None;
    }
    if exp.parse::<i64>().ok()? <= now {
        return None;
    }
    String::from_utf8(b64url_decode(sub)?).ok().map(Subject::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing_config;

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
