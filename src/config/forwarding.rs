//! The forwarding settings (how to reach the origin and what it receives),
//! validated with the rest of the configuration so a mistake names its
//! variable and never surfaces as a failed request.

use crate::base::http::{is_token, HOP_BY_HOP};
use crate::base::types::Secret;
use super::tool_policy::ToolPolicy;
use super::vars::{err, ConfigError, Vars};

/// Request headers the origin needs (MCP Streamable HTTP); nothing else is
/// forwarded but `Mcp-Param-*`.
pub const FORWARD_REQUEST: &[&str] = &[
    "content-type", "accept", "accept-language", "user-agent", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name",
    "last-event-id",
];

pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_SHARED_SECRET_HEADER: &str = "x-gatehouse-secret";
/// The URL requests to a service binding carry (the binding ignores the host).
pub const SERVICE_BINDING_URL: &str = "https://origin/mcp";

#[derive(Debug)]
pub struct Forwarding {
    /// `ORIGIN_URL` as the MCP endpoint (a bare origin means `<origin>/mcp`).
    pub origin_url: Option<String>,
    /// `aud` of the identity assertion.
    pub audience: String,
    /// Cloudflare Access service token: client id and secret.
    pub access: Option<(String, Secret)>,
    /// Shared-secret header: lower-case name and value.
    pub shared_secret: Option<(String, Secret)>,
    pub max_body_bytes: usize,
    /// For the origin's response headers; an open stream's body has no limit.
    pub timeout_secs: u64,
    pub tool_policy: Option<ToolPolicy>,
}

impl Forwarding {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Forwarding, ConfigError> {
        let vars = Vars(get);

        let origin_url = match vars.set("ORIGIN_URL") {
            None => None,
            Some(raw) => Some(origin_endpoint(&raw).map_err(|p| err("ORIGIN_URL", p))?),
        };
        let audience = match vars.set("ORIGIN_AUDIENCE") {
            Some(a) if a.len() <= 2048 && a.bytes().all(|b| (0x21..=0x7e).contains(&b)) => a,
            Some(_) => return Err(err("ORIGIN_AUDIENCE", "must be a URI without spaces, e.g. https://mcp-origin.example.com")),
            None => url_origin(origin_url.as_deref().unwrap_or(SERVICE_BINDING_URL)),
        };
        let access = match (vars.set("ORIGIN_ACCESS_CLIENT_ID"), get("ORIGIN_ACCESS_CLIENT_SECRET").filter(|v| !v.trim().is_empty())) {
            (None, None) => None,
            (Some(id), Some(secret)) if is_header_value(&id) && is_header_value(&secret) => Some((id, Secret::new(secret.trim()))),
            (Some(_), None) => return Err(err("ORIGIN_ACCESS_CLIENT_SECRET", "is not set; the Cloudflare Access service token needs both ORIGIN_ACCESS_CLIENT_ID and ORIGIN_ACCESS_CLIENT_SECRET")),
            (None, Some(_)) => return Err(err("ORIGIN_ACCESS_CLIENT_ID", "is not set; the Cloudflare Access service token needs both ORIGIN_ACCESS_CLIENT_ID and ORIGIN_ACCESS_CLIENT_SECRET")),
            (Some(id), Some(_)) if !is_header_value(&id) => return Err(err("ORIGIN_ACCESS_CLIENT_ID", "must be printable ASCII (the service token's Client ID)")),
            _ => return Err(err("ORIGIN_ACCESS_CLIENT_SECRET", "must be printable ASCII (the service token's Client Secret)")),
        };
        let header = vars.set("ORIGIN_SHARED_SECRET_HEADER").map(|h| h.to_ascii_lowercase());
        if let Some(h) = &header {
            let reserved = h.starts_with("x-gatehouse-") && h != DEFAULT_SHARED_SECRET_HEADER
                || h.starts_with("cf-access-")
                || h.starts_with("mcp-")
                || FORWARD_REQUEST.contains(&h.as_str())
                || HOP_BY_HOP.contains(&h.as_str())
                || matches!(h.as_str(), "host" | "content-length" | "x-forwarded-for" | "cookie");
            if !is_token(h) || reserved {
                return Err(err("ORIGIN_SHARED_SECRET_HEADER", "must be a header name such as X-Gatehouse-Secret, not one the gateway already sets or forwards"));
            }
        }
        let shared_secret = match get("ORIGIN_SHARED_SECRET").filter(|v| !v.trim().is_empty()) {
            None if header.is_some() => return Err(err("ORIGIN_SHARED_SECRET", "is not set but ORIGIN_SHARED_SECRET_HEADER is; set the secret or remove the header name")),
            None => None,
            Some(s) if s.trim().len() >= 16 && is_header_value(&s) => {
                Some((header.unwrap_or_else(|| DEFAULT_SHARED_SECRET_HEADER.to_string()), Secret::new(s.trim())))
            }
            Some(_) => return Err(err("ORIGIN_SHARED_SECRET", "must be at least 16 printable ASCII characters, e.g. `openssl rand -hex 32`")),
        };
        let max_body_bytes = match vars.set("ORIGIN_MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1024..=100 * 1024 * 1024).contains(&n) => n,
                _ => return Err(err("ORIGIN_MAX_BODY_BYTES", "must be a number of bytes between 1024 and 104857600 (default 4194304)")),
            },
        };
        let timeout_secs = match vars.set("ORIGIN_TIMEOUT_SECONDS") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=300).contains(&n) => n,
                _ => return Err(err("ORIGIN_TIMEOUT_SECONDS", "must be a number of seconds between 1 and 300 (default 30)")),
            },
        };
        let tool_policy = match vars.set("TOOL_POLICY") {
            None => None,
            Some(raw) => Some(ToolPolicy::parse(&raw).map_err(|why| {
                err("TOOL_POLICY", &format!("{why}; expected JSON like {{\"default\":{{\"deny\":[\"delete_*\"]}},\"clients\":{{\"<client_id>\":{{\"allow\":[\"echo\"]}}}}}}"))
            })?),
        };
        Ok(Forwarding { origin_url, audience, access, shared_secret, max_body_bytes, timeout_secs, tool_policy })
    }
}

