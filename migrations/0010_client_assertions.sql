-- private_key_jwt client authentication (RFC 7523 §3 item 7): the jti of every accepted
-- client assertion, kept until the assertion could no longer be accepted anyway (its exp
-- plus the allowed clock skew), so that each is accepted once. Per client: two clients may
-- pick the same jti. The jti is stored hashed (SHA-256, base64url): it is the client's
-- value, of any length. Expired rows are dropped when a new one is claimed.
CREATE TABLE client_assertion_ids (
  client_id  TEXT NOT NULL,
  jti_hash   TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertion_ids_expires ON client_assertion_ids(expires_at);
