/* store/sqlite_rows: the SQLite backend's resource ops (sqlite.c lists the backend's files).
 * Each binds a row's fields to a cached statement (sq_stmt) and reads them back, scoped by
 * merchant; for the merchant's order list (below) it supplies store/order_list.c's queries
 * over indexes and counters. The ops table at the end names every op of the backend. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/order_list.h"
#include "store/sqlite_int.h"
#include "store/store.h"

/* ---- resources ---- */

static struct conn *as_conn(struct store_tx *tx)
{
    return (struct conn *)tx;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    return mem_strdup((const char *)t);
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Finishes a single-row SELECT: STORE_NOT_FOUND, 0 (row present, caller reads columns first),
 * or -1. */
static int step_row(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return STORE_NOT_FOUND;
    log_error("sqlite: %s", sqlite3_errmsg(c->db));
    return -1;
}

/* An UPDATE of one keyed row: 0, STORE_NOT_FOUND when no row matched (this merchant's), -1. */
static int step_one_change(struct conn *c, sqlite3_stmt *st)
{
    int rc = sq_step_done(c, st);
    if (rc == 0 && sqlite3_changes(c->db) != 1)
        rc = STORE_NOT_FOUND;
    return rc;
}

static int sq_meta_get(struct store_tx *tx, const char *key, uint8_t *out, size_t cap, size_t *len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_META_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = step_row(c, st);
    if (rc == 0) {
        int n = sqlite3_column_bytes(st, 0);
        if ((size_t)n > cap) {
            rc = -1;
        } else {
            if (n)
                memcpy(out, sqlite3_column_blob(st, 0), (size_t)n);
            *len = (size_t)n;
        }
    }
    return sq_finish(c, st, rc);
}

static int sq_meta_put(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_META_PUT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_meta_add(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_META_ADD);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
    if (sq_step_done(c, st) != 0)
        return -1;
    return sqlite3_changes(c->db) == 1 ? 0 : STORE_EXISTS;
}

static int read_merchant(struct conn *c, sqlite3_stmt *st, struct merchant_row *out);

static int sq_merchant_by_username(struct store_tx *tx, const char *username,
                                   struct merchant_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MERCHANT_BY_USER);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    return sq_finish(c, st, read_merchant(c, st, out));
}

static int sq_merchant_by_id(struct store_tx *tx, int64_t id, struct merchant_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MERCHANT_BY_ID);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    return sq_finish(c, st, read_merchant(c, st, out));
}

static int read_merchant(struct conn *c, sqlite3_stmt *st, struct merchant_row *out)
{
    int rc = step_row(c, st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        out->username = col_strdup(st, 1);
        if (sqlite3_column_bytes(st, 2) == 32)
            memcpy(out->secret_mac, sqlite3_column_blob(st, 2), 32);
        out->name = col_strdup(st, 3);
        out->categories = col_strdup(st, 4);
        out->created_at = sqlite3_column_int64(st, 5);
        if (!out->username || !out->name || !out->categories) {
            merchant_row_free(out);
            rc = -1;
        }
    }
    return rc;
}

static int sq_merchant_insert(struct store_tx *tx, struct merchant_row *m)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MERCHANT_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, m->username, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->secret_mac, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->categories ? m->categories : "klarna", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, m->created_at);
    int rc = sq_step_done(c, st);
    if (rc == 0)
        m->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static int sq_merchant_set_secret(struct store_tx *tx, int64_t id, const uint8_t mac[32])
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MERCHANT_SET_SECRET);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, mac, 32, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_merchant_count(struct store_tx *tx, int64_t *count)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MERCHANT_COUNT);
    if (!st)
        return -1;
    int rc = step_row(c, st);
    if (rc == 0)
        *count = sqlite3_column_int64(st, 0);
    return sq_finish(c, st, rc == STORE_NOT_FOUND ? -1 : rc);
}

/* Fills out from the current row of a SELECT of the eight session columns; 0 or -1 (nothing
 * left to free). */
static int read_session(sqlite3_stmt *st, struct session_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(st, 0, out->id, sizeof out->id);
    out->merchant_id = sqlite3_column_int64(st, 1);
    col_copy(st, 2, out->status, sizeof out->status);
    out->created_at = sqlite3_column_int64(st, 3);
    out->updated_at = sqlite3_column_int64(st, 4);
    out->expires_at = sqlite3_column_int64(st, 5);
    out->client_token = col_strdup(st, 6);
    out->body = col_strdup(st, 7);
    if (!out->client_token || !out->body) {
        session_row_free(out);
        return -1;
    }
    return 0;
}

