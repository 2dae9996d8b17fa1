-- A compact audit log (issue 20): an event took about 240 bytes on disk,
-- two thirds of them strings repeated in every row (token id, namespace
-- name and id, action, outcome, client address, secret name) and an index
-- keyed by the 32-character namespace id. Each such string is now stored
-- once, in audit_text (or, for a namespace's name and id together, in
-- audit_namespaces), and events refer to it by number: about 80 bytes a
-- typical read (docs/benchmarks.md, "Audit event size"). Identities and
-- client certificates repeat too (per token, per client) and go the same
-- way; contexts (run ids), reasons and refusal counts stay in the row.
--
-- The chain MAC covers the event's canonical encoding, not the row, so
-- every event reads back (view audit_log, below) and verifies as before.

-- Every distinct string an event refers to, numbered. 'ok' and
-- 'secret.read', by far the most common outcome and action, are 0 and 1:
-- SQLite stores those two integers in no bytes at all.
CREATE TABLE audit_text (
    id    INTEGER PRIMARY KEY,
    text  TEXT NOT NULL UNIQUE
);
INSERT INTO audit_text (id, text) VALUES (0, 'ok'), (1, 'secret.read');
INSERT INTO audit_text (text) VALUES
    ('secret.write'), ('secret.list'), ('secret.versions'), ('secret.delete'), ('namespace.create'),
    ('namespace.delete'), ('namespace.list'), ('token.create'), ('token.revoke'), ('token.list'),
    ('audit.list'), ('audit.verify'), ('init'), ('registry.write'), ('registry.list'), ('registry.delete'),
    ('registry.resolve'), ('registry.read'), ('registry.export'), ('registry.test'), ('git.credential'),
    ('namespace.rotate-key'), ('namespace.rewrap'), ('admin.backup'), ('admin.rotate-root'), ('auth.refused'),
    ('role.create'), ('role.delete'), ('role.read'), ('auth.login'), ('secret.metadata'),
    ('secret.version.delete'), ('secret.version.undelete'), ('secret.version.destroy'), ('namespace.kv-config'),
    ('unauthenticated'), ('denied'), ('not_found'), ('conflict'), ('invalid'), ('error');

-- Each namespace an event names: the name the caller gave and the id it
-- had, either of which may be missing (a namespace that was not found has
-- no id). One number for the pair keeps one index for both filters.
CREATE TABLE audit_namespaces (
    id            INTEGER PRIMARY KEY,
    name          TEXT,
    namespace_id  TEXT
);
CREATE INDEX audit_namespaces_by_name ON audit_namespaces (name, namespace_id);
CREATE INDEX audit_namespaces_by_id ON audit_namespaces (namespace_id);

-- The existing events' strings and namespaces.
INSERT OR IGNORE INTO audit_text (text)
    SELECT action FROM audit_events
    UNION SELECT outcome FROM audit_events
    UNION SELECT token_id FROM audit_events WHERE token_id IS NOT NULL
    UNION SELECT name FROM audit_events WHERE name IS NOT NULL
    UNION SELECT client_addr FROM audit_events WHERE client_addr IS NOT NULL
    UNION SELECT client_cert FROM audit_events WHERE client_cert IS NOT NULL
    UNION SELECT identity FROM audit_events WHERE identity IS NOT NULL;
INSERT INTO audit_namespaces (name, namespace_id)
    SELECT DISTINCT namespace, namespace_id FROM audit_events
    WHERE namespace IS NOT NULL OR namespace_id IS NOT NULL;

-- The events, rewritten. The columns keep their names; those marked
-- "text" hold an audit_text id, `namespace` an audit_namespaces id.
CREATE TABLE audit_events_compact (
    seq              INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,
    action           INTEGER NOT NULL,  -- text
    outcome          INTEGER NOT NULL,  -- text
    namespace        INTEGER,
    name             INTEGER,           -- text
    version          INTEGER,
    token_id         INTEGER,           -- text
    client_addr      INTEGER,           -- text
    mac              BLOB NOT NULL,
    identity         INTEGER,           -- text
    client_cert      INTEGER,           -- text
    context          TEXT,
    reason           TEXT,
    refused_count    INTEGER,
    refused_first    INTEGER,
    refused_last     INTEGER,
    refused_reasons  TEXT
);
INSERT INTO audit_events_compact
SELECT e.seq, e.at,
    (SELECT id FROM audit_text WHERE text = e.action),
    (SELECT id FROM audit_text WHERE text = e.outcome),
    (SELECT id FROM audit_namespaces AS n WHERE n.name IS e.namespace AND n.namespace_id IS e.namespace_id),
    (SELECT id FROM audit_text WHERE text = e.name),
    e.version,
    (SELECT id FROM audit_text WHERE text = e.token_id),
    (SELECT id FROM audit_text WHERE text = e.client_addr),
    e.mac,
    (SELECT id FROM audit_text WHERE text = e.identity),
    (SELECT id FROM audit_text WHERE text = e.client_cert),
    e.context, e.reason, e.refused_count, e.refused_first, e.refused_last, e.refused_reasons
FROM audit_events AS e ORDER BY e.seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_compact RENAME TO audit_events;

-- The namespace filters read this index newest first and stop at the
-- page's end (an index's entries end with the rowid, here seq). The other
-- filters (name, action, outcome, token) have none, as before: they scan
-- from the newest event.
CREATE INDEX audit_events_by_namespace ON audit_events (namespace) WHERE namespace IS NOT NULL;

-- The events as they read: every string in place. hush reads through it,
-- and so can anyone looking at the file with sqlite3. A number that refers
-- to nothing (an edited row) reads as NULL; its MAC then fails.
CREATE VIEW audit_log AS
SELECT e.seq, e.at, tok.text AS token_id, act.text AS action, ns.name AS namespace, ns.namespace_id,
    nm.text AS name, e.version, res.text AS outcome, e.context, cert.text AS client_cert,
    addr.text AS client_addr, e.refused_count, e.refused_first, e.refused_last, e.refused_reasons,
    who.text AS identity, e.reason, e.mac
FROM audit_events AS e
LEFT JOIN audit_text AS act ON act.id = e.action
LEFT JOIN audit_text AS res ON res.id = e.outcome
LEFT JOIN audit_namespaces AS ns ON ns.id = e.namespace
LEFT JOIN audit_text AS nm ON nm.id = e.name
LEFT JOIN audit_text AS tok ON tok.id = e.token_id
LEFT JOIN audit_text AS addr ON addr.id = e.client_addr
LEFT JOIN audit_text AS who ON who.id = e.identity
LEFT JOIN audit_text AS cert ON cert.id = e.client_cert;
