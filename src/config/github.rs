//! GitHub sign-in's settings (`GITHUB_*`), read once. The sign-in itself is
//! `oauth/login/github.rs`; why accounts are named by id, not login, is there.

use crate::base::outbound::upstream_url_allowed;
use crate::base::types::Secret;
use super::vars::{err, list, ConfigError, Vars};

pub const DEFAULT_URL: &str = "https://github.com";
pub const DEFAULT_API_URL: &str = "https://api.github.com";
#[derive(Debug)]
pub struct GithubConfig {
    /// `GITHUB_CLIENT_ID` of the OAuth app.
    pub client_id: String,
    /// `GITHUB_CLIENT_SECRET` (a secret).
    pub client_secret: Secret,
    /// `GITHUB_ALLOWED_USERS`: numeric account ids (logins are refused: they
    /// can be renamed and re-registered by someone else).
    pub allowed_users: Vec<u64>,
    /// `GITHUB_ALLOWED_ORGS`, as written; compared case-insensitively.
    pub allowed_orgs: Vec<String>,
    /// `GITHUB_URL` (the web host: authorize and token), no trailing slash.
    pub url: String,
    /// `GITHUB_API_URL` (REST API root), no trailing slash.
    pub api_url: String,
}

/// A GitHub login or organisation name as it may appear in a URL path and in
/// the subject forwarded to the origin: letters, digits, `-`, and `_` (managed
/// enterprise users' suffix). Anything else is not a name GitHub issues.
pub fn is_github_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const ALLOWED_USERS_HELP: &str = "must list GitHub account ids (numbers such as 583231; spaces or commas between them), not logins, which can be renamed and re-registered by others. https://api.github.com/users/<login> shows an id, as does the refusal page of a sign-in";

/// A GitHub account id as written in `GITHUB_ALLOWED_USERS`.
fn account_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|id| *id > 0)
}

impl GithubConfig {
    /// `None` when `GITHUB_CLIENT_ID` is unset: GitHub sign-in is off.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<GithubConfig>, ConfigError> {
        let vars = Vars(get);
        let Some(client_id) = vars.set("GITHUB_CLIENT_ID") else {
            if let Some(name) = ["GITHUB_CLIENT_SECRET", "GITHUB_ALLOWED_USERS", "GITHUB_ALLOWED_ORGS"].into_iter().find(|n| vars.set(n).is_some()) {
                return Err(err("GITHUB_CLIENT_ID", &format!("is not set, but {name} is; set it to the Client ID of your GitHub OAuth app")));
            }
            return Ok(None);
        };
        let client_secret = vars.set("GITHUB_CLIENT_SECRET").map(Secret::new).ok_or_else(|| {
            err("GITHUB_CLIENT_SECRET", "is not set; set it as a secret (`wrangler secret put GITHUB_CLIENT_SECRET`) to a client secret generated on your GitHub OAuth app's page")
        })?;
        let mut allowed_users = Vec::new();
        for entry in list(get("GITHUB_ALLOWED_USERS")) {
            allowed_users.push(account_id(&entry).ok_or_else(|| err("GITHUB_ALLOWED_USERS", ALLOWED_USERS_HELP))?);
        }
        let allowed_orgs = list(get("GITHUB_ALLOWED_ORGS"));
        if !allowed_orgs.iter().all(|o| is_github_name(o)) {
            return Err(err("GITHUB_ALLOWED_ORGS", "must list GitHub organisation names as in their URL (letters, digits, '-'), separated by spaces or commas, such as \"my-homelab\""));
        }
        if allowed_users.is_empty() && allowed_orgs.is_empty() {
            return Err(err(
                "GITHUB_ALLOWED_USERS",
                "(or GITHUB_ALLOWED_ORGS) must list who may sign in: without an allow-list every GitHub account could use this server",
            ));
        }
        let url = upstream_base(vars.set("GITHUB_URL"), DEFAULT_URL).map_err(|p| err("GITHUB_URL", &format!("{p}; default https://github.com")))?;
        let api_url = upstream_base(vars.set("GITHUB_API_URL"), DEFAULT_API_URL).map_err(|p| err("GITHUB_API_URL", &format!("{p}; default https://api.github.com")))?;
        Ok(Some(GithubConfig {
            client_id,
            client_secret,
            allowed_users,
            allowed_orgs,
            url,
            api_url,
        }))
    }

    /// `read:user` to read the profile; `read:org` only when membership must
    /// be checked (least privilege: the person sees exactly what is asked).
    pub fn scopes(&self) -> &'static str {
        if self.allowed_orgs.is_empty() {
            "read:user"
        } else {
            "read:user read:org"
        }
    }
}

fn upstream_base(raw: Option<String>, default: &str) -> Result<String, &'static str> {
    let Some(raw) = raw else { return Ok(default.to_string()) };
    let url = url::Url::parse(&raw).map_err(|_| "must be an absolute URL")?;
    if !upstream_url_allowed(&url) || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("must be https (http only for localhost/127.0.0.1), without credentials, query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