static int sq_session_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                          struct session_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, merchant_id ? ST_SESSION_GET : ST_SESSION_GET_ANY);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (merchant_id)
        sqlite3_bind_int64(st, 2, merchant_id);
    int rc = step_row(c, st);
    if (rc == 0)
        rc = read_session(st, out);
    return sq_finish(c, st, rc);
}

static int sq_session_insert(struct store_tx *tx, const struct session_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_SESSION_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_int64(st, 5, r->updated_at);
    sqlite3_bind_int64(st, 6, r->expires_at);
    sqlite3_bind_text(st, 7, r->client_token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->body, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_session_update(struct store_tx *tx, const struct session_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_SESSION_UPDATE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->updated_at);
    sqlite3_bind_int64(st, 5, r->expires_at);
    sqlite3_bind_text(st, 6, r->body, -1, SQLITE_STATIC);
    return step_one_change(c, st);
}

static int sq_reqlog_get(struct store_tx *tx, int64_t merchant_id, const char *correlation_id,
                         struct reqlog_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, correlation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    int rc = step_row(c, st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        col_copy(st, 0, out->correlation_id, sizeof out->correlation_id);
        out->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, out->method, sizeof out->method);
        out->path = col_strdup(st, 3);
        out->status = sqlite3_column_int(st, 4);
        out->at_ms = sqlite3_column_int64(st, 5);
        out->duration_us = sqlite3_column_int64(st, 6);
        if (sqlite3_column_type(st, 10) == SQLITE_NULL) {   /* written before the body files */
            out->request_body = col_strdup(st, 7);
            out->response_body = col_strdup(st, 8);
        } else if (sq_log_read_bodies(
                       sqlite3_db_filename(c->db, "logs"), sqlite3_column_int(st, 9),
                       sqlite3_column_int64(st, 10),
                       sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 11),
                       sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 12),
                       out->correlation_id, &out->request_body, &out->response_body) != 0) {
            /* Its record is gone (its segment emptied since, or a power cut lost it). */
            out->request_body = mem_strdup("");
            out->response_body = mem_strdup("");
            if (!out->request_body || !out->response_body)
                rc = -1;
        }
        if (!out->path || rc != 0) {
            reqlog_row_free(out);
            rc = -1;
        }
    }
    return sq_finish(c, st, rc);
}

static int sq_idem_get(struct store_tx *tx, int64_t merchant_id, const char *key,
                       int64_t not_before, struct idem_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_IDEM_GET);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, not_before);
    int rc = step_row(c, st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->merchant_id = sqlite3_column_int64(st, 0);
        out->key = col_strdup(st, 1);
        out->created_at = sqlite3_column_int64(st, 2);
        col_copy(st, 3, out->method, sizeof out->method);
        out->path = col_strdup(st, 4);
        out->status = sqlite3_column_int(st, 5);
        out->headers = col_strdup(st, 6);
        out->body = col_strdup(st, 7);
        col_copy(st, 8, out->request_hash, sizeof out->request_hash);
        if (!out->key || !out->path || !out->headers || !out->body) {
            idem_row_free(out);
            rc = -1;
        }
    }
    return sq_finish(c, st, rc);
}

static int sq_idem_prune(struct store_tx *tx, int64_t before)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_IDEM_PRUNE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    return sq_step_done(c, st);
}

static int sq_idem_put(struct store_tx *tx, const struct idem_row *r, int64_t not_before)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_IDEM_PUT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->merchant_id);
    sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->created_at);
    sqlite3_bind_text(st, 4, r->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, r->status);
    sqlite3_bind_text(st, 7, r->headers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->request_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, not_before);
    if (sq_step_done(c, st) != 0)
        return -1;
    if (sqlite3_changes(c->db) != 1) {
        /* One writer: the caller looked the key up in this transaction and found nothing
         * live, so this cannot happen here. */
        log_error("store: idempotency record for a live key");
        return -1;
    }
    return 0;
}

/* ---- authorizations, orders, customer tokens ---- */

