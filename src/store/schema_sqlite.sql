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
-- migration 3
-- Authorizations (60-minute tokens, with the authorized snapshot in body), orders (the record
-- Order Management operates on) and customer tokens (recurring payments).
CREATE TABLE authorizations (
    token        TEXT PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    session_id   TEXT NOT NULL,
    issued_at    INTEGER NOT NULL,
    state        TEXT NOT NULL,   -- active, consumed, cancelled, superseded
    body         TEXT NOT NULL
) STRICT;
CREATE INDEX authorizations_session ON authorizations(session_id, issued_at);
CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants(id),
    session_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    fraud_status     TEXT NOT NULL,
    order_amount     INTEGER NOT NULL,
    captured_amount  INTEGER NOT NULL,
    refunded_amount  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    body             TEXT NOT NULL
) STRICT;
CREATE INDEX orders_merchant ON orders(merchant_id, created_at);
CREATE TABLE customer_tokens (
    id           TEXT PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    status       TEXT NOT NULL,   -- ACTIVE, CANCELLED
    created_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
) STRICT;
-- migration 4
-- The outbox: callbacks to merchants (authorization callbacks, fraud notifications) written in
-- the same transaction as the change that causes them, delivered by outbox/outbox.c.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    kind         TEXT NOT NULL,   -- authorization, fraud_notification
    session_id   TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    url          TEXT NOT NULL,   -- "" when there is nothing to call (the event still applies)
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    status       TEXT NOT NULL    -- pending, delivered, failed, no_url
) STRICT;
CREATE INDEX outbox_due ON outbox(status, due_at);
CREATE INDEX outbox_session ON outbox(merchant_id, session_id);
CREATE INDEX outbox_order ON outbox(merchant_id, order_id);
CREATE TABLE outbox_attempts (
    id           INTEGER PRIMARY KEY,
    event_id     INTEGER NOT NULL REFERENCES outbox(id),
    at           INTEGER NOT NULL,
    http_status  INTEGER NOT NULL,
    error        TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_attempts_event ON outbox_attempts(event_id);
-- migration 5
-- Hosted Payment Page sessions (api/hpp.c): one row per HPP session, pointing at a KP session;
-- page_id (UUIDv4) is the shopper's only key to the hosted page. body holds the validated
-- request (merchant_urls, options) and the outcome. messages: what distribution would have
-- sent by SMS or e-mail, for people and tests to read (GET /kasse/v1/messages).
CREATE TABLE hpp_sessions (
    id             TEXT PRIMARY KEY,
    page_id        TEXT NOT NULL UNIQUE,
    merchant_id    INTEGER NOT NULL REFERENCES merchants(id),
    kp_session_id  TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    body           TEXT NOT NULL
) STRICT;
CREATE INDEX hpp_sessions_kp ON hpp_sessions(merchant_id, kp_session_id);
CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    merchant_id    INTEGER NOT NULL REFERENCES merchants(id),
    hpp_session_id TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_session ON messages(merchant_id, hpp_session_id);
-- migration 6
-- An idempotency record also remembers the request it answered (a hash of its body), so that a
-- key reused with another body is refused instead of replayed (http/idempotency.c).
ALTER TABLE idempotency ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
-- migration 7
-- Callback fairness (outbox/outbox.c): each event names its endpoint (scheme://host:port of its
-- URL, lower case, default port filled in; outbox_endpoint), so the due query can return a few
-- rows per endpoint and one endpoint's backlog never hides another's events. Events written
-- before this migration use their whole URL as the endpoint (finer, so still fair).
ALTER TABLE outbox ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
UPDATE outbox SET endpoint = url;
