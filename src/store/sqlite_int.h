/* store/sqlite_int: what the files of the SQLite backend share (sqlite.c says which file holds
 * what). Nothing outside src/store/sqlite*.c includes it: the rest of Kasse sees store.h only. */
#ifndef KASSE_STORE_SQLITE_INT_H
#define KASSE_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/kerr.h"
#include "store/log_queue.h"
#include "store/store.h"

/* Every statement of the backend (their SQL: stmt_sql in sqlite.c), prepared once per
 * connection on first use (sq_stmt). */
enum stmt_id {
    ST_BEGIN, ST_BEGIN_IMMEDIATE, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_META_GET, ST_META_PUT, ST_META_ADD,
    ST_MERCHANT_BY_USER, ST_MERCHANT_INSERT, ST_MERCHANT_SET_SECRET, ST_MERCHANT_COUNT,
    ST_SESSION_GET, ST_SESSION_GET_ANY, ST_SESSION_INSERT, ST_SESSION_UPDATE, ST_MERCHANT_BY_ID,
    ST_LOG_GET, ST_IDEM_PRUNE, ST_LOG_USED, ST_LOG_STATE_GET, ST_LOG_STATE_SET,
    /* one of each per request-log segment (sqlite_log.c), in segment order */
    ST_LOG_INSERT0, ST_LOG_INSERT1, ST_LOG_INSERT2, ST_LOG_INSERT3,
    ST_LOG_CLEAR0, ST_LOG_CLEAR1, ST_LOG_CLEAR2, ST_LOG_CLEAR3,
    ST_LOG_PRUNE0, ST_LOG_PRUNE1, ST_LOG_PRUNE2, ST_LOG_PRUNE3,
    ST_IDEM_GET, ST_IDEM_PUT,
    ST_AUTH_INSERT, ST_AUTH_GET, ST_AUTH_LATEST, ST_AUTH_SET_STATE, ST_AUTH_SET_STATE_BODY,
    ST_AUTH_SUPERSEDE,
    ST_ORDER_INSERT, ST_ORDER_GET, ST_ORDER_GET_ANY, ST_ORDER_UPDATE,
    ST_ORDER_SPAN, ST_ORDER_COUNT_BUCKETS, ST_ORDER_COUNT_ROWS, ST_ORDER_COUNT_ROWS_STATUS,
    ST_ORDER_COUNT_DUE, ST_ORDER_BUCKETS_DESC, ST_ORDER_DUE_ANY, ST_ORDER_DUE_BUCKETS_DESC,
    ST_ORDER_PAGE_ALL, ST_ORDER_PAGE_STATUS, ST_ORDER_PAGE_DUE,
    ST_ORDER_SWEEP,
    ST_CTOKEN_INSERT, ST_CTOKEN_GET, ST_CTOKEN_SET_STATUS,
    ST_OUTBOX_ADD, ST_OUTBOX_DUE, ST_OUTBOX_CLAIM, ST_OUTBOX_RECORD, ST_OUTBOX_ATTEMPT, ST_OUTBOX_LIST,
    ST_OUTBOX_ATTEMPTS,
    ST_HPP_INSERT, ST_HPP_GET, ST_HPP_GET_ANY, ST_HPP_BY_PAGE, ST_HPP_UPDATE, ST_HPP_FOR_KP,
    ST_MESSAGE_ADD, ST_MESSAGE_LIST,
    ST_PORTAL_PUT, ST_PORTAL_GET, ST_PORTAL_DELETE, ST_PORTAL_PRUNE,
    ST_SESSION_PAGE, ST_HPP_PAGE, ST_OUTBOX_PAGE, ST_OUTBOX_GET, ST_LOG_PAGE, ST_ORDER_BY_REF,
    ST_COUNT
};

/* A connection with its statement cache. `tx` is what resource calls receive. */
struct conn {
    struct store_tx tx;          /* first member: resource calls cast back to struct conn */
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct conn *next_all;       /* every read connection, for close */
    /* The WAL bound (writer and logger only; see sq_wal_bound). */
    const char *name;            /* "main" or "request log", for the log lines */
    int64_t page_size;
    int64_t wal_max;             /* bytes: RESTART past this, and journal_size_limit */
    int wal_frames;              /* frames in the WAL after the last commit (wal_hook) */
    bool wal_wrote;              /* the hook ran: a commit wrote to the WAL */
    int64_t restart_after_ms;    /* monotonic: no RESTART attempt before this */
    int64_t restart_backoff_ms;  /* the wait after the next put-off RESTART */
    int64_t warned_ms;           /* monotonic: last "WAL over its bound" line */
};

#define BUSY_TIMEOUT_MS 5000
/* The default bounds of the main WAL (sqlite_writer.c) and of the request log (sqlite_log.c). */
#define WAL_MAX_BYTES_DEFAULT (16LL * 1024 * 1024)
#define LOG_MAX_BYTES_DEFAULT ((int64_t)STORE_LOG_MAX_MB_DEFAULT * 1024 * 1024)

/* A full disk (SQLITE_FULL: ENOSPC, a file size limit) or an I/O error on a commit: every
 * request of that group commit is answered 503 SERVICE_UNAVAILABLE with Retry-After and none
 * of them is applied (a request is acknowledged only after its commit). The writer keeps
 * going: the next batch tries again, so writes succeed again as soon as space returns. */