static int read_auth(struct conn *c, sqlite3_stmt *st, struct auth_row *out)
{
    int rc = step_row(c, st);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    col_copy(st, 0, out->token, sizeof out->token);
    out->merchant_id = sqlite3_column_int64(st, 1);
    col_copy(st, 2, out->session_id, sizeof out->session_id);
    out->issued_at = sqlite3_column_int64(st, 3);
    col_copy(st, 4, out->state, sizeof out->state);
    out->body = col_strdup(st, 5);
    return out->body ? 0 : -1;
}

static int sq_auth_insert(struct store_tx *tx, const struct auth_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_AUTH_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->issued_at);
    sqlite3_bind_text(st, 5, r->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->body, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_auth_get(struct store_tx *tx, int64_t merchant_id, const char *token,
                       struct auth_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_AUTH_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    return sq_finish(c, st, read_auth(c, st, out));
}

static int sq_auth_latest(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          struct auth_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_AUTH_LATEST);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    return sq_finish(c, st, read_auth(c, st, out));
}

static int sq_auth_set_state(struct store_tx *tx, int64_t merchant_id, const char *token,
                             const char *state, const char *body)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, body ? ST_AUTH_SET_STATE_BODY : ST_AUTH_SET_STATE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    if (body)
        sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
    return step_one_change(c, st);
}

static int sq_auth_supersede(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                             const char *keep_token)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_AUTH_SUPERSEDE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    sqlite3_bind_text(st, 3, keep_token ? keep_token : "", -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

/* Binds every column of an order row: ?1 .. ?14 in ORDER_COLS order. -1 when the row is not
 * filed for the list (a caller that forgot order_status_schedule would corrupt the counts). */
static int bind_order(sqlite3_stmt *st, const struct order_row *r)
{
    if (!r->list_status[0] || (r->list_until != INT64_MAX && !r->list_after[0])) {
        log_error("store: order %s is not filed for the list (list_status \"%s\")", r->id,
                  r->list_status);
        return -1;
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->fraud_status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->order_amount);
    sqlite3_bind_int64(st, 7, r->captured_amount);
    sqlite3_bind_int64(st, 8, r->refunded_amount);
    sqlite3_bind_int64(st, 9, r->created_at);
    sqlite3_bind_int64(st, 10, r->expires_at);
    sqlite3_bind_text(st, 11, r->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, r->list_status, -1, SQLITE_STATIC);
    if (r->list_until != INT64_MAX) {
        sqlite3_bind_int64(st, 13, r->list_until);
        sqlite3_bind_text(st, 14, r->list_after, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 13);
        sqlite3_bind_null(st, 14);
    }
    return 0;
}

static int sq_order_insert(struct store_tx *tx, const struct order_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_ORDER_INSERT);
    if (!st)
        return -1;
    if (bind_order(st, r) != 0)
        return sq_finish(c, st, -1);
    return sq_step_done(c, st);
}

static void read_order(sqlite3_stmt *st, struct order_row *out);

static int sq_order_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                        struct order_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, merchant_id ? ST_ORDER_GET : ST_ORDER_GET_ANY);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (merchant_id)
        sqlite3_bind_int64(st, 2, merchant_id);
    int rc = step_row(c, st);
    if (rc == 0) {
        read_order(st, out);
        if (!out->body)
            rc = -1;
    }
    return sq_finish(c, st, rc);
}

static void read_order(sqlite3_stmt *st, struct order_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(st, 0, out->id, sizeof out->id);
    out->merchant_id = sqlite3_column_int64(st, 1);
    col_copy(st, 2, out->session_id, sizeof out->session_id);
    col_copy(st, 3, out->status, sizeof out->status);
    col_copy(st, 4, out->fraud_status, sizeof out->fraud_status);
    out->order_amount = sqlite3_column_int64(st, 5);
    out->captured_amount = sqlite3_column_int64(st, 6);
    out->refunded_amount = sqlite3_column_int64(st, 7);
    out->created_at = sqlite3_column_int64(st, 8);
    out->expires_at = sqlite3_column_int64(st, 9);
    out->body = col_strdup(st, 10);
    col_copy(st, 11, out->list_status, sizeof out->list_status);
    out->list_until = sqlite3_column_type(st, 12) == SQLITE_NULL ? INT64_MAX
                                                                 : sqlite3_column_int64(st, 12);
    col_copy(st, 13, out->list_after, sizeof out->list_after);
}

