/* store/pg_rows: the PostgreSQL backend's resource calls (store.h) and the one table of its
 * statements. Same meaning as store/sqlite.c call for call; what differs:
 *  - inside store_write, gets of rows a write may change use their *_LOCK twin (FOR UPDATE),
 *    so a read-modify-write holds the row until commit (store.h, Concurrency);
 *  - idem_put that changes no row met a live record a concurrent transaction made: it asks
 *    pg.c to run the transaction again, and the rerun finds that record and replays it;
 *  - the order list's counters (order_counts) are spread over shards, summed on read;
 *  - outbox claims and the list sweep skip rows another node holds (SKIP LOCKED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/order_list.h"
#include "store/pg.h"

#define SESSION_COLS "id, merchant_id, status, created_at, updated_at, expires_at, " \
                     "client_token, body"
#define MERCHANT_COLS "id, username, secret_mac, name, categories, created_at"
#define IDEM_COLS "merchant_id, key, created_at, method, path, status, headers, body, request_hash"
#define AUTH_COLS "token, merchant_id, session_id, issued_at, state, body"
#define ORDER_COLS "id, merchant_id, session_id, status, fraud_status, order_amount, " \
                   "captured_amount, refunded_amount, created_at, expires_at, body, " \
                   "list_status, list_until, list_after"
#define OUTBOX_COLS "id, merchant_id, kind, session_id, order_id, url, body, created_at, " \
                    "due_at, attempts, status, endpoint, lease_until"
#define HPP_COLS "id, page_id, merchant_id, kp_session_id, status, created_at, updated_at, " \
                 "expires_at, body"
/* The order list's primitives (store/order_list.h): $1 merchant, $2 lo, $3 hi, then each
 * statement's own (pg_ol_params). The range on created_at is written created_at + 0 where
 * the due index must be used (few rows) rather than the creation-time one (all of them). */
#define OL_RANGE "merchant_id = $1 AND created_at >= $2 AND created_at < $3"
#define OL_DUE "merchant_id = $1 AND list_until <= $5 AND created_at + 0 >= $2 AND " \
               "created_at + 0 < $3"
#define OL_CORRECTION "count(*) FILTER (WHERE list_after = $4) - " \
                      "count(*) FILTER (WHERE list_status = $4)"
#define OL_BUCKETS "merchant_id = $1 AND level = $4 AND bucket >= $2 AND bucket < $3"

