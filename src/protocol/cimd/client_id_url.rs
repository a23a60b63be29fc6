//! Which URLs may be a `client_id` (draft-ietf-oauth-client-id-metadata-document
//! §3: https, a path, no fragment, no user information, no dot segments; a
//! query is allowed) and which hosts may be fetched at all (§8.6, SSRF): no IP
//! literal in a special-use range (IANA special-purpose address registries),
//! no name that resolves inside private networks. The Workers runtime cannot
//! reach private addresses by name anyway; these checks make the refusal
//! explicit and happen before any fetch.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::error::CimdError;
use crate::base::normal_form::{self, NotNormal};

/// Longer than any real client's URL, short enough for every table it lands in.
pub const MAX_LEN: usize = 1000;

/// Top-level names that never resolve on the public internet but may resolve
/// inside a private network: mDNS (`.local`, RFC 6762), ICANN's private-use
/// `.internal`, reverse DNS and `home.arpa` (`.arpa`), and the names routers
/// and corporate networks use by convention.
const PRIVATE_TLDS: &[&str] = &["localhost", "local", "internal", "arpa", "localdomain", "lan", "home", "corp", "intranet", "invalid"];

/// A `client_id` that passed every rule: safe to fetch, and the exact string
/// the document's own `client_id` must equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdUrl {
    raw: String,
}

/// Whether a `client_id` is meant as a URL (and so must be a valid metadata
/// URL): registered ids (`gh_…`) never contain a colon.
pub fn is_url_like(client_id: &str) -> bool {
    client_id.contains(':')
}

impl ClientIdUrl {
    pub fn parse(raw: &str) -> Result<Self, CimdError> {
        let bad = |why: &str| CimdError::new(format!("the URL {} {why}", shorten(raw)));
        if raw.len() > MAX_LEN {
            return Err(bad(&format!("is longer than {MAX_LEN} characters")));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let url = Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
        if url.scheme() != "https" {
            return Err(bad("must use https"));
        }
        if !url.username().is_empty() || url.password().is_some() || authority(raw).contains('@') {
            return Err(bad("must not contain a user name or password"));
        }
        if raw.contains('#') {
            return Err(bad("must not contain a fragment"));
        }
        // Dot segments and backslashes first (a clearer message than "not
        // normalised"); the serialisation check comes last, after the host rules.
        if let Err(e @ (NotNormal::DotSegment | NotNormal::Backslash | NotNormal::EncodedSeparator)) = normal_form::check(raw, &url) {
            return Err(bad(&e.reason()));
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => check_ipv4(ip).map_err(|why| bad(&format!("points at {why}")))?,
            Some(Host::Ipv6(ip)) => check_ipv6(ip).map_err(|why| bad(&format!("points at {why}")))?,
            Some(Host::Domain(name)) => check_name(name).map_err(|why| bad(&format!("names {why}")))?,
            None => return Err(bad("has no host")),
        }
        if url.port().is_some() || names_port(raw) {
            return Err(bad("must not name a port (only the https default, 443, is fetched)"));
        }
        if url.path() == "/" || url.path().is_empty() {
            return Err(bad("must have a path, not just /"));
        }
        // The document's client_id is compared to this string exactly, and
        // this string is what gets fetched: a form that a parser would rewrite
        // (upper-case host, `:443`, odd percent-encoding) would make the two differ.
        normal_form::check(raw, &url).map_err(|e| bad(&e.reason()))?;
        Ok(ClientIdUrl { raw: raw.to_string() })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The host that serves the document, verified by https.
    pub fn host(&self) -> &str {
        authority(&self.raw)
    }
}

/// The host of a `client_id` that is a metadata URL (already validated, so
/// its authority is the bare host), for the consent page.
pub fn document_host(client_id: &str) -> Option<&str> {
    client_id.strip_prefix("https://").map(|rest| rest.split(['/', '?']).next().unwrap_or(rest))
}

fn authority(raw: &str) -> &str {
    let rest = raw.split_once("://").map(|(_, r)| r).unwrap_or(raw);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Whether the authority has `:port`, even the default one a parser drops.
fn names_port(raw: &str) -> bool {
    let auth = authority(raw);
    let after_host = if auth.starts_with('[') { auth.find(']').map(|i| &auth[i..]).unwrap_or("") } else { auth };
    after_host.contains(':')
}

fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let Some((_, tld)) = name.rsplit_once('.') else {
        return Err(format!("the single-label host {name:?}, which only resolves inside private networks"));
    };
    if PRIVATE_TLDS.contains(&tld) {
        return Err(format!("a host under .{tld}, which only resolves inside private networks"));
    }
    Ok(())
}

/// IPv4 special-purpose ranges (RFC 6890 and the IANA registry): none of them
/// is a public web server.
fn check_ipv4(ip: Ipv4Addr) -> Result<(), String> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => "\"this network\" (0.0.0.0/8)",
        (10, _, _) => "a private address (10.0.0.0/8)",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address (100.64.0.0/10)",
        (127, _, _) => "a loopback address (127.0.0.0/8)",
        (169, 254, _) => "a link-local address (169.254.0.0/16, where cloud metadata services live)",
        (172, 16..=31, _) => "a private address (172.16.0.0/12)",
        (192, 0, 0) => "an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a 6to4 relay address (192.88.99.0/24)",
        (192, 168, _) => "a private address (192.168.0.0/16)",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address (224.0.0.0/4)",
        (240..=255, _, _) => "a reserved or broadcast address (240.0.0.0/4)",
        _ => return Ok(()),
    };
    Err(format!("{range}, which is not a public web server"))
}