static int sq_order_update(struct store_tx *tx, const struct order_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_ORDER_UPDATE);
    if (!st)
        return -1;
    if (bind_order(st, r) != 0)
        return sq_finish(c, st, -1);
    return step_one_change(c, st);
}

/* ---- the merchant's order list ----
 *
 * The algorithm is store/order_list.c; here are its primitive queries (order_list.h), each one
 * cached statement over one index range (sqlite.c, ST_ORDER_SPAN to ST_ORDER_PAGE_DUE), read
 * lazily: a cursor is the statement itself, stepped. */

/* Binds the list parameters the statement has (?1 merchant, ?2 from, ?3 to, ?4 status,
 * ?5 now). */
static void bind_list(const struct order_page_query *q, sqlite3_stmt *st, int64_t lo, int64_t hi)
{
    int params = sqlite3_bind_parameter_count(st);
    sqlite3_bind_int64(st, 1, q->merchant_id);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    if (params >= 4 && q->status)
        sqlite3_bind_text(st, 4, q->status, -1, SQLITE_STATIC);
    else if (params >= 4)
        sqlite3_bind_null(st, 4);
    if (params >= 5)
        sqlite3_bind_int64(st, 5, q->now);
}

static int ol_span(void *be, const struct order_page_query *q, int64_t lo, int64_t hi, bool *any,
                   int64_t *first, int64_t *last)
{
    struct conn *c = be;
    sqlite3_stmt *st = sq_stmt(c, ST_ORDER_SPAN);
    if (!st)
        return -1;
    bind_list(q, st, lo, hi);
    int rc = step_row(c, st);
    *any = rc == 0 && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (*any) {
        *first = sqlite3_column_int64(st, 0);
        *last = sqlite3_column_int64(st, 1);
    }
    return sq_finish(c, st, rc < 0 ? -1 : 0);
}

static int ol_count(void *be, const struct order_page_query *q, enum ol_count what, int level,
                    int64_t lo, int64_t hi, int64_t *n)
{
    static const enum stmt_id ids[] = {
        [OL_COUNT_BUCKETS] = ST_ORDER_COUNT_BUCKETS, [OL_COUNT_ROWS] = ST_ORDER_COUNT_ROWS,
        [OL_COUNT_DUE] = ST_ORDER_COUNT_DUE, [OL_DUE_ANY] = ST_ORDER_DUE_ANY,
    };
    struct conn *c = be;
    enum stmt_id id = what == OL_COUNT_ROWS && q->status ? ST_ORDER_COUNT_ROWS_STATUS : ids[what];
    sqlite3_stmt *st = sq_stmt(c, id);
    if (!st)
        return -1;
    bind_list(q, st, lo, hi);
    if (what == OL_COUNT_BUCKETS)
        sqlite3_bind_int(st, 6, level);
    int rc = step_row(c, st) == 0 ? 0 : -1;
    *n = rc == 0 ? sqlite3_column_int64(st, 0) : 0;
    return sq_finish(c, st, rc);
}

static int ol_open(void *be, const struct order_page_query *q, enum ol_rows what, int64_t lo,
                   int64_t hi, int64_t arg, int64_t max, struct ol_cursor *k)
{
    static const enum stmt_id ids[] = {
        [OL_BUCKETS_DESC] = ST_ORDER_BUCKETS_DESC, [OL_DUE_BUCKETS_DESC] = ST_ORDER_DUE_BUCKETS_DESC,
        [OL_PAGE_ALL] = ST_ORDER_PAGE_ALL, [OL_PAGE_STATUS] = ST_ORDER_PAGE_STATUS,
        [OL_PAGE_DUE] = ST_ORDER_PAGE_DUE,
    };
    struct conn *c = be;
    sqlite3_stmt *st = sq_stmt(c, ids[what]);
    k->h = st;
    if (!st)
        return -1;
    bind_list(q, st, lo, hi);
    if (what == OL_PAGE_ALL) {
        sqlite3_bind_int64(st, 6, max);
        sqlite3_bind_int64(st, 7, arg);
    } else if (what == OL_BUCKETS_DESC || what == OL_DUE_BUCKETS_DESC) {
        sqlite3_bind_int64(st, 6, arg);
    }
    return 0;
}