const char *const pg_stmt_sql[PG_STMT_COUNT] = {
    [PG_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [PG_META_GET_LOCK] = "SELECT value FROM meta WHERE key = $1 FOR UPDATE",
    [PG_META_PUT] = "INSERT INTO meta(key, value) VALUES ($1, $2) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [PG_META_ADD] = "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    [PG_MERCHANT_BY_USER] = "SELECT " MERCHANT_COLS " FROM merchants WHERE username = $1",
    [PG_MERCHANT_BY_ID] = "SELECT " MERCHANT_COLS " FROM merchants WHERE id = $1",
    [PG_MERCHANT_INSERT] = "INSERT INTO merchants(username, secret_mac, name, categories, "
                           "created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    [PG_MERCHANT_SET_SECRET] = "UPDATE merchants SET secret_mac = $2 WHERE id = $1",
    [PG_MERCHANT_COUNT] = "SELECT count(*) FROM merchants",
    [PG_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions WHERE id = $1 AND merchant_id = $2",
    [PG_SESSION_GET_LOCK] = "SELECT " SESSION_COLS " FROM sessions WHERE id = $1 AND "
                            "merchant_id = $2 FOR UPDATE",
    [PG_SESSION_GET_ANY] = "SELECT " SESSION_COLS " FROM sessions WHERE id = $1",
    [PG_SESSION_GET_ANY_LOCK] = "SELECT " SESSION_COLS " FROM sessions WHERE id = $1 FOR UPDATE",
    [PG_SESSION_INSERT] = "INSERT INTO sessions(" SESSION_COLS ") "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [PG_SESSION_UPDATE] = "UPDATE sessions SET status = $3, updated_at = $4, expires_at = $5, "
                          "body = $6 WHERE id = $1 AND merchant_id = $2",
    [PG_LOG_INSERT] = "INSERT INTO request_log(correlation_id, merchant_id, method, path, status, "
                      "at, duration_us, request_body, response_body) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                      "ON CONFLICT (correlation_id) DO NOTHING",
    [PG_LOG_GET] = "SELECT correlation_id, merchant_id, method, path, status, at, duration_us, "
                   "request_body, response_body FROM request_log "
                   "WHERE correlation_id = $1 AND merchant_id = $2",
    [PG_LOG_PRUNE] = "DELETE FROM request_log WHERE at < $1",
    [PG_IDEM_GET] = "SELECT " IDEM_COLS " FROM idempotency WHERE merchant_id = $1 AND key = $2 "
                    "AND created_at >= $3",
    [PG_IDEM_GET_LOCK] = "SELECT " IDEM_COLS " FROM idempotency WHERE merchant_id = $1 AND "
                         "key = $2 AND created_at >= $3 FOR UPDATE",
    /* Inserts, or replaces an expired record (created before $10); a live one stays and no row
     * changes (pg_idem_put). */
    [PG_IDEM_PUT] = "INSERT INTO idempotency(" IDEM_COLS ") "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                    "ON CONFLICT (merchant_id, key) DO UPDATE SET created_at = excluded.created_at, "
                    "method = excluded.method, path = excluded.path, status = excluded.status, "
                    "headers = excluded.headers, body = excluded.body, "
                    "request_hash = excluded.request_hash WHERE idempotency.created_at < $10",
    [PG_IDEM_PRUNE] = "DELETE FROM idempotency WHERE created_at < $1",
    [PG_AUTH_INSERT] = "INSERT INTO authorizations(" AUTH_COLS ") "
                       "VALUES ($1, $2, $3, $4, $5, $6)",
    [PG_AUTH_GET] = "SELECT " AUTH_COLS " FROM authorizations WHERE token = $1 AND "
                    "merchant_id = $2",
    [PG_AUTH_GET_LOCK] = "SELECT " AUTH_COLS " FROM authorizations WHERE token = $1 AND "
                         "merchant_id = $2 FOR UPDATE",
    [PG_AUTH_LATEST] = "SELECT " AUTH_COLS " FROM authorizations WHERE session_id = $1 AND "
                       "merchant_id = $2 ORDER BY issued_at DESC, seq DESC LIMIT 1",
    [PG_AUTH_LATEST_LOCK] = "SELECT " AUTH_COLS " FROM authorizations WHERE session_id = $1 AND "
                            "merchant_id = $2 ORDER BY issued_at DESC, seq DESC LIMIT 1 "
                            "FOR UPDATE",
    [PG_AUTH_SET_STATE] = "UPDATE authorizations SET state = $3 WHERE token = $1 AND "
                          "merchant_id = $2",
    [PG_AUTH_SET_STATE_BODY] = "UPDATE authorizations SET state = $3, body = $4 "
                               "WHERE token = $1 AND merchant_id = $2",
    [PG_AUTH_SUPERSEDE] = "UPDATE authorizations SET state = 'superseded' WHERE session_id = $1 "
                          "AND merchant_id = $2 AND state = 'active' AND token <> $3",
    [PG_ORDER_INSERT] = "INSERT INTO orders(" ORDER_COLS ") "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    [PG_ORDER_GET] = "SELECT " ORDER_COLS " FROM orders WHERE id = $1 AND merchant_id = $2",
    [PG_ORDER_GET_LOCK] = "SELECT " ORDER_COLS " FROM orders WHERE id = $1 AND merchant_id = $2 "
                          "FOR UPDATE",
    [PG_ORDER_GET_ANY] = "SELECT " ORDER_COLS " FROM orders WHERE id = $1",
    [PG_ORDER_GET_ANY_LOCK] = "SELECT " ORDER_COLS " FROM orders WHERE id = $1 FOR UPDATE",
    /* The same parameters as the insert (order_params); session_id and created_at never
     * change. $3 and $9 are unused here, so their types are given. */
    [PG_ORDER_UPDATE] = "UPDATE orders SET status = $4, fraud_status = $5, order_amount = $6, "
                        "captured_amount = $7, refunded_amount = $8, expires_at = $10, "
                        "body = $11, list_status = $12, list_until = $13, list_after = $14 "
                        "WHERE id = $1 AND merchant_id = $2 AND $3::text IS NOT NULL AND "
                        "$9::bigint IS NOT NULL",
    [PG_OL_SPAN] = "SELECT (SELECT created_at FROM orders WHERE " OL_RANGE " ORDER BY "
                   "created_at LIMIT 1), (SELECT created_at FROM orders WHERE " OL_RANGE
                   " ORDER BY created_at DESC LIMIT 1)",
    [PG_OL_COUNT_BUCKETS_ALL] = "SELECT coalesce(sum(n), 0) FROM order_counts WHERE " OL_BUCKETS,
    [PG_OL_COUNT_BUCKETS_STATUS] = "SELECT coalesce(sum(n), 0) FROM order_counts WHERE "
                                   OL_BUCKETS " AND status = $5",
    [PG_OL_COUNT_ROWS_ALL] = "SELECT count(*) FROM orders WHERE " OL_RANGE,
    [PG_OL_COUNT_ROWS_STATUS] = "SELECT count(*) FROM orders WHERE " OL_RANGE
                                " AND list_status = $4",
    [PG_OL_COUNT_DUE] = "SELECT " OL_CORRECTION " FROM orders WHERE " OL_DUE,
    [PG_OL_DUE_ANY] = "SELECT EXISTS (SELECT 1 FROM orders WHERE " OL_DUE
                      " AND (list_after = $4 OR list_status = $4))::int",
    [PG_OL_BUCKETS_DESC_ALL] = "SELECT bucket, sum(n) FROM order_counts WHERE " OL_BUCKETS
                               " GROUP BY bucket ORDER BY bucket DESC LIMIT $5",
    [PG_OL_BUCKETS_DESC_STATUS] = "SELECT bucket, sum(n) FROM order_counts WHERE " OL_BUCKETS
                                  " AND status = $6 GROUP BY bucket ORDER BY bucket DESC "
                                  "LIMIT $5",
    [PG_OL_DUE_BUCKETS_DESC] = "SELECT created_at / $6, " OL_CORRECTION " FROM orders WHERE "
                               OL_DUE " GROUP BY 1 ORDER BY 1 DESC LIMIT $7",
    [PG_OL_PAGE_ALL] = "SELECT id, created_at FROM orders WHERE " OL_RANGE
                       " ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
    [PG_OL_PAGE_STATUS] = "SELECT id, created_at FROM orders WHERE " OL_RANGE " AND "
                          "list_status = $4 AND (list_until IS NULL OR list_until > $5) "
                          "ORDER BY created_at DESC, id DESC LIMIT $6",
    [PG_OL_PAGE_DUE] = "SELECT id, created_at FROM orders WHERE " OL_DUE " AND "
                       "list_after = $4 ORDER BY created_at DESC, id DESC LIMIT $6",
    [PG_ORDER_SWEEP] = "UPDATE orders SET list_status = list_after, list_until = NULL, "
                       "list_after = NULL WHERE id IN (SELECT id FROM orders "
                       "WHERE list_until <= $1 ORDER BY list_until LIMIT $2 "
                       "FOR UPDATE SKIP LOCKED)",
    [PG_CTOKEN_INSERT] = "INSERT INTO customer_tokens(id, merchant_id, status, created_at, body) "
                         "VALUES ($1, $2, $3, $4, $5)",
    [PG_CTOKEN_GET] = "SELECT id, merchant_id, status, created_at, body FROM customer_tokens "
                      "WHERE id = $1 AND merchant_id = $2",
    [PG_CTOKEN_GET_LOCK] = "SELECT id, merchant_id, status, created_at, body FROM "
                           "customer_tokens WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
    [PG_CTOKEN_SET_STATUS] = "UPDATE customer_tokens SET status = $3 WHERE id = $1 AND "
                             "merchant_id = $2",
    [PG_OUTBOX_ADD] = "INSERT INTO outbox(merchant_id, kind, session_id, order_id, url, body, "
                      "created_at, due_at, attempts, status, endpoint) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 'pending', $9) RETURNING id",
    /* The oldest $3 due events of each endpoint, then the oldest $2 of those. */
    [PG_OUTBOX_DUE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id IN ("
                      "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY endpoint "
                      "ORDER BY due_at, id) AS nth FROM outbox "
                      "WHERE status = 'pending' AND due_at <= $1 AND lease_until <= $4) AS d "
                      "WHERE nth <= $3) ORDER BY due_at, id LIMIT $2",
    /* A row another node is claiming right now is skipped, not waited for. */
    [PG_OUTBOX_CLAIM] = "UPDATE outbox SET lease_until = $3 WHERE id = (SELECT id FROM outbox "
                        "WHERE id = $1 AND status = 'pending' AND lease_until <= $2 "
                        "FOR UPDATE SKIP LOCKED)",
    [PG_OUTBOX_RECORD] = "UPDATE outbox SET attempts = attempts + $2, status = $3, due_at = $4, "
                         "lease_until = 0 WHERE id = $1",
    [PG_OUTBOX_ATTEMPT] = "INSERT INTO outbox_attempts(event_id, at, http_status, error, "
                          "duration_ms, response) VALUES ($1, $2, $3, $4, $5, $6)",
    [PG_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM outbox WHERE merchant_id = $1 "
                       "AND ($2 = '' OR session_id = $2) AND ($3 = '' OR order_id = $3) "
                       "ORDER BY id LIMIT $4",
    [PG_OUTBOX_ATTEMPTS] = "SELECT at, http_status, error, duration_ms, response FROM outbox_attempts "
                           "WHERE event_id = $1 ORDER BY id LIMIT $2",
    [PG_HPP_INSERT] = "INSERT INTO hpp_sessions(" HPP_COLS ") "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [PG_HPP_GET] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = $1 AND merchant_id = $2",
    [PG_HPP_GET_LOCK] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = $1 AND "
                        "merchant_id = $2 FOR UPDATE",
    [PG_HPP_GET_ANY] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = $1",
    [PG_HPP_GET_ANY_LOCK] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = $1 FOR UPDATE",
    [PG_HPP_BY_PAGE] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE page_id = $1",
    [PG_HPP_BY_PAGE_LOCK] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE page_id = $1 "
                            "FOR UPDATE",
    [PG_HPP_UPDATE] = "UPDATE hpp_sessions SET status = $3, updated_at = $4, body = $5 "
                      "WHERE id = $1 AND merchant_id = $2 AND status = $6",
    [PG_HPP_FOR_KP] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE merchant_id = $1 AND "
                      "kp_session_id = $2 ORDER BY created_at, id LIMIT $3",
    [PG_MESSAGE_ADD] = "INSERT INTO messages(merchant_id, hpp_session_id, body, created_at) "
                       "VALUES ($1, $2, $3, $4) RETURNING id",
    [PG_MESSAGE_LIST] = "SELECT id, merchant_id, hpp_session_id, body, created_at FROM messages "
                        "WHERE merchant_id = $1 AND ($2 = '' OR hpp_session_id = $2) "
                        "ORDER BY id LIMIT $3",
    /* The merchant portal (store.h): the rows of SQLite's statements (sqlite.c); the lists
     * spelled so that every plan PostgreSQL may choose reads only the page (below). */
    [PG_PORTAL_PUT] = "INSERT INTO portal_sessions(id_hash, merchant_id, csrf, created_at, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5)",
    [PG_PORTAL_GET] = "SELECT id_hash, merchant_id, csrf, created_at, expires_at "
                      "FROM portal_sessions WHERE id_hash = $1 AND expires_at > $2",
    [PG_PORTAL_DELETE] = "DELETE FROM portal_sessions WHERE id_hash = $1",
    [PG_PORTAL_PRUNE] = "DELETE FROM portal_sessions WHERE expires_at < $1",
    /* $2 the cursor (above every id for the first page): one range of sessions_merchant,
     * hpp_sessions_merchant, outbox_merchant, request_log_merchant. Written as a range on
     * (merchant_id, key) ordered by both, not as merchant_id = $1: a generic plan (a statement
     * run many times) estimates merchant_id = $1 from the average merchant and, with few
     * merchants, walks the primary key newest first filtering on merchant_id, which reads every
     * newer row of the other merchants (measured: 99,990 rows for a page of 10). Only the
     * (merchant_id, key) index serves this order, so every plan reads just the page. */
#define PAGE_RANGE(key) "merchant_id >= $1 AND (merchant_id, " key ") < ($1, $2) " \
                        "ORDER BY merchant_id DESC, " key " DESC LIMIT $3"
    [PG_SESSION_PAGE] = "SELECT " SESSION_COLS " FROM sessions WHERE " PAGE_RANGE("id"),
    [PG_HPP_PAGE] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE " PAGE_RANGE("id"),
    [PG_OUTBOX_PAGE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE " PAGE_RANGE("id"),
#undef PAGE_RANGE
    [PG_OUTBOX_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id = $1 AND merchant_id = $2",
    /* Latest first, strictly before the cursor ($2, $3); the bodies are not read. */
    [PG_LOG_PAGE] = "SELECT correlation_id, merchant_id, method, path, status, at, duration_us "
                    "FROM request_log WHERE merchant_id >= $1 AND "
                    "(merchant_id, at, correlation_id) < ($1, $2, $3) "
                    "ORDER BY merchant_id DESC, at DESC, correlation_id DESC LIMIT $4",
    /* The newest $3 matches of each reference (one range of orders_reference1 and of
     * orders_reference2: the expressions are spelled as the indexes', schema_pg.sql), merged;
     * an order matching on both counts once. The equality is written as a range on the index's
     * first two columns for the same reason as PAGE_RANGE: a generic plan would otherwise walk
     * orders_list filtering on the body when the references have few distinct values. */
#define REF(n) "((body::jsonb) ->> 'merchant_reference" n "')"
#define REF_BRANCH(n) "(SELECT id, created_at FROM orders WHERE " \
                      "(merchant_id, " REF(n) ") >= ($1, $2) AND " \
                      "(merchant_id, " REF(n) ") <= ($1, $2) " \
                      "ORDER BY merchant_id DESC, " REF(n) " DESC, created_at DESC, id DESC " \
                      "LIMIT $3)"
    [PG_ORDER_BY_REF] = "SELECT id FROM (" REF_BRANCH("1") " UNION " REF_BRANCH("2") ") AS m "
                        "ORDER BY created_at DESC, id DESC LIMIT $3",
#undef REF_BRANCH
#undef REF
};

/* ---- helpers ---- */

static struct pg_conn *as_conn(struct store_tx *tx)
{
    return (struct pg_conn *)tx;
}

/* The statement a get uses: its FOR UPDATE twin inside a write transaction. */
static enum pg_stmt lockable(const struct pg_conn *c, enum pg_stmt plain, enum pg_stmt locked)
{
    return c->in_write ? locked : plain;
}

static char *col_str(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return mem_strdup(PQgetvalue(r, row, col));
}

static void col_copy(const PGresult *r, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A bytea column (text result: "\x..." hex) into out; its length, or -1 when over cap. */
static int64_t col_bytes(const PGresult *r, int row, int col, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (!b)
        return -1;
    int64_t rc = n <= cap ? (int64_t)n : -1;
    if (rc >= 0 && n)
        memcpy(out, b, n);
    PQfreemem(b);
    return rc;
}

/* Rows changed by an INSERT/UPDATE/DELETE. */
static int64_t changes(const PGresult *r)
{
    return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* A statement whose result is not needed: 0 or -1. */
static int run_done(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p)
{
    PGresult *r = pg_run(c, id, p);
    PQclear(r);
    return r ? 0 : -1;
}

/* An UPDATE of one keyed row: 0, STORE_NOT_FOUND when no row matched (this merchant's), -1. */
static int run_one_change(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p)
{
    PGresult *r = pg_run(c, id, p);
    if (!r)
        return -1;
    int rc = changes(r) == 1 ? 0 : STORE_NOT_FOUND;
    PQclear(r);
    return rc;
}

/* A single-row SELECT: the result with a row (the caller reads it, then PQclear), or NULL
 * with *rc STORE_NOT_FOUND or -1. */
static PGresult *run_row(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p, int *rc)
{
    PGresult *r = pg_run(c, id, p);
    if (!r) {
        *rc = -1;
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        *rc = STORE_NOT_FOUND;
        return NULL;
    }
    *rc = 0;
    return r;
}

/* ---- meta ---- */

static int pg_meta_get(struct store_tx *tx, const char *key, uint8_t *out, size_t cap,
                       size_t *len)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, key);
    int rc;
    PGresult *r = run_row(c, lockable(c, PG_META_GET, PG_META_GET_LOCK), &p, &rc);
    if (!r)
        return rc;
    int64_t n = col_bytes(r, 0, 0, out, cap);
    PQclear(r);
    if (n < 0)
        return -1;
    *len = (size_t)n;
    return 0;
}

static int pg_meta_put(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct pg_params p = {0};
    pg_p_text(&p, key);
    pg_p_bytes(&p, v, len);
    return run_done(as_conn(tx), PG_META_PUT, &p);
}

static int pg_meta_add(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct pg_params p = {0};
    pg_p_text(&p, key);
    pg_p_bytes(&p, v, len);
    PGresult *r = pg_run(as_conn(tx), PG_META_ADD, &p);
    if (!r)
        return -1;
    int rc = changes(r) == 1 ? 0 : STORE_EXISTS;
    PQclear(r);
    return rc;
}

/* ---- merchants (never locked) ---- */

static int read_merchant(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p,
                         struct merchant_row *out)
{
    int rc;
    PGresult *r = run_row(c, id, p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    out->id = col_i64(r, 0, 0);
    out->username = col_str(r, 0, 1);
    if (col_bytes(r, 0, 2, out->secret_mac, sizeof out->secret_mac) != 32)
        memset(out->secret_mac, 0, sizeof out->secret_mac);
    out->name = col_str(r, 0, 3);
    out->categories = col_str(r, 0, 4);
    out->created_at = col_i64(r, 0, 5);
    PQclear(r);
    if (!out->username || !out->name || !out->categories) {
        merchant_row_free(out);
        return -1;
    }
    return 0;
}

static int pg_merchant_by_username(struct store_tx *tx, const char *username,
                                   struct merchant_row *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, username);
    return read_merchant(as_conn(tx), PG_MERCHANT_BY_USER, &p, out);
}

static int pg_merchant_by_id(struct store_tx *tx, int64_t id, struct merchant_row *out)
{
    struct pg_params p = {0};
    pg_p_i64(&p, id);
    return read_merchant(as_conn(tx), PG_MERCHANT_BY_ID, &p, out);
}

/* A username taken meanwhile by another node fails with 23505: the transaction runs again and
 * its fn finds that merchant (pg.c). */
static int pg_merchant_insert(struct store_tx *tx, struct merchant_row *m)
{
    struct pg_params p = {0};
    pg_p_text(&p, m->username);
    pg_p_bytes(&p, m->secret_mac, 32);
    pg_p_text(&p, m->name);
    pg_p_text(&p, m->categories ? m->categories : "klarna");
    pg_p_i64(&p, m->created_at);
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_MERCHANT_INSERT, &p, &rc);
    if (!r)
        return -1;
    m->id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_merchant_set_secret(struct store_tx *tx, int64_t id, const uint8_t mac[32])
{
    struct pg_params p = {0};
    pg_p_i64(&p, id);
    pg_p_bytes(&p, mac, 32);
    return run_done(as_conn(tx), PG_MERCHANT_SET_SECRET, &p);
}

static int pg_merchant_count(struct store_tx *tx, int64_t *count)
{
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_MERCHANT_COUNT, NULL, &rc);
    if (!r)
        return -1;
    *count = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* ---- sessions ---- */

static int read_session(const PGresult *r, int i, struct session_row *out);

static int pg_session_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                          struct session_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, id);
    if (merchant_id)
        pg_p_i64(&p, merchant_id);
    enum pg_stmt st = merchant_id ? lockable(c, PG_SESSION_GET, PG_SESSION_GET_LOCK)
                                  : lockable(c, PG_SESSION_GET_ANY, PG_SESSION_GET_ANY_LOCK);
    int rc;
    PGresult *r = run_row(c, st, &p, &rc);
    if (!r)
        return rc;
    rc = read_session(r, 0, out);
    PQclear(r);
    return rc;
}

/* Fills out from row i of a SELECT of SESSION_COLS; 0 or -1 (nothing left to free). */
static int read_session(const PGresult *r, int i, struct session_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(r, i, 0, out->id, sizeof out->id);
    out->merchant_id = col_i64(r, i, 1);
    col_copy(r, i, 2, out->status, sizeof out->status);
    out->created_at = col_i64(r, i, 3);
    out->updated_at = col_i64(r, i, 4);
    out->expires_at = col_i64(r, i, 5);
    out->client_token = col_str(r, i, 6);
    out->body = col_str(r, i, 7);
    if (!out->client_token || !out->body) {
        session_row_free(out);
        return -1;
    }
    return 0;
}

static int pg_session_insert(struct store_tx *tx, const struct session_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->status);
    pg_p_i64(&p, row->created_at);
    pg_p_i64(&p, row->updated_at);
    pg_p_i64(&p, row->expires_at);
    pg_p_text(&p, row->client_token);
    pg_p_text(&p, row->body);
    return run_done(as_conn(tx), PG_SESSION_INSERT, &p);
}

static int pg_session_update(struct store_tx *tx, const struct session_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->status);
    pg_p_i64(&p, row->updated_at);
    pg_p_i64(&p, row->expires_at);
    pg_p_text(&p, row->body);
    return run_one_change(as_conn(tx), PG_SESSION_UPDATE, &p);
}

/* ---- request log ---- */

static int pg_reqlog_get(struct store_tx *tx, int64_t merchant_id, const char *correlation_id,
                         struct reqlog_row *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, correlation_id);
    pg_p_i64(&p, merchant_id);
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_LOG_GET, &p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(r, 0, 0, out->correlation_id, sizeof out->correlation_id);
    out->merchant_id = col_i64(r, 0, 1);
    col_copy(r, 0, 2, out->method, sizeof out->method);
    out->path = col_str(r, 0, 3);
    out->status = (int)col_i64(r, 0, 4);
    out->at_ms = col_i64(r, 0, 5);
    out->duration_us = col_i64(r, 0, 6);
    out->request_body = col_str(r, 0, 7);
    out->response_body = col_str(r, 0, 8);
    bool oom = !out->path || (!PQgetisnull(r, 0, 7) && !out->request_body) ||
               (!PQgetisnull(r, 0, 8) && !out->response_body);
    PQclear(r);
    if (oom) {
        reqlog_row_free(out);
        return -1;
    }
    return 0;
}

/* ---- idempotency records ---- */

static int pg_idem_get(struct store_tx *tx, int64_t merchant_id, const char *key,
                       int64_t not_before, struct idem_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, key);
    pg_p_i64(&p, not_before);
    int rc;
    PGresult *r = run_row(c, lockable(c, PG_IDEM_GET, PG_IDEM_GET_LOCK), &p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    out->merchant_id = col_i64(r, 0, 0);
    out->key = col_str(r, 0, 1);
    out->created_at = col_i64(r, 0, 2);
    col_copy(r, 0, 3, out->method, sizeof out->method);
    out->path = col_str(r, 0, 4);
    out->status = (int)col_i64(r, 0, 5);
    out->headers = col_str(r, 0, 6);
    out->body = col_str(r, 0, 7);
    col_copy(r, 0, 8, out->request_hash, sizeof out->request_hash);
    PQclear(r);
    if (!out->key || !out->path || !out->headers || !out->body) {
        idem_row_free(out);
        return -1;
    }
    return 0;
}

/* No row inserted or replaced: a live record for the key exists, made by a concurrent
 * transaction that committed after this one looked (this one found none). The transaction
 * runs again; its fn then finds the record and replays it (store.h). */
static int pg_idem_put(struct store_tx *tx, const struct idem_row *row, int64_t not_before)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->key);
    pg_p_i64(&p, row->created_at);
    pg_p_text(&p, row->method);
    pg_p_text(&p, row->path);
    pg_p_i64(&p, row->status);
    pg_p_text(&p, row->headers);
    pg_p_text(&p, row->body);
    pg_p_text(&p, row->request_hash);
    pg_p_i64(&p, not_before);
    PGresult *r = pg_run(c, PG_IDEM_PUT, &p);
    if (!r)
        return -1;
    int64_t n = changes(r);
    PQclear(r);
    if (n != 1) {
        c->retry = true;
        return STORE_RETRY;
    }
    return 0;
}

