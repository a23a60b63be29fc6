//! The configuration reference, docs/configuration.md, has one source: the code. This test
//! fails when the Worker reads a variable, secret or binding the reference does not name, or
//! when the reference names one the Worker does not read; likewise for the `GATEHOUSE_*`
//! environment of the Node scripts (deploy, dev, doctor, logs, rotate-key).
//!
//! What the Worker reads is recorded, not guessed: `Config::from_lookup` runs with a lookup
//! that notes every name it is asked for, once with the minimum and once with every optional
//! feature switched on (so the names read only when a feature is on are asked too). Bindings
//! are what `src/edge/` takes from `env` by name.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use gatehouse::config::Config;

const REFERENCE: &str = "docs/configuration.md";
const WORKER_SECTION: &str = "## Worker settings";
const SCRIPTS_SECTION: &str = "## Environment of the scripts";

/// Ed25519 seeds (base64url of 32 bytes); any value that parses will do.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const KEY2: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA";
/// A rotated key's secret: its name is the owner's (listed in SIGNING_KEYS), not a setting.
const ROTATED: &str = "SIGNING_KEY_20260101_000000";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every name `Config::from_lookup` asks for with these settings.
fn names_read(settings: &[(&str, &str)]) -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    let map: HashMap<&str, &str> = settings.iter().copied().collect();
    let result = Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_string());
        map.get(name).map(|v| v.to_string())
    });
    if let Err(e) = result {
        panic!("these test settings no longer parse ({}: {}); update them in tests/config_reference.rs", e.variable, e.problem);
    }
    asked.into_inner()
}

/// Everything optional switched on, each with a value that parses.
fn all_features() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SIGNING_KEYS", "SIGNING_KEY_20260101_000000 SIGNING_KEY"),
        (ROTATED, KEY2),
        ("SIGNING_KEY", KEY),
        ("OWNER_PASSWORD", "correct horse battery"),
        ("PASSWORD_LOGIN", "on"),
        ("PASSKEY_SETUP_CODE", "a-setup-code-of-24-chars"),
        ("PUBLIC_URL", "https://mcp.example.com"),
        ("ORIGIN_URL", "https://origin.example.com/mcp"),
        ("ORIGIN_ACCESS_CLIENT_ID", "abc123.access"),
        ("ORIGIN_ACCESS_CLIENT_SECRET", "0123456789abcdef"),
        ("ORIGIN_SHARED_SECRET", "a-shared-secret-0123456789"),
        ("ORIGIN_SHARED_SECRET_HEADER", "X-Origin-Key"),
        ("CF_ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com"),
        ("CF_ACCESS_AUD", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ("CF_ACCESS_ALLOWED_EMAILS", "me@example.com"),
        ("OIDC_ISSUER", "https://auth.example.com"),
        ("OIDC_CLIENT_ID", "gatehouse"),
        ("OIDC_CLIENT_SECRET", "oidc-client-secret"),
        ("OIDC_ALLOWED_EMAILS", "me@example.com"),
        ("GITHUB_CLIENT_ID", "Ov23liAbCdEf0123456789"),
        ("GITHUB_CLIENT_SECRET", "github-client-secret"),
        ("GITHUB_ALLOWED_USERS", "583231"),
    ]
}

/// Names inside `("…")` after each `marker` in `text`, e.g. `.d1("DB")`.
fn quoted_after(text: &str, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        if let Some(end) = rest.find('"') {
            let name = &rest[..end];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The bindings `src/edge/` takes from `env` by name: `env.d1("DB")`, `env.service("…")`, and
/// `js_sys::Reflect::get(env, &JsValue::from_str("ORIGIN"))` for fetchers of any class.
fn bindings_read() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(root().join("src/edge")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for m in [".d1(\"", ".service(\"", ".kv(\"", ".durable_object(\"", ".bucket(\"", ".var(\"", ".secret(\""] {
                names.extend(quoted_after(&text, m));
            }
            for line in text.lines().filter(|l| l.contains("Reflect::get(env")) {
                names.extend(quoted_after(line, "from_str(\""));
            }
        }
    }
    names
}