static int ol_next(void *be, struct ol_cursor *k, struct ol_row *row)
{
    struct conn *c = be;
    sqlite3_stmt *st = k->h;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW) {
        log_error("sqlite: %s", sqlite3_errmsg(c->db));
        return -1;
    }
    if (k->what == OL_BUCKETS_DESC || k->what == OL_DUE_BUCKETS_DESC) {
        row->a = sqlite3_column_int64(st, 0);
        row->b = sqlite3_column_int64(st, 1);
    } else {
        col_copy(st, 0, row->id, sizeof row->id);
        row->b = sqlite3_column_int64(st, 1);
    }
    return 1;
}

static void ol_close(void *be, struct ol_cursor *k)
{
    if (k->h)
        sq_finish(be, k->h, 0);
}

static const struct order_list_ops sq_order_list = {
    .span = ol_span, .count = ol_count, .open = ol_open, .next = ol_next, .close = ol_close,
};

static int sq_order_page(struct store_tx *tx, const struct order_page_query *q, char (*ids)[37],
                         size_t *n, int64_t *total)
{
    return order_list_page(&sq_order_list, as_conn(tx), q, ids, n, total);
}

static int sq_order_list_sweep(struct store_tx *tx, int64_t now, size_t max, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_ORDER_SWEEP);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int rc = sq_step_done(c, st);
    if (rc == 0)
        *n = (size_t)sqlite3_changes(c->db);
    return rc;
}

static int sq_ctoken_insert(struct store_tx *tx, const struct ctoken_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_CTOKEN_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_text(st, 5, r->body, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_ctoken_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                         struct ctoken_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_CTOKEN_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    int rc = step_row(c, st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        col_copy(st, 0, out->id, sizeof out->id);
        out->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, out->status, sizeof out->status);
        out->created_at = sqlite3_column_int64(st, 3);
        out->body = col_strdup(st, 4);
        if (!out->body)
            rc = -1;
    }
    return sq_finish(c, st, rc);
}

static int sq_ctoken_set_status(struct store_tx *tx, int64_t merchant_id, const char *id,
                                const char *status)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_CTOKEN_SET_STATUS);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    return step_one_change(c, st);
}

/* ---- the outbox ---- */

static int sq_outbox_add(struct store_tx *tx, struct outbox_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_ADD);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->merchant_id);
    sqlite3_bind_text(st, 2, r->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->order_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->url ? r->url : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->body ? r->body : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->created_at);
    sqlite3_bind_int64(st, 8, r->due_at);
    sqlite3_bind_text(st, 9, r->endpoint, -1, SQLITE_STATIC);
    int rc = sq_step_done(c, st);
    if (rc == 0)
        r->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

/* Reads outbox rows from a prepared SELECT of OUTBOX_COLS. */
static int read_outbox_rows(struct conn *c, sqlite3_stmt *st, struct outbox_row *rows,
                            size_t cap, size_t *n)
{
    *n = 0;
    int rc;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct outbox_row *r = &rows[*n];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, r->kind, sizeof r->kind);
        col_copy(st, 3, r->session_id, sizeof r->session_id);
        col_copy(st, 4, r->order_id, sizeof r->order_id);
        r->url = col_strdup(st, 5);
        r->body = col_strdup(st, 6);
        r->created_at = sqlite3_column_int64(st, 7);
        r->due_at = sqlite3_column_int64(st, 8);
        r->attempts = sqlite3_column_int(st, 9);
        col_copy(st, 10, r->status, sizeof r->status);
        col_copy(st, 11, r->endpoint, sizeof r->endpoint);
        r->lease_until = sqlite3_column_int64(st, 12);
        (*n)++;
        if (!r->url || !r->body) {
            for (size_t i = 0; i < *n; i++)
                outbox_row_free(&rows[i]);
            *n = 0;
            return sq_finish(c, st, -1);
        }
    }
    return sq_finish(c, st, 0);
}

static int sq_outbox_due(struct store_tx *tx, int64_t now, int64_t wall_now,
                         size_t per_endpoint, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_DUE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)per_endpoint);
    sqlite3_bind_int64(st, 4, wall_now);
    return read_outbox_rows(c, st, rows, cap, n);
}

