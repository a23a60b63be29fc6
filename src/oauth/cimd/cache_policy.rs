//! How long a good metadata document is kept (draft-ietf-oauth-client-id-
//! metadata-document §5.2: per HTTP caching, RFC 9111 §4.2.1, with an upper
//! bound). Errors are never cached, so nothing here sees them.

use chrono::DateTime;

/// The longest a document is kept, whatever its headers say.
pub const MAX_LIFETIME: i64 = 24 * 3600;
/// Kept this long when the response says nothing: long enough that one
/// connection (authorize, consent, token) fetches once, short enough that a
/// fixed document is picked up soon.
pub const DEFAULT_LIFETIME: i64 = 5 * 60;

/// Seconds to keep the document, or `None` when it must not be stored.
/// `Cache-Control` wins over `Expires`; `s-maxage` over `max-age` (the
/// authorization server is a cache shared by every user of the client).
pub fn lifetime(cache_control: Option<&str>, expires: Option<&str>, date: Option<&str>, now: i64) -> Option<i64> {
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        // RFC 9111 §1.2.2: too large a number means "very long", anything
        // else that is not digits means "stale".
        let seconds = || match value {
            Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v.parse::<i64>().unwrap_or(i64::MAX),
            _ => 0,
        };
        match name.to_ascii_lowercase().as_str() {
            // no-cache would need revalidation on every use; without it, don't keep.
            "no-store" | "no-cache" => return None,
            "max-age" => max_age = Some(seconds()),
            "s-maxage" => s_maxage = Some(seconds()),
            _ => {}
        }
    }
    let seconds = match s_maxage.or(max_age) {
        Some(n) => n,
        None => match expires {
            // An invalid Expires means "already expired" (RFC 9111 §5.3).
            Some(e) => http_date(e)? - date.and_then(http_date).unwrap_or(now),
            None => DEFAULT_LIFETIME,
        },
    };
    (seconds > 0).then_some(seconds.min(MAX_LIFETIME))
}

fn http_date(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(s.trim()).ok().map(|d| d.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

    fn life(cc: Option<&str>, expires: Option<&str>, date: Option<&str>) -> Option<i64> {
        lifetime(cc, expires, date, NOW)
    }

    #[test]
    fn max_age_and_s_maxage() {
        assert_eq!(life(Some("max-age=600"), None, None), Some(600));
        assert_eq!(life(Some("public, max-age=600"), None, None), Some(600));
        assert_eq!(life(Some("Max-Age=\"60\""), None, None), Some(60));
        assert_eq!(life(Some("max-age=600, s-maxage=30"), None, None), Some(30));
        assert_eq!(life(Some("s-maxage=30, max-age=600"), None, None), Some(30));
    }

    #[test]
    fn capped_at_a_day() {
        assert_eq!(life(Some("max-age=31536000"), None, None), Some(MAX_LIFETIME));
        assert_eq!(life(Some("max-age=99999999999999999999999"), None, None), Some(MAX_LIFETIME));
    }

    #[test]
    fn not_stored_when_the_response_says_so() {
        for cc in ["no-store", "no-cache", "max-age=600, no-store", "NO-CACHE", "max-age=0", "max-age=-5", "max-age=abc", "max-age"] {
            assert_eq!(life(Some(cc), None, None), None, "{cc}");
        }
    }

    #[test]
    fn cache_control_wins_over_expires() {
        assert_eq!(life(Some("max-age=120"), Some("Sun, 06 Nov 1994 09:49:37 GMT"), None), Some(120));
    }

    #[test]
    fn expires_counts_from_date_or_now() {
        assert_eq!(life(None, Some("Sun, 06 Nov 1994 09:49:37 GMT"), None), Some(3600));
        assert_eq!(life(None, Some("Sun, 06 Nov 1994 09:49:37 GMT"), Some("Sun, 06 Nov 1994 09:19:37 GMT")), Some(1800));
        assert_eq!(life(None, Some("Sun, 06 Nov 1994 08:49:37 GMT"), None), None);
        assert_eq!(life(None, Some("0"), None), None);
        assert_eq!(life(None, Some("Mon, 06 Nov 1995 08:49:37 GMT"), None), Some(MAX_LIFETIME));
    }

    #[test]
    fn default_when_silent() {
        assert_eq!(life(None, None, None), Some(DEFAULT_LIFETIME));
        assert_eq!(life(Some("public"), None, None), Some(DEFAULT_LIFETIME));
        assert_eq!(life(Some(""), None, None), Some(DEFAULT_LIFETIME));
    }
}
