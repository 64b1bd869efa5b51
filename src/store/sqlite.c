/* store/sqlite: the embedded SQLite backend of the store interface (store.h).
 *
 * Durability and throughput. The database runs in WAL mode with synchronous=FULL, so a write
 * acknowledged to a client survives a power cut. One fsync costs far more than the work of a
 * request, so writes are group-committed: every store_write() call becomes a job on one queue;
 * one writer thread, owning the only write connection, takes all queued jobs, runs each inside
 * its own SAVEPOINT of a single BEGIN IMMEDIATE transaction (a failing job rolls back only its
 * own savepoint), COMMITs once, and only then wakes the callers. A request is still one atomic
 * unit of work; the commit that makes it durable is shared.
 *
 * Reads run on a connection per calling thread (one per server thread), opened on first use,
 * each with its prepared statements cached; WAL lets them proceed during writes.
 *
 * Memory (issue 9). Every connection has its own page cache, 2 MB by default, and a read
 * connection has two (its ATTACHed request log too): with 32 server threads that could reach
 * 128 MB of cached pages, all of it duplicates of what the OS page cache holds. A reader's
 * cache is also dropped whenever another connection has committed (WAL), so under writes it
 * buys nothing. Read connections therefore keep small caches (STORE_READER_CACHE_KIB and
 * STORE_READER_LOG_CACHE_KIB), no memory map, and the whole process's SQLite heap has a soft
 * bound (STORE_SQLITE_HEAP_SOFT_LIMIT): past it SQLite reuses cache pages instead of adding
 * them, however many connections there are. store_sqlite_mem() reports what they hold.
 *
 * Request-log rows are diagnostics, not money: they live in their own database file beside the
 * main one (kasse.db → kasse-log.db, synchronous=NORMAL), queued without waiting and written in
 * batches by a logger thread with its own connection, so they never lengthen the commit path of
 * the writes merchants wait for. Read connections ATTACH that file as "logs".
 *
 * Disk (issue 9, item 11). Both WALs are bounded by checkpoints their own thread runs after a
 * commit (wal_bound: PASSIVE, and RESTART past the bound). The request log is bounded by size
 * (log_max_bytes, pruned oldest first inside the batch transaction) as well as by age, and its
 * queue by bytes. A commit the disk refuses (full, I/O error) fails its whole batch with 503 and
 * nothing of it applied (run_batch, batch_lost); the writer goes on, so the next batch succeeds
 * once there is space. Log rows the disk refuses are dropped. */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"
#include "schema_sqlite.h"

enum stmt_id {
    ST_BEGIN, ST_BEGIN_IMMEDIATE, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_META_GET, ST_META_PUT, ST_META_ADD,
    ST_MERCHANT_BY_USER, ST_MERCHANT_INSERT, ST_MERCHANT_SET_SECRET, ST_MERCHANT_COUNT,
    ST_SESSION_GET, ST_SESSION_GET_ANY, ST_SESSION_INSERT, ST_SESSION_UPDATE, ST_MERCHANT_BY_ID,
    ST_LOG_INSERT, ST_LOG_GET, ST_LOG_PRUNE, ST_IDEM_PRUNE,
    ST_LOG_USED, ST_LOG_COUNT, ST_LOG_DROP_OLDEST,
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
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT job",
    [ST_RELEASE] = "RELEASE job",
    [ST_ROLLBACK_TO] = "ROLLBACK TO job",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_META_ADD] = "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
    [ST_MERCHANT_BY_USER] = "SELECT id, username, secret_mac, name, categories, created_at "
                            "FROM merchants WHERE username = ?1",
    [ST_MERCHANT_INSERT] = "INSERT INTO merchants(username, secret_mac, name, categories, "
                           "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_MERCHANT_SET_SECRET] = "UPDATE merchants SET secret_mac = ?2 WHERE id = ?1",
    [ST_MERCHANT_COUNT] = "SELECT count(*) FROM merchants",
    [ST_SESSION_GET] = "SELECT id, merchant_id, status, created_at, updated_at, expires_at, "
                       "client_token, body FROM sessions WHERE id = ?1 AND merchant_id = ?2",
    [ST_SESSION_GET_ANY] = "SELECT id, merchant_id, status, created_at, updated_at, expires_at, "
                           "client_token, body FROM sessions WHERE id = ?1",
    [ST_MERCHANT_BY_ID] = "SELECT id, username, secret_mac, name, categories, created_at "
                          "FROM merchants WHERE id = ?1",
    [ST_SESSION_INSERT] = "INSERT INTO sessions(id, merchant_id, status, created_at, updated_at, "
                          "expires_at, client_token, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_SESSION_UPDATE] = "UPDATE sessions SET status = ?3, updated_at = ?4, expires_at = ?5, "
                          "body = ?6 WHERE id = ?1 AND merchant_id = ?2",
    [ST_LOG_INSERT] = "INSERT OR IGNORE INTO request_log(correlation_id, merchant_id, method, path, "
                      "status, at, duration_us, request_body, response_body) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_LOG_GET] = "SELECT correlation_id, merchant_id, method, path, status, at, duration_us, "
                   "request_body, response_body FROM logs.request_log "
                   "WHERE correlation_id = ?1 AND merchant_id = ?2",
    [ST_LOG_PRUNE] = "DELETE FROM request_log WHERE at < ?1",
    /* The log's content in bytes: pages in use (not on the freelist) times the page size, read
     * from the file header, so it is exact and cheap and needs no dbstat. */
    [ST_LOG_USED] = "SELECT (p.page_count - f.freelist_count) * s.page_size, "
                    "f.freelist_count * s.page_size FROM pragma_page_count() AS p, "
                    "pragma_freelist_count() AS f, pragma_page_size() AS s",
    [ST_LOG_COUNT] = "SELECT count(*) FROM request_log",
    [ST_LOG_DROP_OLDEST] = "DELETE FROM request_log WHERE rowid IN (SELECT rowid FROM "
                           "request_log ORDER BY at, rowid LIMIT ?1)",
    [ST_IDEM_PRUNE] = "DELETE FROM idempotency WHERE created_at < ?1",
    [ST_IDEM_GET] = "SELECT merchant_id, key, created_at, method, path, status, headers, body, "
                    "request_hash "
                    "FROM idempotency WHERE merchant_id = ?1 AND key = ?2 AND created_at >= ?3",
    /* Inserts, or replaces an expired record (created before ?10); a live one stays and no
     * row changes (sq_idem_put: the concurrency contract of store.h). */
    [ST_IDEM_PUT] = "INSERT INTO idempotency(merchant_id, key, created_at, method, "
                    "path, status, headers, body, request_hash) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                    "ON CONFLICT(merchant_id, key) DO UPDATE SET created_at = excluded.created_at, "
                    "method = excluded.method, path = excluded.path, status = excluded.status, "
                    "headers = excluded.headers, body = excluded.body, "
                    "request_hash = excluded.request_hash WHERE idempotency.created_at < ?10",
    [ST_AUTH_INSERT] = "INSERT INTO authorizations(token, merchant_id, session_id, issued_at, "
                       "state, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_AUTH_GET] = "SELECT token, merchant_id, session_id, issued_at, state, body "
                    "FROM authorizations WHERE token = ?1 AND merchant_id = ?2",
    [ST_AUTH_LATEST] = "SELECT token, merchant_id, session_id, issued_at, state, body "
                       "FROM authorizations WHERE session_id = ?1 AND merchant_id = ?2 "
                       "ORDER BY issued_at DESC, rowid DESC LIMIT 1",
    [ST_AUTH_SET_STATE] = "UPDATE authorizations SET state = ?3 WHERE token = ?1 AND "
                          "merchant_id = ?2",
    [ST_AUTH_SET_STATE_BODY] = "UPDATE authorizations SET state = ?3, body = ?4 "
                               "WHERE token = ?1 AND merchant_id = ?2",
    [ST_AUTH_SUPERSEDE] = "UPDATE authorizations SET state = 'superseded' WHERE session_id = ?1 "
                          "AND merchant_id = ?2 AND state = 'active' AND token <> ?3",
#define ORDER_COLS "id, merchant_id, session_id, status, fraud_status, order_amount, " \
                   "captured_amount, refunded_amount, created_at, expires_at, body, " \
                   "list_status, list_until, list_after"
    [ST_ORDER_INSERT] = "INSERT INTO orders(" ORDER_COLS ") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_ORDER_GET] = "SELECT " ORDER_COLS " FROM orders WHERE id = ?1 AND merchant_id = ?2",
    [ST_ORDER_GET_ANY] = "SELECT " ORDER_COLS " FROM orders WHERE id = ?1",
    /* The same parameters as the insert (bind_order); session_id and created_at never change. */
    [ST_ORDER_UPDATE] = "UPDATE orders SET status = ?4, fraud_status = ?5, order_amount = ?6, "
                        "captured_amount = ?7, refunded_amount = ?8, expires_at = ?10, "
                        "body = ?11, list_status = ?12, list_until = ?13, list_after = ?14 "
                        "WHERE id = ?1 AND merchant_id = ?2",
