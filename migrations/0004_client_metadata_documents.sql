-- Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
-- documents that passed every check, kept until expires_at (at most 24 h, per
-- the response's cache headers). Failed fetches are never stored.
CREATE TABLE client_metadata_documents (
  url        TEXT PRIMARY KEY,           -- the client_id
  document   TEXT NOT NULL,              -- the JSON body as fetched
  fetched_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX client_metadata_documents_expires ON client_metadata_documents(expires_at);
