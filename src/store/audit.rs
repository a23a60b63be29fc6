//! The audit log (issue 6, "Operate"): one record per security decision —
//! owner logins, consents, registrations, revocations (by the owner, by a
//! client per RFC 7009 §2.1, or on token reuse per RFC 9700 §4.14), client
//! deletions, key rotations. Each is stored (D1 `audit_events`) and written as
//! one JSON log line.
//!
//! Events are built only by the constructors below, from typed values that
//! are public by nature (ids, names, hosts, scopes, an IP address): there is
//! no way to put a token, code, secret or password into one.

use serde_json::{json, Map, Value};

use crate::base::http::HttpRequest;
use crate::base::redirect_uri::RedirectUri;
use crate::base::types::{ClientId, GrantId, Subject};

use super::clients::ClientRecord;
use super::StoreResult;

/// One audit record. `event` and `detail` are free-form when read back, since
/// other tools (the key-rotation script) write events too.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub at: i64,
    pub event: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub detail: Value,
}

/// Which page an owner signed in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginPage {
    /// `/login`, while an MCP client is being connected.
    Consent,
    Admin,
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    WrongPassword,
}

/// A step of a delegated login (`login::delegate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// Consent given; the browser was sent to the provider.
    Started,
    Success,
    /// The person declined at the provider (`access_denied`).
    Denied,
    /// A real identity that no allow-list admits.
    Refused,
    /// A forged, replayed or foreign callback, or an ID token that failed a check.
    Invalid,
    /// The provider could not be reached or answered badly.
    Failed,
}

/// Who or what revoked a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedBy {
    /// The owner, on the admin page.
    Admin,
    /// The client itself, RFC 7009 `/revoke`.
    Client,
    /// An authorization code redeemed twice (OAuth 2.1 §4.1.3).
    CodeReuse,
    /// A rotated refresh token used after its grace window (RFC 9700 §4.14.2).
    RefreshReuse,
}

impl RevokedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedBy::Admin => "admin",
            RevokedBy::Client => "client",
            RevokedBy::CodeReuse => "code_reuse",
            RevokedBy::RefreshReuse => "refresh_reuse",
        }
    }
}

/// IP addresses are at most 45 characters; anything longer is not one.
fn ip(req: &HttpRequest) -> String {
    req.client_ip().chars().take(45).collect()
}

fn object(pairs: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert((*k).into(), v.clone());
        }
    }
    Value::Object(m)
}

impl AuditEvent {
    fn new(at: i64, event: &str, subject: Option<&Subject>, client: Option<&ClientId>, detail: Value) -> Self {
        AuditEvent {
            at,
            event: event.into(),
            subject: subject.map(|s| s.as_str().into()),
            client_id: client.map(|c| c.as_str().into()),
            detail,
        }
    }

    pub fn login(outcome: LoginOutcome, page: LoginPage, req: &HttpRequest, subject: &Subject, client: Option<&ClientId>, now: i64) -> Self {
        let event = match outcome {
            LoginOutcome::Success => "login.success",
            LoginOutcome::WrongPassword => "login.failure",
        };
        let page = match page {
            LoginPage::Consent => "login",
            LoginPage::Admin => "admin",
        };
        Self::new(now, event, Some(subject), client, object(&[("page", page.into()), ("ip", ip(req).into())]))
    }

    /// `login.upstream.<outcome>`; `why` is one of our own messages, never a value from a request.
    pub fn upstream_login(
        outcome: UpstreamOutcome,
        provider: &str,
        req: &HttpRequest,
        subject: Option<&Subject>,
        client: Option<&ClientId>,
        why: Option<&str>,
        now: i64,
    ) -> Self {
        let event = match outcome {
            UpstreamOutcome::Started => "login.upstream.start",
            UpstreamOutcome::Success => "login.upstream.success",
            UpstreamOutcome::Denied => "login.upstream.denied",
            UpstreamOutcome::Refused => "login.upstream.refused",
            UpstreamOutcome::Invalid => "login.upstream.invalid",
            UpstreamOutcome::Failed => "login.upstream.failed",
        };
        let detail = object(&[("provider", provider.into()), ("ip", ip(req).into()), ("why", why.map(Value::from).unwrap_or(Value::Null))]);
        Self::new(now, event, subject, client, detail)
    }

