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
-- migration 8
-- The merchant's order list (GET /kasse/v1/orders) is filtered, counted and paged here, so a
-- call costs the same at 10 orders and at a million (store/sqlite_rows.c, sq_order_page).
-- list_status: the status the order is listed under; list_until / list_after: while the status
-- can still change by itself (expiry, Klarna's cancellation of a rejected order), the instant
-- it does and the status from then on (core/order.c order_status_schedule computes them; a
-- sweep files due orders under list_after; reads correct for the ones not yet swept).
ALTER TABLE orders ADD COLUMN list_status TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN list_until INTEGER;
ALTER TABLE orders ADD COLUMN list_after TEXT;
-- Existing orders: order_status_schedule's rule, from the columns and the _kasse bookkeeping
-- (an order already past its instant is due, and the sweep files it).
UPDATE orders SET list_status = status;
UPDATE orders SET list_until = t.until, list_after = t.after
FROM (SELECT id, CASE WHEN cancels THEN cancel_at ELSE expires_at END AS until,
             CASE WHEN cancels THEN 'CANCELLED' WHEN refunded THEN 'CLOSED' ELSE 'EXPIRED' END
             AS after
      FROM (SELECT id, fraud = 'REJECTED' AND captured_amount = 0 AND cancel_at <= expires_at
                   AS cancels, cancel_at, expires_at,
                   captured_amount > 0 AND refunded_amount = captured_amount AS refunded
            FROM (SELECT id, expires_at, captured_amount, refunded_amount,
                         coalesce(json_extract(body, '$._kasse.fraud_decides_at'), 0) + 14400000
                         AS cancel_at,
                         CASE WHEN fraud_status = 'PENDING'
                                   AND coalesce(json_extract(body, '$._kasse.fraud_decides_at'),
                                                0) <> 0
                              THEN CASE json_extract(body, '$._kasse.fraud_result')
                                   WHEN 'ACCEPTED' THEN 'ACCEPTED' ELSE 'REJECTED' END
                              ELSE fraud_status END AS fraud
                  FROM orders WHERE status IN ('AUTHORIZED', 'PART_CAPTURED')))) AS t
WHERE t.id = orders.id;
DROP INDEX orders_merchant;
CREATE INDEX orders_list ON orders(merchant_id, created_at, id);
CREATE INDEX orders_list_status ON orders(merchant_id, list_status, created_at, id, list_until);
CREATE INDEX orders_list_due ON orders(merchant_id, list_until, created_at, id, list_status,
                                       list_after) WHERE list_until IS NOT NULL;
CREATE INDEX orders_list_sweep ON orders(list_until) WHERE list_until IS NOT NULL;
-- Counts of orders per merchant, list_status and creation-time bucket, at nested widths (each
-- divides the next, all aligned on the epoch): 1 s, 1 min, 1 h, 1 day, 30 days, 360 days. A
-- count over [from, to) adds at most ~2 × 60 buckets per level and counts rows only in the two
-- partial seconds at its ends. Kept by the triggers below in the transaction that inserts an
-- order or changes its list_status, whichever code does it.
CREATE TABLE order_count_levels (
    level  INTEGER PRIMARY KEY,
    width  INTEGER NOT NULL
) STRICT;
INSERT INTO order_count_levels(level, width) VALUES
    (0, 1000), (1, 60000), (2, 3600000), (3, 86400000), (4, 2592000000), (5, 31104000000);
CREATE TABLE order_counts (
    merchant_id  INTEGER NOT NULL,
    level        INTEGER NOT NULL,
    bucket       INTEGER NOT NULL,   -- created_at / width
    status       TEXT NOT NULL,      -- list_status
    n            INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, level, bucket, status)
) STRICT, WITHOUT ROWID;
INSERT INTO order_counts(merchant_id, level, bucket, status, n)
    SELECT o.merchant_id, l.level, o.created_at / l.width, o.list_status, count(*)
    FROM orders o, order_count_levels l GROUP BY 1, 2, 3, 4;
CREATE TRIGGER orders_count_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_counts(merchant_id, level, bucket, status, n)
        SELECT NEW.merchant_id, level, NEW.created_at / width, NEW.list_status, 1
        FROM order_count_levels WHERE true
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_count_update AFTER UPDATE OF merchant_id, created_at, list_status ON orders
WHEN OLD.merchant_id IS NOT NEW.merchant_id OR OLD.created_at IS NOT NEW.created_at
     OR OLD.list_status IS NOT NEW.list_status BEGIN
    INSERT INTO order_counts(merchant_id, level, bucket, status, n)
        SELECT OLD.merchant_id, level, OLD.created_at / width, OLD.list_status, -1
        FROM order_count_levels WHERE true
        ON CONFLICT DO UPDATE SET n = n - 1;
    INSERT INTO order_counts(merchant_id, level, bucket, status, n)
        SELECT NEW.merchant_id, level, NEW.created_at / width, NEW.list_status, 1
        FROM order_count_levels WHERE true
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_count_delete AFTER DELETE ON orders BEGIN
    INSERT INTO order_counts(merchant_id, level, bucket, status, n)
        SELECT OLD.merchant_id, level, OLD.created_at / width, OLD.list_status, -1
        FROM order_count_levels WHERE true
        ON CONFLICT DO UPDATE SET n = n - 1;
END;
-- migration 9
-- Outbox claims in the row (issue 10): the node delivering an event holds it until
-- lease_until (wall-clock ms; 0 = unclaimed), so several nodes on one database never deliver
-- one event at once, and a node that dies mid-delivery only delays it until the lease ends.
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
-- migration 10
-- The merchant portal (store.h, "merchant portal"). portal_sessions: a signed-in portal
-- browser, keyed by the SHA-256 (hex) of its cookie, so the database never holds a usable
-- cookie; csrf is the token its forms echo. Expired rows are pruned by expires_at.
CREATE TABLE portal_sessions (
    id_hash      TEXT PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants(id),
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX portal_sessions_expires ON portal_sessions(expires_at);
-- The portal's lists, newest first, paged by keyset (the last id of a page): one index range
-- per page however many rows the merchant (or anyone else) has. Session and HPP ids are
-- UUIDv7 (time ordered); outbox ids grow.
CREATE INDEX sessions_merchant ON sessions(merchant_id, id);
CREATE INDEX hpp_sessions_merchant ON hpp_sessions(merchant_id, id);
CREATE INDEX outbox_merchant ON outbox(merchant_id, id);
-- Orders by the merchant's references (order_by_reference): one index per reference field on
-- the body's value, so a look-up reads only the matching entries.
CREATE INDEX orders_reference1 ON orders(merchant_id, json_extract(body, '$.merchant_reference1'),
                                         created_at, id);
CREATE INDEX orders_reference2 ON orders(merchant_id, json_extract(body, '$.merchant_reference2'),
                                         created_at, id);
-- migration 11
-- The start of each callback answer's body (the portal shows it beside status and latency).
ALTER TABLE outbox_attempts ADD COLUMN response TEXT NOT NULL DEFAULT '';
