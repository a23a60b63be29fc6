//! HTTP-date (RFC 9110 §5.6.7), read from a metadata document's `Expires`
//! and `Last-Modified` (`cimd::cache_policy::http_date`), against the
//! `httpdate` crate as a reference (used only here): every date `httpdate`
//! reads that is made of the grammar's characters, ours reads as the same instant; and every date ours reads, written
//! back by `httpdate` in IMF-fixdate, ours reads as the same instant again.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use gatehouse::oauth::cimd::cache_policy::http_date;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let ours = http_date(s);
    // httpdate skips the separators it expects without reading them (it took a NUL for the
    // space of an RFC 850 date): compare only on strings made of the grammar's own characters
    // (RFC 9110 §5.6.7: letters, digits, SP, ",", ":", "-").
    let in_grammar = s.bytes().all(|b| b.is_ascii_alphanumeric() || b" ,:-".contains(&b));
    if let (true, Ok(t)) = (in_grammar, httpdate::parse_http_date(s)) {
        let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(-1);
        assert_eq!(ours, Some(secs), "{s:?}: httpdate reads {secs}");
    }
    if let Some(secs) = ours {
        if (0..253_402_300_800).contains(&secs) {
            let written = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs as u64));
            assert_eq!(http_date(&written), Some(secs), "{s:?} -> {written:?}");
        }
    }
});
