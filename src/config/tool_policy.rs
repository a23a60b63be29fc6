//! `TOOL_POLICY`, parsed once: which MCP tools each client may call (spec
//! 2025-06-18 §Server Features/Tools). The format and what a refusal looks
//! like are described in `gateway/policy.rs`, which applies it.

use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    #[serde(default)]
    pub deny: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ToolPolicy {
    #[serde(default)]
    pub default: Rule,
    #[serde(default)]
    pub clients: HashMap<String, Rule>,
}

impl ToolPolicy {
    pub fn parse(raw: &str) -> Result<ToolPolicy, String> {
        let p: ToolPolicy = serde_json::from_slice(raw.as_bytes()).map_err(|e| format!("is not a valid policy ({e})"))?;
        let rules = std::iter::once(&p.default).chain(p.clients.values());
        for r in rules {
            for pat in r.allow.iter().flatten().chain(&r.deny) {
                if pat.is_empty() || pat.len() > 200 {
                    return Err("has an empty or overlong tool pattern".to_string());
                }
            }
        }
        Ok(p)
    }

    pub fn allows(&self, client_id: &str, tool: &str) -> bool {
        let rule = self.clients.get(client_id).unwrap_or(&self.default);
        let allowed = rule.allow.as_ref().is_none_or(|a| a.iter().any(|p| glob(p, tool)));
        allowed && !rule.deny.iter().any(|p| glob(p, tool))
    }
}

/// `*` matches any run of characters (including none); everything else is literal.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("delete_*", "delete_file"));
        assert!(glob("delete_*", "delete_"));
        assert!(!glob("delete_*", "undelete_file"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c"));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix must not overlap");
        assert!(glob("echo", "echo"));
        assert!(!glob("echo", "echo2"));
    }
}
