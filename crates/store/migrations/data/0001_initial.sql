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

-- namespace_ids: the ids the token was issued for, space-separated (empty
-- when all_namespaces); deleted namespaces simply stop matching. mac: HMAC
-- under the token key (key store) over the whole row, so an edited or
-- planted row does not verify.
CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    hash            BLOB NOT NULL,
    description     TEXT NOT NULL,
    all_namespaces  INTEGER NOT NULL,
    namespace_ids   TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    revoked_at      INTEGER,
    created_by      TEXT,
    mac             BLOB NOT NULL
);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    token_id   TEXT,
    action     TEXT NOT NULL,
    namespace     TEXT,
    namespace_id  TEXT,
    name       TEXT,
    version    INTEGER,
    outcome    TEXT NOT NULL,
    context    TEXT,
    mac        BLOB NOT NULL
);
CREATE INDEX audit_events_by_namespace ON audit_events (namespace, seq);
CREATE INDEX audit_events_by_namespace_id ON audit_events (namespace_id, seq);
