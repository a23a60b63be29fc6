//! The route table: every path Gatehouse answers, stated once with its
//! methods, handlers, CORS and error style. Dispatch, the 405 answer's
//! `Allow` header, CORS and the request log's route name all follow from it.
//! Plain Rust (no `worker` types), so it is tested and fuzzed natively.
//!
//! Paths are compared after dropping trailing slashes (clients differ on
//! them, requirements.md §C); percent-encoded paths are not decoded, so
//! `/%72egister` is not `/register`.

use crate::base::security_headers::Caching;

/// What answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ProtectedResource,
    AuthorizationServer,
    Jwks,
    Register,
    Authorize,
    Login,
    ConsentShow,
    ConsentDecide,
    Callback,
    Token,
    Revoke,
    Introspect,
    AdminShow,
    AdminPost,
    PasskeyScript,
    PasskeyChallenge,
    PasskeyLogin,
    PasskeySetupShow,
    PasskeySetup,
    PasskeysShow,
    PasskeysPost,
    Mcp,
    Home,
}

/// How a route's own errors (a configuration that does not load) are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    /// The OAuth error JSON (RFC 6749 §5.2 shape).
    Json,
    /// An HTML page: a person is looking.
    Page,
}

/// When a handler applies beyond its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    /// Only for a request that carries MCP's own headers (a session id, or
    /// an Accept naming `text/event-stream`): claude.ai may send MCP traffic
    /// to `/` after OAuth, where a browser's GET wants the home page.
    McpHeaders,
}

/// One method of a path. `ANY` matches every method but OPTIONS.
struct Handler {
    method: &'static str,
    when: When,
    endpoint: Endpoint,
    name: &'static str,
    errors: Errors,
}

#[derive(Clone, Copy)]
enum PathMatch {
    Exact(&'static str),
    /// A path under this prefix; other methods on it are simply not found.
    Under(&'static str),
}

struct Row {
    path: PathMatch,
    handlers: &'static [Handler],
    /// Cross-origin callers (browser-based MCP clients) may call it.
    cors: bool,
}

const ANY: &str = "*";

const fn h(method: &'static str, endpoint: Endpoint, name: &'static str, errors: Errors) -> Handler {
    Handler { method, when: When::Always, endpoint, name, errors }
}

use Endpoint::*;
use Errors::{Json, Page};

const fn exact(path: &'static str, cors: bool, handlers: &'static [Handler]) -> Row {
    Row { path: PathMatch::Exact(path), handlers, cors }
}

/// The table. Rows are found by path, so their order only saves time: `/mcp`,
/// the hot path, is first. Within `/` the handlers are tried in turn.
const TABLE: &[Row] = &[
    exact("/mcp", true, &[h(ANY, Mcp, "mcp", Json)]),
    exact("/.well-known/oauth-protected-resource", true, &[h("GET", ProtectedResource, "protected_resource", Json)]),
    exact("/.well-known/oauth-protected-resource/mcp", true, &[h("GET", ProtectedResource, "protected_resource", Json)]),
    exact("/.well-known/oauth-authorization-server", true, &[h("GET", AuthorizationServer, "authorization_server", Json)]),
    exact("/.well-known/openid-configuration", true, &[h("GET", AuthorizationServer, "authorization_server", Json)]),
    exact("/.well-known/jwks.json", true, &[h("GET", Jwks, "jwks", Json)]),
    exact("/register", true, &[h("POST", Register, "register", Json)]),
    exact("/authorize", false, &[h("GET", Authorize, "authorize", Page)]),
    exact("/login", false, &[h("POST", Login, "login", Page)]),
    exact("/consent", false, &[h("GET", ConsentShow, "consent_show", Page), h("POST", ConsentDecide, "consent_decide", Page)]),
    Row { path: PathMatch::Under("/callback/"), handlers: &[h("GET", Callback, "upstream_callback", Page)], cors: false },
    exact("/token", true, &[h("POST", Token, "token", Json)]),
    exact("/revoke", true, &[h("POST", Revoke, "revoke", Json)]),
    exact("/introspect", true, &[h("POST", Introspect, "introspect", Json)]),
    exact("/admin", false, &[h("GET", AdminShow, "admin_show", Page), h("POST", AdminPost, "admin_post", Page)]),
    exact("/passkey.js", false, &[h("GET", PasskeyScript, "passkey_script", Json)]),
    exact("/passkeys/challenge", false, &[h("POST", PasskeyChallenge, "passkey_challenge", Json)]),
    exact("/passkeys/login", false, &[h("POST", PasskeyLogin, "passkey_login", Page)]),
    exact("/passkeys/setup", false, &[h("GET", PasskeySetupShow, "passkey_setup_show", Page), h("POST", PasskeySetup, "passkey_setup", Page)]),
    exact("/passkeys", false, &[h("GET", PasskeysShow, "passkeys_show", Page), h("POST", PasskeysPost, "passkeys_post", Page)]),
    exact(
        "/",
        true,
        &[
            h("POST", Mcp, "mcp", Json),
            Handler { method: "GET", when: When::McpHeaders, endpoint: Mcp, name: "mcp", errors: Json },
            Handler { method: "DELETE", when: When::McpHeaders, endpoint: Mcp, name: "mcp", errors: Json },
            h("GET", Home, "home", Page),
        ],
    ),
];

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Endpoint { endpoint: Endpoint, name: &'static str, errors: Errors, cors: bool },
    /// A CORS preflight (OPTIONS on a CORS path).
    Preflight,
    /// A path that exists, with a method it does not answer: 405 with `Allow`.
    WrongMethod { allow: &'static str, cors: bool },
    NotFound { cors: bool },
}

impl Route {
    /// The route's name in the request log: never the path, which may carry a secret.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Endpoint { name, .. } => name,
            Route::Preflight => "preflight",
            Route::WrongMethod { .. } => "wrong_method",
            Route::NotFound { .. } => "not_found",
        }
    }

    /// Whether the answer carries CORS headers. The home page at `/` does
    /// not, though `/` is a CORS path for MCP traffic.
    pub fn cors(&self) -> bool {
        match *self {
            Route::Endpoint { endpoint: Home, .. } => false,
            Route::Endpoint { cors, .. } | Route::WrongMethod { cors, .. } | Route::NotFound { cors } => cors,
            Route::Preflight => true,
        }
    }

    pub fn caching(&self) -> Caching {
        match self {
            Route::Endpoint { endpoint: ProtectedResource | AuthorizationServer | Jwks, .. } => Caching::Public,
            Route::Endpoint { endpoint: Mcp, .. } => Caching::Origin,
            _ => Caching::NoStore,
        }
    }

    /// How a failure before the handler runs is shown.
    pub fn errors(&self) -> Errors {
        match self {
            Route::Endpoint { errors, .. } => *errors,
            _ => Json,
        }
    }

    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Route::Endpoint { endpoint, .. } => Some(*endpoint),
            _ => None,
        }
    }
}