#define STORE_RETRY_AFTER_S 5

struct job;                      /* a queued store_write (sqlite_writer.c) */

/* The request log's queue (sqlite_log.c): batches of up to LOG_BATCH_ROWS rows; queued rows
 * past LOG_QUEUE_MAX_BYTES are dropped. */
#define LOG_BATCH_ROWS 512
#define LOG_QUEUE_MAX_BYTES (32LL * 1024 * 1024)

/* The request log's segments (sqlite_log.c). The ST_LOG_*0..3 statements (sqlite.c) and the
 * schema and view (sqlite_log.c: LOG_SEGMENT_SQL, log_view_sql) name each one: change them
 * together. */
#define LOG_SEGMENTS 4
_Static_assert(ST_LOG_INSERT3 - ST_LOG_INSERT0 + 1 == LOG_SEGMENTS &&
                   ST_LOG_CLEAR3 - ST_LOG_CLEAR0 + 1 == LOG_SEGMENTS &&
                   ST_LOG_PRUNE3 - ST_LOG_PRUNE0 + 1 == LOG_SEGMENTS,
               "one insert, clear and prune statement per request-log segment");

struct sqlite_store {
    struct store base;
    char *path;
    char *log_path;
    int64_t wal_max_bytes;
    int64_t log_max_bytes;
    struct conn *logger;
    pthread_t logger_thread;
    int logger_started;
    struct log_queue log;        /* rows for the logger thread (store/log_queue.h) */
    int log_failing;             /* logger thread: the last batch could not be written */
    int log_body_fd[LOG_SEGMENTS];       /* each segment's body file (sqlite_log.c), or -1 */
    uint64_t generation;         /* tells this store's thread-local read connections apart */
    struct conn *writer;
    pthread_t writer_thread;
    int writer_started;
    int disk_failing;            /* writer thread: the last batch failed on the disk */
    uint64_t refused_since;      /* writer thread: requests refused since disk_failing */
    pthread_mutex_t mu;
    pthread_cond_t work;         /* jobs queued or stopping */
    struct job *head, *tail;
    int stopping;
    struct conn *readers;        /* list of read connections (under mu) */
    pthread_rwlock_t read_gate;  /* store reads hold it shared; a RESTART drains them
                                  * (sq_wal_bound) */
    struct store_sqlite_stats stats;   /* updated with __atomic builtins */
    bool rerun;                  /* KASSE_STORE_RERUN=1: every job runs twice (store.h) */
};

#define STAT_ADD(s, field, n) __atomic_add_fetch(&(s)->stats.field, (n), __ATOMIC_RELAXED)

extern const struct store_ops sqlite_ops;   /* sqlite_rows.c */

/* sqlite.c: statements. sq_stmt returns c's cached statement (NULL, logged, if it cannot be
 * prepared); sq_step_rc runs one that returns no rows (SQLITE_DONE or the extended code, logged
 * unless quiet); sq_exec_stmt the same as 0 or -1; sq_exec_sql runs SQL text (0 or -1, logged).
 * sq_finish resets a statement and clears its bindings, returning rc; sq_step_done steps a
 * statement that returns no rows and finishes it (0 or -1, logged). */
sqlite3_stmt *sq_stmt(struct conn *c, enum stmt_id id);
int sq_step_rc(struct conn *c, enum stmt_id id, bool quiet);
int sq_exec_stmt(struct conn *c, enum stmt_id id);
int sq_exec_sql(sqlite3 *db, const char *sql);
int sq_finish(struct conn *c, sqlite3_stmt *st, int rc);
int sq_step_done(struct conn *c, sqlite3_stmt *st);
/* sqlite.c: the store ops that are not resource calls. */
int sq_read(struct store *base, store_tx_fn fn, void *arg, struct kerr *err);
int sq_ping(struct store *base, struct kerr *err);
void sq_close(struct store *base);

/* sqlite_writer.c: the writer thread (arg: the sqlite_store), store_write, and the WAL bound of
 * a connection that writes (the writer's and the logger's). */
void *sq_writer_main(void *arg);
int sq_write(struct store *base, store_tx_fn fn, void *arg, struct kerr *err);
int sq_wal_bound_init(struct conn *c, const char *name, int64_t wal_max);
void sq_wal_bound(struct sqlite_store *s, struct conn *c);

/* sqlite_log.c: the logger thread (arg: the sqlite_store), the log's schema, the rewrite of a
 * log made before the size bound (at open), and the log ops of the store. */
void *sq_logger_main(void *arg);
int sq_log_schema(sqlite3 *db);
/* Opens (creating) the segments' body files beside the log: 0, or -1 with errno. */
int sq_log_open_bodies(struct sqlite_store *s);
void sq_log_close_bodies(struct sqlite_store *s);
/* A log row's bodies from its segment's file (a read connection; log_path from ATTACH; a length
 * of -1: that body was NULL): 0, or -1 when the record is gone (its segment emptied since) or
 * unreadable. */
int sq_log_read_bodies(const char *log_path, int segment, int64_t at, int64_t request_len,
                       int64_t response_len, const char *correlation_id, char **request_body,
                       char **response_body);
void sq_log_convert(const char *log_path, int64_t max_bytes);
int sq_flush(struct store *base, struct kerr *err);
void sq_log_async(struct store *base, struct reqlog_row *row);

#endif
