//! How long a good metadata document is kept (draft-ietf-oauth-client-id-
//! metadata-document §5.2: per HTTP caching, RFC 9111 §4.2.1, with an upper
//! bound), and how long after that it may still stand in for a refetch that
//! fails (stale-if-error, RFC 5861 §4, bounded by [`MAX_STALE`]). Errors are
//! never kept, so nothing here sees them.

/// The longest a document is used without a refetch, whatever its headers say.
pub const MAX_LIFETIME: i64 = 24 * 3600;
/// The longest a stored copy stands in for refetches that fail, counted from
/// its last successful fetch: a vendor's outage of a day or a weekend is
/// covered, a document the vendor stopped serving for good is not kept alive.
pub const MAX_STALE: i64 = 7 * 24 * 3600;
/// How long a copy that stood in for a failed fetch is used before the next
/// try: one connection (authorize, consent, token) pays for at most one
/// failed fetch, and a host that is back is seen within a minute.
pub const RETRY_AFTER_FAILURE: i64 = 60;
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

/// Seconds after its fetch that a stored copy may stand in for a failed
/// refetch: 0 when the response forbids serving it stale (`no-store`,
/// `no-cache`, `must-revalidate`, `proxy-revalidate`: RFC 9111 §4.2.4), its
/// own `stale-if-error` when it gives one, else [`MAX_STALE`]; never more.
pub fn stale_window(cache_control: Option<&str>) -> i64 {
    let mut window = MAX_STALE;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" | "must-revalidate" | "proxy-revalidate" => return 0,
            "stale-if-error" => {
                window = match value {
                    Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v.parse::<i64>().unwrap_or(MAX_STALE).min(MAX_STALE),
                    _ => 0,
                }
            }
            _ => {}
        }
    }
    window
}

/// An HTTP-date (RFC 9110 §5.6.7) in any of its three forms, as Unix time:
/// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
/// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`.
/// Hand-written rather than chrono's RFC 2822 parser, which is 7 KB of wasm
/// and accepts only the first form.
pub fn http_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t: Vec<&str> = s.split([' ', ',', '-', ':']).filter(|p| !p.is_empty()).collect();
    let month_of = |name: &str| MONTHS.iter().position(|n| *n == name);
    let (day, month, year, h, m, sec) = match t.as_slice() {
        [_weekday, day, month, year, h, m, sec, "GMT"] => (*day, month_of(month)?, *year, *h, *m, *sec),
        [_weekday, month, day, h, m, sec, year] => (*day, month_of(month)?, *year, *h, *m, *sec),
        _ => return None,
    };
    let num = |v: &str, max: i64| -> Option<i64> {
        let n = if !v.is_empty() && v.len() <= 4 && v.bytes().all(|d| d.is_ascii_digit()) { v.parse().ok()? } else { return None };
        (n <= max).then_some(n)
    };
    let mut year = num(year, 9999)?;
    if year < 100 {
        // RFC 850's two-digit year: the one in the past century closest to now
        // is what RFC 9110 asks; for cache lifetimes, 19xx/20xx split at 70 is plenty.
        year += if year < 70 { 2000 } else { 1900 };
    }
    let (day, hour, minute, second) = (num(day, 31)?, num(h, 23)?, num(m, 59)?, num(sec, 60)?);
    if day == 0 {
        return None;
    }
    Some(days_from_civil(year, month as i64 + 1, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn http_dates_in_all_three_forms() {
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(NOW));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(NOW));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(NOW));
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
        for bad in ["", "0", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sun Nov  6 08:49:37 1994 GMT"] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_stored_copy_may_stand_in_for_a_week_unless_the_response_forbids_it() {
        assert_eq!(stale_window(None), MAX_STALE);
        assert_eq!(stale_window(Some("max-age=600")), MAX_STALE);
        assert_eq!(stale_window(Some("max-age=0")), MAX_STALE, "stale at once, but a copy all the same");
        assert_eq!(stale_window(Some("max-age=60, stale-if-error=3600")), 3600);
        assert_eq!(stale_window(Some("stale-if-error=\"120\"")), 120);
        assert_eq!(stale_window(Some("stale-if-error=99999999999999999999")), MAX_STALE, "bounded");
        assert_eq!(stale_window(Some("stale-if-error=1209600")), MAX_STALE, "bounded");
        for cc in ["no-store", "no-cache", "max-age=600, must-revalidate", "Proxy-Revalidate", "stale-if-error=abc", "stale-if-error"] {
            assert_eq!(stale_window(Some(cc)), 0, "{cc}");
        }
    }

    #[test]
    fn default_when_silent() {
        assert_eq!(life(None, None, None), Some(DEFAULT_LIFETIME));
        assert_eq!(life(Some("public"), None, None), Some(DEFAULT_LIFETIME));
        assert_eq!(life(Some(""), None, None), Some(DEFAULT_LIFETIME));
    }
}
