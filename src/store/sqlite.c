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
 * the writes merchants wait for. Read connections ATTACH that file as "logs". */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "store/store.h"
#include "schema_sqlite.h"

enum stmt_id {
    ST_BEGIN, ST_BEGIN_IMMEDIATE, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_META_GET, ST_META_PUT,
    ST_MERCHANT_BY_USER, ST_MERCHANT_INSERT, ST_MERCHANT_SET_SECRET, ST_MERCHANT_COUNT,
    ST_SESSION_GET, ST_SESSION_GET_ANY, ST_SESSION_INSERT, ST_SESSION_UPDATE, ST_MERCHANT_BY_ID,
    ST_LOG_INSERT, ST_LOG_GET, ST_LOG_PRUNE, ST_IDEM_PRUNE,
    ST_IDEM_GET, ST_IDEM_PUT,
    ST_AUTH_INSERT, ST_AUTH_GET, ST_AUTH_LATEST, ST_AUTH_SET_STATE, ST_AUTH_SET_STATE_BODY,
    ST_AUTH_SUPERSEDE,
    ST_ORDER_INSERT, ST_ORDER_GET, ST_ORDER_GET_ANY, ST_ORDER_UPDATE, ST_ORDER_LIST,
    ST_CTOKEN_INSERT, ST_CTOKEN_GET, ST_CTOKEN_SET_STATUS,
    ST_OUTBOX_ADD, ST_OUTBOX_DUE, ST_OUTBOX_RECORD, ST_OUTBOX_ATTEMPT, ST_OUTBOX_LIST,
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
    [ST_IDEM_PRUNE] = "DELETE FROM idempotency WHERE created_at < ?1",
    [ST_IDEM_GET] = "SELECT merchant_id, key, created_at, method, path, status, headers, body, "
                    "request_hash "
                    "FROM idempotency WHERE merchant_id = ?1 AND key = ?2 AND created_at >= ?3",
    [ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency(merchant_id, key, created_at, method, "
                    "path, status, headers, body, request_hash) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
    [ST_ORDER_INSERT] = "INSERT INTO orders(id, merchant_id, session_id, status, fraud_status, "
                        "order_amount, captured_amount, refunded_amount, created_at, expires_at, "
                        "body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_ORDER_GET] = "SELECT id, merchant_id, session_id, status, fraud_status, order_amount, "
                     "captured_amount, refunded_amount, created_at, expires_at, body FROM orders "
                     "WHERE id = ?1 AND merchant_id = ?2",
    [ST_ORDER_GET_ANY] = "SELECT id, merchant_id, session_id, status, fraud_status, "
                         "order_amount, captured_amount, refunded_amount, created_at, "
                         "expires_at, body FROM orders WHERE id = ?1",
    [ST_ORDER_UPDATE] = "UPDATE orders SET status = ?3, fraud_status = ?4, order_amount = ?5, "
                        "captured_amount = ?6, refunded_amount = ?7, expires_at = ?8, body = ?9 "
                        "WHERE id = ?1 AND merchant_id = ?2",
    [ST_ORDER_LIST] = "SELECT id, merchant_id, session_id, status, fraud_status, order_amount, "
                      "captured_amount, refunded_amount, created_at, expires_at, body FROM orders "
                      "WHERE merchant_id = ?1 AND created_at >= ?2 AND created_at < ?3 "
                      "ORDER BY created_at DESC, id DESC LIMIT ?4",
    [ST_CTOKEN_INSERT] = "INSERT INTO customer_tokens(id, merchant_id, status, created_at, body) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CTOKEN_GET] = "SELECT id, merchant_id, status, created_at, body FROM customer_tokens "
                      "WHERE id = ?1 AND merchant_id = ?2",
    [ST_CTOKEN_SET_STATUS] = "UPDATE customer_tokens SET status = ?3 WHERE id = ?1 AND "
                             "merchant_id = ?2",
    [ST_OUTBOX_ADD] = "INSERT INTO outbox(merchant_id, kind, session_id, order_id, url, body, "
                      "created_at, due_at, attempts, status) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 'pending')",
    [ST_OUTBOX_DUE] = "SELECT id, merchant_id, kind, session_id, order_id, url, body, "
                      "created_at, due_at, attempts, status FROM outbox "
                      "WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
    [ST_OUTBOX_RECORD] = "UPDATE outbox SET attempts = attempts + ?2, status = ?3, due_at = ?4 "
                         "WHERE id = ?1",
    [ST_OUTBOX_ATTEMPT] = "INSERT INTO outbox_attempts(event_id, at, http_status, error, "
                          "duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_OUTBOX_LIST] = "SELECT id, merchant_id, kind, session_id, order_id, url, body, "
                       "created_at, due_at, attempts, status FROM outbox WHERE merchant_id = ?1 "
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
};

struct job {
    store_tx_fn fn;
    void *arg;
    struct kerr *err;
    int rc;
    sem_t done;                  /* posted by the writer once the batch is durable */
    struct job *next;
};

#define LOG_BATCH_ROWS 512
#define LOG_BATCH_MS 50
#define LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)   /* request logs are kept 30 days */
#define LOG_PRUNE_EVERY 4096                          /* rows written between prunes */

struct log_node {
    struct reqlog_row row;       /* owned */
    struct log_node *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    char *log_path;
    struct conn *logger;
    pthread_t logger_thread;
    int logger_started;
    pthread_cond_t log_work;     /* rows queued or stopping */
    pthread_cond_t log_done;     /* a log batch was written */
    struct log_node *log_head, *log_tail;
    uint64_t log_queued, log_written;   /* under mu */
    int log_urgent;              /* a flush waits: write now */
    uint64_t generation;         /* tells this store's thread-local read connections apart */
    struct conn *writer;
    pthread_t writer_thread;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t work;         /* jobs queued or stopping */
    struct job *head, *tail;
    int stopping;
    struct conn *readers;        /* list of read connections (under mu) */
};

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

/* Runs a statement that returns no rows; 0 or -1. */
static int exec_stmt(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("sqlite %s: %s", stmt_sql[id], sqlite3_errmsg(c->db));
        return -1;
    }
    return 0;
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
    sqlite3_busy_timeout(c->db, 5000);
    if (exec_sql(c->db, pragmas) != 0) {
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

#define MAIN_PRAGMAS "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " \
                     "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY"
#define LOG_PRAGMAS "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY"
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

/* ---- the writer thread (group commit) ---- */

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

static void run_batch(struct sqlite_store *s, struct job *batch)
{
    struct conn *c = s->writer;
    int began = exec_stmt(c, ST_BEGIN_IMMEDIATE) == 0;
    for (struct job *j = batch; j; j = j->next) {
        if (!began) {
            j->rc = kerr_internal(j->err, "store: cannot begin write transaction");
            continue;
        }
        if (exec_stmt(c, ST_SAVEPOINT) != 0) {
            j->rc = kerr_internal(j->err, "store: savepoint");
            continue;
        }
        j->rc = j->fn(&c->tx, j->arg, j->err);
        if (j->rc != 0)
            exec_stmt(c, ST_ROLLBACK_TO);
        exec_stmt(c, ST_RELEASE);
    }
    if (began && exec_stmt(c, ST_COMMIT) != 0) {
        exec_stmt(c, ST_ROLLBACK);
        for (struct job *j = batch; j; j = j->next)
            if (j->rc == 0)
                j->rc = kerr_internal(j->err, "store: commit failed");
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
        return kerr_set(err, 503, "SERVICE_UNAVAILABLE", "Kasse is shutting down");
    }
    enqueue_locked(s, &j);
    pthread_mutex_unlock(&s->mu);
    while (sem_wait(&j.done) != 0)
        ;                        /* EINTR */
    sem_destroy(&j.done);
    return j.rc;
}

static int step_done(struct conn *c, sqlite3_stmt *st);

/* ---- the logger thread ---- */

static void *logger_main(void *arg)
{
    struct sqlite_store *s = arg;
    struct conn *c = s->logger;
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
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += LOG_BATCH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->stopping && !s->log_urgent &&
               s->log_queued - s->log_written < LOG_BATCH_ROWS &&
               pthread_cond_timedwait(&s->log_work, &s->mu, &until) == 0)
            ;
        s->log_urgent = 0;
        struct log_node *batch = s->log_head;
        s->log_head = s->log_tail = NULL;
        pthread_mutex_unlock(&s->mu);

        uint64_t n = 0;
        int began = exec_stmt(c, ST_BEGIN_IMMEDIATE) == 0;
        for (struct log_node *l = batch, *next; l; l = next) {
            next = l->next;
            if (l->row.at_ms > newest_at)
                newest_at = l->row.at_ms;
            if (began && log_insert(c, &l->row) != 0)
                log_error("store: request log row not written: %s", sqlite3_errmsg(c->db));
            reqlog_row_free(&l->row);
            free(l);
            n++;
        }
        if (began && exec_stmt(c, ST_COMMIT) != 0)
            exec_stmt(c, ST_ROLLBACK);
        /* Retention: rows older than 30 days (on the clock they were logged with) go. */
        since_prune += n;
        if (since_prune >= LOG_PRUNE_EVERY && newest_at > LOG_RETENTION_MS) {
            since_prune = 0;
            sqlite3_stmt *st = stmt(c, ST_LOG_PRUNE);
            if (st) {
                sqlite3_bind_int64(st, 1, newest_at - LOG_RETENTION_MS);
                step_done(c, st);
            }
        }

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
    pthread_mutex_lock(&s->mu);
    if (!l || s->stopping || !s->logger_started) {
        pthread_mutex_unlock(&s->mu);
        free(l);
        reqlog_row_free(row);
        return;
    }
    l->row = *row;               /* takes ownership of the strings */
    l->next = NULL;
    if (s->log_tail)
        s->log_tail->next = l;
    else
        s->log_head = l;
    s->log_tail = l;
    s->log_queued++;
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
    if (exec_stmt(c, ST_BEGIN) != 0)
        return kerr_internal(err, "store: cannot begin read transaction");
    int rc = fn(&c->tx, arg, err);
    if (exec_stmt(c, ST_COMMIT) != 0)
        exec_stmt(c, ST_ROLLBACK);
    return rc;
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
    return strdup((const char *)t);
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

static int sq_idem_put(struct store_tx *tx, const struct idem_row *r)
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
    return step_done(c, st);
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

static void bind_order(sqlite3_stmt *st, const struct order_row *r)
{
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->merchant_id);
}

static int sq_order_insert(struct store_tx *tx, const struct order_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_ORDER_INSERT);
    if (!st)
        return -1;
    bind_order(st, r);
    sqlite3_bind_text(st, 3, r->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->fraud_status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->order_amount);
    sqlite3_bind_int64(st, 7, r->captured_amount);
    sqlite3_bind_int64(st, 8, r->refunded_amount);
    sqlite3_bind_int64(st, 9, r->created_at);
    sqlite3_bind_int64(st, 10, r->expires_at);
    sqlite3_bind_text(st, 11, r->body, -1, SQLITE_STATIC);
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
}

static int sq_order_list(struct store_tx *tx, int64_t merchant_id, int64_t from, int64_t to,
                         struct order_row *rows, size_t cap, size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_ORDER_LIST);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, merchant_id);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)cap);
    *n = 0;
    while (*n < cap && sqlite3_step(st) == SQLITE_ROW) {
        read_order(st, &rows[*n]);
        if (!rows[(*n)++].body) {
            for (size_t i = 0; i < *n; i++)
                order_row_free(&rows[i]);
            *n = 0;
            return finish(c, st, -1);
        }
    }
    return finish(c, st, 0);
}