    pub fn consent(approved: bool, subject: &Subject, client: &ClientId, scope: &str, grant: Option<&GrantId>, now: i64) -> Self {
        let event = if approved { "consent.approve" } else { "consent.deny" };
        let detail = object(&[("scope", scope.into()), ("grant_id", grant.map(|g| g.as_str().into()).unwrap_or(Value::Null))]);
        Self::new(now, event, Some(subject), Some(client), detail)
    }

    /// A consent page skipped because the subject asked to be remembered for this client.
    pub fn consent_remembered(subject: &Subject, client: &ClientId, scope: &str, grant: &GrantId, now: i64) -> Self {
        let detail = object(&[("scope", scope.into()), ("grant_id", grant.as_str().into())]);
        Self::new(now, "consent.remembered", Some(subject), Some(client), detail)
    }

    /// A sign-in by a method other than the password (e.g. Cloudflare Access):
    /// `Ok(subject)` or `Err(why)`, `why` being our own words, never the token.
    pub fn delegated_login(method: crate::base::login_method::LoginMethod, outcome: Result<&Subject, &str>, req: &HttpRequest, now: i64) -> Self {
        let (event, subject, reason) = match outcome {
            Ok(s) => ("login.success", Some(s), Value::Null),
            Err(why) => ("login.failure", None, why.chars().take(200).collect::<String>().into()),
        };
        let detail = object(&[("method", method.as_str().into()), ("ip", ip(req).into()), ("reason", reason)]);
        Self::new(now, event, subject, None, detail)
    }

    pub fn client_registered(client: &ClientRecord, req: &HttpRequest) -> Self {
        let detail = object(&[
            ("client_name", client.client_name.clone().map(Value::from).unwrap_or(Value::Null)),
            ("redirect_hosts", redirect_hosts_of(&client.redirect_uris).into()),
            ("auth_method", client.auth_method.as_str().into()),
            ("ip", ip(req).into()),
        ]);
        Self::new(client.created_at, "client.register", None, Some(&client.client_id), detail)
    }

    /// Also for RFC 7009 `/revoke`: `AuditEvent::grant_revoked(&grant_id, &client_id, RevokedBy::Client, None, now)`.
    pub fn grant_revoked(grant: &GrantId, client: &ClientId, by: RevokedBy, actor: Option<&Subject>, now: i64) -> Self {
        let detail = object(&[("grant_id", grant.as_str().into()), ("by", by.as_str().into())]);
        Self::new(now, "grant.revoke", actor, Some(client), detail)
    }

    pub fn client_deleted(client: &ClientRecord, grants_revoked: u32, actor: &Subject, now: i64) -> Self {
        let detail = object(&[
            ("client_name", client.client_name.clone().map(Value::from).unwrap_or(Value::Null)),
            ("grants_revoked", grants_revoked.into()),
        ]);
        Self::new(now, "client.delete", Some(actor), Some(&client.client_id), detail)
    }

    /// The owner signed out on the admin page.
    pub fn logout(subject: &Subject, now: i64) -> Self {
        Self::new(now, "logout", Some(subject), None, object(&[]))
    }

    /// "Sign out everywhere": every session of everyone ended.
    pub fn logout_everywhere(subject: &Subject, now: i64) -> Self {
        Self::new(now, "logout.everywhere", Some(subject), None, object(&[]))
    }

    /// The JSON log line (`wrangler tail`): `{"audit": "<event>", ...}`.
    pub fn log_line(&self) -> String {
        json!({
            "audit": self.event,
            "at": self.at,
            "subject": self.subject,
            "client_id": self.client_id,
            "detail": self.detail,
        })
        .to_string()
    }
}