#undef ORDER_COLS
    /* The order list (sq_order_page). ?1 merchant, ?2 from, ?3 to (created_at in [from, to)),
     * ?4 status, ?5 now. Each is one index range; none reads the table. */
    [ST_ORDER_SPAN] = "SELECT (SELECT created_at FROM orders WHERE merchant_id = ?1 AND "
                      "created_at >= ?2 AND created_at < ?3 ORDER BY created_at LIMIT 1), "
                      "(SELECT created_at FROM orders WHERE merchant_id = ?1 AND "
                      "created_at >= ?2 AND created_at < ?3 ORDER BY created_at DESC LIMIT 1)",
    [ST_ORDER_COUNT_BUCKETS] = "SELECT coalesce(sum(n), 0) FROM order_counts "
                               "WHERE merchant_id = ?1 AND level = ?6 AND bucket >= ?2 AND "
                               "bucket < ?3 AND (?4 IS NULL OR status = ?4)",
    [ST_ORDER_BUCKETS_DESC] = "SELECT bucket, sum(n) FROM order_counts "
                              "WHERE merchant_id = ?1 AND level = ?6 AND bucket >= ?2 AND "
                              "bucket < ?3 AND (?4 IS NULL OR status = ?4) "
                              "GROUP BY bucket ORDER BY bucket DESC",
    [ST_ORDER_COUNT_ROWS] = "SELECT count(*) FROM orders WHERE merchant_id = ?1 AND "
                            "created_at >= ?2 AND created_at < ?3",
    [ST_ORDER_COUNT_ROWS_STATUS] = "SELECT count(*) FROM orders WHERE merchant_id = ?1 AND "
                                   "list_status = ?4 AND created_at >= ?2 AND created_at < ?3",
    /* Orders whose list_until has passed and that the sweep has not filed yet: they read as
     * list_after, not list_status. The unary + keeps the planner on the due index (few rows)
     * rather than the creation-time range (all of them). */
    [ST_ORDER_COUNT_DUE] = "SELECT coalesce(sum(list_after = ?4), 0) - "
                           "coalesce(sum(list_status = ?4), 0) FROM orders "
                           "WHERE merchant_id = ?1 AND list_until <= ?5 AND "
                           "+created_at >= ?2 AND +created_at < ?3",
    [ST_ORDER_DUE_ANY] = "SELECT EXISTS (SELECT 1 FROM orders WHERE merchant_id = ?1 AND "
                         "list_until <= ?5 AND +created_at >= ?2 AND +created_at < ?3 AND "
                         "(list_after = ?4 OR list_status = ?4))",
    [ST_ORDER_DUE_BUCKETS_DESC] = "SELECT created_at / ?6, sum(list_after = ?4) - "
                                  "sum(list_status = ?4) FROM orders "
                                  "WHERE merchant_id = ?1 AND list_until <= ?5 AND "
                                  "+created_at >= ?2 AND +created_at < ?3 "
                                  "GROUP BY 1 ORDER BY 1 DESC",
    [ST_ORDER_PAGE_ALL] = "SELECT id, created_at FROM orders WHERE merchant_id = ?1 AND "
                          "created_at >= ?2 AND created_at < ?3 "
                          "ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7",
    [ST_ORDER_PAGE_STATUS] = "SELECT id, created_at FROM orders WHERE merchant_id = ?1 AND "
                             "list_status = ?4 AND created_at >= ?2 AND created_at < ?3 AND "
                             "(list_until IS NULL OR list_until > ?5) "
                             "ORDER BY created_at DESC, id DESC",
    [ST_ORDER_PAGE_DUE] = "SELECT id, created_at FROM orders WHERE merchant_id = ?1 AND "
                          "list_until <= ?5 AND list_after = ?4 AND +created_at >= ?2 AND "
                          "+created_at < ?3 ORDER BY created_at DESC, id DESC",
    [ST_ORDER_SWEEP] = "UPDATE orders SET list_status = list_after, list_until = NULL, "
                       "list_after = NULL WHERE id IN (SELECT id FROM orders "
                       "WHERE list_until <= ?1 ORDER BY list_until LIMIT ?2)",
    [ST_CTOKEN_INSERT] = "INSERT INTO customer_tokens(id, merchant_id, status, created_at, body) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CTOKEN_GET] = "SELECT id, merchant_id, status, created_at, body FROM customer_tokens "
                      "WHERE id = ?1 AND merchant_id = ?2",
    [ST_CTOKEN_SET_STATUS] = "UPDATE customer_tokens SET status = ?3 WHERE id = ?1 AND "
                             "merchant_id = ?2",
#define OUTBOX_COLS "id, merchant_id, kind, session_id, order_id, url, body, created_at, " \
                    "due_at, attempts, status, endpoint, lease_until"
    [ST_OUTBOX_ADD] = "INSERT INTO outbox(merchant_id, kind, session_id, order_id, url, body, "
                      "created_at, due_at, attempts, status, endpoint) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 'pending', ?9)",
    /* The oldest ?3 due events of each endpoint, then the oldest ?2 of those. */
    [ST_OUTBOX_DUE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id IN ("
                      "SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY endpoint "
                      "ORDER BY due_at, id) AS nth FROM outbox "
                      "WHERE status = 'pending' AND due_at <= ?1 AND lease_until <= ?4) "
                      "WHERE nth <= ?3) ORDER BY due_at, id LIMIT ?2",
    [ST_OUTBOX_CLAIM] = "UPDATE outbox SET lease_until = ?3 WHERE id = ?1 AND "
                        "status = 'pending' AND lease_until <= ?2",
    [ST_OUTBOX_RECORD] = "UPDATE outbox SET attempts = attempts + ?2, status = ?3, due_at = ?4, "
                         "lease_until = 0 WHERE id = ?1",
    [ST_OUTBOX_ATTEMPT] = "INSERT INTO outbox_attempts(event_id, at, http_status, error, "
                          "duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM outbox WHERE merchant_id = ?1 "
                       "AND (?2 = '' OR session_id = ?2) AND (?3 = '' OR order_id = ?3) "
                       "ORDER BY id LIMIT ?4",
    [ST_OUTBOX_ATTEMPTS] = "SELECT at, http_status, error, duration_ms FROM outbox_attempts "
                           "WHERE event_id = ?1 ORDER BY id LIMIT ?2",
#define HPP_COLS "id, page_id, merchant_id, kp_session_id, status, created_at, updated_at, " \
                 "expires_at, body"
    [ST_HPP_INSERT] = "INSERT INTO hpp_sessions(" HPP_COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_HPP_GET] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = ?1 AND merchant_id = ?2",
    [ST_HPP_GET_ANY] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE id = ?1",
    [ST_HPP_BY_PAGE] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE page_id = ?1",
    [ST_HPP_UPDATE] = "UPDATE hpp_sessions SET status = ?3, updated_at = ?4, body = ?5 "
                      "WHERE id = ?1 AND merchant_id = ?2 AND status = ?6",
    [ST_HPP_FOR_KP] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE merchant_id = ?1 AND "
                      "kp_session_id = ?2 ORDER BY created_at, id LIMIT ?3",
#undef HPP_COLS
    [ST_MESSAGE_ADD] = "INSERT INTO messages(merchant_id, hpp_session_id, body, created_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
    [ST_MESSAGE_LIST] = "SELECT id, merchant_id, hpp_session_id, body, created_at FROM messages "
                        "WHERE merchant_id = ?1 AND (?2 = '' OR hpp_session_id = ?2) "
                        "ORDER BY id LIMIT ?3",
};

/* A connection with its statement cache. `tx` is what resource calls receive. */
struct conn {
    struct store_tx tx;          /* first member: resource calls cast back to struct conn */
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct conn *next_all;       /* every read connection, for close */
    /* The WAL bound (writer and logger only; see wal_bound). */
    const char *name;            /* "main" or "request log", for the log lines */
    int64_t page_size;
    int64_t wal_max;             /* bytes: RESTART past this, and journal_size_limit */
    int wal_frames;              /* frames in the WAL after the last commit (wal_hook) */
    bool wal_wrote;              /* the hook ran: a commit wrote to the WAL */
    int64_t restart_after_ms;    /* monotonic: no RESTART attempt before this */
    int64_t restart_backoff_ms;  /* the wait after the next put-off RESTART */
    int64_t warned_ms;           /* monotonic: last "WAL over its bound" line */
};

struct job {
    store_tx_fn fn;
    void *arg;
    struct kerr *err;
    int rc;
    struct mem_fault fault;      /* the caller's allocation-failure injection (lib/mem.h) */
    bool ran;                    /* its function ran (run_batch) */
    sem_t done;                  /* posted by the writer once the batch is durable */
    struct job *next;
};

#define BUSY_TIMEOUT_MS 5000

/* The WAL bound (issue 9: 190 MB of WAL in 5 minutes, checkpoints starved by readers). SQLite's
 * own auto-checkpoint is PASSIVE: it copies what no reader still needs and never waits, and the
 * WAL only starts over from its beginning when, at the start of a write, no reader uses it, which
 * under steady reads never happens. So the writer (and the logger, for its file) checkpoints
 * itself after each commit, once its callers are woken:
 *   - past WAL_CHECKPOINT_FRAMES frames, PASSIVE (SQLite's default threshold, ~4 MiB);
 *   - past its bound (wal_max_bytes; the request log's: a quarter of its own bound, at most
 *     that), PASSIVE and then RESTART, which copies what readers of older snapshots still
 *     needed once they finish and makes the next commit write the WAL from its start; SQLite
 *     then cuts the file back to journal_size_limit (= the bound).
 * Readers could still starve RESTART: each store read is one short transaction (store_read:
 * BEGIN, a few SELECTs, COMMIT, nothing waits inside), but with many threads they overlap, so
 * some reader always holds a snapshot lock (measured: 24 reading threads kept RESTART waiting 14
 * times out of 15, and the WAL grew to 45 MB with a 16 MiB bound). So for the RESTART the writer
 * takes read_gate exclusively (writer-preferring: new store reads wait, those in flight finish),
 * at most WAL_RESTART_WAIT_MS, runs it and lets reads go on: reads are held back for the tail of
 * one checkpoint (tens of ms; the longest is in the stats) once per bound's worth of writes.
 * The logger's RESTART needs no gate (log reads are rare). Only a transaction held open outside
 * store_read (another process: the sqlite3 shell, a backup) can still pin the WAL: RESTART then
 * gives up (BUSY) and is tried again after WAL_RESTART_RETRY_MS, doubling up to
 * WAL_RESTART_RETRY_MAX_MS, PASSIVE in between; the WAL grows while that transaction lasts, a
 * line says so once a minute, and it is cut back soon after the reader ends. RESTART rather
 * than TRUNCATE: the WAL file keeps up to its bound allocated, so later commits overwrite blocks
 * the file system already gave and need no new space (kind to a nearly full disk). */
#define WAL_CHECKPOINT_FRAMES 1000
#define WAL_MAX_BYTES_DEFAULT (16LL * 1024 * 1024)
#define WAL_MIN_BYTES (64 * 1024)
#define WAL_RESTART_WAIT_MS 100
#define WAL_RESTART_RETRY_MS 100
#define WAL_RESTART_RETRY_MAX_MS 5000
#define WAL_WARN_EVERY_MS 60000

/* A full disk (SQLITE_FULL: ENOSPC, a file size limit) or an I/O error on a commit: every
 * request of that group commit is answered 503 SERVICE_UNAVAILABLE with Retry-After and none
 * of them is applied (a request is acknowledged only after its commit). The writer keeps
 * going: the next batch tries again, so writes succeed again as soon as space returns. */
#define STORE_RETRY_AFTER_S 5

