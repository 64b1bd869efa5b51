-- Kasse's SQLite schema. Each "-- migration N" block is applied once, in order, inside one
-- transaction, and PRAGMA user_version records the last one applied. Never edit a released
-- block: add a new one. A resource is a row with its key columns and its Klarna JSON body.
-- migration 1
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE merchants (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    secret_mac  BLOB NOT NULL,
    name        TEXT NOT NULL,
    categories  TEXT NOT NULL DEFAULT 'klarna',
    created_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    client_token TEXT NOT NULL,
    body         TEXT NOT NULL
) STRICT;
-- migration 2
-- Klarna-Idempotency-Key: the first successful reply to a mutating request, per merchant and
-- key, replayed for 24 hours (http/idempotency.c).
CREATE TABLE idempotency (
    merchant_id INTEGER NOT NULL REFERENCES merchants(id),
    key         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    headers     TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (merchant_id, key)
) STRICT;
