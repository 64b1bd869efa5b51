/* store/pg: what the PostgreSQL backend's files share (pg.c: connections, pool, transactions,
 * migrations; pg_log.c: the request-log thread; pg_rows.c: the resource calls and the table of
 * statements). Not part of the store interface: api/ and core/ only see store.h. */
#ifndef KASSE_STORE_PG_H
#define KASSE_STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Every statement the backend runs, by name; the SQL is pg_stmt_sql (pg_rows.c). A get that a
 * write transaction must lock (store.h, Concurrency) has a *_LOCK twin with FOR UPDATE. */
enum pg_stmt {
    PG_META_GET, PG_META_GET_LOCK, PG_META_PUT, PG_META_ADD,
    PG_MERCHANT_BY_USER, PG_MERCHANT_BY_ID, PG_MERCHANT_INSERT, PG_MERCHANT_SET_SECRET,
    PG_MERCHANT_COUNT,
    PG_SESSION_GET, PG_SESSION_GET_LOCK, PG_SESSION_GET_ANY, PG_SESSION_GET_ANY_LOCK,
    PG_SESSION_INSERT, PG_SESSION_UPDATE,
    PG_LOG_INSERT, PG_LOG_GET, PG_LOG_PRUNE,
    PG_IDEM_GET, PG_IDEM_GET_LOCK, PG_IDEM_PUT, PG_IDEM_PRUNE,
    PG_AUTH_INSERT, PG_AUTH_GET, PG_AUTH_GET_LOCK, PG_AUTH_LATEST, PG_AUTH_LATEST_LOCK,
    PG_AUTH_SET_STATE, PG_AUTH_SET_STATE_BODY, PG_AUTH_SUPERSEDE,
    PG_ORDER_INSERT, PG_ORDER_GET, PG_ORDER_GET_LOCK, PG_ORDER_GET_ANY, PG_ORDER_GET_ANY_LOCK,
    PG_ORDER_UPDATE,
    PG_OL_SPAN, PG_OL_COUNT_BUCKETS_ALL, PG_OL_COUNT_BUCKETS_STATUS, PG_OL_COUNT_ROWS_ALL,
    PG_OL_COUNT_ROWS_STATUS, PG_OL_COUNT_DUE, PG_OL_DUE_ANY, PG_OL_BUCKETS_DESC_ALL,
    PG_OL_BUCKETS_DESC_STATUS, PG_OL_DUE_BUCKETS_DESC, PG_OL_PAGE_ALL, PG_OL_PAGE_STATUS,
    PG_OL_PAGE_DUE,
    PG_ORDER_SWEEP,
    PG_CTOKEN_INSERT, PG_CTOKEN_GET, PG_CTOKEN_GET_LOCK, PG_CTOKEN_SET_STATUS,
    PG_OUTBOX_ADD, PG_OUTBOX_DUE, PG_OUTBOX_CLAIM, PG_OUTBOX_RECORD, PG_OUTBOX_ATTEMPT,
    PG_OUTBOX_LIST, PG_OUTBOX_ATTEMPTS,
    PG_HPP_INSERT, PG_HPP_GET, PG_HPP_GET_LOCK, PG_HPP_GET_ANY, PG_HPP_GET_ANY_LOCK,
    PG_HPP_BY_PAGE, PG_HPP_BY_PAGE_LOCK, PG_HPP_UPDATE, PG_HPP_FOR_KP,
    PG_MESSAGE_ADD, PG_MESSAGE_LIST,
    PG_PORTAL_PUT, PG_PORTAL_GET, PG_PORTAL_DELETE, PG_PORTAL_PRUNE,
    PG_SESSION_PAGE, PG_HPP_PAGE, PG_OUTBOX_PAGE, PG_OUTBOX_GET, PG_LOG_PAGE, PG_ORDER_BY_REF,
    PG_STMT_COUNT
};

extern const char *const pg_stmt_sql[PG_STMT_COUNT];

/* A pooled connection. `tx` is what resource calls receive (first member: they cast back). */
struct pg_conn {
    struct store_tx tx;
    struct pg_store *s;
    PGconn *db;
    bool prepared[PG_STMT_COUNT];
    bool in_write;               /* inside store_write: gets take the *_LOCK statements */
    bool failed;                 /* a statement failed in this transaction */
    char sqlstate[6];            /* the first failure's SQLSTATE ("" when it had none) */
    bool retry;                  /* an op asked for the transaction to run again (idem_put) */
    bool broken;                 /* the connection is lost: dropped when given back */
    struct pg_conn *next;        /* the idle list */
};

/* Text parameters of one statement (numbers formatted here; blobs sent binary). */
#define PG_MAX_PARAMS 16
struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
};
void pg_p_text(struct pg_params *p, const char *s);   /* NULL: SQL NULL */
void pg_p_i64(struct pg_params *p, int64_t v);
void pg_p_bytes(struct pg_params *p, const void *b, size_t n);

struct pg_log_queue;

struct pg_store {
    struct store base;
    char *conninfo;
    char where[160];             /* host:port/dbname for log lines (never the password) */
    int pool_max;
    int pool_open;               /* connections open or being opened (under mu) */
    struct pg_conn *idle;        /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t freed;        /* a connection went back to the pool */
    bool stopping;
    bool down;                   /* the last connection attempt failed (atomic) */
    int64_t warned_ms;           /* monotonic: the last "cannot connect" line (under mu) */
    uint64_t failed_connects;    /* attempts not logged since that line (under mu) */
    bool rerun;                  /* KASSE_STORE_RERUN=1: every write's fn runs twice (store.h) */
    struct pg_log_queue *log;    /* pg_log.c */
};

/* Runs a named statement (prepared on this connection on first use). Returns the result
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK; PQclear it), or NULL after recording the failure on
 * c (failed, sqlstate, broken) and logging it. */
PGresult *pg_run(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p);
/* Runs plain SQL without parameters: 0 or -1 (recorded like pg_run). */
int pg_exec(struct pg_conn *c, const char *sql);

/* The pool (pg.c). acquire: a connection for the caller's exclusive use, opened if needed;
 * NULL (err set to 503) when the database cannot be reached, or when wait_ms (>= 0) passed
 * with every connection busy. release: back to the pool, or closed if broken. */
struct pg_conn *pg_acquire(struct pg_store *s, int64_t wait_ms, struct kerr *err);
void pg_release(struct pg_store *s, struct pg_conn *c);
int pg_unreachable(struct kerr *err);

/* The request-log thread (pg_log.c). */
int pg_log_start(struct pg_store *s);
void pg_log_stop(struct pg_store *s);     /* writes what is queued, then stops */
void pg_log_async(struct store *base, struct reqlog_row *row);
int pg_flush(struct store *base, struct kerr *err);

extern const struct store_ops pg_ops;    /* pg_rows.c */
int pg_write(struct store *base, store_tx_fn fn, void *arg, struct kerr *err);
int pg_read(struct store *base, store_tx_fn fn, void *arg, struct kerr *err);
int pg_ping(struct store *base, struct kerr *err);
void pg_close(struct store *base);

#endif