#define LOG_BATCH_ROWS 512
#define LOG_BATCH_MS 50
#define LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)   /* request logs are kept 30 days */
#define LOG_PRUNE_EVERY 4096                          /* rows written between age prunes */
#define LOG_MAX_BYTES_DEFAULT ((int64_t)STORE_LOG_MAX_MB_DEFAULT * 1024 * 1024)
#define LOG_PRUNE_TARGET_PCT 90        /* a size prune goes down to 90% of the bound */
#define LOG_BATCH_BYTES (1024 * 1024)  /* a batch is at most this much (and 1/8 of the bound) */
#define LOG_FREE_SLACK_PCT 25          /* free pages beyond 25% of the bound are given back */
#define LOG_QUEUE_MAX_BYTES (32LL * 1024 * 1024)   /* queued rows past this are dropped */

struct log_node {
    struct reqlog_row row;       /* owned */
    size_t bytes;                /* reqlog_bytes(row), for the queue bound */
    struct log_node *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    char *log_path;
    int64_t wal_max_bytes;
    int64_t log_max_bytes;
    struct conn *logger;
    pthread_t logger_thread;
    int logger_started;
    pthread_cond_t log_work;     /* rows queued or stopping */
    pthread_cond_t log_done;     /* a log batch was written */
    struct log_node *log_head, *log_tail;
    uint64_t log_queued, log_written;   /* under mu */
    int64_t log_queued_bytes;    /* under mu */
    int log_urgent;              /* a flush waits: write now */
    int log_failing;             /* logger thread: the last batch could not be written */
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
    pthread_rwlock_t read_gate;  /* store reads hold it shared; a RESTART drains them (wal_bound) */
    struct store_sqlite_stats stats;   /* updated with __atomic builtins */
    bool rerun;                  /* KASSE_STORE_RERUN=1: every job runs twice (store.h) */
};

#define STAT_ADD(s, field, n) __atomic_add_fetch(&(s)->stats.field, (n), __ATOMIC_RELAXED)

static const struct store_ops sqlite_ops;

static uint64_t next_generation = 1;
static _Thread_local struct conn *tl_conn;
static _Thread_local uint64_t tl_generation;

/* ---- connections and statements ---- */

static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
    if (!c->stmt[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                               NULL) != SQLITE_OK) {
            log_error("sqlite prepare %d: %s", (int)id, sqlite3_errmsg(c->db));
            return NULL;
        }
    }
    return c->stmt[id];
}

/* Runs a statement that returns no rows: SQLITE_DONE, or SQLITE_ERROR / the extended code of
 * the failure, logged unless quiet (the callers that report disk errors themselves). */
static int step_rc(struct conn *c, enum stmt_id id, bool quiet)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        rc = sqlite3_extended_errcode(c->db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && !quiet)
        log_error("sqlite %s: %s", stmt_sql[id], sqlite3_errstr(rc));
    return rc;
}

/* Runs a statement that returns no rows; 0 or -1. */
static int exec_stmt(struct conn *c, enum stmt_id id)
{
    return step_rc(c, id, false) == SQLITE_DONE ? 0 : -1;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("sqlite: %s (%s)", msg ? msg : sqlite3_errmsg(db), sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static struct conn *conn_open(const char *path, const char *pragmas)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->tx.ops = &sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        log_error("sqlite open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if (exec_sql(c->db, pragmas) != 0) {
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

#define MAIN_PRAGMAS "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " \
                     "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY"
/* The writer never spills dirty pages to the WAL before COMMIT (cache_spill=OFF): a job's
 * statements do not touch the disk, so a full disk shows on the COMMIT of the batch, where every
 * job of the batch is answered for (run_batch). A batch's pages are held in memory meanwhile
 * (a few MiB at most: its requests' rows). */
#define WRITER_PRAGMAS "PRAGMA cache_spill=OFF"
/* auto_vacuum comes first: it only takes effect on a new file, before anything is written.
 * INCREMENTAL lets the log give pages back to the file system (log_prune_size). */
#define LOG_PRAGMAS "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; " \
                    "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY"
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
/* After ATTACH: a read connection's caches (negative cache_size = KiB) and no mmap. */
#define READER_PRAGMAS "PRAGMA main.cache_size=-" STRINGIFY(STORE_READER_CACHE_KIB) "; " \
                       "PRAGMA logs.cache_size=-" STRINGIFY(STORE_READER_LOG_CACHE_KIB) "; " \
                       "PRAGMA mmap_size=0"

/* The request-log database's schema (its own file; see the top of this file). */
static const char log_schema[] =
    "CREATE TABLE IF NOT EXISTS request_log ("
    " correlation_id TEXT PRIMARY KEY, merchant_id INTEGER, method TEXT NOT NULL,"
    " path TEXT NOT NULL, status INTEGER NOT NULL, at INTEGER NOT NULL,"
    " duration_us INTEGER NOT NULL, request_body TEXT, response_body TEXT) STRICT;"
    "CREATE INDEX IF NOT EXISTS request_log_at ON request_log(at);";

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

/* ---- migrations ---- */

/* Applies every "-- migration N" block of schema_sqlite.sql with N > user_version. */
static int migrate(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);

    const char *marker = "-- migration ";
    const char *p = strstr(schema_sqlite_sql, marker);
    while (p) {
        int n = 0;
        const char *q = p + strlen(marker);
        while (*q >= '0' && *q <= '9')
            n = n * 10 + (*q++ - '0');
        const char *next = strstr(q, marker);
        if (n > version) {
            size_t len = next ? (size_t)(next - q) : strlen(q);
            char *sql = malloc(len + 64);
            if (!sql)
                return -1;
            memcpy(sql, q, len);
            snprintf(sql + len, 64, ";\nPRAGMA user_version = %d;", n);
            int rc = exec_sql(db, "BEGIN IMMEDIATE");
            if (rc == 0)
                rc = exec_sql(db, sql);
            if (rc == 0)
                rc = exec_sql(db, "COMMIT");
            else
                exec_sql(db, "ROLLBACK");
            free(sql);
            if (rc != 0)
                return -1;
            log_info("store: applied migration %d", n);
        }
        p = next;
    }
    return 0;
}

/* ---- the WAL bound (writer and logger connections) ---- */

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    struct conn *c = arg;
    c->wal_frames = frames;
    c->wal_wrote = true;
    return SQLITE_OK;
}

/* Takes over checkpointing of c's database from SQLite's auto-checkpoint (replaced by the
 * hook) and caps the WAL file at wal_max bytes once it starts over. */
static int wal_bound_init(struct conn *c, const char *name, int64_t wal_max)
{
    c->name = name;
    c->wal_max = wal_max > WAL_MIN_BYTES ? wal_max : WAL_MIN_BYTES;
    c->restart_backoff_ms = WAL_RESTART_RETRY_MS;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        c->page_size = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (c->page_size <= 0)
        c->page_size = 4096;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld", (long long)c->wal_max);
    if (exec_sql(c->db, sql) != 0)
        return -1;
    sqlite3_wal_hook(c->db, wal_hook, c);
    return 0;
}

/* After a commit: PASSIVE past WAL_CHECKPOINT_FRAMES, RESTART past wal_max (see the top). */
static void wal_bound(struct sqlite_store *s, struct conn *c)
{
    int64_t wal_bytes = (int64_t)c->wal_frames * c->page_size;
    if (c->wal_frames < WAL_CHECKPOINT_FRAMES && wal_bytes < c->wal_max)
        return;
    int64_t now = clock_monotonic_ms();
    bool restart = wal_bytes >= c->wal_max && now >= c->restart_after_ms;
    int frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (restart && rc == SQLITE_OK) {
        /* What PASSIVE could not copy, readers of older snapshots still need. Store reads are
         * held back (read_gate) until those in flight end, at most WAL_RESTART_WAIT_MS, so the
         * RESTART copies the rest and starts the WAL over; then reads go on. */
        struct timespec until;
        clock_deadline_in(&until, WAL_RESTART_WAIT_MS);
        int64_t asked = clock_monotonic_ms();
        bool gated = c == s->writer && pthread_rwlock_timedwrlock(&s->read_gate, &until) == 0;
        sqlite3_busy_timeout(c->db, gated ? 10 : WAL_RESTART_WAIT_MS);
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART, &frames, &copied);
        sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
        if (gated) {
            pthread_rwlock_unlock(&s->read_gate);
            uint64_t held = (uint64_t)(clock_monotonic_ms() - asked);
            if (held > __atomic_load_n(&s->stats.reads_held_max_ms, __ATOMIC_RELAXED))
                __atomic_store_n(&s->stats.reads_held_max_ms, held, __ATOMIC_RELAXED);
        }
    }
    if (c == s->writer)
        STAT_ADD(s, checkpoints, 1);
    if (rc == SQLITE_OK && restart) {
        c->wal_frames = 0;       /* the next commit writes the WAL from its start */
        c->restart_backoff_ms = WAL_RESTART_RETRY_MS;
        if (c == s->writer)
            STAT_ADD(s, restarts, 1);
        return;
    }
    if (rc == SQLITE_OK)
        return;
    if (restart && c == s->writer)
        STAT_ADD(s, restarts_busy, 1);
    c->restart_after_ms = now + c->restart_backoff_ms;
    if (c->restart_backoff_ms < WAL_RESTART_RETRY_MAX_MS)
        c->restart_backoff_ms = c->restart_backoff_ms * 2 < WAL_RESTART_RETRY_MAX_MS
                                    ? c->restart_backoff_ms * 2
                                    : WAL_RESTART_RETRY_MAX_MS;
    /* Said once a minute, and only once it matters: twice the bound, or a failing disk. */
    bool busy = (rc & 0xff) == SQLITE_BUSY;
    if ((!busy || wal_bytes >= 2 * c->wal_max) && now - c->warned_ms >= WAL_WARN_EVERY_MS) {
        c->warned_ms = now;
        if (busy)
            log_error("store: the %s WAL is %.1f MB (bound %.1f MB): a reader holds an old "
                      "snapshot; it is cut back once that reader ends",
                      c->name, (double)wal_bytes / 1048576, (double)c->wal_max / 1048576);
        else
            log_error("store: %s checkpoint: %s (the WAL is %.1f MB; tried again later)",
                      c->name, sqlite3_errstr(rc), (double)wal_bytes / 1048576);
    }
}

/* ---- the writer thread (group commit) ---- */

