-- Security review, issue 15: guessing limits, per-source budgets, server-side sign-out.

-- login_failures (0001) now holds attempts, not failures: a row is written
-- before the secret is compared (src/oauth/attempt_limit.rs) and removed again
-- when it was right. Keys are `<limit>:<source or pending request id>`.

-- Per-source budgets (src/oauth/source_budget.rs): spends of each kind per
-- source (an IPv4 address or an IPv6 /64) and clock hour, incremented by one
-- upsert each; old hours removed by the cron.
CREATE TABLE source_counts (
  kind         TEXT NOT NULL,            -- pending, passkey_challenge, upstream, refusal_audit
  source       TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  n            INTEGER NOT NULL,
  PRIMARY KEY (kind, source, window_start)
);

-- Signed-out sessions (src/oauth/session.rs). Session cookies are signed,
-- not stored; sign-out records the cookie's signature hash here until the
-- cookie would expire anyway, and "sign out everywhere" keeps one row `*`
-- whose revoked_at ends every session issued up to then.
CREATE TABLE session_revocations (
  session    TEXT PRIMARY KEY,           -- SHA-256 (base64url) of the cookie's signature, or '*'
  revoked_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX session_revocations_expires ON session_revocations(expires_at);
