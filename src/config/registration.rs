//! The registration settings (`REDIRECT_URI_ALLOWLIST`, `REGISTRATIONS_PER_HOUR`),
//! read once: which redirect URIs the owner accepts at RFC 7591 §3 dynamic
//! registration (RFC 7591 §5 leaves this to server policy; RFC 8252 §7.3
//! defines the loopback pattern) and the hourly cap per source. Applying them
//! is `oauth/registration_policy.rs`.

use crate::base::redirect_uri::RedirectUri;

pub const DEFAULT_REGISTRATIONS_PER_HOUR: u32 = 60;

/// One entry of `REDIRECT_URI_ALLOWLIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectPattern {
    /// The redirect URI must be exactly this string.
    Exact(String),
    /// The redirect URI must start with this string (written `...*`).
    Prefix(String),
    /// Any `http` loopback redirect URI, on any port (RFC 8252 §7.3).
    Loopback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// `None`: every redirect URI that passes `RedirectUri::parse` is allowed.
    pub allowlist: Option<Vec<RedirectPattern>>,
    /// Registrations per source per clock hour; 0 means no cap.
    pub per_hour: u32,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        RegistrationPolicy { allowlist: None, per_hour: DEFAULT_REGISTRATIONS_PER_HOUR }
    }
}

/// Parses `REDIRECT_URI_ALLOWLIST`: space-separated exact URIs, prefixes
/// ending in `*`, or the word `loopback`. Empty means no allow-list. Errors
/// name the entry by position: configuration errors are shown publicly and
/// never carry a configured value.
pub fn parse_allowlist(raw: &str) -> Result<Option<Vec<RedirectPattern>>, String> {
    let mut out = Vec::new();
    for (i, item) in raw.split_whitespace().enumerate() {
        let entry = i + 1;
        let pattern = if item.eq_ignore_ascii_case("loopback") {
            RedirectPattern::Loopback
        } else if let Some(prefix) = item.strip_suffix('*') {
            check_prefix(prefix).map_err(|why| format!("entry {entry} {why}"))?;
            RedirectPattern::Prefix(prefix.to_string())
        } else {
            if item.contains('*') {
                return Err(format!("entry {entry} may only end in `*`"));
            }
            RedirectUri::parse(item).map_err(|_| format!("entry {entry} is neither `loopback`, a prefix ending in `*`, nor a valid redirect URI"))?;
            RedirectPattern::Exact(item.to_string())
        };
        out.push(pattern);
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// A prefix must fix the scheme, the whole host and the start of the path:
/// `https://claude.ai*` would also admit `https://claude.ai.evil.example/`.
fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.contains('*') {
        return Err("may only end in `*`");
    }
    let Some((scheme, rest)) = prefix.split_once("://") else {
        return Err("must start with a scheme and `://`, e.g. https://claude.ai/api/*");
    };
    if scheme.is_empty() || !rest.contains('/') || rest.starts_with('/') {
        return Err("must include the host and a `/` after it, e.g. https://claude.ai/api/*");
    }
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("must not contain user information");
    }
    // The fixed part must itself be a usable redirect URI prefix (no
    // javascript:, no http for other hosts, no fragment).
    RedirectUri::parse(prefix).map(|_| ()).map_err(|_| "does not start a valid redirect URI")
}