/* A failed SQLite call that means the disk cannot take the write: full (ENOSPC, a file size
 * limit) or an I/O error. */
static bool disk_error(int rc)
{
    return (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR;
}

static int refuse_on_disk(struct kerr *err, int rc)
{
    if ((rc & 0xff) == SQLITE_FULL)
        return kerr_unavailable(err, STORE_RETRY_AFTER_S,
                                "Kasse's disk is full: the request was not applied; "
                                "retry later");
    return kerr_unavailable(err, STORE_RETRY_AFTER_S,
                            "Kasse cannot write to its disk: the request was not applied; "
                            "retry later");
}

/* The batch was not made durable (rc: why): no job of it may answer success. Jobs that had
 * already failed on their own (a 4xx, their savepoint rolled back) keep their answer. */
static void batch_lost(struct sqlite_store *s, struct job *batch, int rc)
{
    uint64_t refused = 0;
    for (struct job *j = batch; j; j = j->next) {
        if (j->ran && j->rc != 0 && j->err && j->err->status > 0 && j->err->status < 500)
            continue;
        if (disk_error(rc)) {
            j->rc = refuse_on_disk(j->err, rc);
            refused++;
        } else {
            j->rc = kerr_internal(j->err, "store: the write transaction failed");
        }
    }
    if (!refused)
        return;
    STAT_ADD(s, disk_refused, refused);
    if (!s->disk_failing)
        log_error("store: cannot commit (%s): writes are answered 503 until the disk takes "
                  "them again; nothing acknowledged is lost", sqlite3_errstr(rc));
    s->disk_failing = 1;
    s->refused_since += refused;
}

/* Runs every job of the batch in its own savepoint of one transaction and commits once. A job
 * ends with rc 0 only if its work is durable. */
static void run_batch(struct sqlite_store *s, struct job *batch)
{
    struct conn *c = s->writer;
    int rc = step_rc(c, ST_BEGIN_IMMEDIATE, true);
    if (rc != SQLITE_DONE) {
        if (!disk_error(rc))
            log_error("sqlite BEGIN IMMEDIATE: %s", sqlite3_errstr(rc));
        batch_lost(s, batch, rc);
        return;
    }
    for (struct job *j = batch; j; j = j->next) {
        j->ran = true;
        if (exec_stmt(c, ST_SAVEPOINT) != 0) {
            j->rc = kerr_internal(j->err, "store: savepoint");
            continue;
        }
        /* The job is the caller's code: it runs with the caller's fault injection. */
        struct mem_fault own = mem_fault_swap(j->fault);
        j->rc = j->fn(&c->tx, j->arg, j->err);
        if (s->rerun && !sqlite3_get_autocommit(c->db)) {
            /* What a backend with concurrent writers does after a serialization failure:
             * the attempt is rolled back whole and fn runs again on the same arg. */
            exec_stmt(c, ST_ROLLBACK_TO);
            if (j->err)
                kerr_clear(j->err);
            j->rc = j->fn(&c->tx, j->arg, j->err);
        }
        j->fault = mem_fault_swap(own);
        if (sqlite3_get_autocommit(c->db)) {
            /* SQLite rolled the whole transaction back (it may on a full disk or an I/O
             * error): every job of the batch is lost, this one and those before it. */
            rc = sqlite3_extended_errcode(c->db);
            log_error("store: the write transaction was rolled back by SQLite: %s",
                      sqlite3_errstr(rc));
            if (!disk_error(rc))
                rc = SQLITE_ERROR;
            batch_lost(s, batch, rc);
            return;
        }
        if (j->rc != 0) {
            /* A statement that failed on the disk makes the job's 500 a 503. */
            int why = sqlite3_extended_errcode(c->db);
            if (disk_error(why) && j->err && j->err->status >= 500)
                refuse_on_disk(j->err, why);
            exec_stmt(c, ST_ROLLBACK_TO);
        }
        exec_stmt(c, ST_RELEASE);
    }
    c->wal_wrote = false;
    rc = step_rc(c, ST_COMMIT, true);
    if (rc != SQLITE_DONE) {
        if (!disk_error(rc))
            log_error("sqlite COMMIT: %s", sqlite3_errstr(rc));
        if (!sqlite3_get_autocommit(c->db))
            exec_stmt(c, ST_ROLLBACK);
        batch_lost(s, batch, rc);
        return;
    }
    if (s->disk_failing && c->wal_wrote) {   /* (a batch that changed nothing wrote nothing) */
        log_info("store: commits succeed again (%llu write requests were refused meanwhile)",
                 (unsigned long long)s->refused_since);
        s->disk_failing = 0;
        s->refused_since = 0;
    }
}

static void *writer_main(void *arg)
{
    struct sqlite_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->head && s->stopping)
            break;
        struct job *batch = s->head;
        s->head = s->tail = NULL;
        pthread_mutex_unlock(&s->mu);

        run_batch(s, batch);

        /* Wake each caller on its own semaphore: no thundering herd. */
        for (struct job *j = batch, *next; j; j = next) {
            next = j->next;
            sem_post(&j->done);
        }
        /* Checkpoint once the callers have their answers; jobs queue meanwhile. */
        wal_bound(s, s->writer);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void enqueue_locked(struct sqlite_store *s, struct job *j)
{
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->work);
}

static int sq_write(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct job j = {.fn = fn, .arg = arg, .err = err};
    sem_init(&j.done, 0, 0);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        sem_destroy(&j.done);
        return kerr_unavailable(err, STORE_RETRY_AFTER_S, "Kasse is shutting down");
    }
    j.fault = mem_fault_swap((struct mem_fault){0});   /* travels with the job and back */
    enqueue_locked(s, &j);
    pthread_mutex_unlock(&s->mu);
    while (sem_wait(&j.done) != 0)
        ;                        /* EINTR */
    sem_destroy(&j.done);
    mem_fault_swap(j.fault);
    return j.rc;
}

static int step_done(struct conn *c, sqlite3_stmt *st);

/* ---- the logger thread ---- */

/* What a queued row costs (its strings and a little bookkeeping). */
static size_t reqlog_bytes(const struct reqlog_row *r)
{
    size_t n = sizeof *r;
    if (r->path)
        n += strlen(r->path);
    if (r->request_body)
        n += strlen(r->request_body);
    if (r->response_body)
        n += strlen(r->response_body);
    return n;
}

static int log_insert(struct conn *c, const struct reqlog_row *r)
{
    sqlite3_stmt *st = stmt(c, ST_LOG_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->correlation_id, -1, SQLITE_STATIC);
    if (r->merchant_id)
        sqlite3_bind_int64(st, 2, r->merchant_id);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, r->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->path ? r->path : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->status);
    sqlite3_bind_int64(st, 6, r->at_ms);
    sqlite3_bind_int64(st, 7, r->duration_us);
    sqlite3_bind_text(st, 8, r->request_body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->response_body, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The log's content and free space in bytes (ST_LOG_USED); 0 or -1. */
static int log_used(struct conn *c, int64_t *used, int64_t *free_bytes)
{
    sqlite3_stmt *st = stmt(c, ST_LOG_USED);
    if (!st)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) {
        *used = sqlite3_column_int64(st, 0);
        if (free_bytes)
            *free_bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc;
}

/* Keeps the log's content within log_max_bytes, inside the logger's open transaction (so the
 * content is within the bound at every commit): when it is over, the oldest rows (by time, then
 * by insertion) are deleted until it is at most LOG_PRUNE_TARGET_PCT of the bound. How many to
 * delete is estimated from the average row (content / rows, indexes included) and measured again
 * after each delete; the oldest rows sit on the same pages (time-ordered keys), so deleting them
 * frees whole pages. */
static void log_prune_size(struct sqlite_store *s)
{
    struct conn *c = s->logger;
    int64_t used = 0;
    if (log_used(c, &used, NULL) != 0 || used <= s->log_max_bytes)
        return;
    int64_t target = s->log_max_bytes / 100 * LOG_PRUNE_TARGET_PCT;
    for (int round = 0; round < 8 && used > target; round++) {
        sqlite3_stmt *st = stmt(c, ST_LOG_COUNT);
        if (!st)
            return;
        int64_t rows = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rows <= 0)
            return;
        int64_t per_row = used / rows > 0 ? used / rows : 1;
        int64_t n = ((used - target) / per_row + 1) << round;   /* more each round */
        st = stmt(c, ST_LOG_DROP_OLDEST);
        if (!st)
            return;
        sqlite3_bind_int64(st, 1, n);
        if (step_done(c, st) != 0)
            return;
        STAT_ADD(s, log_pruned_size, (uint64_t)sqlite3_changes(c->db));
        if (log_used(c, &used, NULL) != 0)
            return;
    }
}

/* After a commit: free pages beyond LOG_FREE_SLACK_PCT of the bound go back to the file system
 * (pruned pages are otherwise reused by the next rows, which is cheaper). */
static void log_give_back(struct sqlite_store *s)
{
    struct conn *c = s->logger;
    int64_t used = 0, free_bytes = 0;
    if (log_used(c, &used, &free_bytes) != 0)
        return;
    int64_t slack = s->log_max_bytes / 100 * LOG_FREE_SLACK_PCT;
    if (free_bytes <= slack)
        return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)",
             (long long)((free_bytes - slack / 2) / c->page_size));
    exec_sql(c->db, sql);
}

/* Writes one batch in one transaction and prunes the log back within its bound before the
 * COMMIT; frees the rows. Returns how many
 * rows were taken. Rows that cannot be written (a full disk) are dropped and counted: the log
 * is diagnostics and must never be what fills the disk or makes requests wait. */
