//! What the browser sends the sign-in pages: the `Cookie` header
//! (`HttpRequest::cookie`, RFC 6265 §5.4) and a form body
//! (`form::Params::parse`, application/x-www-form-urlencoded). Neither panics;
//! a cookie found is one of the header's `name=value` pairs; a parsed form
//! holds no name twice (a repeated parameter is refused, RFC 6749 §3.1) and
//! gives each value back as the WHATWG form decoding (the `url` crate) reads it.
//! Input: the Cookie header, a newline, the form body.
#![no_main]

use gatehouse::base::form::Params;
use gatehouse::base::http::HttpRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (cookie, form) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    if let Ok(header) = std::str::from_utf8(cookie) {
        let req = HttpRequest { headers: vec![("cookie".into(), header.into())], ..Default::default() };
        for name in ["gh_session", "gh_csrf", ""] {
            if let Some(v) = req.cookie(name) {
                assert!(header.split(';').any(|kv| kv.trim().split_once('=') == Some((name, v))), "{name}={v} from {header:?}");
            }
        }
    }
    if let Ok(p) = Params::parse(form) {
        let reference: Vec<(String, String)> = url::form_urlencoded::parse(form).into_owned().collect();
        for (k, v) in &reference {
            assert_eq!(reference.iter().filter(|(k2, _)| k2 == k).count(), 1, "{k} repeated yet accepted");
            if let Some(ours) = p.get(k) {
                assert_eq!(ours, v);
            }
        }
    }
});