static int pg_idem_prune(struct store_tx *tx, int64_t before)
{
    struct pg_params p = {0};
    pg_p_i64(&p, before);
    return run_done(as_conn(tx), PG_IDEM_PRUNE, &p);
}

/* ---- authorizations ---- */

static int read_auth(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p,
                     struct auth_row *out)
{
    int rc;
    PGresult *r = run_row(c, id, p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(r, 0, 0, out->token, sizeof out->token);
    out->merchant_id = col_i64(r, 0, 1);
    col_copy(r, 0, 2, out->session_id, sizeof out->session_id);
    out->issued_at = col_i64(r, 0, 3);
    col_copy(r, 0, 4, out->state, sizeof out->state);
    out->body = col_str(r, 0, 5);
    PQclear(r);
    return out->body ? 0 : -1;
}

static int pg_auth_insert(struct store_tx *tx, const struct auth_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->token);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->session_id);
    pg_p_i64(&p, row->issued_at);
    pg_p_text(&p, row->state);
    pg_p_text(&p, row->body);
    return run_done(as_conn(tx), PG_AUTH_INSERT, &p);
}

static int pg_auth_get(struct store_tx *tx, int64_t merchant_id, const char *token,
                       struct auth_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, token);
    pg_p_i64(&p, merchant_id);
    return read_auth(c, lockable(c, PG_AUTH_GET, PG_AUTH_GET_LOCK), &p, out);
}