static uint64_t log_write_batch(struct sqlite_store *s, struct log_node *batch, int64_t *newest_at,
                                uint64_t *since_prune)
{
    struct conn *c = s->logger;
    uint64_t n = 0, written = 0, failed = 0;
    int rc = step_rc(c, ST_BEGIN_IMMEDIATE, true);
    bool open = rc == SQLITE_DONE;
    for (struct log_node *l = batch, *next; l; l = next) {
        next = l->next;
        if (l->row.at_ms > *newest_at)
            *newest_at = l->row.at_ms;
        if (open && log_insert(c, &l->row) == 0) {
            written++;
        } else if (open && sqlite3_get_autocommit(c->db)) {
            rc = sqlite3_extended_errcode(c->db);   /* SQLite rolled the batch back */
            open = false;
            failed++;
        } else {
            if (open)
                rc = sqlite3_extended_errcode(c->db);
            failed++;
        }
        reqlog_row_free(&l->row);
        free(l);
        n++;
    }
    if (open) {
        /* Retention: rows older than 30 days (on the clock they were logged with) go. */
        *since_prune += written;
        if (*since_prune >= LOG_PRUNE_EVERY && *newest_at > LOG_RETENTION_MS) {
            *since_prune = 0;
            sqlite3_stmt *st = stmt(c, ST_LOG_PRUNE);
            if (st) {
                sqlite3_bind_int64(st, 1, *newest_at - LOG_RETENTION_MS);
                if (step_done(c, st) == 0)
                    STAT_ADD(s, log_pruned_age, (uint64_t)sqlite3_changes(c->db));
            }
        }
        log_prune_size(s);
        int crc = step_rc(c, ST_COMMIT, true);
        if (crc != SQLITE_DONE) {
            rc = crc;
            if (!sqlite3_get_autocommit(c->db))
                exec_stmt(c, ST_ROLLBACK);
            failed += written;
            written = 0;
        }
    } else if (!sqlite3_get_autocommit(c->db)) {
        exec_stmt(c, ST_ROLLBACK);
    }
    if (failed) {
        STAT_ADD(s, log_dropped, failed);
        if (!s->log_failing)
            log_error("store: request log rows not written (%s): they are dropped until the "
                      "log can be written again", sqlite3_errstr(rc));
        s->log_failing = 1;
    } else if (s->log_failing) {
        s->log_failing = 0;
        log_info("store: the request log is written again");
    }
    if (written)
        log_give_back(s);
    return n;
}

static void *logger_main(void *arg)
{
    struct sqlite_store *s = arg;
    uint64_t since_prune = 0;
    int64_t newest_at = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->log_head && !s->stopping)
            pthread_cond_wait(&s->log_work, &s->mu);
        if (!s->log_head)
            break;               /* stopping, and everything queued is written */
        /* Let rows gather (LOG_BATCH_ROWS or LOG_BATCH_MS) unless a reader waits on them. */
        struct timespec until;
        clock_deadline_in(&until, LOG_BATCH_MS);
        int64_t cap = s->log_max_bytes / 8 < LOG_BATCH_BYTES ? s->log_max_bytes / 8
                                                             : LOG_BATCH_BYTES;
        while (!s->stopping && !s->log_urgent &&
               s->log_queued - s->log_written < LOG_BATCH_ROWS && s->log_queued_bytes < cap &&
               pthread_cond_timedwait(&s->log_work, &s->mu, &until) == 0)
            ;
        /* One batch: up to LOG_BATCH_ROWS rows and about cap bytes (at least one row), so a
         * batch adds little to the log and its WAL before they are bounded again. */
        struct log_node *batch = s->log_head, *last = batch;
        int64_t bytes = (int64_t)last->bytes;
        for (int rows = 1; last->next && rows < LOG_BATCH_ROWS &&
                           bytes + (int64_t)last->next->bytes <= cap; rows++) {
            last = last->next;
            bytes += (int64_t)last->bytes;
        }
        s->log_head = last->next;
        if (!s->log_head) {
            s->log_tail = NULL;
            s->log_urgent = 0;
        }
        last->next = NULL;
        s->log_queued_bytes -= bytes;
        pthread_mutex_unlock(&s->mu);

        uint64_t n = log_write_batch(s, batch, &newest_at, &since_prune);
        wal_bound(s, s->logger);

        pthread_mutex_lock(&s->mu);
        s->log_written += n;
        pthread_cond_broadcast(&s->log_done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Waits until every log row queued before the call is written (and so readable). */
static int sq_flush(struct store *base, struct kerr *err)
{
    (void)err;
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    uint64_t target = s->log_queued;
    if (s->log_written < target) {
        s->log_urgent = 1;
        pthread_cond_signal(&s->log_work);
    }
    while (s->log_written < target && s->logger_started)
        pthread_cond_wait(&s->log_done, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void sq_log_async(struct store *base, struct reqlog_row *row)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct log_node *l = malloc(sizeof *l);
    size_t bytes = reqlog_bytes(row);
    pthread_mutex_lock(&s->mu);
    if (!l || s->stopping || !s->logger_started ||
        s->log_queued_bytes + (int64_t)bytes > LOG_QUEUE_MAX_BYTES) {
        /* The logger is behind by LOG_QUEUE_MAX_BYTES (a slow or full disk): drop the row
         * rather than grow without bound. */
        if (l && !s->stopping && s->logger_started)
            STAT_ADD(s, log_dropped, 1);
        pthread_mutex_unlock(&s->mu);
        free(l);
        reqlog_row_free(row);
        return;
    }
    l->row = *row;               /* takes ownership of the strings */
    l->bytes = bytes;
    l->next = NULL;
    if (s->log_tail)
        s->log_tail->next = l;
    else
        s->log_head = l;
    s->log_tail = l;
    s->log_queued++;
    s->log_queued_bytes += (int64_t)bytes;
    if (s->log_queued - s->log_written == 1 || s->log_queued - s->log_written >= LOG_BATCH_ROWS)
        pthread_cond_signal(&s->log_work);
    pthread_mutex_unlock(&s->mu);
}

/* ---- reads ---- */

static struct conn *reader(struct sqlite_store *s)
{
    if (tl_conn && tl_generation == s->generation)
        return tl_conn;
    struct conn *c = conn_open(s->path, MAIN_PRAGMAS);
    if (!c)
        return NULL;
    sqlite3_stmt *attach = NULL;
    int ok = sqlite3_prepare_v2(c->db, "ATTACH DATABASE ?1 AS logs", -1, &attach, NULL) ==
                 SQLITE_OK &&
             sqlite3_bind_text(attach, 1, s->log_path, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(attach) == SQLITE_DONE;
    sqlite3_finalize(attach);
    if (!ok) {
        log_error("store: cannot attach %s: %s", s->log_path, sqlite3_errmsg(c->db));
        conn_close(c);
        return NULL;
    }
    if (exec_sql(c->db, READER_PRAGMAS) != 0) {
        conn_close(c);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    c->next_all = s->readers;
    s->readers = c;
    pthread_mutex_unlock(&s->mu);
    tl_conn = c;
    tl_generation = s->generation;
    return c;
}

static int sq_read(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = reader(s);
    if (!c)
        return kerr_internal(err, "store: cannot open read connection");
    pthread_rwlock_rdlock(&s->read_gate);
    if (exec_stmt(c, ST_BEGIN) != 0) {
        pthread_rwlock_unlock(&s->read_gate);
        return kerr_internal(err, "store: cannot begin read transaction");
    }
    int rc = fn(&c->tx, arg, err);
    if (exec_stmt(c, ST_COMMIT) != 0)
        exec_stmt(c, ST_ROLLBACK);
    pthread_rwlock_unlock(&s->read_gate);
    return rc;
}

static int sq_ping(struct store *base, struct kerr *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = reader(s);
    if (!c || exec_sql(c->db, "SELECT count(*) FROM meta") != 0)
        return kerr_unavailable(err, STORE_RETRY_AFTER_S, "the database does not answer");
    return 0;
}

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

static int finish(struct conn *c, sqlite3_stmt *st, int rc)
{
    (void)c;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int step_done(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        log_error("sqlite: %s", sqlite3_errmsg(c->db));
    return finish(c, st, rc == SQLITE_DONE ? 0 : -1);
}

/* An UPDATE of one keyed row: 0, STORE_NOT_FOUND when no row matched (this merchant's), -1. */
static int step_one_change(struct conn *c, sqlite3_stmt *st)
{
    int rc = step_done(c, st);
    if (rc == 0 && sqlite3_changes(c->db) != 1)
        rc = STORE_NOT_FOUND;
    return rc;
}

static int sq_meta_get(struct store_tx *tx, const char *key, uint8_t *out, size_t cap, size_t *len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_META_GET);
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
    return finish(c, st, rc);
}

static int sq_meta_put(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_META_PUT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
    return step_done(c, st);
}

static int sq_meta_add(struct store_tx *tx, const char *key, const uint8_t *v, size_t len)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_META_ADD);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
    if (step_done(c, st) != 0)
        return -1;
    return sqlite3_changes(c->db) == 1 ? 0 : STORE_EXISTS;
}

static int read_merchant(struct conn *c, sqlite3_stmt *st, struct merchant_row *out);

static int sq_merchant_by_username(struct store_tx *tx, const char *username,
                                   struct merchant_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MERCHANT_BY_USER);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    return finish(c, st, read_merchant(c, st, out));
}

static int sq_merchant_by_id(struct store_tx *tx, int64_t id, struct merchant_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MERCHANT_BY_ID);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    return finish(c, st, read_merchant(c, st, out));
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
    sqlite3_stmt *st = stmt(c, ST_MERCHANT_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, m->username, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->secret_mac, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->categories ? m->categories : "klarna", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, m->created_at);
    int rc = step_done(c, st);
    if (rc == 0)
        m->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static int sq_merchant_set_secret(struct store_tx *tx, int64_t id, const uint8_t mac[32])
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MERCHANT_SET_SECRET);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, mac, 32, SQLITE_STATIC);
    return step_done(c, st);
}

static int sq_merchant_count(struct store_tx *tx, int64_t *count)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MERCHANT_COUNT);
    if (!st)
        return -1;
    int rc = step_row(c, st);
    if (rc == 0)
        *count = sqlite3_column_int64(st, 0);
    return finish(c, st, rc == STORE_NOT_FOUND ? -1 : rc);
}

static int sq_session_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                          struct session_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, merchant_id ? ST_SESSION_GET : ST_SESSION_GET_ANY);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (merchant_id)
        sqlite3_bind_int64(st, 2, merchant_id);
    int rc = step_row(c, st);
    if (rc == 0) {
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
            rc = -1;
        }
    }
    return finish(c, st, rc);
}

static int sq_session_insert(struct store_tx *tx, const struct session_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_SESSION_INSERT);
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
    return step_done(c, st);
}

static int sq_session_update(struct store_tx *tx, const struct session_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_SESSION_UPDATE);
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
    sqlite3_stmt *st = stmt(c, ST_LOG_GET);
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
        out->request_body = col_strdup(st, 7);
        out->response_body = col_strdup(st, 8);
        if (!out->path) {
            reqlog_row_free(out);
            rc = -1;
        }
    }
    return finish(c, st, rc);
}

