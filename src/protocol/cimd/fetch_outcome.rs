//! What one fetch of a metadata document amounts to (draft-ietf-oauth-client-
//! id-metadata-document §5: only a `200` is a document, redirects are not
//! followed). Either the vendor answered, and its answer is followed, or the
//! fetch failed, and a stored or pinned copy may stand in (docs/clients.md,
//! "When a vendor's document host does not answer").
//!
//! Failed: no connection, no answer in time, a 5xx, 401/403 (Cloudflare's
//! managed challenge for datacenter fetches is a 403 HTML page with
//! `cf-mitigated: challenge`, and block pages look the same), 408, 425, 429,
//! and a `200` whose body is not JSON at all (a challenge or error page served
//! as 200). Answered: a `200` with JSON (the document, valid or not), a
//! redirect, 404, 410 and every other 4xx, and a body over the size cap. A
//! vendor that changes its document to something invalid, withdraws it or
//! moves it has spoken; no older copy may overrule it.

use super::error::CimdError;
use super::{FetchError, FetchedDocument, MAX_DOCUMENT_BYTES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A `200` whose body is JSON: the vendor's document, to be judged.
    Document(FetchedDocument),
    /// The vendor's answer is that this URL is not a usable document.
    Refused(CimdError),
    /// No usable answer: a stored or pinned copy may stand in.
    Failed(CimdError),
}

pub fn judge(fetched: Result<FetchedDocument, FetchError>) -> Outcome {
    let fetched = match fetched {
        Ok(f) => f,
        Err(e @ FetchError::TooLarge) => return Outcome::Refused(e.into()),
        Err(e @ (FetchError::Timeout | FetchError::Unreachable)) => return Outcome::Failed(e.into()),
    };
    let status = fetched.status;
    let answered = |extra: &str| CimdError::new(format!("its metadata URL answered HTTP {status}, not 200{extra}"));
    match status {
        200 => {}
        300..=399 => {
            return Outcome::Refused(CimdError::new(format!(
                "its metadata URL answered with a redirect (HTTP {status}); redirects are not followed"
            )))
        }
        401 | 403 => return Outcome::Failed(answered(" (a challenge or block page, such as Cloudflare shows to datacenter fetches)")),
        408 | 425 | 429 | 500..=599 => return Outcome::Failed(answered("")),
        _ => return Outcome::Refused(answered("")),
    }
    if fetched.body.len() > MAX_DOCUMENT_BYTES {
        return Outcome::Refused(FetchError::TooLarge.into());
    }
    // Only well-formed JSON is the vendor's word; anything else is a page
    // something in between served instead.
    if serde_json::from_slice::<serde_json::Value>(&fetched.body).is_err() {
        return Outcome::Failed(CimdError::new("its metadata URL answered with something that is not JSON (an HTML page?)"));
    }
    Outcome::Document(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<FetchedDocument, FetchError> {
        Ok(FetchedDocument { status, body: body.as_bytes().to_vec(), cache_control: None, expires: None, date: None })
    }

    #[test]
    fn a_json_200_is_the_document_valid_or_not() {
        for body in [r#"{"client_id":"x"}"#, "[]", "null", "7", r#""text""#] {
            assert!(matches!(judge(answer(200, body)), Outcome::Document(_)), "{body}");
        }
    }

    #[test]
    fn failures_may_be_covered_by_a_copy() {
        let failed = [
            (Err(FetchError::Timeout), "within 5 seconds"),
            (Err(FetchError::Unreachable), "connection failed"),
            // Cloudflare's managed challenge, as datacenter fetches of claude.ai have seen it.
            (answer(403, "<!DOCTYPE html><html><head><title>Just a moment...</title>"), "HTTP 403"),
            (answer(401, ""), "HTTP 401"),
            (answer(429, ""), "HTTP 429"),
            (answer(408, ""), "HTTP 408"),
            (answer(500, "{}"), "HTTP 500"),
            (answer(502, ""), "HTTP 502"),
            (answer(503, ""), "HTTP 503"),
            (answer(200, "<html><body>oops</body></html>"), "not JSON"),
            (answer(200, ""), "not JSON"),
            (answer(200, r#"{"client_id":"#), "not JSON"),
        ];
        judged_as(failed, true);
        judged_as([(answer(403, ""), "challenge")], true);
    }

    /// Each case is a failed fetch (`failed`) or an answer, saying `why`.
    fn judged_as<const N: usize>(cases: [(Result<FetchedDocument, FetchError>, &str); N], failed: bool) {
        for (fetched, why) in cases {
            let (is_failed, e) = match judge(fetched.clone()) {
                Outcome::Failed(e) => (true, e),
                Outcome::Refused(e) => (false, e),
                Outcome::Document(d) => panic!("{fetched:?} was judged a document: {d:?}"),
            };
            assert_eq!(is_failed, failed, "{fetched:?}: {e}");
            assert!(e.0.contains(why), "{fetched:?}: {e}");
        }
    }

    #[test]
    fn answers_are_followed_and_never_covered() {
        let answered = [
            (answer(301, ""), "redirects are not followed"),
            (answer(302, ""), "redirect (HTTP 302)"),
            (answer(404, ""), "HTTP 404, not 200"),
            (answer(410, ""), "HTTP 410"),
            (answer(400, ""), "HTTP 400"),
            (answer(204, ""), "HTTP 204"),
            (Err(FetchError::TooLarge), "larger than 5120 bytes"),
            (answer(200, &format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_DOCUMENT_BYTES))), "larger than"),
        ];
        judged_as(answered, false);
    }
}
