//! Scopes, RFC 6749 §3.3: a space-separated set. MCP clients ask for what the
//! protected resource metadata advertises, or for nothing; Claude Code cannot
//! step up (requirements.md §D), so an empty request gets every scope.

use std::fmt;

use super::error::{ErrorCode, OAuthError, OAuthResult};

/// A set of scope tokens, kept sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a configured or stored scope string (trusted input).
    pub fn from_config(s: &str) -> Self {
        let mut v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        v.sort();
        v.dedup();
        Scopes(v)
    }

    /// Validates a requested scope against what is supported.
    pub fn from_request(requested: Option<&str>, supported: &Scopes) -> OAuthResult<Self> {
        let Some(req) = requested.filter(|s| !s.trim().is_empty()) else {
            return Ok(supported.clone());
        };
        let wanted = Scopes::from_config(req);
        for s in &wanted.0 {
            let valid_chars = s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid_chars || !supported.0.contains(s) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("unsupported scope {:?}; supported: {}", s.chars().take(40).collect::<String>(), supported),
                ));
            }
        }
        Ok(wanted)
    }

    /// Whether every scope in `other` is in this set (RFC 6750 §3.1
    /// `insufficient_scope` when a token's scopes do not include the required).
    pub fn includes(&self, other: &Scopes) -> bool {
        other.0.iter().all(|s| self.0.contains(s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_request_gets_everything_supported() {
        let sup = Scopes::from_config("mcp tools");
        assert_eq!(Scopes::from_request(None, &sup).unwrap(), sup);
        assert_eq!(Scopes::from_request(Some("  "), &sup).unwrap(), sup);
    }

    #[test]
    fn subset_is_granted_unknown_is_refused() {
        let sup = Scopes::from_config("mcp tools");
        assert_eq!(Scopes::from_request(Some("tools tools"), &sup).unwrap().to_string(), "tools");
        let e = Scopes::from_request(Some("mcp admin"), &sup).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(Scopes::from_request(Some("mc\"p"), &sup).is_err());
    }

    #[test]
    fn includes_is_a_subset_test() {
        let granted = Scopes::from_config("extra mcp");
        assert!(granted.includes(&Scopes::from_config("mcp")));
        assert!(granted.includes(&Scopes::from_config("")));
        assert!(!Scopes::from_config("extra").includes(&Scopes::from_config("mcp")));
        assert!(!granted.includes(&Scopes::from_config("mcp admin")));
    }
}
