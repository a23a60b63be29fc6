//! The passkey HTML: the "Sign in with a passkey" section other sign-in pages
//! include, the setup page and the management page. Forms marked
//! `data-passkey` are driven by `/passkey.js` (no inline script); each page
//! that includes one is served with `page::allow_own_script`.

use html_escape::encode_safe;

use crate::store::passkeys::Passkey;
use crate::base::page::{self, utc};
use crate::base::http::HttpResponse;

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", encode_safe(name), encode_safe(value))
}

/// The empty fields `/passkey.js` fills with the authenticator's answer.
fn answer_fields(names: &[&str]) -> String {
    names.iter().map(|n| hidden(n, "")).collect()
}

const SCRIPT_TAG: &str = "<script src=\"/passkey.js\" defer></script>\
<noscript><p class=\"muted\">Passkeys need JavaScript (Gatehouse's own /passkey.js).</p></noscript>";

fn status_line() -> &'static str {
    "<p class=\"err\" role=\"alert\" data-passkey-status></p>"
}

/// A passkey sign-in form posting to `/passkeys/login` with `fields`
/// (the pending request and its CSRF token, or `next` and a CSRF token).
pub fn sign_in_section(fields: &[(&str, &str)]) -> String {
    let fields: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    format!(
        "<form method=\"post\" action=\"/passkeys/login\" data-passkey=\"login\" id=\"passkey-login\">{fields}{}\
<p><button type=\"submit\">Sign in with a passkey</button></p>{}</form>{SCRIPT_TAG}",
        answer_fields(&["credential_id", "client_data", "authenticator_data", "signature"]),
        status_line(),
    )
}

fn error_line(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", encode_safe(e))).unwrap_or_default()
}

/// `/passkeys` (or a failed passkey sign-in for `/admin`) without a session.
pub fn sign_in_page(status: u16, next: &str, csrf: &str, error: Option<&str>) -> HttpResponse {
    let body = format!(
        "<h1>Sign in with a passkey</h1>{}{}<p class=\"muted\">Or sign in with the owner password at <a href=\"/admin\">/admin</a>.</p>",
        error_line(error),
        sign_in_section(&[("next", next), ("csrf", csrf)]),
    );
    page::allow_own_script(page::page(status, "Passkey sign-in", &body))
}

/// `/passkeys/setup`: the first passkey, with the one-time setup code.
pub fn setup_page(status: u16, csrf: &str, error: Option<&str>) -> HttpResponse {
    let body = format!(
        "<h1>Set up your first passkey</h1>\
<p>Enter the one-time setup code that <code>npm run deploy</code> (or <code>npm run dev</code>) printed, name this passkey, \
and follow your browser's prompt. The code works once.</p>{}\
<form method=\"post\" action=\"/passkeys/setup\" data-passkey=\"register\" id=\"passkey-setup\">{}{}\
<p><label>Setup code<br><input type=\"password\" name=\"setup_code\" autocomplete=\"off\" required autofocus></label></p>\
<p><label>Name of this passkey<br><input type=\"text\" name=\"name\" maxlength=\"60\" placeholder=\"laptop\"></label></p>\
<p><button type=\"submit\">Create passkey</button></p>{}</form>{SCRIPT_TAG}",
        error_line(error),
        hidden("csrf", csrf),
        answer_fields(&["client_data", "attestation_object"]),
        status_line(),
    );
    page::allow_own_script(page::page(status, "Passkey setup", &body))
}

/// What the management page shows.
pub struct Manage<'a> {
    pub passkeys: &'a [Passkey],
    /// Signed in with a passkey: adding and removing are allowed.
    pub may_change: bool,
    /// CSRF token of the add and remove forms (bound to this session).
    pub csrf: &'a str,
    /// CSRF token of the passkey sign-in form, when `may_change` is false.
    pub login_csrf: &'a str,
    pub error: Option<&'a str>,
}

