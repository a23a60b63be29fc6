//! The HTML of the admin page (issue 6, "Operate"), in the common page frame
//! of `base/page.rs` (security headers, no script, no framing). Everything a
//! client chose (names, redirect URIs) and everything read from the audit log
//! is escaped.

use crate::store::client_documents::DocumentSource;
use html_escape::encode_safe;

use crate::base::http::HttpResponse;
use crate::base::page::{self, hidden, utc};
use crate::base::types::Subject;
use crate::protocol::cimd::{pinned};
use crate::store::admin::{ClientSummary, GrantSummary};
use crate::store::audit::{redirect_hosts_of, AuditEvent};

/// How many events the admin page shows.
pub const RECENT: u32 = 50;

/// Wider than the login and consent pages: the page is mostly tables.
const STYLE: &str = "<style>body{max-width:72rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}\
th,td{text-align:left;border-bottom:1px solid #ddd;padding:.35rem .5rem;vertical-align:top;font-size:.92rem}\
th{background:#f6f6f6}td form{margin:0}td button{margin:0;padding:.2rem .6rem;font-size:.9rem}\
.id{font-family:ui-monospace,monospace;font-size:.8rem;color:#555}.top{display:flex;justify-content:space-between;align-items:center}\
td.detail{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}td.t{white-space:nowrap}</style>";

pub struct Dashboard {
    pub subject: Subject,
    pub csrf: String,
    pub clients: Vec<ClientSummary>,
    pub total_clients: u32,
    pub grants: Vec<GrantSummary>,
    pub events: Vec<AuditEvent>,
}

fn when(ts: Option<i64>) -> String {
    ts.map(utc).unwrap_or_else(|| "never".into())
}

/// A one-button form that POSTs `action`, for `target` (a field and its value) if any.
fn action_button(csrf: &str, action: &str, target: Option<(&str, &str)>, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/admin\">{}{}{}<button type=\"submit\">{}</button></form>",
        hidden("action", action),
        target.map(|(k, v)| hidden(k, v)).unwrap_or_default(),
        hidden("csrf", csrf),
        encode_safe(label)
    )
}

/// An event's detail as `key=value` pairs; lists joined with commas.
fn detail_text(detail: &serde_json::Value) -> String {
    use serde_json::Value;
    let plain = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    match detail {
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect::<Vec<_>>().join(" "),
        other => plain(other),
    }
}

fn client_name(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{} <span class=\"muted\">(unverified)</span>", encode_safe(n)),
        None => "<span class=\"muted\">unnamed</span>".into(),
    }
}

/// The sign-in form of the admin page, password only (the handlers say
/// which ways to sign in are on, through `login_with`).
#[cfg(test)]
pub fn login(status: u16, csrf: &str, error: Option<&str>) -> HttpResponse {
    login_with(status, csrf, error, true, None)
}

