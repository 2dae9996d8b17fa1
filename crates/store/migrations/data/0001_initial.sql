-- hush data store, schema 1. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE installation (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE namespaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE secrets (
    namespace_id  TEXT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_read_at  INTEGER,
    PRIMARY KEY (namespace_id, name)
);

CREATE TABLE secret_versions (
    secret_id    TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    key_version  INTEGER NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    hash            BLOB NOT NULL,
    description     TEXT NOT NULL,
    all_namespaces  INTEGER NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    revoked_at      INTEGER,
    created_by      TEXT
);

CREATE TABLE token_namespaces (
    token_id      TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    namespace_id  TEXT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, namespace_id)
);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    token_id   TEXT,
    action     TEXT NOT NULL,
    namespace  TEXT,
    name       TEXT,
    version    INTEGER,
    outcome    TEXT NOT NULL,
    context    TEXT,
    mac        BLOB NOT NULL
);
CREATE INDEX audit_events_by_namespace ON audit_events (namespace, seq);
