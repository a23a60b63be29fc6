-- The admin page and the audit log (issue 6, "Operate").

-- One row per security decision: logins, consents, registrations,
-- revocations, client deletions, key rotations. Never a token, code, secret
-- or password: detail holds ids, names, hosts, scopes and IP addresses only.
CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,              -- Unix seconds
  event     TEXT NOT NULL,                 -- e.g. login.failure, grant.revoke
  subject   TEXT,                          -- who acted, when a person did
  client_id TEXT,
  detail    TEXT NOT NULL DEFAULT '{}'     -- JSON object
);
CREATE INDEX audit_events_at ON audit_events(at);

-- When the grant was last refreshed (the admin page's "last refresh").
ALTER TABLE grants ADD COLUMN last_refresh_at INTEGER;

-- clients.last_used_at (the admin page's "last used") comes from 0003.
