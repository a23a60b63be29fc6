//! Configuration read from the worker's variables and secrets, validated once
//! per request so a mistake produces one clear message naming the variable.

use std::fmt;

use super::access_token::SigningKey;
use super::scope::Scopes;
use super::types::Secret;

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
pub const DEFAULT_SCOPES: &str = "mcp";
/// A rotated refresh token still works this long: hosts refresh in parallel
/// and retry after network failures (requirements.md §D).
pub const DEFAULT_REFRESH_GRACE: i64 = 60;
/// Authorization codes live 60 s by default (requirements.md §D).
pub const DEFAULT_AUTH_CODE_TTL: i64 = 60;

#[derive(Debug)]
pub struct Config {
    /// `PUBLIC_URL`: the issuer; else the request's own origin.
    pub public_url: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// How long a rotated refresh token keeps working (parallel refreshes).
    pub refresh_grace: i64,
    /// `AUTH_CODE_TTL`: seconds an authorization code stays redeemable.
    pub auth_code_ttl: i64,
    /// `TEST_CLAIM_DELAY_MS`: a fault-injection hook for tests only. The edge
    /// waits this long before each one-time claim (an authorization code at
    /// /token, a pending request at /consent), after the checks that read it,
    /// so concurrent requests all pass the checks and only the conditional
    /// claim can stop them. 0 (unset) in every real deployment.
    pub test_claim_delay_ms: u32,
    pub scopes: Scopes,
    pub signing_key: SigningKey,
    pub owner_password: Secret,
}

/// A missing or malformed setting. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.variable, self.problem)
    }
}

impl Config {
    /// Builds the configuration from a lookup of variables and secrets.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let err = |variable: &'static str, problem: &str| ConfigError { variable, problem: problem.to_string() };

        let signing_key = match get("SIGNING_KEY") {
            None => return Err(err("SIGNING_KEY", "is not set; it must be a secret holding base64url of 32 random bytes (an Ed25519 seed), e.g. `openssl rand 32 | basenc --base64url`")),
            Some(v) => SigningKey::from_seed_b64(v.trim())
                .map_err(|why| err("SIGNING_KEY", &format!("{why}; it must be base64url of 32 random bytes")))?,
        };
        let owner_password = match get("OWNER_PASSWORD") {
            Some(p) if p.chars().count() >= 8 => Secret::new(p),
            Some(_) => return Err(err("OWNER_PASSWORD", "is too short; use at least 8 characters")),
            None => return Err(err("OWNER_PASSWORD", "is not set; set it as a secret (`wrangler secret put OWNER_PASSWORD`, or in .dev.vars locally)")),
        };
        let public_url = match get("PUBLIC_URL").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(raw) => Some(parse_public_url(&raw).map_err(|p| err("PUBLIC_URL", p))?),
        };
        let ttl = |name: &'static str, default: i64, max: i64| -> Result<i64, ConfigError> {
            match get(name).filter(|s| !s.trim().is_empty()) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (60..=max).contains(&n) => Ok(n),
                    _ => Err(err(name, &format!("must be a number of seconds between 60 and {max}"))),
                },
            }
        };
        let access_token_ttl = ttl("ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL, 24 * 3600)?;
        let refresh_token_ttl = ttl("REFRESH_TOKEN_TTL", DEFAULT_REFRESH_TOKEN_TTL, 365 * 24 * 3600)?;
        let refresh_grace = match get("REFRESH_GRACE_SECONDS").filter(|s| !s.trim().is_empty()) {
            None => DEFAULT_REFRESH_GRACE,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (0..=600).contains(&n) => n,
                _ => return Err(err("REFRESH_GRACE_SECONDS", "must be a number of seconds between 0 and 600")),
            },
        };
        let auth_code_ttl = match get("AUTH_CODE_TTL").filter(|s| !s.trim().is_empty()) {
            None => DEFAULT_AUTH_CODE_TTL,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (1..=600).contains(&n) => n,
                _ => return Err(err("AUTH_CODE_TTL", "must be a number of seconds between 1 and 600 (default 60)")),
            },
        };
        let test_claim_delay_ms = match get("TEST_CLAIM_DELAY_MS").filter(|s| !s.trim().is_empty()) {
            None => 0,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n <= 10_000 => n,
                _ => return Err(err("TEST_CLAIM_DELAY_MS", "must be a number of milliseconds between 0 and 10000 (a test-only hook; leave it unset)")),
            },
        };
        let scopes = Scopes::from_config(&get("SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.to_string()));
        if scopes.iter().next().is_none() {
            return Err(err("SCOPES", "must list at least one scope, space-separated (default \"mcp\")"));
        }
        Ok(Config {
            public_url,
            access_token_ttl,
            refresh_token_ttl,
            refresh_grace,
            auth_code_ttl,
            test_claim_delay_ms,
            scopes,
            signing_key,
            owner_password,
        })
    }

    /// The issuer identifier (RFC 8414 §2): `PUBLIC_URL`, or the origin the
    /// request arrived on. Always a bare origin, no trailing slash.
    pub fn issuer(&self, request_origin: &str) -> String {
        self.public_url.clone().unwrap_or_else(|| request_origin.trim_end_matches('/').to_string())
    }
}

