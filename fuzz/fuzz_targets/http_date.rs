//! HTTP-date (RFC 9110 §5.6.7), read from a metadata document's `Expires`
//! and `Last-Modified` (`cimd::cache_policy::http_date`), against the
//! `httpdate` crate as a reference (used only here). On any string ours never
//! panics, and a date it reads, written back by `httpdate` in IMF-fixdate,
//! reads as the same instant. From any instant (the input's first 8 bytes):
//! its IMF-fixdate as `httpdate` writes it, its RFC 850 form (for years
//! 1970-2069, which a two-digit year names) and its asctime form, written
//! here, all read as that instant. (`httpdate`'s own reader is not the
//! reference for arbitrary strings: it skips the separators it expects
//! without reading them, so it takes `06-Nov-88908:49:37` for a date.)
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use gatehouse::protocol::cimd::cache_policy::http_date;
use libfuzzer_sys::fuzz_target;

const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(secs) = http_date(s) {
            if (0..=MAX as i64).contains(&secs) {
                let written = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs as u64));
                assert_eq!(http_date(&written), Some(secs), "{s:?} -> {written:?}");
            }
        }
    }
    if data.len() >= 8 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap()) % (MAX + 1);
        let imf = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(http_date(&imf), Some(secs as i64), "{imf}");
        // IMF-fixdate is `Sun, 06 Nov 1994 08:49:37 GMT`: its parts give the other two forms.
        let p: Vec<&str> = imf.split([' ', ',', ':']).filter(|x| !x.is_empty()).collect();
        let (wd, day, mon, year, h, m, s) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        let long = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"].iter().find(|d| d.starts_with(wd)).unwrap();
        let y: u32 = year.parse().unwrap();
        if (1970..2070).contains(&y) {
            let rfc850 = format!("{long}, {day}-{mon}-{:02} {h}:{m}:{s} GMT", y % 100);
            assert_eq!(http_date(&rfc850), Some(secs as i64), "{rfc850}");
        }
        let asctime = format!("{wd} {mon} {:>2} {h}:{m}:{s} {year}", day.trim_start_matches('0'));
        assert_eq!(http_date(&asctime), Some(secs as i64), "{asctime}");
    }
});