/// The path without trailing slashes (`/` stays `/`).
pub fn normalize(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

fn row_for(path: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| match r.path {
        PathMatch::Exact(p) => p == path,
        PathMatch::Under(prefix) => path.starts_with(prefix),
    })
}

/// Routes `method` (upper case, as HTTP sends it) on `path`.
/// `mcp_headers` is asked only for a GET or DELETE on `/`.
pub fn route(method: &str, path: &str, mcp_headers: impl FnOnce() -> bool) -> Route {
    let path = normalize(path);
    let Some(row) = row_for(path) else { return Route::NotFound { cors: false } };
    if method == "OPTIONS" && row.cors {
        return Route::Preflight;
    }
    let (mut ask, mut known) = (Some(mcp_headers), None);
    let mut has_mcp_headers = || *known.get_or_insert_with(|| ask.take().is_some_and(|f| f()));
    for handler in row.handlers {
        let method_matches = handler.method == method || (handler.method == ANY && method != "OPTIONS");
        if method_matches && (handler.when == When::Always || has_mcp_headers()) {
            return Route::Endpoint { endpoint: handler.endpoint, name: handler.name, errors: handler.errors, cors: row.cors };
        }
    }
    match row.path {
        // `/` and `/mcp` answer what they can; anything else there is not found.
        PathMatch::Exact("/" | "/mcp") | PathMatch::Under(_) => Route::NotFound { cors: row.cors },
        PathMatch::Exact(_) => Route::WrongMethod { allow: allow(row), cors: row.cors },
    }
}

/// The `Allow` header of a 405: the row's methods in table order.
fn allow(row: &Row) -> &'static str {
    // Every row with a 405 answers GET, POST or both; stated as constants so
    // no string is built per request.
    let get = row.handlers.iter().any(|h| h.method == "GET");
    let post = row.handlers.iter().any(|h| h.method == "POST");
    match (get, post) {
        (true, true) => "GET, POST",
        (false, true) => "POST",
        _ => "GET",
    }
}

/// Whether `path` accepts cross-origin calls (after normalizing).
pub fn cors_path(path: &str) -> bool {
    row_for(normalize(path)).is_some_and(|r| r.cors)
}

/// The table's answer in the old router's terms (`routes_reference`).
#[cfg(any(test, feature = "fuzzing"))]
pub fn verdict(method: &str, path: &str, mcp_headers: bool) -> super::routes_reference::Verdict {
    let r = route(method, path, || mcp_headers);
    super::routes_reference::Verdict {
        name: r.name(),
        cors: r.cors(),
        allow: match r {
            Route::WrongMethod { allow, .. } => Some(allow),
            _ => None,
        },
        page: r.errors() == Page,
        public: r.caching() == Caching::Public,
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
