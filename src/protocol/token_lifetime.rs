//! How long an access token lives (OAuth 2.1 §1.4, RFC 9068 `exp`):
//! `ACCESS_TOKEN_TTL`, or for the clients named in `CLIENT_ACCESS_TOKEN_TTL`
//! a longer (or shorter) lifetime of their own, for hosts that do not refresh
//! (claude.ai often does not, then shows "connection expired":
//! docs/clients.md, "Clients that never refresh").
//!
//! A longer lifetime does not delay revocation: `/mcp` checks every token's
//! grant against the revoked grants at most `REVOCATION_CHECK_SECONDS` old
//! (`revocation`), which covers grants revoked within the longest lifetime
//! configured here ([`longest`]), and the cron keeps revoked grants that long.
//!
//! The setting lists `<client>=<seconds>` entries, separated by whitespace.
//! `<client>` is a registered client id (`gh_…`), a metadata document URL
//! (the client id of a CIMD client), or `redirect:<host>`: a client all of
//! whose redirect URIs are on that host (claude.ai's registrations are new
//! on every connection; their redirect URI is what they share). A client-id
//! entry wins over a redirect-host entry.

use crate::config::Config;
use crate::store::clients::ClientRecord;

use crate::config::token_lifetimes::ClientMatch;

/// The access-token lifetime for `client`.
pub fn for_client(config: &Config, client: &ClientRecord) -> i64 {
    let rules = &config.client_token_lifetimes;
    let by_id = rules.iter().find(|r| matches!(&r.client, ClientMatch::Id(id) if id == client.client_id.as_str()));
    let by_host = || {
        rules.iter().find(|r| match &r.client {
            ClientMatch::RedirectHost(host) => !client.redirect_uris.is_empty() && client.redirect_uris.iter().all(|u| u.host().eq_ignore_ascii_case(host)),
            ClientMatch::Id(_) => false,
        })
    };
    by_id.or_else(by_host).map(|r| r.seconds).unwrap_or(config.access_token_ttl)
}

/// The longest lifetime any token may have been issued with: how far back
/// revocations must be remembered.
pub fn longest(config: &Config) -> i64 {
    config.client_token_lifetimes.iter().map(|r| r.seconds).fold(config.access_token_ttl, i64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::redirect_uri::RedirectUri;
    use crate::config::token_lifetimes::{parse, ClientLifetime, MAX_SECONDS, MIN_SECONDS};
    use crate::store::clients::AuthMethod;
    use crate::testing::testing_config;
    use crate::base::types::ClientId;

    fn client(id: &str, redirects: &[&str]) -> ClientRecord {
        ClientRecord {
            client_id: ClientId::new(id),
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: redirects.iter().map(|r| RedirectUri::parse(r).unwrap()).collect(),
            grant_types: vec!["authorization_code".into()],
            client_name: None,
            metadata: serde_json::json!({}),
            created_at: 0,
        }
    }

    fn config(setting: &str) -> Config {
        let mut c = testing_config();
        c.client_token_lifetimes = parse(setting).unwrap();
        c
    }

    const CLAUDE: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

    #[test]
    fn entries_name_a_client_by_id_url_or_redirect_host() {
        let rules = parse(&format!(" {CLAUDE}=86400\tredirect:Claude.AI=43200\n gh_abc=600 ")).unwrap();
        assert_eq!(
            rules,
            [
                ClientLifetime { client: ClientMatch::Id(CLAUDE.into()), seconds: 86400 },
                ClientLifetime { client: ClientMatch::RedirectHost("claude.ai".into()), seconds: 43200 },
                ClientLifetime { client: ClientMatch::Id("gh_abc".into()), seconds: 600 },
            ]
        );
        assert_eq!(parse("").unwrap(), []);
        let with_query = parse("https://client.example.com/meta?v=2=3600").unwrap();
        assert_eq!(with_query[0].client, ClientMatch::Id("https://client.example.com/meta?v=2".into()), "split at the last =");
    }

    #[test]
    fn lifetimes_are_bounded_to_a_week() {
        assert_eq!(parse(&format!("{CLAUDE}=604800")).unwrap()[0].seconds, MAX_SECONDS);
        assert_eq!(parse(&format!("{CLAUDE}=60")).unwrap()[0].seconds, MIN_SECONDS);
        for bad in ["604801", "59", "0", "-1", "1d", "", "99999999999999999999"] {
            let e = parse(&format!("{CLAUDE}={bad}")).unwrap_err();
            assert!(e.contains("seconds from 60 to 604800"), "{bad}: {e}");
        }
    }

    #[test]
    fn malformed_entries_are_named() {
        for (raw, named) in [
            ("gh_abc", "gh_abc"),
            ("=3600", "\"\""),
            ("redirect:=3600", "redirect:"),
            ("redirect:claude.ai/api=3600", "redirect:claude.ai/api"),
            ("http://claude.ai/x=3600", "http://claude.ai/x"),
            ("urn:x:y=3600", "urn:x:y"),
        ] {
            let e = parse(&format!("gh_ok=600 {raw}")).unwrap_err();
            assert!(e.starts_with(&format!("entry {named} is not")) || e.contains(&format!("{named:?}")), "{raw}: {e}");
        }
        let many = |n: usize| (0..n).map(|i| format!("gh_{i}=600")).collect::<Vec<_>>().join(" ");
        assert_eq!(parse(&many(50)).unwrap().len(), 50);
        assert!(parse(&many(51)).unwrap_err().contains("\"gh_50\""));
    }

    #[test]
    fn a_matching_client_gets_its_lifetime_others_the_default() {
        let c = config(&format!("{CLAUDE}=86400 redirect:claude.ai=43200 gh_abc=600"));
        let default = c.access_token_ttl;
        assert_eq!(for_client(&c, &client(CLAUDE, &["https://claude.ai/api/mcp/auth_callback"])), 86400);
        assert_eq!(for_client(&c, &client("gh_abc", &["https://claude.ai/api/mcp/auth_callback"])), 600, "an id entry wins over a host entry");
        assert_eq!(for_client(&c, &client("gh_dcr", &["https://claude.ai/api/mcp/auth_callback", "https://claude.ai/other"])), 43200);
        assert_eq!(for_client(&c, &client("gh_dcr", &["https://claude.com/api/mcp/auth_callback"])), default);
        assert_eq!(
            for_client(&c, &client("gh_mixed", &["https://claude.ai/api/mcp/auth_callback", "https://evil.example/cb"])),
            default,
            "a client that may send codes elsewhere does not get the host's lifetime"
        );
        assert_eq!(for_client(&c, &client("gh_sub", &["https://x.claude.ai/cb"])), default, "the host exactly");
        assert_eq!(for_client(&c, &client(&format!("{CLAUDE}x"), &["https://claude.ai/api/mcp/auth_callback"])), 43200, "the id exactly; the host entry still applies");
        assert_eq!(for_client(&testing_config(), &client(CLAUDE, &["https://claude.ai/api/mcp/auth_callback"])), default);
    }

    #[test]
    fn the_longest_lifetime_covers_every_entry() {
        assert_eq!(longest(&testing_config()), testing_config().access_token_ttl);
        assert_eq!(longest(&config("gh_a=600 redirect:claude.ai=172800 gh_b=7200")), 172800);
        assert_eq!(longest(&config("gh_a=60")), testing_config().access_token_ttl, "never shorter than the default");
    }
}