static int sq_idem_get(struct store_tx *tx, int64_t merchant_id, const char *key,
                       int64_t not_before, struct idem_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_IDEM_GET);
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
    return finish(c, st, rc);
}

static int sq_idem_prune(struct store_tx *tx, int64_t before)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_IDEM_PRUNE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    return step_done(c, st);
}

static int sq_idem_put(struct store_tx *tx, const struct idem_row *r, int64_t not_before)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_IDEM_PUT);
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
    if (step_done(c, st) != 0)
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
    sqlite3_stmt *st = stmt(c, ST_AUTH_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->issued_at);
    sqlite3_bind_text(st, 5, r->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->body, -1, SQLITE_STATIC);
    return step_done(c, st);
}

static int sq_auth_get(struct store_tx *tx, int64_t merchant_id, const char *token,
                       struct auth_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_AUTH_GET);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    return finish(c, st, read_auth(c, st, out));
}

static int sq_auth_latest(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          struct auth_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_AUTH_LATEST);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    return finish(c, st, read_auth(c, st, out));
}

static int sq_auth_set_state(struct store_tx *tx, int64_t merchant_id, const char *token,
                             const char *state, const char *body)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, body ? ST_AUTH_SET_STATE_BODY : ST_AUTH_SET_STATE);
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
    sqlite3_stmt *st = stmt(c, ST_AUTH_SUPERSEDE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, merchant_id);
    sqlite3_bind_text(st, 3, keep_token ? keep_token : "", -1, SQLITE_STATIC);
    return step_done(c, st);
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
    sqlite3_stmt *st = stmt(c, ST_ORDER_INSERT);
    if (!st)
        return -1;
    if (bind_order(st, r) != 0)
        return finish(c, st, -1);
    return step_done(c, st);
}

static void read_order(sqlite3_stmt *st, struct order_row *out);

static int sq_order_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                        struct order_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, merchant_id ? ST_ORDER_GET : ST_ORDER_GET_ANY);
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
    return finish(c, st, rc);
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
    sqlite3_stmt *st = stmt(c, ST_ORDER_UPDATE);
    if (!st)
        return -1;
    if (bind_order(st, r) != 0)
        return finish(c, st, -1);
    return step_one_change(c, st);
}

/* ---- the merchant's order list ----
 *
 * Every order is filed under a list_status (with list_until / list_after while its status can
 * still change by itself; migration 8). An order matches status X at now when it is filed
 * under X and not due (list_until NULL or > now), or due (list_until <= now: the sweep has not
 * filed it under list_after yet) with list_after X. Due orders are few: the sweep files them
 * within a poll of the outbox thread.
 *
 * Counting. order_counts holds, per merchant, level, creation-time bucket and list_status, how
 * many orders there are (kept by triggers). A range [lo, hi) is cut into pieces (pieces()):
 * the partial seconds at both ends, read from the orders index (rows of at most two
 * seconds), then on each side the whole buckets of each level up to the next level's
 * boundary, and in the middle the 360-day buckets: at most 2 × (59 + 59 + 23 + 29 + 11)
 * bucket rows per status plus the 360-day buckets of the span, whatever the number of orders.
 * The due orders in the range then correct the count from list_status to list_after.
 *
 * Paging. A shallow offset (up to PAGE_SKIP_DIRECT) is skipped by walking the index. A deeper
 * one is located with the counts (locate()): the pieces are walked newest first, whole pieces
 * skipped by their counts; in the piece holding the offset, its buckets are walked newest
 * first, and so on down to one second, so the page starts in that second after skipping
 * fewer rows than it holds. About 20 small index reads, at any offset and any size. With a
 * status filter the page merges the orders filed under the status (index order) with the due
 * ones now reading as it (few, sorted). */

#define COUNT_LEVELS 6
/* Must equal order_count_levels (migration 8): the unit tests compare every count and page
 * with a full scan. */
static const int64_t count_width[COUNT_LEVELS] = {
    1000, 60000, 3600000, 86400000, 2592000000LL, 31104000000LL
};
#define PAGE_SKIP_DIRECT 100
#define TIME_MAX (INT64_C(1) << 53)      /* ms; ~285,000 years: keeps bucket arithmetic exact */

struct page_ctx {
    struct conn *c;
    const struct order_page_query *q;
    int rc;                              /* -1 once a statement failed */
};

/* Binds the list parameters the statement has (?1 merchant, ?2 from, ?3 to, ?4 status,
 * ?5 now). */
static void bind_list(const struct page_ctx *p, sqlite3_stmt *st, int64_t lo, int64_t hi)
{
    int params = sqlite3_bind_parameter_count(st);
    sqlite3_bind_int64(st, 1, p->q->merchant_id);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    if (params >= 4 && p->q->status)
        sqlite3_bind_text(st, 4, p->q->status, -1, SQLITE_STATIC);
    else if (params >= 4)
        sqlite3_bind_null(st, 4);
    if (params >= 5)
        sqlite3_bind_int64(st, 5, p->q->now);
}

/* One integer from a one-row statement over [lo, hi) (level: ?6, for the bucket sums). */
static int64_t list_int(struct page_ctx *p, enum stmt_id id, int64_t lo, int64_t hi, int level)
{
    if (p->rc != 0 || lo >= hi)
        return 0;
    sqlite3_stmt *st = stmt(p->c, id);
    if (!st) {
        p->rc = -1;
        return 0;
    }
    bind_list(p, st, lo, hi);
    if (id == ST_ORDER_COUNT_BUCKETS)
        sqlite3_bind_int(st, 6, level);
    int64_t v = 0;
    if (step_row(p->c, st) == 0)
        v = sqlite3_column_int64(st, 0);
    else
        p->rc = -1;
    finish(p->c, st, 0);
    return v;
}

static int64_t floor_to(int64_t t, int64_t w)
{
    return t / w * w;                    /* t >= 0 */
}

static int64_t ceil_to(int64_t t, int64_t w)
{
    return (t + w - 1) / w * w;          /* t <= TIME_MAX */
}

/* A piece of a range: rows created in [lo, hi) ms (level -1), or buckets [lo, hi) of a level. */
struct piece {
    int level;
    int64_t lo, hi;
};
#define MAX_PIECES (2 * COUNT_LEVELS + 3)

static int64_t piece_start(const struct piece *c)
{
    return c->level < 0 ? c->lo : c->lo * count_width[c->level];
}

static int64_t piece_end(const struct piece *c)
{
    return c->level < 0 ? c->hi : c->hi * count_width[c->level];
}

/* Cuts [lo, hi) (0 <= lo, hi <= TIME_MAX) into pieces, newest first; returns how many. */
static size_t pieces(int64_t lo, int64_t hi, struct piece out[MAX_PIECES])
{
    struct piece left[COUNT_LEVELS + 1];
    size_t n = 0, n_left = 0;
    if (lo >= hi)
        return 0;
    int64_t a = ceil_to(lo, count_width[0]), b = floor_to(hi, count_width[0]);
    if (a >= b) {
        out[n++] = (struct piece){-1, lo, hi};
        return n;
    }
    if (b < hi)
        out[n++] = (struct piece){-1, b, hi};
    if (lo < a)
        left[n_left++] = (struct piece){-1, lo, a};
    lo = a;
    hi = b;
    for (int l = 0; l < COUNT_LEVELS; l++) {
        int64_t w = count_width[l];
        if (l + 1 < COUNT_LEVELS) {
            a = ceil_to(lo, count_width[l + 1]);
            b = floor_to(hi, count_width[l + 1]);
        }
        if (l + 1 == COUNT_LEVELS || a >= b) {
            out[n++] = (struct piece){l, lo / w, hi / w};
            break;
        }
        if (b < hi)
            out[n++] = (struct piece){l, b / w, hi / w};
        if (lo < a)
            left[n_left++] = (struct piece){l, lo / w, a / w};
        lo = a;
        hi = b;
    }
    while (n_left > 0)
        out[n++] = left[--n_left];
    return n;
}

/* Orders filed under the query's status (any when NULL) in one piece. */
static int64_t count_piece(struct page_ctx *p, const struct piece *c)
{
    if (c->level < 0)
        return list_int(p, p->q->status ? ST_ORDER_COUNT_ROWS_STATUS : ST_ORDER_COUNT_ROWS, c->lo,
                        c->hi, 0);
    return list_int(p, ST_ORDER_COUNT_BUCKETS, c->lo, c->hi, c->level);
}

/* The query's matches created in [lo, hi). */
static int64_t count_matches(struct page_ctx *p, int64_t lo, int64_t hi)
{
    struct piece c[MAX_PIECES];
    size_t n = pieces(lo, hi, c);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += count_piece(p, &c[i]);
    if (p->q->status)
        total += list_int(p, ST_ORDER_COUNT_DUE, lo, hi, 0);
    return total;
}

/* A (bucket, count) statement stepped newest first; have = 0 when done. */
struct bucket_cursor {
    sqlite3_stmt *st;
    int have;
    int64_t bucket, n;
};

static void cursor_next(struct page_ctx *p, struct bucket_cursor *k)
{
    k->have = 0;
    if (!k->st || p->rc != 0)
        return;
    int rc = sqlite3_step(k->st);
    if (rc == SQLITE_ROW) {
        k->have = 1;
        k->bucket = sqlite3_column_int64(k->st, 0);
        k->n = sqlite3_column_int64(k->st, 1);
    } else if (rc != SQLITE_DONE) {
        log_error("sqlite: %s", sqlite3_errmsg(p->c->db));
        p->rc = -1;
    }
}

static void cursor_open(struct page_ctx *p, struct bucket_cursor *k, enum stmt_id id,
                        int64_t lo, int64_t hi, int64_t param6)
{
    k->st = stmt(p->c, id);
    if (!k->st) {
        p->rc = -1;
        return;
    }
    bind_list(p, k->st, lo, hi);
    sqlite3_bind_int64(k->st, 6, param6);
    cursor_next(p, k);
}

static void cursor_close(struct page_ctx *p, struct bucket_cursor *k)
{
    if (k->st)
        finish(p->c, k->st, 0);
}

/* In buckets [lo, hi) of level l, the newest bucket holding the skip-th match (newest first):
 * sets *bucket and lowers *skip by the matches in the newer buckets. -1 when none holds it
 * (the counts and the rows disagree: a bug). corrections: due orders exist in the range. */