/// The sign-in form: the password (unless `PASSWORD_LOGIN=off`), and other
/// ways to sign in (a passkey) below it.
pub fn login_with(status: u16, csrf: &str, error: Option<&str>, password: bool, others: Option<&str>) -> HttpResponse {
    let err = error.map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", encode_safe(e))).unwrap_or_default();
    let form = if password {
        format!(
            "<form method=\"post\" action=\"/admin\">{}{}\
<p><label>Owner password<br><input type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus></label></p>\
<p><button type=\"submit\">Sign in</button></p></form>",
            hidden("action", "login"),
            hidden("csrf", csrf),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Gatehouse admin</h1><p>Sign in as the owner to manage connected clients.</p>{err}{form}{}",
        others.unwrap_or_default(),
    );
    let r = page::page(status, "Admin sign-in", &body);
    if others.is_some() { page::allow_own_script(r) } else { r }
}

fn clients_table(d: &Dashboard) -> String {
    if d.clients.is_empty() {
        return "<p class=\"muted\">No clients are registered.</p>".into();
    }
    let mut rows = String::new();
    for c in &d.clients {
        rows.push_str(&format!(
            "<tr data-client=\"{id}\"><td>{name}<br><span class=\"id\">{id}</span></td><td>{hosts}</td><td class=\"t\">{created}</td><td class=\"t\">{used}</td><td>{grants}</td><td>{button}</td></tr>",
            id = encode_safe(c.client_id.as_str()),
            name = client_name(c.client_name.as_deref()),
            hosts = encode_safe(&redirect_hosts_of(&c.redirect_uris).join(", ")),
            created = utc(c.created_at),
            used = when(c.last_used_at),
            grants = c.active_grants,
            button = action_button(&d.csrf, "delete_client", Some(("client", c.client_id.as_str())), "Delete"),
        ));
    }
    let note = if d.total_clients as usize > d.clients.len() {
        format!("<p class=\"muted\">Showing the newest {} of {} clients.</p>", d.clients.len(), d.total_clients)
    } else {
        String::new()
    };
    format!(
        "{note}<table id=\"clients\"><thead><tr><th>Client</th><th>Redirect hosts</th><th>Registered</th><th>Last used</th><th>Active grants</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// For a metadata-document client: which copy of its document admitted it
/// last, and why the last fetch failed if a copy stands in.
fn document_note(g: &GrantSummary) -> String {
    let Some((source, failure)) = &g.document else { return String::new() };
    let from = match source {
        Some(DocumentSource::Live) => "live".to_string(),
        Some(DocumentSource::Stored) => "a stored copy".to_string(),
        Some(DocumentSource::Pinned) => format!("the pinned copy as served {}", pinned::find(g.client_id.as_str()).map(|p| p.as_of).unwrap_or_default()),
        None => "live, not kept".to_string(),
    };
    let failure = failure.as_deref().map(|f| format!("; the last fetch failed: {f}")).unwrap_or_default();
    format!(
        "<br><span class=\"muted\" data-document-source=\"{}\">metadata document: {}</span>",
        source.map(DocumentSource::as_str).unwrap_or("live"),
        encode_safe(&format!("{from}{failure}"))
    )
}

fn grants_table(d: &Dashboard) -> String {
    if d.grants.is_empty() {
        return "<p class=\"muted\">No active grants.</p>".into();
    }
    let mut rows = String::new();
    for g in &d.grants {
        rows.push_str(&format!(
            "<tr data-grant=\"{id}\"><td>{user}</td><td>{name}<br><span class=\"id\">{client}</span>{document}</td><td><code>{scope}</code></td><td class=\"t\">{created}</td><td class=\"t\">{refreshed}</td><td>{button}</td></tr>",
            id = encode_safe(g.grant_id.as_str()),
            user = encode_safe(g.subject.as_str()),
            name = client_name(g.client_name.as_deref()),
            client = encode_safe(g.client_id.as_str()),
            document = document_note(g),
            scope = encode_safe(&g.scope),
            created = utc(g.created_at),
            refreshed = when(g.last_refresh_at),
            button = action_button(&d.csrf, "revoke_grant", Some(("grant", g.grant_id.as_str())), "Revoke"),
        ));
    }
    format!(
        "<table id=\"grants\"><thead><tr><th>User</th><th>Client</th><th>Scopes</th><th>Granted</th><th>Last refresh</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

fn events_table(d: &Dashboard) -> String {
    if d.events.is_empty() {
        return "<p class=\"muted\">No events yet.</p>".into();
    }
    let mut rows = String::new();
    for e in &d.events {
        rows.push_str(&format!(
            "<tr data-event=\"{event}\"><td class=\"t\">{at}</td><td>{event}</td><td>{subject}</td><td class=\"id\">{client}</td><td class=\"detail\">{detail}</td></tr>",
            at = utc(e.at),
            event = encode_safe(&e.event),
            subject = encode_safe(e.subject.as_deref().unwrap_or("")),
            client = encode_safe(e.client_id.as_deref().unwrap_or("")),
            detail = encode_safe(&detail_text(&e.detail)),
        ));
    }
    format!(
        "<table id=\"events\"><thead><tr><th>When</th><th>Event</th><th>By</th><th>Client</th><th>Detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The page a signed-in owner sees.
pub fn dashboard(d: &Dashboard) -> HttpResponse {
    let body = format!(
        "{STYLE}<div class=\"top\"><h1>Gatehouse admin</h1><div>Signed in as <strong>{}</strong> {}</div></div>\
<h2>Active grants</h2>{}<h2>Registered clients</h2>\
<p class=\"muted\">Deleting a client removes its registration, codes and refresh tokens and revokes its grants; \
it must register again to reconnect.</p>{}<h2>Audit log</h2><p class=\"muted\">The newest {} events.</p>{}",
        encode_safe(d.subject.as_str()),
        [action_button(&d.csrf, "logout", None, "Sign out"), action_button(&d.csrf, "logout_everywhere", None, "Sign out everywhere")].concat(),
        grants_table(d),
        clients_table(d),
        RECENT,
        events_table(d),
    );
    page::page(200, "Admin", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::redirect_uri::RedirectUri;
    use crate::base::types::{ClientId, GrantId};

    fn evil() -> String {
        "<script>alert(1)</script><img src=x onerror=alert(2)>".into()
    }

    fn dash() -> Dashboard {
        Dashboard {
            subject: Subject::new("owner"),
            csrf: "tok\"en".into(),
            clients: vec![ClientSummary {
                client_id: ClientId::new("gh_\"1"),
                client_name: Some(evil()),
                redirect_uris: vec![RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").unwrap()],
                created_at: 0,
                last_used_at: None,
                active_grants: 1,
            }],
            total_clients: 3,
            grants: vec![GrantSummary {
                grant_id: GrantId::new("gr_1"),
                client_id: ClientId::new("gh_1"),
                client_name: Some(evil()),
                subject: Subject::new("owner"),
                scope: "mcp <b>".into(),
                created_at: 0,
                last_refresh_at: Some(60),
                document: None,
            }],
            events: vec![AuditEvent {
                at: 0,
                event: "<b>key.rotate</b>".into(),
                subject: None,
                client_id: Some(evil()),
                detail: serde_json::json!({"client_name": evil()}),
            }],
        }
    }

    #[test]
    fn everything_from_clients_and_the_log_is_inert() {
        let r = dashboard(&dash());
        assert!(!r.body.contains("<script>"), "{}", r.body);
        assert!(!r.body.contains("<img"));
        assert!(!r.body.contains("<b>"));
        assert!(!r.body.contains("value=\"tok\"en\""));
        assert!(r.body.contains("&lt;script&gt;"));
        assert!(r.body.contains("unverified"));
        assert!(r.body.contains("claude.ai"));
        assert!(r.body.contains("Showing the newest 1 of 3 clients"));
        assert!(r.body.contains("1970-01-01 00:01 UTC"), "last refresh shown");
        assert!(r.body.contains("never"), "a client never used says so");
        assert!(r.body.contains("client_name=&lt;script&gt;"), "detail shown as key=value");
    }

    #[test]
    fn grants_of_metadata_document_clients_say_which_copy_admitted_them() {
        let url = "https://claude.ai/oauth/claude-code-client-metadata";
        let grant = |document| GrantSummary {
            grant_id: GrantId::new("gr_d"),
            client_id: ClientId::new(url),
            client_name: None,
            subject: Subject::new("owner"),
            scope: "mcp".into(),
            created_at: 0,
            last_refresh_at: None,
            document,
        };
        let note = |document| {
            let mut d = dash();
            d.grants = vec![grant(document)];
            let body = dashboard(&d).body;
            let start = body.find("data-document-source=").expect("a note");
            html_escape::decode_html_entities(&body[start..start + body[start..].find("</span>").unwrap()]).into_owned()
        };
        let as_of = pinned::find(url).unwrap().as_of;
        let pinned_note = note(Some((Some(DocumentSource::Pinned), Some("its metadata URL answered HTTP 403 <b>".into()))));
        assert!(pinned_note.starts_with("data-document-source=\"pinned\""), "{pinned_note}");
        assert!(pinned_note.contains(&format!("the pinned copy as served {as_of}; the last fetch failed: its metadata URL answered HTTP 403 <b>")), "{pinned_note}");
        assert!(!dashboard(&Dashboard { grants: vec![grant(Some((Some(DocumentSource::Pinned), Some("<b>".into()))))], ..dash() }).body.contains("<b>"), "escaped");
        assert!(note(Some((Some(DocumentSource::Stored), Some("HTTP 503".into())))).contains("a stored copy; the last fetch failed: HTTP 503"));
        assert!(note(Some((Some(DocumentSource::Live), None))).ends_with("metadata document: live"));
        assert!(note(Some((None, None))).contains("live, not kept"));
        assert!(!dashboard(&dash()).body.contains("data-document-source"), "a registered client has no document");
    }

    #[test]
    fn every_action_form_posts_with_the_csrf_token() {
        let r = dashboard(&dash());
        let forms = r.body.matches("<form method=\"post\" action=\"/admin\">").count();
        let with_token = r.body.matches("name=\"csrf\" value=\"tok&quot;en\"").count();
        assert_eq!(forms, 4, "revoke, delete, sign out, sign out everywhere");
        assert_eq!(with_token, forms);
    }

    #[test]
    fn detail_reads_as_key_value_pairs() {
        let d = serde_json::json!({"by": "admin", "hosts": ["a", "b"], "n": 2});
        assert_eq!(detail_text(&d), "by=admin hosts=a,b n=2");
        assert_eq!(detail_text(&serde_json::json!("free text")), "free text");
    }

    #[test]
    fn pages_have_the_frame_headers_and_are_not_cached() {
        for r in [dashboard(&dash()), login(200, "c", Some("<i>x</i>"))] {
            assert_eq!(r.header("x-frame-options"), Some("DENY"));
            assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(!r.body.contains("<i>x</i>"));
        }
    }
}
