-- Gatehouse state. Secrets (codes, refresh tokens, client secrets) are stored
-- only as SHA-256 hashes (base64url). Times are Unix seconds.

CREATE TABLE clients (
  client_id     TEXT PRIMARY KEY,
  secret_hash   TEXT,
  auth_method   TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,          -- JSON array, as registered
  grant_types   TEXT NOT NULL,          -- JSON array
  client_name   TEXT,
  metadata      TEXT NOT NULL,          -- JSON object echoed at registration
  created_at    INTEGER NOT NULL
);

-- /authorize requests waiting for the owner's login and consent (10 min).
CREATE TABLE pending_authorizations (
  id             TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL,
  redirect_uri   TEXT NOT NULL,
  state          TEXT,
  code_challenge TEXT NOT NULL,
  scope          TEXT NOT NULL,
  resource       TEXT NOT NULL,
  browser_hash   TEXT NOT NULL,
  expires_at     INTEGER NOT NULL
);

CREATE TABLE grants (
  grant_id   TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL,
  subject    TEXT NOT NULL,
  scope      TEXT NOT NULL,
  resource   TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX grants_client ON grants(client_id);

-- Authorization codes: 60 s, single use (used_at set by one conditional UPDATE).
CREATE TABLE auth_codes (
  code_hash      TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL,
  redirect_uri   TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  scope          TEXT NOT NULL,
  resource       TEXT NOT NULL,
  grant_id       TEXT NOT NULL,
  expires_at     INTEGER NOT NULL,
  used_at        INTEGER
);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  grant_id   TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

CREATE TABLE login_failures (
  key TEXT NOT NULL,
  at  INTEGER NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures(key, at);
