//! Cloudflare Access's settings (`CF_ACCESS_*`), read once. Verifying the
//! assertion Access sends is `oauth/login/access.rs`.

use crate::base::outbound::upstream_url_allowed;
use super::vars::{err, ConfigError, Vars};

/// `CF_ACCESS_TEAM_DOMAIN`, `CF_ACCESS_AUD`, `CF_ACCESS_ALLOWED_EMAILS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudflareAccess {
    /// `https://<team>.cloudflareaccess.com`, no trailing slash: also the `iss`.
    pub team_domain: String,
    /// The Access application's audience (AUD) tag.
    pub audience: String,
    /// Lower-cased; None lets in everyone the Access policy lets in.
    pub allowed_emails: Option<Vec<String>>,
}

impl CloudflareAccess {
    /// None when neither team domain nor audience is set.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<CloudflareAccess>, ConfigError> {
        let vars = Vars(get);
        let (team, aud) = match (vars.set("CF_ACCESS_TEAM_DOMAIN"), vars.set("CF_ACCESS_AUD")) {
            (None, None) => {
                if vars.set("CF_ACCESS_ALLOWED_EMAILS").is_some() {
                    return Err(err("CF_ACCESS_ALLOWED_EMAILS", "is set but Cloudflare Access is not: also set CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD"));
                }
                return Ok(None);
            }
            (Some(_), None) => {
                return Err(err("CF_ACCESS_AUD", "is not set; copy the Application Audience (AUD) Tag from the Access application's overview"))
            }
            (None, Some(_)) => {
                return Err(err("CF_ACCESS_TEAM_DOMAIN", "is not set; it is your team domain, such as https://<team>.cloudflareaccess.com"))
            }
            (Some(t), Some(a)) => (t, a),
        };
        let team_domain = team_domain(&team)
            .ok_or_else(|| err("CF_ACCESS_TEAM_DOMAIN", "must be your team domain as https://<team>.cloudflareaccess.com (no path)"))?;
        if aud.len() > 256 || aud.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("CF_ACCESS_AUD", "must be the Application Audience (AUD) Tag, one token of letters and digits"));
        }
        let allowed_emails = match vars.set("CF_ACCESS_ALLOWED_EMAILS") {
            None => None,
            Some(list) => {
                let emails: Vec<String> = list.split([' ', ',']).filter(|e| !e.is_empty()).map(str::to_ascii_lowercase).collect();
                if emails.iter().any(|e| !looks_like_email(e)) {
                    return Err(err("CF_ACCESS_ALLOWED_EMAILS", "must list e-mail addresses separated by spaces or commas"));
                }
                Some(emails)
            }
        };
        Ok(Some(CloudflareAccess { team_domain, audience: aud, allowed_emails }))
    }

    /// Where Access publishes the team's signing keys.
    pub fn certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.team_domain)
    }
}

/// A bare origin; `<team>.cloudflareaccess.com` without a scheme means https.
fn team_domain(raw: &str) -> Option<String> {
    let with_scheme = if raw.contains("://") { raw.to_string() } else { format!("https://{raw}") };
    let url = url::Url::parse(&with_scheme).ok()?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty() && url.password().is_none();
    (bare && upstream_url_allowed(&url)).then(|| url.origin().ascii_serialization())
}

pub fn looks_like_email(e: &str) -> bool {
    e.len() <= 254 && e.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}
