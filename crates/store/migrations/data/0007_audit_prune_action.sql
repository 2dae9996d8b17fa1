-- The action of `hush admin audit prune` (audit.prune), numbered like the
-- others at migration 0006, so its events take one byte for it.
INSERT OR IGNORE INTO audit_text (text) VALUES ('audit.prune');
