-- Workload identity: login roles (JWT issuer, audience, bound claims and
-- the rights a login earns), the identity a login's token carries, and the
-- identity and refusal reason of each audit event.
CREATE TABLE login_roles (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    mac BYTEA NOT NULL
);
ALTER TABLE tokens ADD COLUMN identity TEXT;
ALTER TABLE audit_events ADD COLUMN identity TEXT;
ALTER TABLE audit_events ADD COLUMN reason TEXT;
