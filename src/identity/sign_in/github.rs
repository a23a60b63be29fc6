//! Sign-in with GitHub as the upstream of a delegated login. GitHub is an
//! OAuth 2.0 provider, not an OpenID provider: there is no ID token, so the
//! identity is whoever the access token belongs to (`GET /user`), asked of
//! GitHub's API directly over TLS. GitHub's documented "web application flow"
//! for OAuth apps: authorize with `state` and PKCE S256 (RFC 7636), redeem the
//! code at `/login/oauth/access_token`, then the REST API. Who may pass: an
//! allow-list of account ids and/or of organisations the person is an
//! *active* member of (`GET /user/memberships/orgs/{org}`, needs the
//! `read:org` scope). At least one list is required: every GitHub account
//! could sign in otherwise.
//!
//! People are named by GitHub's numeric account id (`github:583231`), never
//! by login: a login can be renamed, and GitHub then lets anyone register
//! the old one, who would inherit every grant and list entry that named it.
//! The login is shown beside the id (audit log, refusal pages), for people.

use serde_json::Value;

use super::{Identity, LoginError};
use crate::base::login_method::LoginMethod;
use crate::config::github::{is_github_name, GithubConfig};
use crate::base::outbound::{Net, Outbound, OutboundRequest, OutboundResponse};
use crate::base::types::{Secret, Subject};

/// The REST API version we were written against (GitHub's API versioning).
pub const API_VERSION: &str = "2022-11-28";
/// GitHub's REST API refuses requests without a User-Agent.
pub const USER_AGENT: &str = "Gatehouse";

/// Where the browser is sent: GitHub's authorize page for this OAuth app.
pub fn authorize_url(cfg: &GithubConfig, redirect_uri: &str, state: &str, code_challenge: &str) -> String {
    let mut url = format!("{}/login/oauth/authorize?", cfg.url);
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", cfg.scopes())
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            // Nobody can be on an allow-list with an account made just now.
            .append_pair("allow_signup", "false")
            .finish(),
    );
    url
}

/// Redeems the code and decides whether this GitHub account may pass.
pub async fn identify(net: &impl Net, cfg: &GithubConfig, code: &str, redirect_uri: &str, code_verifier: &str) -> Result<Identity, LoginError> {
    let token = redeem(net, cfg, code, redirect_uri, code_verifier).await?;
    let user = current_user(net, cfg, &token.access_token).await?;
    // The id names the person; the login (case-insensitive at GitHub) is for people to read.
    let login = user.login.to_ascii_lowercase();
    let who = format!("@{login} (id {})", user.id);
    let mut groups = Vec::new();
    if !cfg.allowed_users.contains(&user.id) {
        if !cfg.allowed_orgs.is_empty() && token.scope.as_ref().is_some_and(|s| !s.iter().any(|s| s == "read:org")) {
            return Err(LoginError::Refused(format!(
                "The GitHub account {who} is not on this server's list of users, and GitHub did not grant the read:org permission needed to check its organisations."
            )));
        }
        match active_org(net, cfg, &token.access_token).await? {
            Some(org) => groups.push(org),
            None => return Err(LoginError::Refused(format!("The GitHub account {who} is not on this server's allow-list."))),
        }
    }
    Ok(Identity {
        subject: Subject::new(format!("github:{}", user.id)),
        method: LoginMethod::Github,
        email: None,
        name: user.name,
        groups,
        account: Some(format!("@{login}")),
    })
}

struct Token {
    access_token: Secret,
    /// Scopes granted, when GitHub says (the person may have granted fewer).
    scope: Option<Vec<String>>,
}

/// POST {GITHUB_URL}/login/oauth/access_token. With `Accept: application/json`
/// GitHub answers JSON; refusals come back as **200** with an `error` member.
async fn redeem(net: &impl Outbound, cfg: &GithubConfig, code: &str, redirect_uri: &str, code_verifier: &str) -> Result<Token, LoginError> {
    let url = format!("{}/login/oauth/access_token", cfg.url);
    let req = OutboundRequest::post_form(
        url,
        &[
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.expose()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ],
    )
    .with_header("user-agent", USER_AGENT);
    let resp = net.send(req).await.map_err(|e| LoginError::Upstream(format!("GitHub's token endpoint: {e}.")))?;
    let body: Option<Value> = resp.json();
    if let Some(error) = body.as_ref().and_then(|b| b.get("error")) {
        return Err(token_error(error.as_str().unwrap_or("")));
    }
    if resp.status != 200 {
        return Err(LoginError::Upstream(format!("GitHub's token endpoint answered HTTP {}.", resp.status)));
    }
    let body = body.ok_or_else(|| LoginError::Upstream("GitHub's token endpoint did not answer JSON.".into()))?;
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| LoginError::Upstream("GitHub's token response has no access_token.".into()))?;
    if !body.get("token_type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(LoginError::Upstream("GitHub's token response is not a bearer token.".into()));
    }
    // Documented as comma-separated ("repo,gist"); tolerate spaces too.
    let scope = body.get("scope").and_then(Value::as_str).map(|s| s.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect());
    Ok(Token { access_token: Secret::new(access_token), scope })
}

