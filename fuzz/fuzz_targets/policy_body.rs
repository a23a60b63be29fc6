//! The tool policy's body reader (`gateway::policy::decide` with
//! `gateway::strict_body` and `gateway::mirrored_headers`): never panics,
//! answers only with the statuses it documents, and whatever it forwards is
//! read alike by every reader an origin may use: exact names with the last or
//! the first of a repeated name winning (Node, Python; some Java and Rust
//! readers), or Go's case-insensitive names (`encoding/json`: ASCII and
//! `unicode.ToUpper` folding, the last match winning). All of them must see the
//! same method and tool, the tool must be one the policy allows, and a present
//! `Mcp-Method` / `Mcp-Name` header must name them.
//! Input: Content-Type, MCP-Protocol-Version, Mcp-Method, Mcp-Name, one per
//! line (an empty line: no header), then the body.
#![no_main]

use gatehouse::gateway::mirrored_headers::{decode, MirroredHeaders};
use gatehouse::config::tool_policy::ToolPolicy;
use gatehouse::gateway::policy::{decide, Decision, Message};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value that keeps every member of an object, repeats included, in order.
enum J {
    Scalar(serde_json::Value),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Scalar(serde_json::Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Scalar(b.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Scalar(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Scalar(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<J, E> {
                Ok(J::Scalar(n.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Scalar(s.into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy)]
enum Reader {
    LastWins,
    FirstWins,
    GoFold,
}

/// Go's `foldName`: ASCII upper case, and `unicode.ToUpper` (a single-rune
/// mapping) for everything else.
fn go_fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

fn member<'a>(obj: &'a J, name: &str, r: Reader) -> Option<&'a J> {
    let J::Obj(members) = obj else { return None };
    let mut hits = members.iter().filter(|(k, _)| match r {
        Reader::LastWins | Reader::FirstWins => k == name,
        Reader::GoFold => go_fold(k) == go_fold(name),
    });
    match r {
        Reader::FirstWins => hits.next(),
        Reader::LastWins | Reader::GoFold => hits.last(),
    }
    .map(|(_, v)| v)
}

fn string(v: Option<&J>) -> Option<String> {
    match v {
        Some(J::Scalar(serde_json::Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

/// (method, tool name) as one reader sees a message.
fn read(msg: &J, r: Reader) -> (Option<String>, Option<String>) {
    let method = string(member(msg, "method", r));
    let name = member(msg, "params", r).and_then(|p| string(member(p, "name", r)));
    (method, name)
}

fn line(rest: &mut &[u8]) -> Option<String> {
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let l = String::from_utf8_lossy(&rest[..end]).into_owned();
    *rest = rest.get(end + 1..).unwrap_or(&[]);
    (!l.is_empty()).then_some(l)
}

fuzz_target!(|data: &[u8]| {
    let policy = ToolPolicy::parse(r#"{"default":{"deny":["delete_*"]},"clients":{"ro":{"allow":["echo"]}}}"#).unwrap();
    let mut rest = data;
    let content_type = line(&mut rest);
    let trim = |v: Option<String>| v.map(|v| v.trim_matches([' ', '\t']).to_string());
    let headers = MirroredHeaders { protocol_version: trim(line(&mut rest)), method: trim(line(&mut rest)), name: trim(line(&mut rest)) };
    let body = rest;
    let client = if body.len() % 2 == 0 { "ro" } else { "anyone" };

    match decide(&policy, client, &Message { content_type: content_type.as_deref(), headers: &headers, body }) {
        Decision::Refuse { status, answer } => {
            assert!(matches!(status, 200 | 400 | 415), "status {status}");
            assert!(answer.is_object() || answer.is_array());
        }
        Decision::Forward { .. } => {
            assert!(std::str::from_utf8(body).is_ok() && !body.starts_with(b"\xEF\xBB\xBF"));
            let parsed: J = serde_json::from_slice(body).expect("a forwarded body is JSON");
            let msgs: Vec<&J> = match &parsed {
                J::Arr(items) => items.iter().collect(),
                one => vec![one],
            };
            for msg in &msgs {
                let seen = read(msg, Reader::LastWins);
                for r in [Reader::FirstWins, Reader::GoFold] {
                    assert_eq!(read(msg, r), seen, "readers disagree on {}", String::from_utf8_lossy(body));
                }
                if seen.0.as_deref() == Some("tools/call") {
                    let tool = seen.1.as_deref().expect("a forwarded call names its tool");
                    assert!(policy.allows(client, tool), "forwarded a call of {tool:?}");
                }
                if msgs.len() == 1 {
                    if let Some(m) = &headers.method {
                        assert_eq!(Some(m), seen.0.as_ref(), "Mcp-Method differs from the body");
                    }
                    if let (Some(n), Some("tools/call")) = (&headers.name, seen.0.as_deref()) {
                        assert_eq!(decode(n), seen.1, "Mcp-Name differs from the body");
                    }
                }
            }
        }
    }
});
