-- Refresh-token rotation without forks (issue 15, src/oauth/refresh_rotation.rs):
-- each refresh token records the hash of the one successor it was rotated into,
-- so a parallel or retried refresh inside the grace window gets that same
-- successor back instead of a new, independent token. Only the hash is stored;
-- the successor is recomputed from the presented token. NULL: not yet used, or
-- rotated before this migration (such a token's grace use gets an access token only).
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