static int sq_outbox_claim(struct store_tx *tx, int64_t id, int64_t wall_now,
                           int64_t lease_until)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_CLAIM);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, wall_now);
    sqlite3_bind_int64(st, 3, lease_until);
    if (sq_step_done(c, st) != 0)
        return -1;
    return sqlite3_changes(c->db) == 1 ? 0 : STORE_NOT_FOUND;
}

static int sq_outbox_record(struct store_tx *tx, int64_t id, const struct outbox_attempt *a,
                            const char *status, int64_t next_due_at)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_RECORD);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, a ? 1 : 0);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, next_due_at);
    if (sq_step_done(c, st) != 0)
        return -1;
    if (!a)
        return 0;
    st = sq_stmt(c, ST_OUTBOX_ATTEMPT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, a->at);
    sqlite3_bind_int(st, 3, a->http_status);
    sqlite3_bind_text(st, 4, a->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, a->duration_ms);
    sqlite3_bind_text(st, 6, a->response, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_outbox_list(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          const char *order_id, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_LIST);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, session_id ? session_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, order_id ? order_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)cap);
    return read_outbox_rows(c, st, rows, cap, n);
}

static int sq_outbox_attempts(struct store_tx *tx, int64_t event_id, struct outbox_attempt *out,
                              size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_ATTEMPTS);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    *n = 0;
    while (*n < cap && sqlite3_step(st) == SQLITE_ROW) {
        struct outbox_attempt *a = &out[(*n)++];
        a->at = sqlite3_column_int64(st, 0);
        a->http_status = sqlite3_column_int(st, 1);
        col_copy(st, 2, a->error, sizeof a->error);
        a->duration_ms = sqlite3_column_int64(st, 3);
        col_copy(st, 4, a->response, sizeof a->response);
    }
    return sq_finish(c, st, 0);
}

/* ---- Hosted Payment Page sessions and their messages ---- */

static int sq_hpp_insert(struct store_tx *tx, const struct hpp_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_HPP_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->page_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->merchant_id);
    sqlite3_bind_text(st, 4, r->kp_session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->created_at);
    sqlite3_bind_int64(st, 7, r->updated_at);
    sqlite3_bind_int64(st, 8, r->expires_at);
    sqlite3_bind_text(st, 9, r->body, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

/* Fills out from the current row of a SELECT of the nine hpp_sessions columns. */
static int read_hpp(sqlite3_stmt *st, struct hpp_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(st, 0, out->id, sizeof out->id);
    col_copy(st, 1, out->page_id, sizeof out->page_id);
    out->merchant_id = sqlite3_column_int64(st, 2);
    col_copy(st, 3, out->kp_session_id, sizeof out->kp_session_id);
    col_copy(st, 4, out->status, sizeof out->status);
    out->created_at = sqlite3_column_int64(st, 5);
    out->updated_at = sqlite3_column_int64(st, 6);
    out->expires_at = sqlite3_column_int64(st, 7);
    out->body = col_strdup(st, 8);
    return out->body ? 0 : -1;
}

static int hpp_get_one(struct conn *c, sqlite3_stmt *st, struct hpp_row *out)
{
    int rc = step_row(c, st);
    if (rc == 0)
        rc = read_hpp(st, out);
    return sq_finish(c, st, rc);
}

static int sq_hpp_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                      struct hpp_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, merchant_id ? ST_HPP_GET : ST_HPP_GET_ANY);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (merchant_id)
        sqlite3_bind_int64(st, 2, merchant_id);
    return hpp_get_one(c, st, out);
}

static int sq_hpp_by_page(struct store_tx *tx, const char *page_id, struct hpp_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_HPP_BY_PAGE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, page_id, -1, SQLITE_STATIC);
    return hpp_get_one(c, st, out);
}

static int sq_hpp_update(struct store_tx *tx, const struct hpp_row *r, const char *expected)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_HPP_UPDATE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->updated_at);
    sqlite3_bind_text(st, 5, r->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, expected, -1, SQLITE_STATIC);
    return step_one_change(c, st);
}

static int sq_hpp_for_kp(struct store_tx *tx, int64_t merchant_id, const char *kp_session_id,
                         struct hpp_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_HPP_FOR_KP);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, kp_session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
    *n = 0;
    int rc;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (read_hpp(st, &rows[*n]) != 0) {
            for (size_t i = 0; i <= *n; i++)
                hpp_row_free(&rows[i]);
            *n = 0;
            return sq_finish(c, st, -1);
        }
        (*n)++;
    }
    return sq_finish(c, st, 0);
}