fn parse_public_url(raw: &str) -> Result<String, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute URL such as https://mcp.example.com")?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err("must be an http(s) URL such as https://mcp.example.com");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("must be a bare origin (no path, query or fragment), such as https://mcp.example.com");
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

    #[test]
    fn minimal_config_has_defaults() {
        let c = Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")])).unwrap();
        assert_eq!(c.access_token_ttl, 3600);
        assert_eq!(c.auth_code_ttl, 60);
        assert_eq!(c.test_claim_delay_ms, 0, "the fault-injection hook is off unless set");
        assert_eq!(c.scopes.to_string(), "mcp");
        assert_eq!(c.issuer("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
    }

    #[test]
    fn code_lifetime_and_test_hook_are_read_within_their_ranges() {
        let c = Config::from_lookup(lookup(&[
            ("SIGNING_KEY", KEY),
            ("OWNER_PASSWORD", "correct horse"),
            ("AUTH_CODE_TTL", " 2 "),
            ("TEST_CLAIM_DELAY_MS", "1500"),
        ]))
        .unwrap();
        assert_eq!(c.auth_code_ttl, 2);
        assert_eq!(c.test_claim_delay_ms, 1500);
    }

    #[test]
    fn public_url_is_the_issuer() {
        let c = Config::from_lookup(lookup(&[
            ("SIGNING_KEY", KEY),
            ("OWNER_PASSWORD", "correct horse"),
            ("PUBLIC_URL", "https://MCP.example.com/"),
        ]))
        .unwrap();
        assert_eq!(c.issuer("http://ignored"), "https://mcp.example.com");
    }

    #[test]
    fn each_problem_names_its_variable_without_the_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("OWNER_PASSWORD", "correct horse")], "SIGNING_KEY"),
            (&[("SIGNING_KEY", "c2VjcmV0LXZhbHVl"), ("OWNER_PASSWORD", "correct horse")], "SIGNING_KEY"),
            (&[("SIGNING_KEY", KEY)], "OWNER_PASSWORD"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "short")], "OWNER_PASSWORD"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PUBLIC_URL", "https://x.com/mcp")], "PUBLIC_URL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("ACCESS_TOKEN_TTL", "1")], "ACCESS_TOKEN_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("SCOPES", " ")], "SCOPES"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("AUTH_CODE_TTL", "0")], "AUTH_CODE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("AUTH_CODE_TTL", "601")], "AUTH_CODE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("TEST_CLAIM_DELAY_MS", "-1")], "TEST_CLAIM_DELAY_MS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("TEST_CLAIM_DELAY_MS", "10001")], "TEST_CLAIM_DELAY_MS"),
        ];
        for (pairs, var) in cases {
            let e = Config::from_lookup(lookup(pairs)).unwrap_err();
            assert_eq!(e.variable, *var);
            let text = e.to_string();
            assert!(!text.contains("c2VjcmV0LXZhbHVl") && !text.contains("short\""), "{text}");
        }
    }
}
