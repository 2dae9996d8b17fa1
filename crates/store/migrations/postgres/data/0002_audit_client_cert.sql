-- The subject of the client certificate a call came with (mutual TLS).
ALTER TABLE audit_events ADD COLUMN client_cert TEXT;
