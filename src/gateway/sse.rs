//! Incremental Server-Sent Events framing (HTML Living Standard §9.2.6
//! "Interpreting an event stream") for rewriting chosen events of a stream
//! while it flows: every event is emitted as soon as its terminating blank
//! line arrives, and events the rewrite leaves alone keep their exact bytes.

/// What `rewrite` is given for an event that is not UTF-8.
pub const UNREADABLE: &str = "\u{FFFD}";

/// Splits a byte stream into events and passes each event's `data` through
/// `rewrite`; `Some(new data)` replaces the event's data lines.
pub struct SseRewriter<F: FnMut(&str) -> Option<String>> {
    buf: Vec<u8>,
    rewrite: F,
}

impl<F: FnMut(&str) -> Option<String>> SseRewriter<F> {
    pub fn new(rewrite: F) -> Self {
        SseRewriter { buf: Vec::new(), rewrite }
    }

    /// Feeds a chunk; returns the bytes that can go out now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end).collect();
            self.emit(&event, &mut out);
        }
        out
    }

    /// The end of the stream: whatever is left (an unterminated event is not
    /// dispatched by clients, so it goes out unchanged).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn emit(&mut self, event: &[u8], out: &mut Vec<u8>) {
        // An event that is not UTF-8 is still read by clients (as U+FFFD), so
        // it is not skipped: the rewrite sees it as unreadable data.
        let Ok(text) = std::str::from_utf8(event) else {
            return match (self.rewrite)(UNREADABLE) {
                Some(new_data) => out.extend_from_slice(format!("data: {new_data}\n\n").as_bytes()),
                None => out.extend_from_slice(event),
            };
        };
        let lines: Vec<&str> = text.split_inclusive(['\n', '\r']).collect();
        let mut data: Vec<&str> = Vec::new();
        let mut saw_data = false;
        for l in &lines {
            let l = l.trim_end_matches(['\n', '\r']);
            if let Some(rest) = field(l, "data") {
                data.push(rest);
                saw_data = true;
            }
        }
        let replacement = if saw_data { (self.rewrite)(&data.join("\n")) } else { None };
        let Some(new_data) = replacement else { return out.extend_from_slice(event) };
        for l in &lines {
            let bare = l.trim_end_matches(['\n', '\r']);
            if bare.is_empty() || field(bare, "data").is_some() {
                continue;
            }
            out.extend_from_slice(bare.as_bytes());
            out.push(b'\n');
        }
        for d in new_data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(d.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
}

/// The value of `line` if it is the field `name` (`name:value`, one optional
/// space after the colon, or a bare `name`).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    if rest.is_empty() {
        return Some("");
    }
    let v = rest.strip_prefix(':')?;
    Some(v.strip_prefix(' ').unwrap_or(v))
}

/// Where the first complete event in `buf` ends (just after its blank line).
/// Lines end in CRLF, LF or CR; a CR at the very end may still be half of a
/// CRLF, so it waits for more data.
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut line_empty = true;
    while i < buf.len() {
        let b = buf[i];
        if b == b'\r' || b == b'\n' {
            let len = if b == b'\r' {
                if i + 1 == buf.len() {
                    return None;
                }
                if buf[i + 1] == b'\n' { 2 } else { 1 }
            } else {
                1
            };
            if line_empty {
                return Some(i + len);
            }
            line_empty = true;
            i += len;
        } else {
            line_empty = false;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper_if_target(data: &str) -> Option<String> {
        data.contains("target").then(|| data.to_uppercase())
    }

    #[test]
    fn untouched_events_keep_their_bytes() {
        let mut r = SseRewriter::new(upper_if_target);
        let input = b"event: message\r\nid: 1\r\ndata: {\"a\":1}\r\n\r\n: comment\n\nretry: 5\rdata: x\r\r";
        let mut out = r.push(input);
        out.extend(r.finish());
        assert_eq!(out, input.to_vec());
    }

    #[test]
    fn chosen_events_are_rewritten_and_others_stream_at_once() {
        let mut r = SseRewriter::new(upper_if_target);
        assert_eq!(r.push(b"event: message\ndata: first\n\n"), b"event: message\ndata: first\n\n".to_vec());
        assert_eq!(r.push(b"id: 7\ndata: tar"), Vec::<u8>::new(), "an incomplete event waits");
        assert_eq!(r.push(b"get\ndata:two\n"), Vec::<u8>::new());
        assert_eq!(r.push(b"\n"), b"id: 7\ndata: TARGET\ndata: TWO\n\n".to_vec());
        assert_eq!(r.finish(), Vec::<u8>::new());
    }

    #[test]
    fn split_crlf_and_byte_by_byte_input() {
        let input = b"data: target\r\n\r\ndata: other\r\n\r\n";
        let mut r = SseRewriter::new(upper_if_target);
        let mut out = Vec::new();
        for b in input {
            out.extend(r.push(&[*b]));
        }
        out.extend(r.finish());
        assert_eq!(out, b"data: TARGET\n\ndata: other\r\n\r\n".to_vec());
    }

    #[test]
    fn unterminated_tail_is_flushed() {
        let mut r = SseRewriter::new(upper_if_target);
        assert!(r.push(b"data: target").is_empty());
        assert_eq!(r.finish(), b"data: target".to_vec());
    }

    #[test]
    fn invalid_utf8_events_are_not_skipped() {
        let mut r = SseRewriter::new(|d: &str| (d == UNREADABLE).then(|| "unreadable".to_string()));
        assert_eq!(r.push(b"data: \xfftarget\n\n"), b"data: unreadable\n\n".to_vec());
        let mut r = SseRewriter::new(|_: &str| None);
        assert_eq!(r.push(b"data: \xffother\n\n"), b"data: \xffother\n\n".to_vec(), "unchanged events keep their bytes");
    }

    #[test]
    fn field_parsing() {
        assert_eq!(field("data: x", "data"), Some("x"));
        assert_eq!(field("data:x", "data"), Some("x"));
        assert_eq!(field("data:  x", "data"), Some(" x"));
        assert_eq!(field("data", "data"), Some(""));
        assert_eq!(field("database: x", "data"), None);
    }
}
