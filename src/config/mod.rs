//! Every setting, parsed once from the worker's variables and secrets: one
//! file per area, composed here into `Config`, validated once per request so
//! a mistake produces one clear message naming the variable. Imports only
//! `base` (the layering test in tests/layering.rs checks it).

pub mod vars;
pub mod cloudflare_access;
pub mod forwarding;
pub mod github;
pub mod oidc;
pub mod registration;
pub mod signing_keys;
pub mod token_lifetimes;
pub mod tool_policy;

use crate::base::signing_key::SigningKey;
use crate::base::scope::Scopes;
use crate::base::types::{Secret, Subject};
use registration::RegistrationPolicy;
pub use vars::{list, ConfigError};
use signing_keys::signing_keys;
use vars::{err, number, switch};

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
pub const DEFAULT_SCOPES: &str = "mcp";
/// A rotated refresh token still works this long: hosts refresh in parallel
/// and retry after network failures (requirements.md §D).
pub const DEFAULT_REFRESH_GRACE: i64 = 60;
pub const DEFAULT_STALE_CLIENT_DAYS: u32 = 30;
/// No refresh token outlives its grant by more than this (re-consent after).
pub const DEFAULT_REFRESH_ABSOLUTE_TTL: i64 = 90 * 24 * 3600;
/// How stale an isolate's view of revoked grants may get (see `revocation`).
pub const DEFAULT_REVOCATION_CHECK_SECONDS: i64 = 10;
/// The scope the MCP endpoint requires by default, when it is offered at all.
pub const DEFAULT_REQUIRED_SCOPE: &str = "mcp";
/// Authorization codes live 60 s by default (requirements.md §D).
pub const DEFAULT_AUTH_CODE_TTL: i64 = 60;
/// "Remember this client" lasts this many days unless `CONSENT_REMEMBER_DAYS` says otherwise.
pub const DEFAULT_CONSENT_REMEMBER_DAYS: u32 = 30;
/// Spends of each kind per source per clock hour, unless
/// `SOURCE_BUDGET_PER_HOUR` says otherwise (0: no budget). Far above what a
/// person connecting clients does; a shared address (an office behind one
/// NAT) may need more.
pub const DEFAULT_SOURCE_BUDGET_PER_HOUR: u32 = 200;