/// IPv6 special-purpose ranges; addresses that embed an IPv4 address
/// (mapped, compatible, NAT64, 6to4, Teredo) are refused outright, since the
/// embedded address could be any of the IPv4 ranges.
fn check_ipv6(ip: Ipv6Addr) -> Result<(), String> {
    let s = ip.segments();
    let range = if ip.is_unspecified() {
        "the unspecified address (::)"
    } else if ip.is_loopback() {
        "the loopback address (::1)"
    } else if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        "an IPv4-mapped or IPv4-compatible address (::ffff:0:0/96)"
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        "a NAT64 address (64:ff9b::/96)"
    } else if s[0] == 0x100 && s[1..4] == [0; 3] {
        "a discard-only address (100::/64)"
    } else if s[0] == 0x2001 && s[1] < 0x200 {
        "an IETF protocol or Teredo address (2001::/23)"
    } else if s[0] == 0x2001 && s[1] == 0xdb8 {
        "a documentation address (2001:db8::/32)"
    } else if s[0] == 0x2002 {
        "a 6to4 address (2002::/16)"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "a unique local address (fc00::/7)"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "a link-local address (fe80::/10)"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "a site-local address (fec0::/10)"
    } else if s[0] & 0xff00 == 0xff00 {
        "a multicast address (ff00::/8)"
    } else {
        return Ok(());
    };
    Err(format!("{range}, which is not a public web server"))
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(120).filter(|c| !c.is_control()).collect();
    if s.chars().count() > 120 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> String {
        match ClientIdUrl::parse(raw) {
            Ok(_) => panic!("{raw} should be refused"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn real_client_urls_are_accepted() {
        for raw in [
            "https://claude.ai/oauth/mcp-oauth-client-metadata",
            "https://client.example.com/oauth/client.json",
            "https://app.example.com/.well-known/oauth-client?v=2",
            "https://8.8.8.8/client.json",
            "https://[2606:4700::1111]/client.json",
            "https://client.example.test/meta.json",
        ] {
            let u = ClientIdUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(u.as_str(), raw);
        }
        assert_eq!(ClientIdUrl::parse("https://claude.ai/oauth/x").unwrap().host(), "claude.ai");
    }

    #[test]
    fn url_shape_rules() {
        let cases = [
            ("http://client.example.com/meta.json", "must use https"),
            ("HTTPS://client.example.com/meta.json", "normalised form"),
            ("https://Client.example.com/meta.json", "normalised form"),
            ("https://client.example.com", "must have a path"),
            ("https://client.example.com/", "must have a path"),
            ("https://client.example.com/meta.json#x", "fragment"),
            ("https://client.example.com/meta.json#", "fragment"),
            ("https://user@client.example.com/meta.json", "user name or password"),
            ("https://user:pw@client.example.com/meta.json", "user name or password"),
            ("https://:pw@client.example.com/meta.json", "user name or password"),
            ("https://client.example.com/a/../meta.json", ". or .."),
            ("https://client.example.com/./meta.json", ". or .."),
            ("https://client.example.com/a/%2e%2E/meta.json", ". or .."),
            ("https://client.example.com/a/.%2e", ". or .."),
            ("https://client.example.com/a\\meta.json", "backslash"),
            ("https://client.example.com\\meta.json", "backslash"),
            ("https://client.example.com/a/..%2Fmeta.json", "encoded /"),
            ("https://client.example.com:8443/meta.json", "port"),
            ("https://client.example.com:443/meta.json", "port"),
            ("https://client.example.com/a b", "whitespace"),
            ("https://client.example.com/a%20b\n", "whitespace"),
            ("urn:client:1", "must use https"),
            ("gh:abc", "must use https"),
            ("not a url:", "whitespace"),
            ("https:///meta.json", "must have a path"),
            ("javascript:alert(1)", "must use https"),
            ("file:///etc/passwd", "must use https"),
        ];
        for (raw, want) in cases {
            let why = refused(raw);
            assert!(why.contains(want), "{raw}: {why}");
        }
        assert!(refused(&format!("https://client.example.com/{}", "a".repeat(MAX_LEN))).contains("longer than"));
    }

    #[test]
    fn special_use_ipv4_literals_are_refused() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private address (10.0.0.0/8)"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("192.0.0.170", "192.0.0.0/24"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
        ];
        for (ip, want) in cases {
            let why = refused(&format!("https://{ip}/meta.json"));
            assert!(why.contains(want), "{ip}: {why}");
        }
        for ok in ["172.15.0.1", "172.32.0.1", "100.63.0.1", "100.128.0.1", "169.253.0.1", "11.0.0.1", "1.1.1.1"] {
            assert!(ClientIdUrl::parse(&format!("https://{ok}/meta.json")).is_ok(), "{ok}");
        }
    }

    #[test]
    fn other_spellings_of_private_ipv4_are_refused_by_address_not_by_text() {
        // WHATWG URL parsing reads these as 127.0.0.1 / 10.0.0.1 / 169.254.169.254.
        for raw in ["https://2130706433/x", "https://0x7f.1/x", "https://0177.0.0.1/x", "https://127.1/x", "https://10.1/x", "https://0xa9fea9fe/x"] {
            let why = refused(raw);
            assert!(why.contains("which is not a public web server"), "{raw}: {why}");
        }
    }

    #[test]
    fn special_use_ipv6_literals_are_refused() {
        let cases = [
            ("[::1]", "loopback"),
            ("[::]", "unspecified"),
            ("[::ffff:127.0.0.1]", "IPv4-mapped"),
            ("[::ffff:a9fe:a9fe]", "IPv4-mapped"),
            ("[::127.0.0.1]", "IPv4-compatible"),
            ("[64:ff9b::a00:1]", "NAT64"),
            ("[100::1]", "discard"),
            ("[2001::1]", "Teredo"),
            ("[2001:db8::1]", "documentation"),
            ("[2002:a00:1::1]", "6to4"),
            ("[fc00::1]", "unique local"),
            ("[fd12:3456::1]", "unique local"),
            ("[fe80::1]", "link-local"),
            ("[febf::1]", "link-local"),
            ("[fec0::1]", "site-local"),
            ("[ff02::1]", "multicast"),
        ];
        for (ip, want) in cases {
            let why = refused(&format!("https://{ip}/meta.json"));
            assert!(why.contains(want), "{ip}: {why}");
        }
    }

    #[test]
    fn private_names_are_refused() {
        for host in [
            "localhost", "LOCALHOST", "app.localhost", "printer.local", "metadata.google.internal", "1.0.0.127.in-addr.arpa",
            "router.home.arpa", "nas.lan", "box.localdomain", "intranet", "metadata", "localhost.",
        ] {
            let raw = format!("https://{host}/meta.json");
            // Upper-case hosts are refused as not normalised; check the name rule on the parsed form.
            let why = refused(&raw);
            assert!(why.contains("private networks") || why.contains("normalised form"), "{host}: {why}");
            assert!(check_name(&host.to_ascii_lowercase()).is_err(), "{host}");
        }
        assert!(check_name("client.example.com").is_ok());
        assert!(check_name("local.example.com").is_ok());
        assert!(check_name("example.localhost.com").is_ok());
    }

    #[test]
    fn document_host_is_the_authority() {
        assert_eq!(document_host("https://claude.ai/oauth/x"), Some("claude.ai"));
        assert_eq!(document_host("https://a.example/x?y=1"), Some("a.example"));
        assert_eq!(document_host("gh_abc"), None);
    }

    #[test]
    fn only_ids_with_a_colon_are_url_like() {
        assert!(is_url_like("https://a.example/x"));
        assert!(is_url_like("http://a.example/x"));
        assert!(!is_url_like("gh_AbC-123"));
    }
}
