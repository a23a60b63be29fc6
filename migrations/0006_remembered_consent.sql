-- Remembered consent (issue 5; src/oauth/login/remembered_consent.rs): one
-- row per (subject, client) whose consent page the person asked to skip for
-- CONSENT_REMEMBER_DAYS. Replaced by each remembered approval.
CREATE TABLE remembered_consents (
  subject    TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  scope      TEXT NOT NULL,              -- the approved scope, space-separated
  created_at INTEGER NOT NULL,           -- Unix seconds
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (subject, client_id)
);
CREATE INDEX remembered_consents_client ON remembered_consents(client_id);

-- Forgotten when any grant of that (subject, client) is revoked, whichever
-- path revokes it (RFC 7009 /revoke, the admin page, code or refresh-token
-- reuse, client deletion), and when the client row goes: in the database, so
-- no revocation path can forget to forget.
CREATE TRIGGER remembered_consents_forget_on_revoke
AFTER UPDATE OF revoked_at ON grants
WHEN NEW.revoked_at IS NOT NULL
BEGIN
  DELETE FROM remembered_consents WHERE subject = NEW.subject AND client_id = NEW.client_id;
END;

CREATE TRIGGER remembered_consents_forget_on_client_delete
AFTER DELETE ON clients
BEGIN
  DELETE FROM remembered_consents WHERE client_id = OLD.client_id;
END;