fn is_header_value(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && v.len() <= 4096 && v.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// `ORIGIN_URL` is the origin's MCP endpoint, without query or fragment; a
/// bare origin (a tunnel hostname) means its conventional `/mcp` path. The
/// one check of `ORIGIN_URL`: `Config::from_lookup` runs it early too.
pub fn origin_endpoint(raw: &str) -> Result<String, &'static str> {
    const LOOKS_LIKE: &str = "must be the origin's MCP endpoint as an absolute http(s) URL without query or fragment, such as https://mcp-origin.example.com/mcp (a bare origin means <origin>/mcp)";
    let mut url = url::Url::parse(raw.trim()).map_err(|_| LOOKS_LIKE)?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(LOOKS_LIKE);
    }
    if url.path() == "/" {
        url.set_path("/mcp");
    }
    Ok(url.to_string())
}

fn url_origin(u: &str) -> String {
    url::Url::parse(u).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Forwarding, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Forwarding::from_lookup(&move |k: &str| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("ORIGIN_URL", "https://tunnel.example.com")]).unwrap();
        assert_eq!(c.origin_url.as_deref(), Some("https://tunnel.example.com/mcp"));
        assert_eq!(c.audience, "https://tunnel.example.com");
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.timeout_secs, 30);
        assert!(c.access.is_none() && c.shared_secret.is_none() && c.tool_policy.is_none());
        let c = cfg(&[]).unwrap();
        assert_eq!(c.origin_url, None);
        assert_eq!(c.audience, "https://origin", "service binding without ORIGIN_AUDIENCE");
        let c = cfg(&[("ORIGIN_URL", "http://127.0.0.1:8788/mcp"), ("ORIGIN_AUDIENCE", "urn:my-origin")]).unwrap();
        assert_eq!(c.audience, "urn:my-origin");
    }

    #[test]
    fn origin_credentials() {
        let c = cfg(&[("ORIGIN_ACCESS_CLIENT_ID", "abc.access"), ("ORIGIN_ACCESS_CLIENT_SECRET", "s3cr3t"), ("ORIGIN_SHARED_SECRET", "0123456789abcdef0")]).unwrap();
        assert_eq!(c.access.as_ref().unwrap().0, "abc.access");
        assert_eq!(c.shared_secret.as_ref().unwrap().0, "x-gatehouse-secret");
        let c = cfg(&[("ORIGIN_SHARED_SECRET", "0123456789abcdef0"), ("ORIGIN_SHARED_SECRET_HEADER", "X-Origin-Key")]).unwrap();
        assert_eq!(c.shared_secret.as_ref().unwrap().0, "x-origin-key");
        assert!(!format!("{c:?}").contains("0123456789abcdef0"), "secrets are redacted in Debug");
    }

    #[test]
    fn each_problem_names_its_variable_without_the_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ORIGIN_URL", "not a url")], "ORIGIN_URL"),
            (&[("ORIGIN_URL", "ftp://x.example.com")], "ORIGIN_URL"),
            (&[("ORIGIN_AUDIENCE", "has space")], "ORIGIN_AUDIENCE"),
            (&[("ORIGIN_ACCESS_CLIENT_ID", "id")], "ORIGIN_ACCESS_CLIENT_SECRET"),
            (&[("ORIGIN_ACCESS_CLIENT_SECRET", "topsecretvalue")], "ORIGIN_ACCESS_CLIENT_ID"),
            (&[("ORIGIN_SHARED_SECRET", "short")], "ORIGIN_SHARED_SECRET"),
            (&[("ORIGIN_SHARED_SECRET_HEADER", "X-Key")], "ORIGIN_SHARED_SECRET"),
            (&[("ORIGIN_SHARED_SECRET", "0123456789abcdef0"), ("ORIGIN_SHARED_SECRET_HEADER", "X-Gatehouse-User")], "ORIGIN_SHARED_SECRET_HEADER"),
            (&[("ORIGIN_SHARED_SECRET", "0123456789abcdef0"), ("ORIGIN_SHARED_SECRET_HEADER", "bad name")], "ORIGIN_SHARED_SECRET_HEADER"),
            (&[("ORIGIN_SHARED_SECRET", "0123456789abcdef0"), ("ORIGIN_SHARED_SECRET_HEADER", "Mcp-Param-Key")], "ORIGIN_SHARED_SECRET_HEADER"),
            (&[("ORIGIN_SHARED_SECRET", "0123456789abcdef0"), ("ORIGIN_SHARED_SECRET_HEADER", "Mcp-Session-Id")], "ORIGIN_SHARED_SECRET_HEADER"),
            (&[("ORIGIN_MAX_BODY_BYTES", "10")], "ORIGIN_MAX_BODY_BYTES"),
            (&[("ORIGIN_TIMEOUT_SECONDS", "0")], "ORIGIN_TIMEOUT_SECONDS"),
            (&[("ORIGIN_TIMEOUT_SECONDS", "abc")], "ORIGIN_TIMEOUT_SECONDS"),
            (&[("TOOL_POLICY", "{\"default\":\"deny\"}")], "TOOL_POLICY"),
        ];
        for (pairs, var) in cases {
            let e = cfg(pairs).unwrap_err();
            assert_eq!(e.variable, *var, "{pairs:?}");
            assert!(!e.to_string().contains("topsecretvalue"));
        }
    }
}
