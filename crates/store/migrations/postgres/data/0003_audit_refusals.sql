-- The client's address, and the refusals an 'auth.refused' event counts
-- (one event per client address per period instead of one per request).
ALTER TABLE audit_events ADD COLUMN client_addr TEXT;
ALTER TABLE audit_events ADD COLUMN refused_count BIGINT;
ALTER TABLE audit_events ADD COLUMN refused_first BIGINT;
ALTER TABLE audit_events ADD COLUMN refused_last BIGINT;
ALTER TABLE audit_events ADD COLUMN refused_reasons TEXT;
