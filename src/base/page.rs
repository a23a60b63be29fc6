//! The page frame every HTML page of Gatehouse is drawn in: the security
//! headers (a CSP with no script but our own `/passkey.js` where a passkey
//! form needs it, no framing, no referrer: requirements.md §E, RFC 9700
//! §4.16), the style, the error page shown where redirecting would be unsafe,
//! and the small pieces pages share (hidden fields, UTC times). What a client
//! chose is escaped by the pages that show it.

use html_escape::encode_safe;

use super::error::OAuthError;
use super::form::{is_form_content_type, Params};
use super::http::{HttpRequest, HttpResponse};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// For pages with a passkey form: the same, plus Gatehouse's own
/// `/passkey.js` and its `fetch` of a challenge. Still no inline script.
const CSP_OWN_SCRIPT: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Lets a page run `/passkey.js` (and nothing else).
pub fn allow_own_script(mut r: HttpResponse) -> HttpResponse {
    r.headers.retain(|(k, _)| k != "content-security-policy");
    r.with_header("content-security-policy", CSP_OWN_SCRIPT)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.3rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.2rem}\
.warn{background:#fff4e5;border:1px solid #f0b060;border-radius:6px;padding:.6rem .8rem}\
.err{color:#a00}.muted{color:#666;font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}\
button,input{font-size:1rem;padding:.4rem .8rem;margin:.3rem .3rem .3rem 0}";

/// Wraps a body in the page frame with the security headers every page sends.
pub fn page(status: u16, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{} · Gatehouse</title>\
<style>{STYLE}</style></head><body>{body}</body></html>",
        encode_safe(title)
    );
    HttpResponse::html(status, html)
        .with_header("content-security-policy", CSP)
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer")
}

/// An error shown instead of redirecting, where redirecting would be unsafe.
pub fn error_page(status: u16, title: &str, message: &str) -> HttpResponse {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"err\">{}</p><p class=\"muted\">You can close this window and try connecting again from your MCP client.</p>",
            encode_safe(title),
            encode_safe(message)
        ),
    )
}

/// The parameters of a form a page posted; anything else is answered with a
/// page (the OAuth endpoints' twin is `form::form_body`).
pub fn form_body(req: &HttpRequest) -> Result<Params, HttpResponse> {
    if !is_form_content_type(req.header("content-type")) {
        return Err(error_page(400, "Bad request", "The form must be sent as application/x-www-form-urlencoded."));
    }
    Params::parse(&req.body).map_err(|e| error_page(400, "Bad request", &e.description))
}

/// An error reaching a page endpoint (a store failure, say), as a page.
pub fn fail_page(e: OAuthError) -> HttpResponse {
    error_page(e.status(), "Something went wrong", &e.description)
}

pub fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", encode_safe(name), encode_safe(value))
}

/// `YYYY-MM-DD HH:MM UTC` for Unix seconds (civil calendar, proleptic Gregorian).
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59 UTC");
    }
}
