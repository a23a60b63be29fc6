-- Registration policy and cleanup (issue 3): when a client last got tokens,
-- and registrations counted per source and clock hour.

-- Set by /token whenever it issues tokens; the cron removes clients that were
-- created and last used more than STALE_CLIENT_DAYS ago.
ALTER TABLE clients ADD COLUMN last_used_at INTEGER;

-- Clients in use before this column existed have no last_used_at: count them
-- as used now, so that the first cleanup run does not log anyone out.
UPDATE clients SET last_used_at = CAST(strftime('%s', 'now') AS INTEGER)
WHERE EXISTS (SELECT 1 FROM grants WHERE grants.client_id = clients.client_id AND grants.revoked_at IS NULL);

-- One row per source (an IPv4 address or an IPv6 /64) and clock hour;
-- incremented by one upsert per registration, old hours removed by the cron.
CREATE TABLE registration_counts (
  source       TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  n            INTEGER NOT NULL,
  PRIMARY KEY (source, window_start)
);