static int pg_auth_latest(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          struct auth_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, session_id);
    pg_p_i64(&p, merchant_id);
    return read_auth(c, lockable(c, PG_AUTH_LATEST, PG_AUTH_LATEST_LOCK), &p, out);
}

static int pg_auth_set_state(struct store_tx *tx, int64_t merchant_id, const char *token,
                             const char *state, const char *body)
{
    struct pg_params p = {0};
    pg_p_text(&p, token);
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, state);
    if (body)
        pg_p_text(&p, body);
    return run_one_change(as_conn(tx), body ? PG_AUTH_SET_STATE_BODY : PG_AUTH_SET_STATE, &p);
}

static int pg_auth_supersede(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                             const char *keep_token)
{
    struct pg_params p = {0};
    pg_p_text(&p, session_id);
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, keep_token ? keep_token : "");
    return run_done(as_conn(tx), PG_AUTH_SUPERSEDE, &p);
}

/* ---- orders ---- */

/* Every column of an order row: $1 .. $14 in ORDER_COLS order. -1 when the row is not filed
 * for the list (as sqlite.c refuses it). */
static int order_params(struct pg_params *p, const struct order_row *r)
{
    if (!r->list_status[0] || (r->list_until != INT64_MAX && !r->list_after[0])) {
        log_error("store: order %s is not filed for the list (list_status \"%s\")", r->id,
                  r->list_status);
        return -1;
    }
    pg_p_text(p, r->id);
    pg_p_i64(p, r->merchant_id);
    pg_p_text(p, r->session_id);
    pg_p_text(p, r->status);
    pg_p_text(p, r->fraud_status);
    pg_p_i64(p, r->order_amount);
    pg_p_i64(p, r->captured_amount);
    pg_p_i64(p, r->refunded_amount);
    pg_p_i64(p, r->created_at);
    pg_p_i64(p, r->expires_at);
    pg_p_text(p, r->body);
    pg_p_text(p, r->list_status);
    if (r->list_until != INT64_MAX) {
        pg_p_i64(p, r->list_until);
        pg_p_text(p, r->list_after);
    } else {
        pg_p_text(p, NULL);
        pg_p_text(p, NULL);
    }
    return 0;
}

