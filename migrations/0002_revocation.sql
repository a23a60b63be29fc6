-- Revocation reaches the MCP endpoint through a per-isolate cache of the
-- grants revoked within the last access-token lifetime (src/oauth/revocation.rs),
-- re-read every REVOCATION_CHECK_SECONDS with `WHERE revoked_at >= ?`. Only
-- revoked grants are indexed, so the index stays as small as the answer.
CREATE INDEX grants_revoked_at ON grants(revoked_at) WHERE revoked_at IS NOT NULL;