static int locate_bucket(struct page_ctx *p, int l, int64_t lo, int64_t hi, bool corrections,
                         int64_t *skip, int64_t *bucket)
{
    struct bucket_cursor filed = {0}, due = {0};
    int64_t w = count_width[l];
    cursor_open(p, &filed, ST_ORDER_BUCKETS_DESC, lo, hi, l);
    if (corrections)
        cursor_open(p, &due, ST_ORDER_DUE_BUCKETS_DESC, lo * w, hi * w, w);
    int rc = -1;
    while ((filed.have || due.have) && p->rc == 0) {
        int64_t b = !due.have || (filed.have && filed.bucket >= due.bucket) ? filed.bucket
                                                                             : due.bucket;
        int64_t n = 0;
        if (filed.have && filed.bucket == b) {
            n += filed.n;
            cursor_next(p, &filed);
        }
        if (due.have && due.bucket == b) {
            n += due.n;
            cursor_next(p, &due);
        }
        if (*skip < n) {
            *bucket = b;
            rc = 0;
            break;
        }
        *skip -= n;
    }
    cursor_close(p, &filed);
    cursor_close(p, &due);
    return p->rc != 0 ? -1 : rc;
}

/* The page boundary for skipping `skip` matches of [lo, hi), newest first: *end such that the
 * matches in [*end, hi) are skipped whole and the *skip left fall in the second before *end. */
static int locate(struct page_ctx *p, int64_t lo, int64_t hi, int64_t *skip, int64_t *end)
{
    struct piece c[MAX_PIECES];
    size_t n = pieces(lo, hi, c);
    bool corrections = p->q->status && list_int(p, ST_ORDER_DUE_ANY, lo, hi, 0);
    for (size_t i = 0; i < n && p->rc == 0; i++) {
        int64_t m = count_piece(p, &c[i]);
        if (corrections)
            m += list_int(p, ST_ORDER_COUNT_DUE, piece_start(&c[i]), piece_end(&c[i]), 0);
        if (*skip >= m) {
            *skip -= m;
            continue;
        }
        if (c[i].level < 0) {
            *end = c[i].hi;
            return 0;
        }
        /* Down the levels: the bucket holding it, then that bucket's sub-buckets. */
        int l = c[i].level;
        int64_t blo = c[i].lo, bhi = c[i].hi, b = 0;
        for (;;) {
            if (locate_bucket(p, l, blo, bhi, corrections, skip, &b) != 0)
                break;
            if (l == 0) {
                *end = (b + 1) * count_width[0];
                return 0;
            }
            int64_t ratio = count_width[l] / count_width[l - 1];
            blo = b * ratio;
            bhi = (b + 1) * ratio;
            l--;
        }
        break;
    }
    if (p->rc == 0)
        log_error("store: order list counts disagree with the rows (merchant %lld)",
                  (long long)p->q->merchant_id);
    return -1;
}

/* The next row of a page statement, or 0 when done (-1 on error). */
static int page_step(struct page_ctx *p, sqlite3_stmt *st)
{
    if (!st)
        return 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE) {
        log_error("sqlite: %s", sqlite3_errmsg(p->c->db));
        p->rc = -1;
    }
    return 0;
}

/* Newest first: created_at, then id. */
static int page_newer(sqlite3_stmt *a, sqlite3_stmt *b)
{
    int64_t ta = sqlite3_column_int64(a, 1), tb = sqlite3_column_int64(b, 1);
    if (ta != tb)
        return ta > tb;
    return strcmp((const char *)sqlite3_column_text(a, 0),
                  (const char *)sqlite3_column_text(b, 0)) > 0;
}

/* The matches created in [lo, hi), newest first: skip `skip`, copy up to q->limit ids. */
static void page_read(struct page_ctx *p, int64_t lo, int64_t hi, int64_t skip, char (*ids)[37],
                      size_t *n)
{
    *n = 0;
    if (!p->q->status) {
        sqlite3_stmt *st = stmt(p->c, ST_ORDER_PAGE_ALL);
        if (!st) {
            p->rc = -1;
            return;
        }
        bind_list(p, st, lo, hi);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)p->q->limit);
        sqlite3_bind_int64(st, 7, skip);
        while (*n < p->q->limit && page_step(p, st))
            col_copy(st, 0, ids[(*n)++], 37);
        finish(p->c, st, 0);
        return;
    }
    /* Filed under the status and not due, merged with the due ones that now read as it. */
    sqlite3_stmt *filed = stmt(p->c, ST_ORDER_PAGE_STATUS), *due = stmt(p->c, ST_ORDER_PAGE_DUE);
    if (!filed || !due) {
        p->rc = -1;
        return;
    }
    bind_list(p, filed, lo, hi);
    bind_list(p, due, lo, hi);
    int have_f = page_step(p, filed), have_d = page_step(p, due);
    while ((have_f || have_d) && *n < p->q->limit && p->rc == 0) {
        sqlite3_stmt *next = !have_d ? filed : !have_f ? due : page_newer(filed, due) ? filed : due;
        if (skip > 0)
            skip--;
        else
            col_copy(next, 0, ids[(*n)++], 37);
        if (next == filed)
            have_f = page_step(p, filed);
        else
            have_d = page_step(p, due);
    }
    finish(p->c, filed, 0);
    finish(p->c, due, 0);
}

static int sq_order_page(struct store_tx *tx, const struct order_page_query *q, char (*ids)[37],
                         size_t *n, int64_t *total)
{
    struct page_ctx p = {.c = as_conn(tx), .q = q};
    *n = 0;
    *total = 0;
    /* Clamp [from, to) to the span of the merchant's orders in it: bucket arithmetic stays
     * small and the pieces cover only buckets that can hold orders. */
    int64_t from = q->from < 0 ? 0 : q->from, to = q->to > TIME_MAX ? TIME_MAX : q->to;
    if (from >= to)
        return 0;
    sqlite3_stmt *st = stmt(p.c, ST_ORDER_SPAN);
    if (!st)
        return -1;
    bind_list(&p, st, from, to);
    int rc = step_row(p.c, st);
    bool any = rc == 0 && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (any) {
        from = sqlite3_column_int64(st, 0);
        to = sqlite3_column_int64(st, 1) + 1;
    }
    finish(p.c, st, 0);
    if (rc < 0)
        return -1;
    if (!any)
        return 0;

    *total = count_matches(&p, from, to);
    if (p.rc != 0)
        return -1;
    if (q->offset >= *total || q->limit == 0)
        return 0;
    int64_t end = to, skip = q->offset;
    if (q->offset > PAGE_SKIP_DIRECT && locate(&p, from, to, &skip, &end) != 0)
        return -1;
    page_read(&p, from, end, skip, ids, n);
    return p.rc;
}

static int sq_order_list_sweep(struct store_tx *tx, int64_t now, size_t max, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_ORDER_SWEEP);
    *n = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int rc = step_done(c, st);
    if (rc == 0)
        *n = (size_t)sqlite3_changes(c->db);
    return rc;
}

static int sq_ctoken_insert(struct store_tx *tx, const struct ctoken_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_CTOKEN_INSERT);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_text(st, 5, r->body, -1, SQLITE_STATIC);
    return step_done(c, st);
}

static int sq_ctoken_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                         struct ctoken_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_CTOKEN_GET);
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
    return finish(c, st, rc);
}

static int sq_ctoken_set_status(struct store_tx *tx, int64_t merchant_id, const char *id,
                                const char *status)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_CTOKEN_SET_STATUS);
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
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_ADD);
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
    int rc = step_done(c, st);
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
            return finish(c, st, -1);
        }
    }
    return finish(c, st, 0);
}

static int sq_outbox_due(struct store_tx *tx, int64_t now, int64_t wall_now,
                         size_t per_endpoint, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_DUE);
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
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_CLAIM);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, wall_now);
    sqlite3_bind_int64(st, 3, lease_until);
    if (step_done(c, st) != 0)
        return -1;
    return sqlite3_changes(c->db) == 1 ? 0 : STORE_NOT_FOUND;
}

static int sq_outbox_record(struct store_tx *tx, int64_t id, const struct outbox_attempt *a,
                            const char *status, int64_t next_due_at)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_RECORD);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, a ? 1 : 0);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, next_due_at);
    if (step_done(c, st) != 0)
        return -1;
    if (!a)
        return 0;
    st = stmt(c, ST_OUTBOX_ATTEMPT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, a->at);
    sqlite3_bind_int(st, 3, a->http_status);
    sqlite3_bind_text(st, 4, a->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, a->duration_ms);
    return step_done(c, st);
}

static int sq_outbox_list(struct store_tx *tx, int64_t merchant_id, const char *session_id,
                          const char *order_id, struct outbox_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_LIST);
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
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_ATTEMPTS);
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
    }
    return finish(c, st, 0);
}

/* ---- Hosted Payment Page sessions and their messages ---- */

static int sq_hpp_insert(struct store_tx *tx, const struct hpp_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_HPP_INSERT);
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
    return step_done(c, st);
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
    return finish(c, st, rc);
}

static int sq_hpp_get(struct store_tx *tx, int64_t merchant_id, const char *id,
                      struct hpp_row *out)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, merchant_id ? ST_HPP_GET : ST_HPP_GET_ANY);
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
    sqlite3_stmt *st = stmt(c, ST_HPP_BY_PAGE);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, page_id, -1, SQLITE_STATIC);
    return hpp_get_one(c, st, out);
}

static int sq_hpp_update(struct store_tx *tx, const struct hpp_row *r, const char *expected)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_HPP_UPDATE);
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
    sqlite3_stmt *st = stmt(c, ST_HPP_FOR_KP);
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
            return finish(c, st, -1);
        }
        (*n)++;
    }
    return finish(c, st, 0);
}

static int sq_message_add(struct store_tx *tx, struct message_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MESSAGE_ADD);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, r->merchant_id);
    sqlite3_bind_text(st, 2, r->hpp_session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->created_at);
    int rc = step_done(c, st);
    if (rc == 0)
        r->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static int sq_message_list(struct store_tx *tx, int64_t merchant_id, const char *hpp_session_id,
                           struct message_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_MESSAGE_LIST);
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
            return finish(c, st, -1);
        }
    }
    return finish(c, st, 0);
}

/* ---- lifecycle ---- */