#[derive(Debug)]
pub struct Config {
    /// `PUBLIC_URL`: the issuer; else the request's own origin.
    pub public_url: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// How long a rotated refresh token keeps working (parallel refreshes).
    pub refresh_grace: i64,
    /// `REFRESH_ABSOLUTE_TTL`: seconds from a grant's creation after which no refresh works.
    pub refresh_absolute_ttl: i64,
    /// `REVOCATION_CHECK_SECONDS`: how often an isolate re-reads the revoked grants (0: every request).
    pub revocation_check_seconds: i64,
    /// `AUTH_CODE_TTL`: seconds an authorization code stays redeemable.
    pub auth_code_ttl: i64,
    /// `TEST_CLAIM_DELAY_MS`: a fault-injection hook for tests only. The edge
    /// waits this long before each one-time claim (an authorization code or a
    /// refresh token at /token, a pending request at /consent), after the checks that read it,
    /// so concurrent requests all pass the checks and only the conditional
    /// claim can stop them. 0 (unset) in every real deployment.
    pub test_claim_delay_ms: u32,
    pub scopes: Scopes,
    /// `REQUIRED_SCOPES`: what a token needs at the MCP endpoint (else 403 insufficient_scope).
    pub required_scopes: Scopes,
    /// The newest key: signs every new token and cookie.
    pub signing_key: SigningKey,
    /// Older keys still trusted during a rotation (`SIGNING_KEYS`), newest first.
    pub previous_keys: Vec<SigningKey>,
    /// `OWNER_PASSWORD`; None when `PASSWORD_LOGIN=off`.
    pub owner_password: Option<Secret>,
    /// `PASSWORD_LOGIN` (on by default): whether the owner password signs in.
    pub password_login: bool,
    /// `CONSENT_REMEMBER_DAYS`: how long "remember this client" lasts; 0 hides the checkbox.
    pub consent_remember_days: u32,
    /// `ADMIN_SUBJECTS`: who besides the owner (password or passkey) may use
    /// `/admin`, e.g. `access:me@example.com`.
    pub admin_subjects: Vec<String>,
    /// `CF_ACCESS_*`: Cloudflare Access in front of `/authorize`.
    pub access: Option<self::cloudflare_access::CloudflareAccess>,
    /// `PASSKEY_SETUP_CODE`: the one-time code that enrols the first passkey;
    /// unset, passkeys are off (`login::passkey`).
    pub passkey_setup_code: Option<Secret>,
    /// `REDIRECT_URI_ALLOWLIST` and `REGISTRATIONS_PER_HOUR`.
    pub registration: RegistrationPolicy,
    /// `STALE_CLIENT_DAYS`: clients unused this long are removed; 0 = never.
    pub stale_client_days: u32,
    /// `CIMD_PINNED_DOCUMENTS` (on by default): whether the pinned copies of
    /// vendors' metadata documents may stand in (`cimd::pinned`).
    pub pinned_documents: bool,
    /// `LOG_MCP_SUCCESSES` (off by default): whether an MCP request the origin
    /// answered below 400 writes a request log line (`request_log::written`).
    pub log_mcp_successes: bool,
    /// `CLIENT_ACCESS_TOKEN_TTL`: access-token lifetimes of particular clients (`token_lifetime`).
    pub client_token_lifetimes: Vec<self::token_lifetimes::ClientLifetime>,
    /// `SOURCE_BUDGET_PER_HOUR`: rows of each kind one source may make Gatehouse
    /// store per hour without signing in (`source_budget`); 0 = no budget.
    pub source_budget_per_hour: u32,
    /// How MCP traffic reaches the origin (`config::forwarding`).
    pub forward: self::forwarding::Forwarding,
    /// `OIDC_*`: sign-in with an upstream OpenID Connect provider, when `OIDC_ISSUER` is set.
    pub oidc: Option<self::oidc::OidcConfig>,
    /// `GITHUB_*`: sign-in with GitHub, when `GITHUB_CLIENT_ID` is set.
    pub github: Option<self::github::GithubConfig>,
}

