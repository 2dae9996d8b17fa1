-- hush key store, schema 1. Every key here is wrapped by the root key.

-- completed_at: set once the first start has finished (default namespace
-- and admin token made); an empty data store beside a completed key store
-- is refused rather than initialised again.
CREATE TABLE installation (
    id                 TEXT PRIMARY KEY,
    wrapped_audit_key  BLOB NOT NULL,
    wrapped_token_key  BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER
);

CREATE TABLE namespace_keys (
    namespace_id  TEXT NOT NULL,
    version       INTEGER NOT NULL,
    wrapped       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (namespace_id, version)
);

CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    mac  BLOB NOT NULL
);