static int pg_order_insert(struct store_tx *tx, const struct order_row *row)
{
    struct pg_params p = {0};
    if (order_params(&p, row) != 0)
        return -1;
    return run_done(as_conn(tx), PG_ORDER_INSERT, &p);
}

static int pg_order_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                        struct order_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, id);
    if (merchant_id)
        pg_p_i64(&p, merchant_id);
    enum pg_stmt st = merchant_id ? lockable(c, PG_ORDER_GET, PG_ORDER_GET_LOCK)
                                  : lockable(c, PG_ORDER_GET_ANY, PG_ORDER_GET_ANY_LOCK);
    int rc;
    PGresult *r = run_row(c, st, &p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(r, 0, 0, out->id, sizeof out->id);
    out->merchant_id = col_i64(r, 0, 1);
    col_copy(r, 0, 2, out->session_id, sizeof out->session_id);
    col_copy(r, 0, 3, out->status, sizeof out->status);
    col_copy(r, 0, 4, out->fraud_status, sizeof out->fraud_status);
    out->order_amount = col_i64(r, 0, 5);
    out->captured_amount = col_i64(r, 0, 6);
    out->refunded_amount = col_i64(r, 0, 7);
    out->created_at = col_i64(r, 0, 8);
    out->expires_at = col_i64(r, 0, 9);
    out->body = col_str(r, 0, 10);
    col_copy(r, 0, 11, out->list_status, sizeof out->list_status);
    out->list_until = PQgetisnull(r, 0, 12) ? INT64_MAX : col_i64(r, 0, 12);
    col_copy(r, 0, 13, out->list_after, sizeof out->list_after);
    PQclear(r);
    return out->body ? 0 : -1;
}

static int pg_order_update(struct store_tx *tx, const struct order_row *row)
{
    struct pg_params p = {0};
    if (order_params(&p, row) != 0)
        return -1;
    return run_one_change(as_conn(tx), PG_ORDER_UPDATE, &p);
}

/* ---- the merchant's order list ----
 *
 * The algorithm is store/order_list.c; here are its primitive queries (order_list.h), one
 * prepared statement each. A cursor holds its whole result (the algorithm bounds the rows it
 * reads: `max`). The counts come from order_counts (migration 2), its shards summed. */

/* $1 merchant, $2 lo, $3 hi, then the statement's own parameters, in their order. */
static void ol_params(struct pg_params *p, const struct order_page_query *q, int64_t lo,
                      int64_t hi)
{
    *p = (struct pg_params){0};
    pg_p_i64(p, q->merchant_id);
    pg_p_i64(p, lo);
    pg_p_i64(p, hi);
}