/// GitHub's documented token errors. A code that is wrong, expired or used
/// is a bad callback (start again); the others are this server's set-up.
fn token_error(code: &str) -> LoginError {
    match code {
        "bad_verification_code" => LoginError::Invalid("GitHub did not accept this sign-in code (it is wrong, expired or already used). Start again from your MCP client.".into()),
        "incorrect_client_credentials" => LoginError::Upstream("GitHub refused this server's client credentials: check GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET.".into()),
        "redirect_uri_mismatch" => LoginError::Upstream("GitHub refused the callback URL: the OAuth app's Authorization callback URL must be https://<this server>/callback/github.".into()),
        // Never echo an unknown value into the page: it came from elsewhere.
        other if other.len() <= 64 && other.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !other.is_empty() => {
            LoginError::Upstream(format!("GitHub refused the code exchange ({other})."))
        }
        _ => LoginError::Upstream("GitHub refused the code exchange.".into()),
    }
}

fn api_get(cfg: &GithubConfig, path: &str, token: &Secret) -> OutboundRequest {
    OutboundRequest::get(format!("{}{path}", cfg.api_url))
        .with_header("accept", "application/vnd.github+json")
        .with_header("authorization", format!("Bearer {}", token.expose()))
        .with_header("user-agent", USER_AGENT)
        .with_header("x-github-api-version", API_VERSION)
}

async fn api(net: &impl Outbound, cfg: &GithubConfig, path: &str, token: &Secret) -> Result<OutboundResponse, LoginError> {
    net.send(api_get(cfg, path, token)).await.map_err(|e| LoginError::Upstream(format!("GitHub's API: {e}.")))
}

struct User {
    /// GitHub's numeric account id: never reassigned, unlike the login.
    id: u64,
    login: String,
    name: Option<String>,
}

/// GET {API}/user: the account the token belongs to.
async fn current_user(net: &impl Outbound, cfg: &GithubConfig, token: &Secret) -> Result<User, LoginError> {
    let resp = api(net, cfg, "/user", token).await?;
    if resp.status != 200 {
        return Err(LoginError::Upstream(format!("GitHub's API answered HTTP {} for the signed-in user.", resp.status)));
    }
    let body: Value = resp.json().ok_or_else(|| LoginError::Upstream("GitHub's API did not answer JSON for the signed-in user.".into()))?;
    let login = body
        .get("login")
        .and_then(Value::as_str)
        .filter(|l| is_github_name(l))
        .ok_or_else(|| LoginError::Upstream("GitHub's API did not name the signed-in user.".into()))?;
    let id = body
        .get("id")
        .and_then(Value::as_u64)
        .filter(|id| *id > 0)
        .ok_or_else(|| LoginError::Upstream("GitHub's API did not give the signed-in user's account id.".into()))?;
    // The display name is the person's own free text: shown escaped, capped.
    let name = body.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).map(|n| n.chars().take(200).collect());
    Ok(User { id, login: login.to_string(), name })
}

/// The first allowed organisation the user is an active member of. A pending
/// invitation is not membership; 404 (not a member) and 403 (the organisation
/// restricts this OAuth app) both mean "not through this organisation".
async fn active_org(net: &impl Outbound, cfg: &GithubConfig, token: &Secret) -> Result<Option<String>, LoginError> {
    for org in &cfg.allowed_orgs {
        let resp = api(net, cfg, &format!("/user/memberships/orgs/{org}"), token).await?;
        match resp.status {
            200 => {}
            403 | 404 => continue,
            other => return Err(LoginError::Upstream(format!("GitHub's API answered HTTP {other} for an organisation membership."))),
        }
        let body: Value = resp.json().ok_or_else(|| LoginError::Upstream("GitHub's API did not answer JSON for an organisation membership.".into()))?;
        let answered_for = body.pointer("/organization/login").and_then(Value::as_str);
        if !answered_for.is_some_and(|o| o.eq_ignore_ascii_case(org)) {
            return Err(LoginError::Upstream("GitHub's API answered for another organisation than the one asked.".into()));
        }
        if body.get("state").and_then(Value::as_str) == Some("active") {
            return Ok(Some(org.to_ascii_lowercase()));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;