/// The distinct hosts of redirect URIs, as shown to the owner.
pub fn redirect_hosts_of(uris: &[RedirectUri]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for h in uris.iter().map(RedirectUri::host) {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

/// Where audit events go.
#[allow(async_fn_in_trait)]
pub trait AuditLog {
    /// Records an event. It never fails the action being audited: an
    /// implementation that cannot store the event reports that in its log.
    async fn audit(&self, event: &AuditEvent);
    /// The newest `limit` events, newest first.
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditEvent>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clients::AuthMethod;
    use crate::base::types::TokenHash;

    fn client() -> ClientRecord {
        ClientRecord {
            client_id: ClientId::new("gh_1"),
            secret_hash: Some(TokenHash::of("the-client-secret")),
            auth_method: AuthMethod::ClientSecretPost,
            redirect_uris: vec![
                RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").unwrap(),
                RedirectUri::parse("https://claude.ai/other").unwrap(),
                RedirectUri::parse("http://127.0.0.1:3000/cb").unwrap(),
            ],
            grant_types: vec!["authorization_code".into()],
            client_name: Some("Claude".into()),
            metadata: json!({}),
            created_at: 10,
        }
    }

    #[test]
    fn registration_event_names_hosts_once_and_no_secret() {
        let req = HttpRequest { headers: vec![("cf-connecting-ip".into(), "203.0.113.9".into())], ..Default::default() };
        let e = AuditEvent::client_registered(&client(), &req);
        assert_eq!(e.event, "client.register");
        assert_eq!(e.detail["redirect_hosts"], json!(["claude.ai", "127.0.0.1"]));
        assert_eq!(e.detail["ip"], "203.0.113.9");
        let line = e.log_line();
        assert!(!line.contains(TokenHash::of("the-client-secret").as_str()), "{line}");
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["audit"], "client.register");
        assert_eq!(parsed["client_id"], "gh_1");
    }

    #[test]
    fn login_events_carry_outcome_page_and_ip_only() {
        let req = HttpRequest {
            headers: vec![("cf-connecting-ip".into(), "x".repeat(200))],
            body: b"password=hunter2hunter2".to_vec(),
            ..Default::default()
        };
        let e = AuditEvent::login(LoginOutcome::WrongPassword, LoginPage::Admin, &req, &Subject::new("owner"), None, 5);
        assert_eq!(e.event, "login.failure");
        assert_eq!(e.detail["page"], "admin");
        assert_eq!(e.detail["ip"].as_str().unwrap().len(), 45);
        assert!(!e.log_line().contains("hunter2"));
        assert_eq!(e.client_id, None);
        let t = AuditEvent::login(LoginOutcome::Success, LoginPage::Consent, &req, &Subject::new("owner"), Some(&ClientId::new("gh_1")), 5);
        assert_eq!((t.event.as_str(), t.detail["page"].as_str(), t.client_id.as_deref()), ("login.success", Some("login"), Some("gh_1")));
    }

    #[test]
    fn revocation_event_says_who_revoked() {
        for (by, name) in [(RevokedBy::Admin, "admin"), (RevokedBy::Client, "client"), (RevokedBy::CodeReuse, "code_reuse"), (RevokedBy::RefreshReuse, "refresh_reuse")] {
            let e = AuditEvent::grant_revoked(&GrantId::new("gr_1"), &ClientId::new("gh_1"), by, None, 7);
            assert_eq!(e.detail["by"], name);
            assert_eq!(e.detail["grant_id"], "gr_1");
            assert_eq!(e.client_id.as_deref(), Some("gh_1"));
        }
        let denied = AuditEvent::consent(false, &Subject::new("owner"), &ClientId::new("gh_1"), "mcp", None, 3);
        assert_eq!(denied.event, "consent.deny");
        assert!(denied.detail.get("grant_id").is_none(), "absent values are omitted, never null");
    }
}