static int ol_span(void *be, const struct order_page_query *q, int64_t lo, int64_t hi, bool *any,
                   int64_t *first, int64_t *last)
{
    struct pg_params p;
    ol_params(&p, q, lo, hi);
    int rc;
    PGresult *r = run_row(be, PG_OL_SPAN, &p, &rc);
    if (!r)
        return -1;
    *any = !PQgetisnull(r, 0, 0);
    if (*any) {
        *first = col_i64(r, 0, 0);
        *last = col_i64(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

static int ol_count(void *be, const struct order_page_query *q, enum ol_count what, int level,
                    int64_t lo, int64_t hi, int64_t *n)
{
    struct pg_params p;
    enum pg_stmt id;
    ol_params(&p, q, lo, hi);
    switch (what) {
    case OL_COUNT_BUCKETS:
        pg_p_i64(&p, level);
        if (q->status)
            pg_p_text(&p, q->status);
        id = q->status ? PG_OL_COUNT_BUCKETS_STATUS : PG_OL_COUNT_BUCKETS_ALL;
        break;
    case OL_COUNT_ROWS:
        if (q->status)
            pg_p_text(&p, q->status);
        id = q->status ? PG_OL_COUNT_ROWS_STATUS : PG_OL_COUNT_ROWS_ALL;
        break;
    default:                              /* OL_COUNT_DUE, OL_DUE_ANY: with a status only */
        pg_p_text(&p, q->status);
        pg_p_i64(&p, q->now);
        id = what == OL_COUNT_DUE ? PG_OL_COUNT_DUE : PG_OL_DUE_ANY;
        break;
    }
    int rc;
    PGresult *r = run_row(be, id, &p, &rc);
    if (!r)
        return -1;
    *n = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int ol_open(void *be, const struct order_page_query *q, enum ol_rows what, int64_t lo,
                   int64_t hi, int64_t arg, int64_t max, struct ol_cursor *k)
{
    struct pg_params p;
    enum pg_stmt id;
    ol_params(&p, q, lo, hi);
    switch (what) {
    case OL_BUCKETS_DESC:
        pg_p_i64(&p, arg);
        pg_p_i64(&p, max);
        if (q->status)
            pg_p_text(&p, q->status);
        id = q->status ? PG_OL_BUCKETS_DESC_STATUS : PG_OL_BUCKETS_DESC_ALL;
        break;
    case OL_DUE_BUCKETS_DESC:
        pg_p_text(&p, q->status);
        pg_p_i64(&p, q->now);
        pg_p_i64(&p, arg);
        pg_p_i64(&p, max);
        id = PG_OL_DUE_BUCKETS_DESC;
        break;
    case OL_PAGE_ALL:
        pg_p_i64(&p, max);
        pg_p_i64(&p, arg);
        id = PG_OL_PAGE_ALL;
        break;
    default:                              /* OL_PAGE_STATUS, OL_PAGE_DUE */
        pg_p_text(&p, q->status);
        pg_p_i64(&p, q->now);
        pg_p_i64(&p, max);
        id = what == OL_PAGE_STATUS ? PG_OL_PAGE_STATUS : PG_OL_PAGE_DUE;
        break;
    }
    k->h = pg_run(be, id, &p);
    k->i = 0;
    return k->h ? 0 : -1;
}

static int ol_next(void *be, struct ol_cursor *k, struct ol_row *row)
{
    (void)be;
    PGresult *r = k->h;
    if (k->i >= PQntuples(r))
        return 0;
    if (k->what == OL_BUCKETS_DESC || k->what == OL_DUE_BUCKETS_DESC)
        row->a = col_i64(r, k->i, 0);
    else
        col_copy(r, k->i, 0, row->id, sizeof row->id);
    row->b = col_i64(r, k->i, 1);
    k->i++;
    return 1;
}

static void ol_close(void *be, struct ol_cursor *k)
{
    (void)be;
    PQclear(k->h);
    k->h = NULL;
}

static const struct order_list_ops pg_order_list = {
    .span = ol_span, .count = ol_count, .open = ol_open, .next = ol_next, .close = ol_close,
};

static int pg_order_page(struct store_tx *tx, const struct order_page_query *q,
                         char (*ids)[37], size_t *n, int64_t *total)
{
    return order_list_page(&pg_order_list, as_conn(tx), q, ids, n, total);
}

static int pg_order_list_sweep(struct store_tx *tx, int64_t now, size_t max, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, now);
    pg_p_i64(&p, (int64_t)max);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_ORDER_SWEEP, &p);
    if (!r)
        return -1;
    *n = (size_t)changes(r);
    PQclear(r);
    return 0;
}

/* ---- customer tokens ---- */

static int pg_ctoken_insert(struct store_tx *tx, const struct ctoken_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->status);
    pg_p_i64(&p, row->created_at);
    pg_p_text(&p, row->body);
    return run_done(as_conn(tx), PG_CTOKEN_INSERT, &p);
}

static int pg_ctoken_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                         struct ctoken_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, id);
    pg_p_i64(&p, merchant_id);
    int rc;
    PGresult *r = run_row(c, lockable(c, PG_CTOKEN_GET, PG_CTOKEN_GET_LOCK), &p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(r, 0, 0, out->id, sizeof out->id);
    out->merchant_id = col_i64(r, 0, 1);
    col_copy(r, 0, 2, out->status, sizeof out->status);
    out->created_at = col_i64(r, 0, 3);
    out->body = col_str(r, 0, 4);
    PQclear(r);
    return out->body ? 0 : -1;
}

static int pg_ctoken_set_status(struct store_tx *tx, int64_t merchant_id, const char *id,
                                const char *status)
{
    struct pg_params p = {0};
    pg_p_text(&p, id);
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, status);
    return run_one_change(as_conn(tx), PG_CTOKEN_SET_STATUS, &p);
}

/* ---- the outbox ---- */

static int pg_outbox_add(struct store_tx *tx, struct outbox_row *row)
{
    struct pg_params p = {0};
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->kind);
    pg_p_text(&p, row->session_id);
    pg_p_text(&p, row->order_id);
    pg_p_text(&p, row->url ? row->url : "");
    pg_p_text(&p, row->body ? row->body : "");
    pg_p_i64(&p, row->created_at);
    pg_p_i64(&p, row->due_at);
    pg_p_text(&p, row->endpoint);
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_OUTBOX_ADD, &p, &rc);
    if (!r)
        return -1;
    row->id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Outbox rows from a SELECT of OUTBOX_COLS. */
static int read_outbox_rows(PGresult *r, struct outbox_row *rows, size_t cap, size_t *n)
{
    *n = 0;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++) {
        struct outbox_row *o = &rows[*n];
        memset(o, 0, sizeof *o);
        o->id = col_i64(r, i, 0);
        o->merchant_id = col_i64(r, i, 1);
        col_copy(r, i, 2, o->kind, sizeof o->kind);
        col_copy(r, i, 3, o->session_id, sizeof o->session_id);
        col_copy(r, i, 4, o->order_id, sizeof o->order_id);
        o->url = col_str(r, i, 5);
        o->body = col_str(r, i, 6);
        o->created_at = col_i64(r, i, 7);
        o->due_at = col_i64(r, i, 8);
        o->attempts = (int)col_i64(r, i, 9);
        col_copy(r, i, 10, o->status, sizeof o->status);
        col_copy(r, i, 11, o->endpoint, sizeof o->endpoint);
        o->lease_until = col_i64(r, i, 12);
        (*n)++;
        if (!o->url || !o->body) {
            for (size_t j = 0; j < *n; j++)
                outbox_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return 0;
}

static int pg_outbox_due(struct store_tx *tx, int64_t now, int64_t wall_now,
                         size_t per_endpoint, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, now);
    pg_p_i64(&p, (int64_t)cap);
    pg_p_i64(&p, (int64_t)per_endpoint);
    pg_p_i64(&p, wall_now);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_OUTBOX_DUE, &p);
    return r ? read_outbox_rows(r, rows, cap, n) : -1;
}

