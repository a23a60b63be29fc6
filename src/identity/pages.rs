//! The HTML the owner sees: login and consent pages, in the frame of
//! `base/page.rs` (which also draws the error pages). Everything a
//! client chose (name, URIs) is escaped and marked unverified; pages load no
//! third-party resources, run no script and refuse to be framed
//! (requirements.md §E, RFC 9700 §4.16).

use crate::base::redirect_uri::RedirectUri;
use crate::protocol::cimd::client_id_url::document_host;
use crate::store::clients::ClientRecord;
use html_escape::encode_safe;

use crate::base::http::HttpResponse;
use crate::base::page::{allow_own_script, hidden, page};

/// What the owner is told about the client asking for access.
pub struct ClientView<'a> {
    pub name: Option<&'a str>,
    pub client_id: &'a str,
    pub redirect_host: &'a str,
    pub all_loopback: bool,
    pub scopes: &'a str,
    /// For a metadata-document client: the host that served its document.
    pub document_host: Option<&'a str>,
}

fn client_summary(c: &ClientView<'_>) -> String {
    // A registered name is whatever the registrant typed; a metadata
    // document's name is vouched for by the host that serves it over https.
    let name = match (c.name, c.document_host) {
        (Some(n), Some(host)) => format!(
            "<strong>{}</strong> <span class=\"muted\">(name asserted by the client's metadata document at <strong>{}</strong>; the host is verified by HTTPS, the name is not)</span>",
            encode_safe(n),
            encode_safe(host)
        ),
        (Some(n), None) => format!("<strong>{}</strong> <span class=\"muted\">(name chosen by the client, unverified)</span>", encode_safe(n)),
        (None, Some(host)) => format!(
            "an unnamed client described by the metadata document <code>{}</code> (served by <strong>{}</strong>, verified by HTTPS)",
            encode_safe(c.client_id),
            encode_safe(host)
        ),
        (None, None) => format!("an unnamed client <code>{}</code>", encode_safe(c.client_id)),
    };
    let mut s = format!(
        "<p>{name}</p><p>After you decide, your browser goes to <strong>{}</strong>.</p>",
        encode_safe(c.redirect_host)
    );
    if c.all_loopback {
        s.push_str("<p class=\"warn\">This client only redirects to this computer (a local program). Approve only if you just started connecting it yourself.</p>");
    }
    s
}

/// A configured upstream sign-in provider (`login::delegate::Upstream`).
pub struct UpstreamButton {
    pub id: &'static str,
    pub label: String,
}

/// What the sign-in page offers (`sign_in::page::for_request` reads it from the config).
pub struct LoginOptions {
    /// `PASSWORD_LOGIN` is on.
    pub password: bool,
    pub upstreams: Vec<UpstreamButton>,
    /// The passkey sign-in section (`login::passkey`), when passkeys are on.
    pub passkey: Option<String>,
    /// `CONSENT_REMEMBER_DAYS`: offered with the upstream buttons when > 0.
    pub remember_days: u32,
}

/// The sign-in page: one "Allow and sign in with …" button per upstream
/// provider (pressing one is the consent, given here before the browser
/// leaves for the provider: MCP security best practices, confused deputy),
/// with the "Remember" checkbox of the consent page, the owner's password
/// form unless `PASSWORD_LOGIN=off`, and the passkey button when passkeys
/// are on. The password form carries the decision too ("Allow and sign in",
/// "Deny"): the page already names the client, where the browser goes next
/// and the scopes, so a first authorization by password is one form, not a
/// sign-in followed by a consent page.
pub fn login_page(status: u16, client: &ClientView<'_>, request_id: &str, csrf: &str, error: Option<&str>, options: &LoginOptions) -> HttpResponse {
    let upstream_form = if options.upstreams.is_empty() {
        String::new()
    } else {
        // One form for every provider, so the checkbox goes with whichever
        // button is pressed; the pressed button alone sends its `via`.
        let buttons: String = options
            .upstreams
            .iter()
            .map(|u| format!("<button type=\"submit\" name=\"via\" value=\"{}\">Allow and sign in with {}</button>", encode_safe(u.id), encode_safe(&u.label)))
            .collect();
        format!(
            "<form method=\"post\" action=\"/consent\">{}{}{}{}<p>{buttons}</p></form>\
<form method=\"post\" action=\"/consent\">{}{}{}<p><button type=\"submit\">Deny</button></p></form>{}",
            hidden("request", request_id),
            hidden("csrf", csrf),
            hidden("decision", "approve"),
            remember_checkbox(options.remember_days),
            hidden("request", request_id),
            hidden("csrf", csrf),
            hidden("decision", "deny"),
            if options.password || options.passkey.is_some() { "<p class=\"muted\">Or, as the owner:</p>" } else { "" },
        )
    };
    let err = error.map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", encode_safe(e))).unwrap_or_default();
    let password_form = if options.password {
        // Deny asks for the password too: a denial then comes from the
        // owner, and goes back to the client as a signed-in Deny does.
        format!(
            "<form method=\"post\" action=\"/login\">{}{}\
<p><label>Owner password<br><input type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus></label></p>{}\
<p><button type=\"submit\" name=\"decision\" value=\"approve\">Allow and sign in</button> \
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p></form>",
            hidden("request", request_id),
            hidden("csrf", csrf),
            remember_checkbox(options.remember_days),
        )
    } else if options.upstreams.is_empty() && options.passkey.is_none() {
        "<p class=\"muted\">Password sign-in is switched off on this server. Sign in with the method its owner set up \
(for Cloudflare Access, open this page through the Access-protected address).</p>"
            .to_string()
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Sign in to Gatehouse</h1><div class=\"box\"><p>An MCP client is asking to connect:</p>{}\
<p>It will be able to use: <code>{}</code></p></div>{err}{upstream_form}{password_form}{}",
        client_summary(client),
        encode_safe(client.scopes),
        options.passkey.as_deref().unwrap_or_default(),
    );
    let r = page(status, "Sign in", &body);
    if options.passkey.is_some() { allow_own_script(r) } else { r }
}

