//! URIs compared as strings must be in the form the browser or fetcher will
//! use (RFC 3986 §6.2.2 normalisation; WHATWG URL serialisation). OAuth 2.1
//! §2.3.1 compares redirect URIs exactly and the metadata-document draft §3
//! compares `client_id` exactly, but a browser resolves `..` and `%2e%2e`,
//! turns `\` into `/` and lower-cases hosts before it navigates: a raw
//! string that the parser would rewrite passes a string check (an owner's
//! prefix, an exact match) and then lands somewhere else. One rule for every
//! such URI: no dot segments (also percent-encoded), no backslash, no
//! encoded path separator, and the raw string equals its serialisation.

use url::Url;

/// Why a URI is not in normal form. The messages finish "the URI …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotNormal {
    DotSegment,
    Backslash,
    EncodedSeparator,
    /// The parser would rewrite it to this.
    Rewritten(String),
}

impl NotNormal {
    pub fn reason(&self) -> String {
        match self {
            NotNormal::DotSegment => "must not contain . or .. path segments (also percent-encoded)".into(),
            NotNormal::Backslash => "must not contain a backslash".into(),
            NotNormal::EncodedSeparator => "must not contain an encoded / or \\ (%2F, %5C) in its path".into(),
            NotNormal::Rewritten(to) => format!("is not in normalised form (it would be used as {to})"),
        }
    }
}

/// Checks `raw` (already parsed as `url`) against the rule.
pub fn check(raw: &str, url: &Url) -> Result<(), NotNormal> {
    if raw.contains('\\') {
        return Err(NotNormal::Backslash);
    }
    let path = raw_path(raw);
    if path.split('/').any(is_dot_segment) {
        return Err(NotNormal::DotSegment);
    }
    if path.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"%2f") || w.eq_ignore_ascii_case(b"%5c")) {
        return Err(NotNormal::EncodedSeparator);
    }
    if url.as_str() != raw {
        return Err(NotNormal::Rewritten(url.as_str().into()));
    }
    Ok(())
}

/// `.` or `..`, each dot possibly written `%2e` or `%2E`.
fn is_dot_segment(seg: &str) -> bool {
    let dot = |s: &[u8]| s == b"." || s.eq_ignore_ascii_case(b"%2e");
    let s = seg.as_bytes();
    dot(s) || (1..s.len()).any(|i| dot(&s[..i]) && dot(&s[i..]))
}

/// The path of a raw URI as written: after the authority (`scheme://host`)
/// or the scheme, up to the query or fragment.
fn raw_path(raw: &str) -> &str {
    let rest = raw.split_once(':').map(|(_, r)| r).unwrap_or(raw);
    let rest = match rest.strip_prefix("//") {
        Some(after) => after.find('/').map(|i| &after[i..]).unwrap_or(""),
        None => rest,
    };
    rest.split(['?', '#']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(raw: &str) -> Result<(), NotNormal> {
        check(raw, &Url::parse(raw).unwrap())
    }

    #[test]
    fn normal_uris_pass() {
        for raw in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/",
            "http://[::1]:9000/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/oauth2redirect/example-provider",
            "https://app.example/cb?next=%2Fhome&x=..",
            "https://app.example/a.b/..c/.d",
        ] {
            assert_eq!(check_str(raw), Ok(()), "{raw}");
        }
    }

    #[test]
    fn what_a_browser_would_rewrite_is_refused() {
        let cases: &[(&str, NotNormal)] = &[
            ("https://claude.ai/api/mcp/../evil", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/./x", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/%2e%2e/evil", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/.%2E/evil", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/%2E", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/..", NotNormal::DotSegment),
            ("cursor://anysphere.cursor-mcp/oauth/../x", NotNormal::DotSegment),
            ("com.example.app:/a/../b", NotNormal::DotSegment),
            ("https://claude.ai/api/mcp/..\\evil", NotNormal::Backslash),
            ("http://127.0.0.1:1\\evil/callback", NotNormal::Backslash),
            ("https://claude.ai/api/mcp/..%2fevil", NotNormal::EncodedSeparator),
            ("https://claude.ai/api/mcp/x%5C..%5Cevil", NotNormal::EncodedSeparator),
        ];
        for (raw, want) in cases {
            assert_eq!(&check_str(raw).unwrap_err(), want, "{raw}");
        }
        for raw in ["HTTPS://claude.ai/cb", "https://Claude.ai/cb", "https://claude.ai:443/cb", "http://127.0.0.1", "https://claude.ai/a b", "https://claude.ai/cb?q='"] {
            assert!(matches!(check(raw, &Url::parse(raw).unwrap()), Err(NotNormal::Rewritten(_))), "{raw}");
        }
    }
}
