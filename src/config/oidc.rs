//! OpenID Connect sign-in's settings (`OIDC_*`), read once. The sign-in
//! itself (discovery, the code flow, the ID token) is `oauth/login/oidc.rs`.

use crate::base::outbound::upstream_url_allowed;
use crate::base::types::Secret;
use super::vars::{err, list, ConfigError, Vars};

pub const DEFAULT_SCOPES: &str = "openid email profile";
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";
#[derive(Debug)]
pub struct OidcConfig {
    /// `OIDC_ISSUER`, exactly as the provider spells it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
    /// `OIDC_LABEL`: the button says "Allow and sign in with <label>".
    pub label: String,
    pub allowed_subs: Vec<String>,
    /// Lower-cased; matched only when the provider says `email_verified`.
    pub allowed_emails: Vec<String>,
    pub allowed_groups: Vec<String>,
    pub groups_claim: String,
}

impl OidcConfig {
    /// `None` when `OIDC_ISSUER` is unset: OpenID Connect sign-in is off.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<OidcConfig>, ConfigError> {
        let vars = Vars(get);
        let Some(issuer) = vars.set("OIDC_ISSUER") else {
            if let Some(name) = ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"].into_iter().find(|n| vars.set(n).is_some()) {
                return Err(err("OIDC_ISSUER", &format!("is not set, but {name} is; set it to your provider's issuer URL, such as https://auth.example.com")));
            }
            return Ok(None);
        };
        let looks_like = "must be the provider's issuer URL, https (http only for localhost/127.0.0.1), without query or fragment, such as https://auth.example.com";
        let url = url::Url::parse(&issuer).map_err(|_| err("OIDC_ISSUER", looks_like))?;
        if !upstream_url_allowed(&url) || url.query().is_some() || url.fragment().is_some() {
            return Err(err("OIDC_ISSUER", looks_like));
        }
        let client_id = vars.set("OIDC_CLIENT_ID").ok_or_else(|| err("OIDC_CLIENT_ID", "is not set; use the client id you registered Gatehouse under at your provider"))?;
        let client_secret = vars.set("OIDC_CLIENT_SECRET")
            .map(Secret::new)
            .ok_or_else(|| err("OIDC_CLIENT_SECRET", "is not set; set it as a secret (`wrangler secret put OIDC_CLIENT_SECRET`) to the client secret from your provider"))?;
        let scopes = vars.set("OIDC_SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.to_string());
        if !scopes.split_whitespace().any(|s| s == "openid") {
            return Err(err("OIDC_SCOPES", "must include \"openid\" (space-separated; default \"openid email profile\")"));
        }
        let label = vars.set("OIDC_LABEL").unwrap_or_else(|| url.host_str().unwrap_or("your identity provider").to_string());
        let allowed_subs = list(get("OIDC_ALLOWED_SUBS"));
        let allowed_emails = list(get("OIDC_ALLOWED_EMAILS")).into_iter().map(|e| e.to_ascii_lowercase()).collect::<Vec<_>>();
        let allowed_groups = list(get("OIDC_ALLOWED_GROUPS"));
        if allowed_subs.is_empty() && allowed_emails.is_empty() && allowed_groups.is_empty() {
            return Err(err(
                "OIDC_ALLOWED_SUBS",
                "(or OIDC_ALLOWED_EMAILS or OIDC_ALLOWED_GROUPS) must list who may sign in: without an allow-list every account of the provider could use this server",
            ));
        }
        let groups_claim = vars.set("OIDC_GROUPS_CLAIM").unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_string());
        Ok(Some(OidcConfig { issuer, client_id, client_secret, scopes, label, allowed_subs, allowed_emails, allowed_groups, groups_claim }))
    }
}
