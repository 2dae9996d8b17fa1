-- Audit retention (hush admin audit prune). The checkpoint is the chain
-- head at the cut: the sequence number and MAC of the last removed event,
-- signed with the audit key, so `audit verify` can start there.
CREATE TABLE audit_checkpoint (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seq        INTEGER NOT NULL,
    mac        BLOB NOT NULL,
    before_at  INTEGER NOT NULL,
    made_at    INTEGER NOT NULL,
    signature  BLOB NOT NULL
);

-- Every event up to this one was delivered to an audit sink or handed out
-- by a complete `hush audit export`: prune may remove them without --force.
CREATE TABLE audit_exported (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq  INTEGER NOT NULL
);
