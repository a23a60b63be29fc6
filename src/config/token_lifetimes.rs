//! `CLIENT_ACCESS_TOKEN_TTL`, read once: access-token lifetimes of particular
//! clients, as `<client>=<seconds>` entries. What the entries mean and how a
//! client's lifetime is chosen is `oauth/token_lifetime.rs`.

/// The longest lifetime a client may be given: a week. Beyond it a token
/// that leaks unnoticed stays usable longer than the refresh-token reuse
/// detection and the owner's weekly glance at the admin page can be relied on
/// to catch, and retiring a signing key would wait longer than a rotation.
pub const MAX_SECONDS: i64 = 7 * 24 * 3600;
pub const MIN_SECONDS: i64 = 60;
/// More entries than any owner needs; bounds the work per token.
const MAX_ENTRIES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMatch {
    /// Exactly this client id: a registered id or a metadata document URL.
    Id(String),
    /// Every redirect URI of the client is on this host (lower case).
    RedirectHost(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLifetime {
    pub client: ClientMatch,
    pub seconds: i64,
}

/// Parses `CLIENT_ACCESS_TOKEN_TTL`; an error names the first entry that
/// is wrong (its client part only: never a value beyond what it names).
pub fn parse(raw: &str) -> Result<Vec<ClientLifetime>, String> {
    let mut rules = Vec::new();
    for entry in raw.split_whitespace() {
        let (who, secs) = entry.rsplit_once('=').unwrap_or((entry, ""));
        let seconds = secs.parse::<i64>().ok().filter(|n| (MIN_SECONDS..=MAX_SECONDS).contains(n));
        let client = match who.strip_prefix("redirect:") {
            Some(host) if !host.is_empty() && !host.bytes().any(|b| b"/:@?#".contains(&b)) => Some(ClientMatch::RedirectHost(host.to_ascii_lowercase())),
            Some(_) => None,
            // Registered ids never contain a colon; a metadata document URL is https.
            None if !who.is_empty() && (!who.contains(':') || who.starts_with("https://")) => Some(ClientMatch::Id(who.to_string())),
            None => None,
        };
        match (client, seconds) {
            (Some(client), Some(seconds)) if rules.len() < MAX_ENTRIES => rules.push(ClientLifetime { client, seconds }),
            _ => {
                return Err(format!(
                    "entry {:?} is not <client id, https metadata document URL or redirect:<host>>=<seconds from {MIN_SECONDS} to {MAX_SECONDS} (7 days)> (at most {MAX_ENTRIES} entries)",
                    who.chars().take(80).collect::<String>()
                ))
            }
        }
    }
    Ok(rules)
}