/// "Remember for N days" (`login::remembered_consent`); nothing when 0.
fn remember_checkbox(days: u32) -> String {
    let span = match days {
        0 => return String::new(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    };
    format!("<p><label><input type=\"checkbox\" name=\"remember\" value=\"on\"> Remember for {span}: don't ask again for this client</label></p>")
}

/// `remember_days` > 0 offers "Remember for N days" (`login::remembered_consent`).
pub fn consent_page(client: &ClientView<'_>, request_id: &str, csrf: &str, remember_days: u32) -> HttpResponse {
    let remember = remember_checkbox(remember_days);
    let body = format!(
        "<h1>Allow access to your MCP server?</h1><div class=\"box\">{}\
<p>It will be able to use: <code>{}</code></p></div>\
<form method=\"post\" action=\"/consent\">{}{}{remember}\
<p><button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p></form>",
        client_summary(client),
        encode_safe(client.scopes),
        hidden("request", request_id),
        hidden("csrf", csrf),
    );
    page(200, "Allow access", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::page::error_page;

    fn opts(password: bool) -> LoginOptions {
        LoginOptions { password, upstreams: vec![], passkey: None, remember_days: 30 }
    }

    fn view<'a>(name: &'a str) -> ClientView<'a> {
        ClientView { name: Some(name), client_id: "gh_x", redirect_host: "claude.ai", all_loopback: false, scopes: "mcp", document_host: None }
    }

    #[test]
    fn metadata_document_clients_name_the_host_that_vouches() {
        let mut v = view("Claude <b>");
        v.client_id = "https://claude.ai/oauth/mcp-oauth-client-metadata";
        v.document_host = Some("claude.ai");
        let body = consent_page(&v, "r", "c", 30).body;
        assert!(body.contains("Claude &lt;b&gt;"), "{body}");
        assert!(body.contains("metadata document at <strong>claude.ai</strong>"), "{body}");
        assert!(!body.contains("unverified"), "{body}");
        v.name = None;
        let body = login_page(200, &v, "r", "c", None, &opts(true)).body;
        assert!(body.contains("served by <strong>claude.ai</strong>"), "{body}");
    }

    #[test]
    fn client_supplied_html_is_inert() {
        let r = consent_page(&view("<script>alert(1)</script><img src=x onerror=alert(2)>"), "r\"1", "c", 30);
        assert!(!r.body.contains("<script>"));
        assert!(!r.body.contains("<img"));
        assert!(r.body.contains("&lt;script&gt;"));
        assert!(!r.body.contains("value=\"r\"1\""));
        assert!(r.body.contains("unverified"));
    }

    #[test]
    fn every_page_refuses_framing() {
        for r in [consent_page(&view("x"), "r", "c", 30), login_page(200, &view("x"), "r", "c", None, &opts(true)), error_page(400, "t", "m")] {
            assert_eq!(r.header("x-frame-options"), Some("DENY"));
            assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
            assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
    }

    #[test]
    fn the_remember_checkbox_follows_the_configured_days() {
        let body = consent_page(&view("x"), "r", "c", 30).body;
        assert!(body.contains("name=\"remember\"") && body.contains("Remember for 30 days"), "{body}");
        assert!(!consent_page(&view("x"), "r", "c", 0).body.contains("name=\"remember\""));
        assert!(consent_page(&view("x"), "r", "c", 1).body.contains("Remember for 1 day:"));
    }

    #[test]
    fn without_password_login_the_page_has_no_password_field() {
        let on = login_page(200, &view("x"), "r", "c", None, &opts(true)).body;
        assert!(on.contains("type=\"password\"") && on.contains("action=\"/login\""));
        let off = login_page(200, &view("x"), "r", "c", None, &opts(false)).body;
        assert!(!off.contains("type=\"password\"") && !off.contains("action=\"/login\""), "{off}");
        assert!(off.contains("switched off"), "{off}");
    }

    #[test]
    fn the_upstream_buttons_share_one_form_with_the_remember_box() {
        let mut o = opts(true);
        o.upstreams = vec![UpstreamButton { id: "oidc", label: "Pocket <ID>".into() }, UpstreamButton { id: "github", label: "GitHub".into() }];
        let body = login_page(200, &view("x"), "r", "c", None, &o).body;
        let forms: Vec<&str> = body.split("<form").skip(1).collect();
        // The password form has its own Allow; the providers' buttons share the other one.
        let approve: Vec<&&str> = forms.iter().filter(|f| f.contains("value=\"approve\"") && f.contains("action=\"/consent\"")).collect();
        assert_eq!(approve.len(), 1, "{body}");
        let f = approve[0];
        assert!(f.contains("name=\"via\" value=\"oidc\"") && f.contains("name=\"via\" value=\"github\""), "{body}");
        assert!(f.contains("Pocket &lt;ID&gt;") && f.contains("name=\"remember\""), "{body}");
        assert!(forms.iter().any(|f| f.contains("value=\"deny\"") && !f.contains("name=\"via\"")), "{body}");
        o.remember_days = 0;
        assert!(!login_page(200, &view("x"), "r", "c", None, &o).body.contains("name=\"remember\""));
    }

    #[test]
    fn the_password_form_carries_the_decision() {
        let body = login_page(200, &view("x"), "r", "c", None, &opts(true)).body;
        let form = body.split("<form").find(|f| f.contains("action=\"/login\"")).expect("a password form");
        assert!(form.contains("name=\"decision\" value=\"approve\"") && form.contains("Allow and sign in"), "{body}");
        assert!(form.contains("name=\"decision\" value=\"deny\""), "{body}");
        assert!(form.contains("name=\"remember\"") && form.contains("type=\"password\""), "{body}");
        assert!(body.contains("It will be able to use: <code>mcp</code>"), "{body}");
        let mut o = opts(true);
        o.remember_days = 0;
        assert!(!login_page(200, &view("x"), "r", "c", None, &o).body.contains("name=\"remember\""));
    }

    #[test]
    fn the_sign_in_page_escapes_what_the_client_chose() {
        let mut v = view("Evil <script>x</script>");
        v.scopes = "mcp <img src=x>";
        let body = login_page(200, &v, "r\"><b>", "c", Some("<i>"), &opts(true)).body;
        assert!(body.contains("Evil &lt;script&gt;x&lt;") && !body.contains("<script>"), "{body}");
        assert!(body.contains("<code>mcp &lt;img src=x&gt;</code>") && !body.contains("<img"), "{body}");
        assert!(!body.contains("<b>") && !body.contains("<i>"), "{body}");
        // Both buttons stay in the one password form, after the password field.
        let form = body.split("<form").find(|f| f.contains("action=\"/login\"")).expect("a password form");
        let (field, approve, deny) = (form.find("type=\"password\""), form.find("value=\"approve\""), form.find("value=\"deny\""));
        assert!(field < approve && approve < deny, "{form}");
        assert!(!body.contains(">Sign in</button>"), "no button that signs in without deciding: {body}");
    }

    #[test]
    fn without_password_sign_in_there_is_no_password_decision() {
        let mut o = opts(false);
        o.upstreams = vec![UpstreamButton { id: "oidc", label: "Pocket ID".into() }];
        let body = login_page(200, &view("x"), "r", "c", None, &o).body;
        assert!(!body.contains("action=\"/login\"") && !body.contains("Allow and sign in</button>"), "{body}");
        assert!(body.contains("It will be able to use: <code>mcp</code>"), "the scopes are still named: {body}");
    }

    #[test]
    fn loopback_only_clients_get_a_warning() {
        let mut v = view("Local");
        v.all_loopback = true;
        assert!(consent_page(&v, "r", "c", 30).body.contains("class=\"warn\""));
        assert!(!consent_page(&view("Remote"), "r", "c", 30).body.contains("class=\"warn\""));
    }
}

/// What the sign-in and consent pages say about the client asking.
pub fn client_view<'a>(client: &'a ClientRecord, scopes: &'a str, redirect_host: &'a str) -> ClientView<'a> {
    ClientView {
        name: client.client_name.as_deref(),
        client_id: client.client_id.as_str(),
        redirect_host,
        all_loopback: client.redirect_uris.iter().all(RedirectUri::is_loopback),
        scopes,
        document_host: document_host(client.client_id.as_str()),
    }
}
