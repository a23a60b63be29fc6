//! Request parameters: `application/x-www-form-urlencoded` bodies and query
//! strings (OAuth 2.1 §3.1 / §3.2: parameters must not repeat).

use std::collections::BTreeMap;

use super::error::{OAuthError, OAuthResult};
use super::http::HttpRequest;

/// Parameters of one request, each present at most once.
#[derive(Debug, Default, Clone)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses a query string or form body. Repeated parameters, NUL bytes and
    /// invalid UTF-8 are refused rather than guessed at.
    pub fn parse(input: &[u8]) -> OAuthResult<Self> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if k.contains('\u{fffd}') || v.contains('\u{fffd}') {
                return Err(OAuthError::invalid_request("parameters must be valid UTF-8"));
            }
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::invalid_request("parameters must not contain NUL bytes"));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {:?} must not be repeated",
                    k.chars().take(40).collect::<String>()
                )));
            }
        }
        Ok(Params(map))
    }

    /// A parameter's value; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str) -> OAuthResult<&str> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {key}")))
    }
}

/// The parameters of a POST whose body must be a form (the token, revocation
/// and introspection endpoints: RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1).
/// Pages read theirs with `page::form_body`, which answers with a page.
pub fn form_body(req: &HttpRequest) -> OAuthResult<Params> {
    if !is_form_content_type(req.header("content-type")) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    Params::parse(&req.body)
}

/// Whether a `Content-Type` is a form body (parameters like charset allowed).
pub fn is_form_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        .unwrap_or(false)
}

pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"a=1&b=x%20y&c=&d=%26").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), Some("&"));
        assert!(p.require("zz").is_err());
    }

    #[test]
    fn repeated_nul_and_bad_utf8_are_refused() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        assert!(Params::parse(b"a=%00").is_err());
        assert!(Params::parse(b"a=%ff%fe").is_err());
    }

    #[test]
    fn content_types() {
        assert!(is_form_content_type(Some("application/x-www-form-urlencoded; charset=UTF-8")));
        assert!(!is_form_content_type(Some("application/json")));
        assert!(!is_form_content_type(None));
        assert!(is_json_content_type(Some("Application/JSON")));
    }
}