fn rows(m: &Manage<'_>) -> String {
    if m.passkeys.is_empty() {
        return "<p class=\"muted\">No passkeys are enrolled.</p>".into();
    }
    let mut rows = String::new();
    for p in m.passkeys {
        let remove = if m.may_change {
            format!(
                "<form method=\"post\" action=\"/passkeys\">{}{}{}<button type=\"submit\">Remove</button></form>",
                hidden("action", "remove"),
                hidden("credential", &p.id),
                hidden("csrf", m.csrf)
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr data-passkey-id=\"{id}\"><td>{name}</td><td>{alg}</td><td>{created}</td><td>{used}</td><td>{remove}</td></tr>",
            id = encode_safe(&p.id),
            name = encode_safe(&p.name),
            alg = p.alg.name(),
            created = utc(p.created_at),
            used = p.last_used_at.map(utc).unwrap_or_else(|| "never".into()),
        ));
    }
    format!("<table id=\"passkeys\"><thead><tr><th>Name</th><th>Algorithm</th><th>Added</th><th>Last used</th><th></th></tr></thead><tbody>{rows}</tbody></table>")
}

/// `/passkeys` for a signed-in owner.
pub fn manage_page(m: &Manage<'_>) -> HttpResponse {
    let change = if m.may_change {
        format!(
            "<h2>Add a passkey</h2><form method=\"post\" action=\"/passkeys\" data-passkey=\"register\" id=\"passkey-add\">{}{}{}\
<p><label>Name<br><input type=\"text\" name=\"name\" maxlength=\"60\" placeholder=\"phone\"></label></p>\
<p><button type=\"submit\">Add a passkey</button></p>{}</form>{SCRIPT_TAG}",
            hidden("action", "add"),
            hidden("csrf", m.csrf),
            answer_fields(&["client_data", "attestation_object"]),
            status_line(),
        )
    } else {
        format!(
            "<p class=\"warn\">You signed in with the password. Adding or removing passkeys needs a passkey sign-in.</p>{}",
            sign_in_section(&[("next", "/passkeys"), ("csrf", m.login_csrf)])
        )
    };
    let body = format!(
        "<style>body{{max-width:48rem}}table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;border-bottom:1px solid #ddd;padding:.3rem}}</style>\
<h1>Passkeys</h1><p class=\"muted\">Passkeys sign the owner in to Gatehouse. <a href=\"/admin\">Admin</a></p>{}{}{change}",
        error_line(m.error),
        rows(m),
    );
    page::allow_own_script(page::page(if m.error.is_some() { 400 } else { 200 }, "Passkeys", &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::signature::{Alg, PublicJwk};

    fn passkey(name: &str) -> Passkey {
        let jwk = PublicJwk { kty: "OKP".into(), kid: None, alg: None, crv: None, n: None, e: None, x: None, y: None, use_: None };
        Passkey { id: "id\"1".into(), alg: Alg::EdDsa, public_key: jwk, sign_count: 0, name: name.into(), created_at: 0, last_used_at: None }
    }

    #[test]
    fn names_are_inert_and_only_a_passkey_session_gets_change_buttons() {
        let list = [passkey("<script>x</script>")];
        let m = Manage { passkeys: &list, may_change: true, csrf: "c", login_csrf: "l", error: None };
        let page = manage_page(&m);
        assert!(!page.body.contains("<script>x"));
        assert!(page.body.contains("&lt;script&gt;"));
        assert!(page.body.contains("Remove") && page.body.contains("Add a passkey"));
        let read_only = manage_page(&Manage { may_change: false, ..m });
        assert!(!read_only.body.contains("Remove") && !read_only.body.contains("Add a passkey"));
        assert!(read_only.body.contains("Sign in with a passkey"));
    }

    #[test]
    fn pages_with_the_script_allow_only_our_own() {
        for r in [setup_page(200, "c", None), sign_in_page(200, "/admin", "c", None)] {
            let csp = r.header("content-security-policy").unwrap();
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(!csp.contains("unsafe-inline'; script") && !r.body.contains("<script>"));
            assert_eq!(r.headers.iter().filter(|(k, _)| k == "content-security-policy").count(), 1);
        }
    }
}
