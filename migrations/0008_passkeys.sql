-- Owner passkeys (issue 5): WebAuthn credentials, their one-time challenges,
-- and the setup codes already spent on a first enrolment.

-- One row per enrolled passkey. Credential ids and public keys are not secret.
CREATE TABLE passkeys (
  credential_id TEXT PRIMARY KEY,          -- base64url
  alg           TEXT NOT NULL,             -- ES256 (P-256) or EdDSA (Ed25519)
  x             TEXT NOT NULL,             -- public key: JWK x, base64url
  y             TEXT,                      -- JWK y (ES256 only)
  sign_count    INTEGER NOT NULL,          -- last signature counter seen
  name          TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER
);

-- Challenges handed to a browser: single use, short-lived, bound to the
-- browser cookie's hash. Stored as the challenge's SHA-256.
CREATE TABLE passkey_challenges (
  challenge_hash TEXT PRIMARY KEY,
  purpose        TEXT NOT NULL,            -- register or login
  browser        TEXT NOT NULL,            -- hash of the browser cookie
  expires_at     INTEGER NOT NULL
);
CREATE INDEX passkey_challenges_expires ON passkey_challenges(expires_at);

-- PASSKEY_SETUP_CODE values (as SHA-256) that enrolled a passkey already.
-- A new code (a new secret) starts over.
CREATE TABLE passkey_setup_codes (
  code_hash TEXT PRIMARY KEY,
  spent_at  INTEGER NOT NULL
);
