//! Resource indicators, RFC 8707 §2, and the protected resource identity of
//! RFC 9728 §3. Clients send `resource` with or without a trailing slash and
//! in any case of scheme/host: compare normalised forms.

use url::Url;

use super::error::{ErrorCode, OAuthError, OAuthResult};

/// A normalised resource URI: lower-case scheme and host, no default port,
/// no trailing slash, no fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource(String);

impl Resource {
    pub fn parse(raw: &str) -> OAuthResult<Self> {
        let bad = || OAuthError::new(ErrorCode::InvalidTarget, "resource must be an absolute URI without a fragment");
        if raw.contains('#') || raw.len() > 2000 {
            return Err(bad());
        }
        let url = Url::parse(raw).map_err(|_| bad())?;
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(bad());
        }
        // `Url` already lower-cases scheme and host and drops default ports.
        let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            s.push_str(&format!(":{port}"));
        }
        s.push_str(url.path().trim_end_matches('/'));
        if let Some(q) = url.query() {
            s.push('?');
            s.push_str(q);
        }
        Ok(Resource(s))
    }

    pub fn from_stored(s: impl Into<String>) -> Self {
        Resource(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The resources this gateway protects: the MCP endpoint, and the bare origin
/// because claude.ai may POST to `/` (requirements.md §A).
pub fn accepted_resources(issuer: &str) -> [Resource; 2] {
    [Resource(format!("{issuer}/mcp")), Resource(issuer.to_string())]
}

/// The audience a token gets when the client names none: the MCP endpoint.
pub fn default_resource(issuer: &str) -> Resource {
    Resource(format!("{issuer}/mcp"))
}

/// RFC 8707 §2: the requested resource must be one this server protects.
pub fn check_requested(raw: Option<&str>, issuer: &str) -> OAuthResult<Resource> {
    let Some(raw) = raw else { return Ok(default_resource(issuer)) };
    let wanted = Resource::parse(raw)?;
    if accepted_resources(issuer).contains(&wanted) {
        Ok(wanted)
    } else {
        Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("this server issues tokens only for {issuer}/mcp"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_trailing_slash_and_case() {
        let a = Resource::parse("HTTPS://MCP.Example.com/mcp/").unwrap();
        assert_eq!(a.as_str(), "https://mcp.example.com/mcp");
        let b = Resource::parse("https://mcp.example.com:443/").unwrap();
        assert_eq!(b.as_str(), "https://mcp.example.com");
        let c = Resource::parse("http://127.0.0.1:8787/mcp").unwrap();
        assert_eq!(c.as_str(), "http://127.0.0.1:8787/mcp");
    }

    #[test]
    fn only_our_resources_are_accepted() {
        let iss = "https://mcp.example.com";
        assert_eq!(check_requested(None, iss).unwrap().as_str(), "https://mcp.example.com/mcp");
        assert!(check_requested(Some("https://mcp.example.com/mcp/"), iss).is_ok());
        assert!(check_requested(Some("https://mcp.example.com/"), iss).is_ok());
        for bad in ["https://other.example.com/mcp", "https://mcp.example.com/mcp2", "not a url", "https://mcp.example.com/mcp#x"] {
            let e = check_requested(Some(bad), iss).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }
}
