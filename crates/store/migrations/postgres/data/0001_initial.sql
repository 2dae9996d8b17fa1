-- hush data store on PostgreSQL, schema 1. Times are milliseconds since the
-- Unix epoch (UTC). The same tables as on SQLite.

CREATE TABLE installation (
    only_one    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_one),
    id          TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE namespaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE "C",
    created_at  BIGINT NOT NULL
);

CREATE TABLE secrets (
    namespace_id  TEXT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL COLLATE "C",
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_read_at  BIGINT,
    PRIMARY KEY (namespace_id, name)
);

CREATE TABLE secret_versions (
    secret_id    TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    key_version  BIGINT NOT NULL,
    ciphertext   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    hash            BYTEA NOT NULL,
    description     TEXT NOT NULL,
    all_namespaces  BIGINT NOT NULL,
    namespace_ids   TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT,
    created_by      TEXT,
    mac             BYTEA NOT NULL
);

CREATE TABLE audit_events (
    seq           BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    token_id      TEXT,
    action        TEXT NOT NULL,
    namespace     TEXT,
    namespace_id  TEXT,
    name          TEXT,
    version       BIGINT,
    outcome       TEXT NOT NULL,
    context       TEXT,
    mac           BYTEA NOT NULL
);
CREATE INDEX audit_events_by_namespace ON audit_events (namespace, seq);
CREATE INDEX audit_events_by_namespace_id ON audit_events (namespace_id, seq);
