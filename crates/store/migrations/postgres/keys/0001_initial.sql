-- hush key store on PostgreSQL, schema 1. Every key here is wrapped by the root key.

CREATE TABLE installation (
    only_one           BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_one),
    id                 TEXT NOT NULL,
    wrapped_audit_key  BYTEA NOT NULL,
    wrapped_token_key  BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    completed_at       BIGINT
);

CREATE TABLE namespace_keys (
    namespace_id  TEXT NOT NULL,
    version       BIGINT NOT NULL,
    wrapped       BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, version)
);

CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    mac  BYTEA NOT NULL
);