impl Config {
    /// [`Config::from_lookup_with`], the keys' public halves computed natively.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::from_lookup_with(get, &crate::base::ed25519::Native::public_key)
    }

    /// Builds the configuration from a lookup of variables and secrets;
    /// `public_of`: see `signing_keys`.
    pub fn from_lookup_with(
        get: impl Fn(&str) -> Option<String>,
        public_of: &dyn Fn(&crate::base::ed25519::Seed) -> Option<crate::base::ed25519::PublicKey>,
    ) -> Result<Config, ConfigError> {
        let (signing_key, previous_keys) = signing_keys(&get, public_of)?;
        let password_login = switch(&get, "PASSWORD_LOGIN", true)?;
        let owner_password = match get("OWNER_PASSWORD") {
            _ if !password_login => None,
            Some(p) if p.chars().count() >= 8 => Some(Secret::new(p)),
            Some(_) => return Err(err("OWNER_PASSWORD", "is too short; use at least 8 characters")),
            None => return Err(err("OWNER_PASSWORD", "is not set; set it as a secret (`wrangler secret put OWNER_PASSWORD`, or in .dev.vars locally), or switch password sign-in off with PASSWORD_LOGIN=off and configure another login method")),
        };
        let admin_subjects = list(get("ADMIN_SUBJECTS"));
        if admin_subjects.iter().any(|s| !s.contains(':') || s.ends_with(':')) {
            return Err(err("ADMIN_SUBJECTS", "must list subjects as they appear on the admin page, such as `access:me@example.com`, `oidc:<sub>` or `github:<account id>`, separated by spaces or commas"));
        }
        // GitHub subjects are numeric account ids: a login here would never match, or worse, be taken for one.
        if admin_subjects.iter().any(|s| s.strip_prefix("github:").is_some_and(|id| !id.bytes().all(|b| b.is_ascii_digit()))) {
            return Err(err("ADMIN_SUBJECTS", "names a GitHub login; use github:<account id> (a number, see https://api.github.com/users/<login>): logins can be re-registered by others"));
        }
        let consent_remember_days = number(
            &get,
            "CONSENT_REMEMBER_DAYS",
            DEFAULT_CONSENT_REMEMBER_DAYS,
            0..=365,
            "must be a whole number of days from 0 (never remember consent) to 365; default 30",
        )?;
        let access = self::cloudflare_access::CloudflareAccess::from_lookup(&get)?;
        let passkey_setup_code = match get("PASSKEY_SETUP_CODE").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(c) if c.trim().chars().count() >= 16 => Some(Secret::new(c.trim())),
            Some(_) => return Err(err("PASSKEY_SETUP_CODE", "is too short; use at least 16 random characters (npm run deploy generates one)")),
        };
        let public_url = match get("PUBLIC_URL").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(raw) => Some(parse_public_url(&raw).map_err(|p| err("PUBLIC_URL", p))?),
        };
        // The proxy reads ORIGIN_URL itself; checking it here puts a typo on
        // the `/` page at once instead of on the first MCP request.
        if let Some(raw) = get("ORIGIN_URL").filter(|s| !s.trim().is_empty()) {
            forwarding::origin_endpoint(&raw).map_err(|p| err("ORIGIN_URL", p))?;
        }
        let secs = |max: i64| format!("must be a number of seconds between 60 and {max}");
        let access_token_ttl = number(&get, "ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL, 60..=24 * 3600, &secs(24 * 3600))?;
        let refresh_token_ttl = number(&get, "REFRESH_TOKEN_TTL", DEFAULT_REFRESH_TOKEN_TTL, 60..=365 * 24 * 3600, &secs(365 * 24 * 3600))?;
        let refresh_grace = number(&get, "REFRESH_GRACE_SECONDS", DEFAULT_REFRESH_GRACE, 0..=600, "must be a number of seconds between 0 and 600")?;
        let refresh_absolute_ttl = number(
            &get,
            "REFRESH_ABSOLUTE_TTL",
            DEFAULT_REFRESH_ABSOLUTE_TTL,
            60..=5 * 365 * 24 * 3600,
            "must be a number of seconds between 60 and 157680000 (5 years); default 7776000 (90 days)",
        )?;
        let revocation_check_seconds = number(
            &get,
            "REVOCATION_CHECK_SECONDS",
            DEFAULT_REVOCATION_CHECK_SECONDS,
            0..=300,
            "must be a number of seconds between 0 and 300 (0: check on every request); default 10",
        )?;
        let auth_code_ttl = number(&get, "AUTH_CODE_TTL", DEFAULT_AUTH_CODE_TTL, 1..=600, "must be a number of seconds between 1 and 600 (default 60)")?;
        let test_claim_delay_ms = number(
            &get,
            "TEST_CLAIM_DELAY_MS",
            0u32,
            0..=10_000,
            "must be a number of milliseconds between 0 and 10000 (a test-only hook; leave it unset)",
        )?;
        let scopes = Scopes::from_config(&get("SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.to_string()));
        if scopes.iter().next().is_none() {
            return Err(err("SCOPES", "must list at least one scope, space-separated (default \"mcp\")"));
        }
        let count = |name: &'static str, default: u32, max: u32, what: &str| {
            number(&get, name, default, 0..=max, &format!("must be a whole number from 0 ({what}) to {max}"))
        };
        let registration = RegistrationPolicy {
            allowlist: registration::parse_allowlist(&get("REDIRECT_URI_ALLOWLIST").unwrap_or_default()).map_err(|p| {
                err("REDIRECT_URI_ALLOWLIST", &format!("{p}; use space-separated exact redirect URIs, prefixes ending in `*` (e.g. https://claude.ai/api/mcp/*), or `loopback`"))
            })?,
            per_hour: count("REGISTRATIONS_PER_HOUR", registration::DEFAULT_REGISTRATIONS_PER_HOUR, 1_000_000, "no cap")?,
        };
        let stale_client_days = count("STALE_CLIENT_DAYS", DEFAULT_STALE_CLIENT_DAYS, 3650, "never remove")?;
        let pinned_documents = switch(&get, "CIMD_PINNED_DOCUMENTS", true)?;
        let log_mcp_successes = switch(&get, "LOG_MCP_SUCCESSES", false)?;
        let client_token_lifetimes = self::token_lifetimes::parse(&get("CLIENT_ACCESS_TOKEN_TTL").unwrap_or_default()).map_err(|p| {
            err("CLIENT_ACCESS_TOKEN_TTL", &format!("{p}; use space-separated <client>=<seconds> entries, where <client> is a client id, a metadata document URL or redirect:<host>"))
        })?;
        let source_budget_per_hour = count("SOURCE_BUDGET_PER_HOUR", DEFAULT_SOURCE_BUDGET_PER_HOUR, 1_000_000, "no budget")?;
        let required_scopes = required_scopes(get("REQUIRED_SCOPES"), &scopes).map_err(|p| err("REQUIRED_SCOPES", &p))?;
        let forward = self::forwarding::Forwarding::from_lookup(&get)?;
        let oidc = self::oidc::OidcConfig::from_lookup(&get)?;
        let github = self::github::GithubConfig::from_lookup(&get)?;
        let config = Config {
            public_url,
            access_token_ttl,
            refresh_token_ttl,
            refresh_grace,
            refresh_absolute_ttl,
            auth_code_ttl,
            test_claim_delay_ms,
            revocation_check_seconds,
            scopes,
            required_scopes,
            signing_key,
            previous_keys,
            owner_password,
            password_login,
            consent_remember_days,
            admin_subjects,
            access,
            passkey_setup_code,
            registration,
            stale_client_days,
            pinned_documents,
            log_mcp_successes,
            client_token_lifetimes,
            source_budget_per_hour,
            forward,
            oidc,
            github,
        };
        if !config.password_login && config.other_login_methods().is_empty() {
            return Err(err(
                "PASSWORD_LOGIN",
                "is off, but no other login method is configured; keep it on, or configure one (Cloudflare Access: CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD)",
            ));
        }
        Ok(config)
    }

    /// Whether `subject` may use `/admin`: the owner, or one listed in
    /// `ADMIN_SUBJECTS`. People signed in upstream may connect MCP clients,
    /// but administering the server is a separate, explicit grant.
    pub fn is_admin(&self, subject: &Subject) -> bool {
        subject.as_str() == crate::base::types::Subject::OWNER || self.admin_subjects.iter().any(|a| a == subject.as_str())
    }

    /// The login methods configured besides the owner password. Each method
    /// adds its line here; password sign-in can be switched off only when
    /// this is not empty.
    pub fn other_login_methods(&self) -> Vec<crate::base::login_method::LoginMethod> {
        use crate::base::login_method::LoginMethod;
        let mut methods = Vec::new();
        if self.access.is_some() {
            methods.push(LoginMethod::Access);
        }
        if self.oidc.is_some() {
            methods.push(LoginMethod::Oidc);
        }
        if self.github.is_some() {
            methods.push(LoginMethod::Github);
        }
        if self.passkey_setup_code.is_some() {
            methods.push(LoginMethod::Passkey);
        }
        methods
    }

    /// Whether the owner password signs in here: `PASSWORD_LOGIN` is on and
    /// `OWNER_PASSWORD` is set.
    pub fn password_enabled(&self) -> bool {
        self.password_login && self.owner_password.is_some()
    }

    /// Every key a token or cookie may carry: the newest first.
    pub fn verification_keys(&self) -> impl Iterator<Item = &SigningKey> + Clone {
        std::iter::once(&self.signing_key).chain(&self.previous_keys)
    }

    /// The issuer identifier (RFC 8414 §2): `PUBLIC_URL`, or the origin the
    /// request arrived on. Always a bare origin, no trailing slash.
    pub fn issuer(&self, request_origin: &str) -> String {
        self.public_url.clone().unwrap_or_else(|| request_origin.trim_end_matches('/').to_string())
    }
}

