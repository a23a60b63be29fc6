-- Delegated logins in flight (issue 5): one row per browser sent to an
-- upstream identity provider after consent. The `state` sent upstream and the
-- browser's `__Host-` state cookie are stored only as SHA-256 hashes; a row is
-- claimed once (used_at) by the callback, and only by the browser whose cookie
-- hash it holds. Rows live about 10 minutes; expired ones are removed when a
-- new login starts.
CREATE TABLE upstream_states (
  state_hash  TEXT PRIMARY KEY,
  cookie_hash TEXT NOT NULL,
  provider    TEXT NOT NULL,             -- "oidc" | "github"
  pending_id  TEXT NOT NULL,             -- the MCP client's pending /authorize request
  nonce       TEXT NOT NULL,             -- OIDC nonce (public: it travels in the URL)
  remember    INTEGER NOT NULL DEFAULT 0, -- "Remember for N days" ticked with the consent
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX upstream_states_expires ON upstream_states(expires_at);
