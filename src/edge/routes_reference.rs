//! The router as it was before the route table (`routes`): six parallel
//! `match`es, kept as the oracle the table is checked against, by the unit
//! tests over every path and method and by the `routing` fuzz target over
//! any bytes. Not built into the worker.

/// What the old router said about a request: the log name, whether CORS
/// headers were added, the 405's `Allow`, whether a configuration error
/// was a page, and whether discovery caching applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: &'static str,
    pub cors: bool,
    pub allow: Option<&'static str>,
    pub page: bool,
    pub public: bool,
}

const CORS_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/register",
    "/token",
    "/revoke",
    "/introspect",
    "/mcp",
    "/",
];

const OAUTH_PATHS: &[&str] = &[
    "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
    "/.well-known/jwks.json", "/register", "/authorize", "/login", "/consent", "/token",
    "/revoke", "/introspect", "/admin",
    "/passkey.js", "/passkeys", "/passkeys/setup", "/passkeys/challenge", "/passkeys/login",
];

const PAGES: &[&str] = &[
    "home", "authorize", "login", "consent_show", "consent_decide", "upstream_callback", "admin_show", "admin_post",
    "passkey_login", "passkey_setup_show", "passkey_setup", "passkeys_show", "passkeys_post",
];

fn normalize(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

fn name(method: &str, path: &str, mcp_headers: bool) -> &'static str {
    match (method, path) {
        ("OPTIONS", p) if CORS_PATHS.contains(&p) => "preflight",
        ("GET", "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp") => "protected_resource",
        ("GET", "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration") => "authorization_server",
        ("GET", "/.well-known/jwks.json") => "jwks",
        ("POST", "/register") => "register",
        ("GET", "/authorize") => "authorize",
        ("POST", "/login") => "login",
        ("GET", "/consent") => "consent_show",
        ("POST", "/consent") => "consent_decide",
        ("GET", p) if p.starts_with("/callback/") => "upstream_callback",
        ("POST", "/token") => "token",
        ("POST", "/revoke") => "revoke",
        ("POST", "/introspect") => "introspect",
        ("GET", "/admin") => "admin_show",
        ("POST", "/admin") => "admin_post",
        ("GET", "/passkey.js") => "passkey_script",
        ("POST", "/passkeys/challenge") => "passkey_challenge",
        ("POST", "/passkeys/login") => "passkey_login",
        ("GET", "/passkeys/setup") => "passkey_setup_show",
        ("POST", "/passkeys/setup") => "passkey_setup",
        ("GET", "/passkeys") => "passkeys_show",
        ("POST", "/passkeys") => "passkeys_post",
        (_, "/mcp") => "mcp",
        ("POST", "/") => "mcp",
        ("GET" | "DELETE", "/") if mcp_headers => "mcp",
        ("GET", "/") => "home",
        (_, p) if OAUTH_PATHS.contains(&p) => "wrong_method",
        _ => "not_found",
    }
}

fn allowed_methods(path: &str) -> &'static str {
    match path {
        "/register" | "/login" | "/token" | "/revoke" | "/introspect" | "/passkeys/challenge" | "/passkeys/login" => "POST",
        "/consent" | "/admin" | "/passkeys" | "/passkeys/setup" => "GET, POST",
        _ => "GET",
    }
}

/// The old router's verdict on `method` (upper case) and `path`.
pub fn verdict(method: &str, path: &str, mcp_headers: bool) -> Verdict {
    let path = normalize(path);
    let name = name(method, path, mcp_headers);
    Verdict {
        name,
        cors: name != "home" && CORS_PATHS.contains(&path),
        allow: (name == "wrong_method").then(|| allowed_methods(path)),
        page: PAGES.contains(&name),
        public: matches!(name, "protected_resource" | "authorization_server" | "jwks"),
    }
}