/// Unset: the `mcp` scope if offered, else none. Set (even empty, meaning
/// none): each listed scope must be one of `SCOPES`.
fn required_scopes(raw: Option<String>, offered: &Scopes) -> Result<Scopes, String> {
    let Some(raw) = raw else {
        let default = Scopes::from_config(DEFAULT_REQUIRED_SCOPE);
        return Ok(if offered.includes(&default) { default } else { Scopes::from_config("") });
    };
    let required = Scopes::from_config(&raw);
    if let Some(s) = required.iter().find(|s| !offered.includes(&Scopes::from_config(s))) {
        return Err(format!(
            "names {:?}, which is not in SCOPES ({offered}); list only offered scopes, space-separated",
            s.chars().take(40).collect::<String>()
        ));
    }
    Ok(required)
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
    fn passkey_setup_code_is_optional_and_long() {
        let base = [("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")];
        assert!(Config::from_lookup(lookup(&base)).unwrap().passkey_setup_code.is_none());
        let with = |code: &'static str| Config::from_lookup(lookup(&[base[0], base[1], ("PASSKEY_SETUP_CODE", code)]));
        assert!(with("").unwrap().passkey_setup_code.is_none());
        assert!(with("0123456789abcdef").unwrap().passkey_setup_code.unwrap().ct_eq("0123456789abcdef"));
        let e = with("short").unwrap_err();
        assert_eq!(e.variable, "PASSKEY_SETUP_CODE");
        assert!(!e.to_string().contains("short\""), "the value is never echoed");
    }

    #[test]
    fn mcp_successes_are_unlogged_unless_switched_on() {
        let base = [("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")];
        let with = |v: &'static str| Config::from_lookup(lookup(&[base[0], base[1], ("LOG_MCP_SUCCESSES", v)]));
        assert!(!Config::from_lookup(lookup(&base)).unwrap().log_mcp_successes);
        assert!(!with(" ").unwrap().log_mcp_successes);
        assert!(!with("off").unwrap().log_mcp_successes);
        assert!(with(" On ").unwrap().log_mcp_successes);
        let e = with("yes").unwrap_err();
        assert_eq!((e.variable, e.problem.as_str()), ("LOG_MCP_SUCCESSES", "must be `on` or `off` (the default)"));
        let e = Config::from_lookup(lookup(&[base[0], base[1], ("CIMD_PINNED_DOCUMENTS", "1")])).unwrap_err();
        assert_eq!((e.variable, e.problem.as_str()), ("CIMD_PINNED_DOCUMENTS", "must be `on` (the default) or `off`"));
    }

    #[test]
    fn minimal_config_has_defaults() {
        let c = Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")])).unwrap();
        assert_eq!(c.access_token_ttl, 3600);
        assert_eq!(c.auth_code_ttl, 60);
        assert_eq!(c.test_claim_delay_ms, 0, "the fault-injection hook is off unless set");
        assert_eq!(c.scopes.to_string(), "mcp");
        assert_eq!(c.issuer("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
        assert_eq!(c.registration.allowlist, None);
        assert_eq!(c.registration.per_hour, 60);
        assert_eq!(c.stale_client_days, 30);
        assert_eq!(c.source_budget_per_hour, 200);
        assert_eq!(c.refresh_absolute_ttl, 90 * 24 * 3600);
        assert_eq!(c.revocation_check_seconds, 10);
        assert_eq!(c.required_scopes.to_string(), "mcp");
        assert!(c.pinned_documents, "pinned copies are on unless switched off");
        assert!(c.client_token_lifetimes.is_empty());
        let with_origin = |o: &str| Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("ORIGIN_URL", o)]));
        assert!(with_origin("https://mcp-origin.example.com").is_ok());
        assert!(with_origin("http://127.0.0.1:8788/mcp").is_ok());
    }

    /// Issue 15 item 9: a GitHub subject is an account id; a login could be re-registered.
    #[test]
    fn admin_subjects_name_github_accounts_by_id() {
        let with = |subjects: &str| Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("ADMIN_SUBJECTS", subjects)]));
        assert_eq!(with("github:583231 access:me@example.com").unwrap().admin_subjects, ["github:583231", "access:me@example.com"]);
        let e = with("github:octocat").unwrap_err();
        assert_eq!(e.variable, "ADMIN_SUBJECTS");
        assert!(e.problem.contains("github:<account id>"), "{}", e.problem);
    }

    #[test]
    fn required_scopes_default_to_mcp_only_when_offered() {
        let base = [("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            Config::from_lookup(lookup(&v))
        };
        assert_eq!(with(&[("SCOPES", "read write")]).unwrap().required_scopes.to_string(), "");
        assert_eq!(with(&[("SCOPES", "mcp extra")]).unwrap().required_scopes.to_string(), "mcp");
        assert_eq!(with(&[("SCOPES", "mcp extra"), ("REQUIRED_SCOPES", "extra mcp")]).unwrap().required_scopes.to_string(), "extra mcp");
        assert!(with(&[("SCOPES", "mcp extra"), ("REQUIRED_SCOPES", "")]).unwrap().required_scopes.is_empty(), "explicitly none");
        let e = with(&[("SCOPES", "mcp"), ("REQUIRED_SCOPES", "admin")]).unwrap_err();
        assert_eq!(e.variable, "REQUIRED_SCOPES");
        assert!(e.problem.contains("admin"), "{e}");
        assert_eq!(with(&[("REVOCATION_CHECK_SECONDS", "0")]).unwrap().revocation_check_seconds, 0);
    }

    #[test]
    fn registration_policy_settings_are_read() {
        let c = Config::from_lookup(lookup(&[
            ("SIGNING_KEY", KEY),
            ("OWNER_PASSWORD", "correct horse"),
            ("REDIRECT_URI_ALLOWLIST", "loopback https://claude.ai/api/mcp/*"),
            ("REGISTRATIONS_PER_HOUR", "0"),
            ("STALE_CLIENT_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!(c.registration.allowlist.as_ref().map(Vec::len), Some(2));
        assert_eq!(c.registration.per_hour, 0);
        assert_eq!(c.stale_client_days, 7);
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
    fn pinned_documents_and_client_lifetimes_are_read() {
        let with = |k: &'static str, v: &'static str| Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), (k, v)])).unwrap();
        assert!(!with("CIMD_PINNED_DOCUMENTS", " OFF ").pinned_documents);
        assert!(with("CIMD_PINNED_DOCUMENTS", "on").pinned_documents);
        let c = with("CLIENT_ACCESS_TOKEN_TTL", "https://claude.ai/oauth/mcp-oauth-client-metadata=86400 redirect:claude.ai=604800");
        assert_eq!(c.client_token_lifetimes.len(), 2);
        assert_eq!(crate::protocol::token_lifetime::longest(&c), 604800);
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
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REDIRECT_URI_ALLOWLIST", "https://claude.ai*")], "REDIRECT_URI_ALLOWLIST"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REGISTRATIONS_PER_HOUR", "-1")], "REGISTRATIONS_PER_HOUR"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("STALE_CLIENT_DAYS", "thirty")], "STALE_CLIENT_DAYS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("SOURCE_BUDGET_PER_HOUR", "-5")], "SOURCE_BUDGET_PER_HOUR"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REFRESH_ABSOLUTE_TTL", "59")], "REFRESH_ABSOLUTE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REFRESH_ABSOLUTE_TTL", "ninety days")], "REFRESH_ABSOLUTE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REVOCATION_CHECK_SECONDS", "301")], "REVOCATION_CHECK_SECONDS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REVOCATION_CHECK_SECONDS", "-1")], "REVOCATION_CHECK_SECONDS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REFRESH_TOKEN_TTL", "x")], "REFRESH_TOKEN_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("REFRESH_GRACE_SECONDS", "9999")], "REFRESH_GRACE_SECONDS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PUBLIC_URL", "ftp://x.com")], "PUBLIC_URL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("ORIGIN_URL", "mcp-origin.example.com")], "ORIGIN_URL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("ORIGIN_URL", "https://o.example.com/mcp?x=1")], "ORIGIN_URL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("SIGNING_KEYS", "SIGNING_KEY_2 SIGNING_KEY")], "SIGNING_KEYS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("SIGNING_KEYS", "OWNER_PASSWORD")], "SIGNING_KEYS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("SIGNING_KEYS", "SIGNING_KEY SIGNING_KEY")], "SIGNING_KEYS"),
            (&[("SIGNING_KEY", KEY), ("SIGNING_KEY_2", "c2VjcmV0LXZhbHVl"), ("OWNER_PASSWORD", "correct horse"), ("SIGNING_KEYS", "SIGNING_KEY_2 SIGNING_KEY")], "SIGNING_KEYS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("AUTH_CODE_TTL", "0")], "AUTH_CODE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("AUTH_CODE_TTL", "601")], "AUTH_CODE_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("TEST_CLAIM_DELAY_MS", "-1")], "TEST_CLAIM_DELAY_MS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("TEST_CLAIM_DELAY_MS", "10001")], "TEST_CLAIM_DELAY_MS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("CIMD_PINNED_DOCUMENTS", "no")], "CIMD_PINNED_DOCUMENTS"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("CLIENT_ACCESS_TOKEN_TTL", "gh_a=604801")], "CLIENT_ACCESS_TOKEN_TTL"),
            (&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("CLIENT_ACCESS_TOKEN_TTL", "gh_a")], "CLIENT_ACCESS_TOKEN_TTL"),
        ];
        for (pairs, var) in cases {
            let e = Config::from_lookup(lookup(pairs)).unwrap_err();
            assert_eq!(e.variable, *var);
            let text = e.to_string();
            assert!(!text.contains("c2VjcmV0LXZhbHVl") && !text.contains("short\""), "{text}");
            assert!(!text.contains(KEY), "{text}");
        }
    }

    #[test]
    fn signing_keys_lists_secret_names_newest_first() {
        const NEW: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg";
        let c = Config::from_lookup(lookup(&[
            ("SIGNING_KEY", KEY),
            ("SIGNING_KEY_20260101_000000", NEW),
            ("SIGNING_KEYS", " SIGNING_KEY_20260101_000000  SIGNING_KEY "),
            ("OWNER_PASSWORD", "correct horse"),
        ]))
        .unwrap();
        let only_new = SigningKey::from_seed_b64(NEW).unwrap();
        let only_old = SigningKey::from_seed_b64(KEY).unwrap();
        assert_eq!(c.signing_key.kid(), only_new.kid());
        let kids: Vec<&str> = c.verification_keys().map(SigningKey::kid).collect();
        assert_eq!(kids, [only_new.kid(), only_old.kid()]);
        // Retired: SIGNING_KEYS names only the new key, the old secret may linger.
        let c = Config::from_lookup(lookup(&[
            ("SIGNING_KEY", KEY),
            ("SIGNING_KEY_20260101_000000", NEW),
            ("SIGNING_KEYS", "SIGNING_KEY_20260101_000000"),
            ("OWNER_PASSWORD", "correct horse"),
        ]))
        .unwrap();
        assert_eq!(c.verification_keys().count(), 1);
        assert_eq!(c.signing_key.kid(), only_new.kid());
        // Only key secrets: SIGNING_KEYS cannot turn another secret into a published key.
        let e = Config::from_lookup(lookup(&[("SIGNING_KEY", KEY), ("OTHER_SECRET", NEW), ("SIGNING_KEYS", "OTHER_SECRET"), ("OWNER_PASSWORD", "correct horse")])).unwrap_err();
        assert_eq!(e.variable, "SIGNING_KEYS");
        assert!(e.problem.contains("starting with SIGNING_KEY"), "{e}");
    }
}