static int sq_order_update(struct store_tx *tx, const struct order_row *r)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_ORDER_UPDATE);
    if (!st)
        return -1;
    bind_order(st, r);
    sqlite3_bind_text(st, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->fraud_status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->order_amount);
    sqlite3_bind_int64(st, 6, r->captured_amount);
    sqlite3_bind_int64(st, 7, r->refunded_amount);
    sqlite3_bind_int64(st, 8, r->expires_at);
    sqlite3_bind_text(st, 9, r->body, -1, SQLITE_STATIC);
    return step_one_change(c, st);
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
    int rc = step_done(c, st);
    if (rc == 0)
        r->id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

/* Reads outbox rows from a prepared SELECT of the eleven outbox columns. */
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

static int sq_outbox_due(struct store_tx *tx, int64_t now, struct outbox_row *rows, size_t cap,
                         size_t *n)
{
    struct conn *c = as_conn(tx);
    sqlite3_stmt *st = stmt(c, ST_OUTBOX_DUE);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
    return read_outbox_rows(c, st, rows, cap, n);
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
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->log_work);
    pthread_cond_destroy(&s->log_done);
    free(s->path);
    free(s->log_path);
    free(s);
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
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        kerr_internal(err, "store: out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->generation = __atomic_fetch_add(&next_generation, 1, __ATOMIC_RELAXED);
    sqlite3_soft_heap_limit64(STORE_SQLITE_HEAP_SOFT_LIMIT);   /* process-wide */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->log_work, NULL);
    pthread_cond_init(&s->log_done, NULL);
    s->path = strdup(path);
    s->log_path = log_path_for(path);
    if (!s->path || !s->log_path || !(s->writer = conn_open(path, MAIN_PRAGMAS)) ||
        migrate(s->writer->db) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot open store %s", path);
        sq_close(&s->base);
        return NULL;
    }
    if (!(s->logger = conn_open(s->log_path, LOG_PRAGMAS)) ||
        exec_sql(s->logger->db, log_schema) != 0 ||
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

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .write = sq_write,
    .read = sq_read,
    .log_async = sq_log_async,
    .flush = sq_flush,
    .close = sq_close,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
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
    .order_list = sq_order_list,
    .ctoken_insert = sq_ctoken_insert,
    .ctoken_get = sq_ctoken_get,
    .ctoken_set_status = sq_ctoken_set_status,
    .outbox_add = sq_outbox_add,
    .outbox_due = sq_outbox_due,
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
