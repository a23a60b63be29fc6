//! Who a request comes from, as every limit counts it: the client address
//! Cloudflare reports (`CF-Connecting-IP`), with an IPv6 address widened to
//! its /64. An IPv6 host is routinely given a whole /64 (RFC 6177 §2,
//! RFC 7421), so counting per full address would give one machine 2^64
//! fresh counters. Every per-source limit (guessing, registrations, the
//! budgets of stored rows) keys by [`SourceKey`], so none can drift.

use std::fmt;
use std::net::IpAddr;

use super::http::HttpRequest;

/// The counting key of a source: an IPv4 address, an IPv6 `/64`, or
/// `unknown` when the runtime gave no usable address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SourceKey(String);

impl SourceKey {
    pub fn of(req: &HttpRequest) -> Self {
        Self::from_ip(req.client_ip())
    }

    pub fn from_ip(ip: &str) -> Self {
        SourceKey(match ip.trim().parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                // An IPv4-mapped address is the IPv4 host it maps.
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            Ok(IpAddr::V4(v4)) => v4.to_string(),
            Err(_) => "unknown".to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceKey({:?})", self.0)
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_count_per_64() {
        let key = |ip| SourceKey::from_ip(ip).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:0DB8:0001:0002::1"), key("2001:db8:1:2::2"), "spelling does not matter");
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key(" 203.0.113.7 "), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7", "an IPv4-mapped address is its IPv4 host");
        assert_eq!(key("garbage"), "unknown");
        assert_eq!(key(""), "unknown");
    }

    #[test]
    fn the_request_header_is_the_source() {
        let req = HttpRequest { headers: vec![("cf-connecting-ip".into(), "2001:db8:9:9:1::1".into())], ..Default::default() };
        assert_eq!(SourceKey::of(&req).as_str(), "2001:db8:9:9::/64");
        assert_eq!(SourceKey::of(&HttpRequest::default()).as_str(), "unknown");
    }
}