static int pg_outbox_claim(struct store_tx *tx, int64_t id, int64_t wall_now,
                           int64_t lease_until)
{
    struct pg_params p = {0};
    pg_p_i64(&p, id);
    pg_p_i64(&p, wall_now);
    pg_p_i64(&p, lease_until);
    return run_one_change(as_conn(tx), PG_OUTBOX_CLAIM, &p);
}

static int pg_outbox_record(struct store_tx *tx, int64_t id, const struct outbox_attempt *a,
                            const char *status, int64_t next_due_at)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_i64(&p, id);
    pg_p_i64(&p, a ? 1 : 0);
    pg_p_text(&p, status);
    pg_p_i64(&p, next_due_at);
    if (run_done(c, PG_OUTBOX_RECORD, &p) != 0)
        return -1;
    if (!a)
        return 0;
    struct pg_params q = {0};
    pg_p_i64(&q, id);
    pg_p_i64(&q, a->at);
    pg_p_i64(&q, a->http_status);
    pg_p_text(&q, a->error);
    pg_p_i64(&q, a->duration_ms);
    pg_p_text(&q, a->response);
    return run_done(c, PG_OUTBOX_ATTEMPT, &q);
}

static int pg_outbox_list(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          const char *order_id, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, session_id ? session_id : "");
    pg_p_text(&p, order_id ? order_id : "");
    pg_p_i64(&p, (int64_t)cap);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_OUTBOX_LIST, &p);
    return r ? read_outbox_rows(r, rows, cap, n) : -1;
}

static int pg_outbox_attempts(struct store_tx *tx, int64_t event_id, struct outbox_attempt *out,
                              size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, event_id);
    pg_p_i64(&p, (int64_t)cap);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_OUTBOX_ATTEMPTS, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++) {
        struct outbox_attempt *a = &out[(*n)++];
        a->at = col_i64(r, i, 0);
        a->http_status = (int)col_i64(r, i, 1);
        col_copy(r, i, 2, a->error, sizeof a->error);
        a->duration_ms = col_i64(r, i, 3);
        col_copy(r, i, 4, a->response, sizeof a->response);
    }
    PQclear(r);
    return 0;
}

/* ---- Hosted Payment Page sessions and their messages ---- */

static int pg_hpp_insert(struct store_tx *tx, const struct hpp_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id);
    pg_p_text(&p, row->page_id);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->kp_session_id);
    pg_p_text(&p, row->status);
    pg_p_i64(&p, row->created_at);
    pg_p_i64(&p, row->updated_at);
    pg_p_i64(&p, row->expires_at);
    pg_p_text(&p, row->body);
    return run_done(as_conn(tx), PG_HPP_INSERT, &p);
}

static int read_hpp(const PGresult *r, int i, struct hpp_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(r, i, 0, out->id, sizeof out->id);
    col_copy(r, i, 1, out->page_id, sizeof out->page_id);
    out->merchant_id = col_i64(r, i, 2);
    col_copy(r, i, 3, out->kp_session_id, sizeof out->kp_session_id);
    col_copy(r, i, 4, out->status, sizeof out->status);
    out->created_at = col_i64(r, i, 5);
    out->updated_at = col_i64(r, i, 6);
    out->expires_at = col_i64(r, i, 7);
    out->body = col_str(r, i, 8);
    return out->body ? 0 : -1;
}

static int hpp_get_one(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p,
                       struct hpp_row *out)
{
    int rc;
    PGresult *r = run_row(c, id, p, &rc);
    if (!r)
        return rc;
    rc = read_hpp(r, 0, out);
    PQclear(r);
    return rc;
}

static int pg_hpp_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                      struct hpp_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, id);
    if (merchant_id)
        pg_p_i64(&p, merchant_id);
    enum pg_stmt st = merchant_id ? lockable(c, PG_HPP_GET, PG_HPP_GET_LOCK)
                                  : lockable(c, PG_HPP_GET_ANY, PG_HPP_GET_ANY_LOCK);
    return hpp_get_one(c, st, &p, out);
}

static int pg_hpp_by_page(struct store_tx *tx, const char *page_id, struct hpp_row *out)
{
    struct pg_conn *c = as_conn(tx);
    struct pg_params p = {0};
    pg_p_text(&p, page_id);
    return hpp_get_one(c, lockable(c, PG_HPP_BY_PAGE, PG_HPP_BY_PAGE_LOCK), &p, out);
}

static int pg_hpp_update(struct store_tx *tx, const struct hpp_row *row, const char *expected)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->status);
    pg_p_i64(&p, row->updated_at);
    pg_p_text(&p, row->body);
    pg_p_text(&p, expected);
    return run_one_change(as_conn(tx), PG_HPP_UPDATE, &p);
}