/// The backquoted NAMEs in the first column of the tables in `section` of the reference.
fn documented(section: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(root().join(REFERENCE)).unwrap_or_else(|e| panic!("{REFERENCE}: {e}"));
    let start = text.find(&format!("\n{section}\n")).unwrap_or_else(|| panic!("{REFERENCE} has no \"{section}\" section"));
    let body = &text[start + section.len() + 2..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut names = BTreeSet::new();
    for line in body.lines().filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| Name")) {
        let first = line.trim_start_matches('|').split('|').next().unwrap_or("");
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 && !part.is_empty() && part.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
                names.insert(part.to_string());
            }
        }
    }
    names
}

/// Lists what is in `a` but not `b`, one per line, for a failure message.
fn missing(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn every_worker_setting_the_code_reads_is_documented_and_nothing_else() {
    let mut read = names_read(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse battery")]);
    read.extend(names_read(&all_features()));
    read.remove(ROTATED);
    read.extend(bindings_read());
    for must in ["SIGNING_KEY", "ORIGIN_URL", "DB", "ORIGIN"] {
        assert!(read.contains(must), "the recording lost {must}: {read:?}");
    }
    let docs = documented(WORKER_SECTION);
    let undocumented = missing(&read, &docs);
    assert!(
        undocumented.is_empty(),
        "{REFERENCE} does not name {undocumented:?}, which the Worker reads: add a row for each under \"{WORKER_SECTION}\" (name, kind, meaning and default)"
    );
    let unread = missing(&docs, &read);
    assert!(
        unread.is_empty(),
        "{REFERENCE} names {unread:?} under \"{WORKER_SECTION}\", which the Worker does not read: remove them or correct the names"
    );
}

/// `GATEHOUSE_*` names in the Node scripts (scripts/*.mjs, scripts/lib/*.mjs).
fn script_environment() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in ["scripts", "scripts/lib"] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if !path.extension().is_some_and(|e| e == "mjs") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("GATEHOUSE_") {
                let tail = &rest[i..];
                let end = tail.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(tail.len());
                let name = tail[..end].trim_end_matches('_');
                if name.len() > "GATEHOUSE_".len() {
                    names.insert(name.to_string());
                }
                rest = &tail[end..];
            }
        }
    }
    names
}

#[test]
fn every_gatehouse_variable_of_the_node_scripts_is_documented_and_nothing_else() {
    let used = script_environment();
    assert!(used.contains("GATEHOUSE_OWNER_PASSWORD"), "{used:?}");
    let docs = documented(SCRIPTS_SECTION);
    let undocumented = missing(&used, &docs);
    assert!(undocumented.is_empty(), "{REFERENCE} does not name {undocumented:?}, which scripts/*.mjs use: add them under \"{SCRIPTS_SECTION}\"");
    let unused = missing(&docs, &used);
    assert!(unused.is_empty(), "{REFERENCE} names {unused:?} under \"{SCRIPTS_SECTION}\", which no Node script uses");
}

#[test]
fn the_reference_parser_sees_rows_and_ignores_placeholders() {
    // Guards the guard: a row with two names and a pattern like SIGNING_KEY_<time>.
    let first = "| `A_B`, `C` and `SIGNING_KEY_<time>` | secret | x |";
    let cell = first.trim_start_matches('|').split('|').next().unwrap();
    let names: Vec<&str> = cell.split('`').enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, p)| p).collect();
    assert_eq!(names, ["A_B", "C", "SIGNING_KEY_<time>"]);
    assert_eq!(quoted_after("env.d1(\"DB\")?; env.service(\"CIMD_FETCH\").ok()", ".d1(\""), ["DB"]);
}