static int sq_message_add(struct store_tx *tx, struct message_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MESSAGE_ADD);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->merchant_id);
    sqlite3_bind_text(st, 2, r->hpp_session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    int rc = sq_step_done(c, st);
    if (rc == 0)
        r->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static int sq_message_list(struct store_tx *tx, int64_t merchant_id, const char *hpp_session_id,
                           struct message_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_MESSAGE_LIST);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, hpp_session_id ? hpp_session_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
    *n = 0;
    while (*n < cap && sqlite3_step(st) == SQLITE_ROW) {
        struct message_row *m = &rows[*n];
        memset(m, 0, sizeof *m);
        m->id = sqlite3_column_int64(st, 0);
        m->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, m->hpp_session_id, sizeof m->hpp_session_id);
        m->body = col_strdup(st, 3);
        m->created_at = sqlite3_column_int64(st, 4);
        (*n)++;
        if (!m->body) {
            for (size_t i = 0; i < *n; i++)
                message_row_free(&rows[i]);
            *n = 0;
            return sq_finish(c, st, -1);
        }
    }
    return sq_finish(c, st, 0);
}

/* ---- the merchant portal ---- */

/* The cursor of a first page: above every id (ids are lowercase hex digits and '-', compared
 * byte by byte). */
#define ID_ABOVE_ALL "~"

static const char *id_cursor(const char *before_id)
{
    return before_id && before_id[0] ? before_id : ID_ABOVE_ALL;
}

static int sq_portal_session_put(struct store_tx *tx, const struct portal_session_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_PORTAL_PUT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_int64(st, 5, r->expires_at);
    return sq_step_done(c, st);
}

static int sq_portal_session_get(struct store_tx *tx, const char *id_hash, int64_t now,
                                 struct portal_session_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_PORTAL_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = step_row(c, st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        col_copy(st, 0, out->id_hash, sizeof out->id_hash);
        out->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, out->csrf, sizeof out->csrf);
        out->created_at = sqlite3_column_int64(st, 3);
        out->expires_at = sqlite3_column_int64(st, 4);
    }
    return sq_finish(c, st, rc);
}

static int sq_portal_session_delete(struct store_tx *tx, const char *id_hash)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_PORTAL_DELETE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id_hash, -1, SQLITE_STATIC);
    return sq_step_done(c, st);
}

static int sq_portal_session_prune(struct store_tx *tx, int64_t before)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_PORTAL_PRUNE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    return sq_step_done(c, st);
}

static int sq_session_page(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                           size_t limit, struct session_row *rows, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_SESSION_PAGE);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, id_cursor(before_id), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (read_session(st, &rows[*n]) != 0)
            break;
        (*n)++;
    }
    if (*n < limit && rc != SQLITE_DONE) {   /* out of memory, or the step failed */
        if (rc != SQLITE_ROW)
            log_error("sqlite: %s", sqlite3_errmsg(c->db));
        for (size_t i = 0; i < *n; i++)
            session_row_free(&rows[i]);
        *n = 0;
        return sq_finish(c, st, -1);
    }
    return sq_finish(c, st, 0);
}

static int sq_hpp_page(struct store_tx *tx, int64_t merchant_id, const char *before_id,
                       size_t limit, struct hpp_row *rows, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_HPP_PAGE);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, id_cursor(before_id), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (read_hpp(st, &rows[*n]) != 0) {
            hpp_row_free(&rows[*n]);
            break;
        }
        (*n)++;
    }
    if (*n < limit && rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            log_error("sqlite: %s", sqlite3_errmsg(c->db));
        for (size_t i = 0; i < *n; i++)
            hpp_row_free(&rows[i]);
        *n = 0;
        return sq_finish(c, st, -1);
    }
    return sq_finish(c, st, 0);
}

static int sq_outbox_page(struct store_tx *tx, int64_t merchant_id, int64_t before_id,
                          size_t limit, struct outbox_row *rows, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_PAGE);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_int64(st, 2, before_id > 0 ? before_id : INT64_MAX);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    return read_outbox_rows(c, st, rows, limit, n);
}