static void sq_close(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->log_work);
    pthread_mutex_unlock(&s->mu);
    if (s->writer_started)
        pthread_join(s->writer_thread, NULL);
    if (s->logger_started)
        pthread_join(s->logger_thread, NULL);   /* it writes what is queued first */
    if (s->writer_started) {
        const struct store_sqlite_stats *st = &s->stats;
        log_info("store: %llu checkpoints (%llu restarts, %llu put off by readers, reads held "
                 "back %llu ms at most), %llu writes refused on the disk; request log: %llu rows "
                 "pruned for size, %llu for age, %llu dropped",
                 (unsigned long long)st->checkpoints, (unsigned long long)st->restarts,
                 (unsigned long long)st->restarts_busy,
                 (unsigned long long)st->reads_held_max_ms, (unsigned long long)st->disk_refused,
                 (unsigned long long)st->log_pruned_size, (unsigned long long)st->log_pruned_age,
                 (unsigned long long)st->log_dropped);
    }
    for (struct log_node *l = s->log_head, *next; l; l = next) {
        next = l->next;
        reqlog_row_free(&l->row);
        free(l);
    }
    conn_close(s->logger);
    for (struct conn *c = s->readers, *next; c; c = next) {
        next = c->next_all;
        conn_close(c);
    }
    conn_close(s->writer);
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->read_gate);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->log_work);
    pthread_cond_destroy(&s->log_done);
    free(s->path);
    free(s->log_path);
    free(s);
}

/* A request log made before the size bound has auto_vacuum off, so it could never shrink (issue
 * 9 measured 240 MB). At open, before anything else uses it, its newest rows (about
 * LOG_PRUNE_TARGET_PCT of the bound, estimated from the average row) are copied into a new file
 * made the current way, which replaces it. The old file is only read, so this needs at most the
 * bound in free space; if anything fails, the old file stays (its content is still bounded from
 * now on, its size not). */
static void log_convert(const char *log_path, int64_t max_bytes)
{
    struct stat st;
    if (stat(log_path, &st) != 0)
        return;                  /* a new log */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t mode = 2, rows = 0, used = 0;
    int ok = sqlite3_open_v2(log_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        ok = sqlite3_prepare_v2(db, "SELECT a.auto_vacuum, (SELECT count(*) FROM request_log), "
                                    "(p.page_count - f.freelist_count) * s.page_size "
                                    "FROM pragma_auto_vacuum() a, pragma_page_count() p, "
                                    "pragma_freelist_count() f, pragma_page_size() s",
                                -1, &q, NULL) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_ROW;
        if (ok) {
            mode = sqlite3_column_int64(q, 0);
            rows = sqlite3_column_int64(q, 1);
            used = sqlite3_column_int64(q, 2);
        }
        sqlite3_finalize(q);
    }
    if (!ok || mode == 2) {      /* already bounded, or not a log Kasse can read: leave it */
        sqlite3_close(db);
        return;
    }
    size_t n = strlen(log_path) + sizeof ".new";
    char *fresh_path = malloc(n), *side = malloc(n + 8);
    sqlite3 *fresh = NULL;
    int64_t keep = rows > 0 && used > 0 ? max_bytes / 100 * LOG_PRUNE_TARGET_PCT / (used / rows + 1)
                                        : 0;
    ok = fresh_path && side;
    if (ok) {
        snprintf(fresh_path, n, "%s.new", log_path);
        unlink(fresh_path);
        ok = sqlite3_open(fresh_path, &fresh) == SQLITE_OK &&
             exec_sql(fresh, "PRAGMA auto_vacuum=INCREMENTAL") == 0 &&
             exec_sql(fresh, log_schema) == 0;
        sqlite3_close(fresh);
    }
    if (ok) {
        ok = sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS fresh", -1, &q, NULL) == SQLITE_OK &&
             sqlite3_bind_text(q, 1, fresh_path, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_DONE;
        sqlite3_finalize(q);
        q = NULL;
    }
    if (ok) {
        ok = sqlite3_prepare_v2(db, "INSERT INTO fresh.request_log SELECT * FROM (SELECT * FROM "
                                    "main.request_log ORDER BY at DESC, rowid DESC LIMIT ?1) "
                                    "ORDER BY at, rowid",
                                -1, &q, NULL) == SQLITE_OK &&
             sqlite3_bind_int64(q, 1, keep) == SQLITE_OK && sqlite3_step(q) == SQLITE_DONE;
        sqlite3_finalize(q);
    }
    sqlite3_close(db);           /* the last connection: checkpoints and removes its WAL */
    if (ok && rename(fresh_path, log_path) == 0) {
        snprintf(side, n + 8, "%s-wal", log_path);
        unlink(side);
        snprintf(side, n + 8, "%s-shm", log_path);
        unlink(side);
        log_info("store: request log rewritten to shrink with its bound: %lld MB, %lld rows "
                 "→ the newest %lld rows",
                 (long long)(used >> 20), (long long)rows, (long long)(keep < rows ? keep : rows));
    } else {
        log_error("store: the request log %s could not be rewritten to its bound; it keeps its "
                  "size (%lld MB) but grows no further", log_path, (long long)(used >> 20));
        if (fresh_path)
            unlink(fresh_path);
    }
    if (fresh_path) {
        snprintf(side, n + 8, "%s-journal", fresh_path);
        unlink(side);
    }
    free(fresh_path);
    free(side);
}

static void add_db_status(sqlite3 *db, int op, int64_t *sum, int64_t *max)
{
    int cur = 0, high = 0;
    if (sqlite3_db_status(db, op, &cur, &high, 0) != SQLITE_OK)
        return;
    *sum += cur;
    if (max && cur > *max)
        *max = cur;
}

int store_sqlite_mem(struct store *base, struct store_sqlite_mem *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    memset(out, 0, sizeof *out);
    if (base->ops != &sqlite_ops)
        return -1;
    pthread_mutex_lock(&s->mu);
    for (struct conn *c = s->readers; c; c = c->next_all) {
        out->readers++;
        add_db_status(c->db, SQLITE_DBSTATUS_CACHE_USED, &out->reader_cache_bytes,
                      &out->reader_cache_max_bytes);
        add_db_status(c->db, SQLITE_DBSTATUS_STMT_USED, &out->stmt_bytes, NULL);
        add_db_status(c->db, SQLITE_DBSTATUS_SCHEMA_USED, &out->schema_bytes, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    out->heap_bytes = sqlite3_memory_used();
    out->heap_highwater_bytes = sqlite3_memory_highwater(0);
    return 0;
}

/* kasse.db → kasse-log.db; any other name gets "-log.db" appended. */
static char *log_path_for(const char *path)
{
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".db") == 0)
        n -= 3;
    char *out = malloc(n + sizeof "-log.db");
    if (out) {
        memcpy(out, path, n);
        memcpy(out + n, "-log.db", sizeof "-log.db");
    }
    return out;
}

struct store *store_sqlite_open(const char *path, struct kerr *err)
{
    return store_sqlite_open_with(path, NULL, err);
}

struct store *store_sqlite_open_with(const char *path, const struct store_sqlite_limits *lim,
                                     struct kerr *err)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        kerr_internal(err, "store: out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->wal_max_bytes = lim && lim->wal_max_bytes > 0 ? lim->wal_max_bytes : WAL_MAX_BYTES_DEFAULT;
    const char *rerun = getenv("KASSE_STORE_RERUN");
    s->rerun = rerun && strcmp(rerun, "1") == 0;
    s->log_max_bytes = lim && lim->log_max_bytes > 0 ? lim->log_max_bytes : LOG_MAX_BYTES_DEFAULT;
    s->generation = __atomic_fetch_add(&next_generation, 1, __ATOMIC_RELAXED);
    sqlite3_soft_heap_limit64(STORE_SQLITE_HEAP_SOFT_LIMIT);   /* process-wide */
    pthread_mutex_init(&s->mu, NULL);
    pthread_rwlockattr_t gate;
    pthread_rwlockattr_init(&gate);
    /* A waiting RESTART holds new reads back, or a stream of overlapping reads could keep it
     * waiting for ever. */
    pthread_rwlockattr_setkind_np(&gate, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->read_gate, &gate);
    pthread_rwlockattr_destroy(&gate);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->log_work, NULL);
    pthread_cond_init(&s->log_done, NULL);
    s->path = strdup(path);
    s->log_path = log_path_for(path);
    if (!s->path || !s->log_path || !(s->writer = conn_open(path, MAIN_PRAGMAS)) ||
        migrate(s->writer->db) != 0 || exec_sql(s->writer->db, WRITER_PRAGMAS) != 0 ||
        wal_bound_init(s->writer, "main", s->wal_max_bytes) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot open store %s", path);
        sq_close(&s->base);
        return NULL;
    }
    log_convert(s->log_path, s->log_max_bytes);
    if (!(s->logger = conn_open(s->log_path, LOG_PRAGMAS)) ||
        exec_sql(s->logger->db, log_schema) != 0 ||
        wal_bound_init(s->logger, "request log",
                       s->log_max_bytes / 4 < s->wal_max_bytes ? s->log_max_bytes / 4
                                                               : s->wal_max_bytes) != 0 ||
        pthread_create(&s->logger_thread, NULL, logger_main, s) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot open the request log %s",
                 s->log_path);
        sq_close(&s->base);
        return NULL;
    }
    s->logger_started = 1;
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot start the store writer");
        sq_close(&s->base);
        return NULL;
    }
    s->writer_started = 1;
    return &s->base;
}

void store_sqlite_stats(struct store *base, struct store_sqlite_stats *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    const struct store_sqlite_stats *st = &s->stats;
    out->checkpoints = __atomic_load_n(&st->checkpoints, __ATOMIC_RELAXED);
    out->restarts = __atomic_load_n(&st->restarts, __ATOMIC_RELAXED);
    out->restarts_busy = __atomic_load_n(&st->restarts_busy, __ATOMIC_RELAXED);
    out->reads_held_max_ms = __atomic_load_n(&st->reads_held_max_ms, __ATOMIC_RELAXED);
    out->disk_refused = __atomic_load_n(&st->disk_refused, __ATOMIC_RELAXED);
    out->log_pruned_size = __atomic_load_n(&st->log_pruned_size, __ATOMIC_RELAXED);
    out->log_pruned_age = __atomic_load_n(&st->log_pruned_age, __ATOMIC_RELAXED);
    out->log_dropped = __atomic_load_n(&st->log_dropped, __ATOMIC_RELAXED);
}

static const struct store_ops sqlite_ops = {
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
};
