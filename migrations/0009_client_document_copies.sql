-- Client ID Metadata Documents that keep working when a vendor's document host does not answer
-- (docs/clients.md, "When a vendor's document host does not answer"). A stored document may stand
-- in for a refetch that fails until stale_until (at most 7 days after its last successful fetch;
-- 0: never), and a pinned copy shipped with Gatehouse may stand in when there is none. source says
-- which copy admitted the client last: 'live' (fetched), 'stored' (an earlier fetch standing in)
-- or 'pinned'; failed_at and last_failure say why, while a copy stands in. Rows hold only
-- documents that passed every check; an error is never stored as a document.
ALTER TABLE client_metadata_documents ADD COLUMN source TEXT NOT NULL DEFAULT 'live';
ALTER TABLE client_metadata_documents ADD COLUMN stale_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE client_metadata_documents ADD COLUMN failed_at INTEGER;
ALTER TABLE client_metadata_documents ADD COLUMN last_failure TEXT;