static int sq_outbox_get(struct store_tx *tx, int64_t merchant_id, int64_t id,
                         struct outbox_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_OUTBOX_GET);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, merchant_id);
    size_t n = 0;
    if (read_outbox_rows(c, st, out, 1, &n) != 0)
        return -1;
    return n == 1 ? 0 : STORE_NOT_FOUND;
}

static int sq_reqlog_page(struct store_tx *tx, int64_t merchant_id, int64_t before_at,
                          const char *before_id, size_t limit, struct reqlog_row *rows,
                          size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_PAGE);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_int64(st, 2, before_at);
    sqlite3_bind_text(st, 3, before_id ? before_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reqlog_row *r = &rows[*n];
        memset(r, 0, sizeof *r);
        col_copy(st, 0, r->correlation_id, sizeof r->correlation_id);
        r->merchant_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, r->method, sizeof r->method);
        r->path = col_strdup(st, 3);
        r->status = sqlite3_column_int(st, 4);
        r->at_ms = sqlite3_column_int64(st, 5);
        r->duration_us = sqlite3_column_int64(st, 6);
        if (!r->path)
            break;
        (*n)++;
    }
    if (*n < limit && rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            log_error("sqlite: %s", sqlite3_errmsg(c->db));
        for (size_t i = 0; i < *n; i++)
            reqlog_row_free(&rows[i]);
        *n = 0;
        return sq_finish(c, st, -1);
    }
    return sq_finish(c, st, 0);
}

static int sq_order_by_reference(struct store_tx *tx, int64_t merchant_id,
                                 const char *reference, char (*ids)[37], size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = sq_stmt(c, ST_ORDER_BY_REF);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_text(st, 2, reference, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
    int rc = SQLITE_DONE;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW)
        col_copy(st, 0, ids[(*n)++], sizeof ids[0]);
    if (*n < cap && rc != SQLITE_DONE) {
        log_error("sqlite: %s", sqlite3_errmsg(c->db));
        *n = 0;
        return sq_finish(c, st, -1);
    }
    return sq_finish(c, st, 0);
}

const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .write = sq_write,
    .read = sq_read,
    .log_async = sq_log_async,
    .flush = sq_flush,
    .ping = sq_ping,
    .close = sq_close,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .meta_add = sq_meta_add,
    .merchant_by_username = sq_merchant_by_username,
    .merchant_by_id = sq_merchant_by_id,
    .merchant_insert = sq_merchant_insert,
    .merchant_set_secret = sq_merchant_set_secret,
    .merchant_count = sq_merchant_count,
    .session_get = sq_session_get,
    .session_insert = sq_session_insert,
    .session_update = sq_session_update,
    .reqlog_get = sq_reqlog_get,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_prune = sq_idem_prune,
    .auth_insert = sq_auth_insert,
    .auth_get = sq_auth_get,
    .auth_latest = sq_auth_latest,
    .auth_set_state = sq_auth_set_state,
    .auth_supersede = sq_auth_supersede,
    .order_insert = sq_order_insert,
    .order_get = sq_order_get,
    .order_update = sq_order_update,
    .order_page = sq_order_page,
    .order_list_sweep = sq_order_list_sweep,
    .ctoken_insert = sq_ctoken_insert,
    .ctoken_get = sq_ctoken_get,
    .ctoken_set_status = sq_ctoken_set_status,
    .outbox_add = sq_outbox_add,
    .outbox_due = sq_outbox_due,
    .outbox_claim = sq_outbox_claim,
    .outbox_record = sq_outbox_record,
    .outbox_list = sq_outbox_list,
    .outbox_attempts = sq_outbox_attempts,
    .hpp_insert = sq_hpp_insert,
    .hpp_get = sq_hpp_get,
    .hpp_by_page = sq_hpp_by_page,
    .hpp_update = sq_hpp_update,
    .hpp_for_kp = sq_hpp_for_kp,
    .message_add = sq_message_add,
    .message_list = sq_message_list,
    .portal_session_put = sq_portal_session_put,
    .portal_session_get = sq_portal_session_get,
    .portal_session_delete = sq_portal_session_delete,
    .portal_session_prune = sq_portal_session_prune,
    .session_page = sq_session_page,
    .hpp_page = sq_hpp_page,
    .outbox_page = sq_outbox_page,
    .outbox_get = sq_outbox_get,
    .reqlog_page = sq_reqlog_page,
    .order_by_reference = sq_order_by_reference,
};