static int pg_hpp_for_kp(struct store_tx *tx, int64_t merchant_id, const char *kp_session_id,
                         struct hpp_row *rows, size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, kp_session_id);
    pg_p_i64(&p, (int64_t)cap);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_HPP_FOR_KP, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++) {
        if (read_hpp(r, i, &rows[*n]) != 0) {
            for (size_t j = 0; j <= *n; j++)
                hpp_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int pg_message_add(struct store_tx *tx, struct message_row *row)
{
    struct pg_params p = {0};
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->hpp_session_id);
    pg_p_text(&p, row->body);
    pg_p_i64(&p, row->created_at);
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_MESSAGE_ADD, &p, &rc);
    if (!r)
        return -1;
    row->id = col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_message_list(struct store_tx *tx, int64_t merchant_id, const char *hpp_session_id,
                           struct message_row *rows, size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, hpp_session_id ? hpp_session_id : "");
    pg_p_i64(&p, (int64_t)cap);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_MESSAGE_LIST, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++) {
        struct message_row *m = &rows[*n];
        memset(m, 0, sizeof *m);
        m->id = col_i64(r, i, 0);
        m->merchant_id = col_i64(r, i, 1);
        col_copy(r, i, 2, m->hpp_session_id, sizeof m->hpp_session_id);
        m->body = col_str(r, i, 3);
        m->created_at = col_i64(r, i, 4);
        (*n)++;
        if (!m->body) {
            for (size_t j = 0; j < *n; j++)
                message_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return 0;
}

/* ---- the merchant portal ---- */

/* The cursor of a first page: above every id (ids are lowercase hex digits and '-', compared
 * byte by byte: the id columns are in the "C" collation). */
#define ID_ABOVE_ALL "~"

static const char *id_cursor(const char *before_id)
{
    return before_id && before_id[0] ? before_id : ID_ABOVE_ALL;
}

static int pg_portal_session_put(struct store_tx *tx, const struct portal_session_row *row)
{
    struct pg_params p = {0};
    pg_p_text(&p, row->id_hash);
    pg_p_i64(&p, row->merchant_id);
    pg_p_text(&p, row->csrf);
    pg_p_i64(&p, row->created_at);
    pg_p_i64(&p, row->expires_at);
    return run_done(as_conn(tx), PG_PORTAL_PUT, &p);
}

static int pg_portal_session_get(struct store_tx *tx, const char *id_hash, int64_t now,
                                 struct portal_session_row *out)
{
    struct pg_params p = {0};
    pg_p_text(&p, id_hash);
    pg_p_i64(&p, now);
    int rc;
    PGresult *r = run_row(as_conn(tx), PG_PORTAL_GET, &p, &rc);
    if (!r)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(r, 0, 0, out->id_hash, sizeof out->id_hash);
    out->merchant_id = col_i64(r, 0, 1);
    col_copy(r, 0, 2, out->csrf, sizeof out->csrf);
    out->created_at = col_i64(r, 0, 3);
    out->expires_at = col_i64(r, 0, 4);
    PQclear(r);
    return 0;
}

static int pg_portal_session_delete(struct store_tx *tx, const char *id_hash)
{
    struct pg_params p = {0};
    pg_p_text(&p, id_hash);
    return run_done(as_conn(tx), PG_PORTAL_DELETE, &p);
}

static int pg_portal_session_prune(struct store_tx *tx, int64_t before)
{
    struct pg_params p = {0};
    pg_p_i64(&p, before);
    return run_done(as_conn(tx), PG_PORTAL_PRUNE, &p);
}

static int pg_session_page(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                           size_t limit, struct session_row *rows, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, id_cursor(before_id));
    pg_p_i64(&p, (int64_t)limit);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_SESSION_PAGE, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < limit; i++) {
        if (read_session(r, i, &rows[*n]) != 0) {
            for (size_t j = 0; j < *n; j++)
                session_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int pg_hpp_page(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                       size_t limit, struct hpp_row *rows, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, id_cursor(before_id));
    pg_p_i64(&p, (int64_t)limit);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_HPP_PAGE, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < limit; i++) {
        if (read_hpp(r, i, &rows[*n]) != 0) {
            for (size_t j = 0; j <= *n; j++)
                hpp_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int pg_outbox_page(struct store_tx *tx, int64_t merchant_id, int64_t before_id,
                          size_t limit, struct outbox_row *rows, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_i64(&p, before_id > 0 ? before_id : INT64_MAX);
    pg_p_i64(&p, (int64_t)limit);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_OUTBOX_PAGE, &p);
    return r ? read_outbox_rows(r, rows, limit, n) : -1;
}

static int pg_outbox_get(struct store_tx *tx, int64_t merchant_id, int64_t id,
                         struct outbox_row *out)
{
    struct pg_params p = {0};
    pg_p_i64(&p, id);
    pg_p_i64(&p, merchant_id);
    PGresult *r = pg_run(as_conn(tx), PG_OUTBOX_GET, &p);
    size_t n = 0;
    if (!r || read_outbox_rows(r, out, 1, &n) != 0)
        return -1;
    return n == 1 ? 0 : STORE_NOT_FOUND;
}

static int pg_reqlog_page(struct store_tx *tx, int64_t merchant_id, int64_t before_at,
                          const char *before_id, size_t limit, struct reqlog_row *rows,
                          size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_i64(&p, before_at);
    pg_p_text(&p, before_id ? before_id : "");
    pg_p_i64(&p, (int64_t)limit);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_LOG_PAGE, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < limit; i++) {
        struct reqlog_row *l = &rows[*n];
        memset(l, 0, sizeof *l);
        col_copy(r, i, 0, l->correlation_id, sizeof l->correlation_id);
        l->merchant_id = col_i64(r, i, 1);
        col_copy(r, i, 2, l->method, sizeof l->method);
        l->path = col_str(r, i, 3);
        l->status = (int)col_i64(r, i, 4);
        l->at_ms = col_i64(r, i, 5);
        l->duration_us = col_i64(r, i, 6);
        if (!l->path) {
            for (size_t j = 0; j < *n; j++)
                reqlog_row_free(&rows[j]);
            *n = 0;
            PQclear(r);
            return -1;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

static int pg_order_by_reference(struct store_tx *tx, int64_t merchant_id,
                                 const char *reference, char (*ids)[37], size_t cap, size_t *n)
{
    struct pg_params p = {0};
    pg_p_i64(&p, merchant_id);
    pg_p_text(&p, reference);
    pg_p_i64(&p, (int64_t)cap);
    *n = 0;
    PGresult *r = pg_run(as_conn(tx), PG_ORDER_BY_REF, &p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++)
        col_copy(r, i, 0, ids[(*n)++], sizeof ids[0]);
    PQclear(r);
    return 0;
}

const struct store_ops pg_ops = {
    .name = "postgresql",
    .shared = true,
    .write = pg_write,
    .read = pg_read,
    .log_async = pg_log_async,
    .flush = pg_flush,
    .ping = pg_ping,
    .close = pg_close,
    .meta_get = pg_meta_get,
    .meta_put = pg_meta_put,
    .meta_add = pg_meta_add,
    .merchant_by_username = pg_merchant_by_username,
    .merchant_by_id = pg_merchant_by_id,
    .merchant_insert = pg_merchant_insert,
    .merchant_set_secret = pg_merchant_set_secret,
    .merchant_count = pg_merchant_count,
    .session_get = pg_session_get,
    .session_insert = pg_session_insert,
    .session_update = pg_session_update,
    .reqlog_get = pg_reqlog_get,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_prune = pg_idem_prune,
    .auth_insert = pg_auth_insert,
    .auth_get = pg_auth_get,
    .auth_latest = pg_auth_latest,
    .auth_set_state = pg_auth_set_state,
    .auth_supersede = pg_auth_supersede,
    .order_insert = pg_order_insert,
    .order_get = pg_order_get,
    .order_update = pg_order_update,
    .order_page = pg_order_page,
    .order_list_sweep = pg_order_list_sweep,
    .ctoken_insert = pg_ctoken_insert,
    .ctoken_get = pg_ctoken_get,
    .ctoken_set_status = pg_ctoken_set_status,
    .outbox_add = pg_outbox_add,
    .outbox_due = pg_outbox_due,
    .outbox_claim = pg_outbox_claim,
    .outbox_record = pg_outbox_record,
    .outbox_list = pg_outbox_list,
    .outbox_attempts = pg_outbox_attempts,
    .hpp_insert = pg_hpp_insert,
    .hpp_get = pg_hpp_get,
    .hpp_by_page = pg_hpp_by_page,
    .hpp_update = pg_hpp_update,
    .hpp_for_kp = pg_hpp_for_kp,
    .message_add = pg_message_add,
    .message_list = pg_message_list,
    .portal_session_put = pg_portal_session_put,
    .portal_session_get = pg_portal_session_get,
    .portal_session_delete = pg_portal_session_delete,
    .portal_session_prune = pg_portal_session_prune,
    .session_page = pg_session_page,
    .hpp_page = pg_hpp_page,
    .outbox_page = pg_outbox_page,
    .outbox_get = pg_outbox_get,
    .reqlog_page = pg_reqlog_page,
    .order_by_reference = pg_order_by_reference,
};
