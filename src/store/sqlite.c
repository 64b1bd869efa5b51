/* store/sqlite: the embedded SQLite backend of the store interface (store.h).
 *
 * Four files share one private header (sqlite_int.h):
 *  - sqlite.c (this file): open and close, connections and the statement table, reads,
 *    migrations, stats and memory;
 *  - sqlite_writer.c: the group-commit writer thread (every store_write), the WAL bound, a
 *    full disk;
 *  - sqlite_log.c: the request log (its own file) and the logger thread;
 *  - sqlite_rows.c: every resource op (rows to and from statements, the order list) and the
 *    ops table.
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
 * them, however many connections there are. store_sqlite_mem() reports what they hold. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "store/sqlite_int.h"
#include "store/store.h"
#include "schema_sqlite.h"

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
    /* The request log: a view over its segments (sqlite_log.c). */
    [ST_LOG_GET] = "SELECT correlation_id, merchant_id, method, path, status, at, duration_us, "
                   "request_body, response_body, segment, body_at, request_len, response_len "
                   "FROM logs.request_log WHERE correlation_id = ?1 AND merchant_id = ?2",
    /* The log's content in bytes: pages in use (not on the freelist) times the page size, read
     * from the file header, so it is exact and cheap and needs no dbstat. */
    [ST_LOG_USED] = "SELECT (p.page_count - f.freelist_count) * s.page_size, "
                    "f.freelist_count * s.page_size FROM pragma_page_count() AS p, "
                    "pragma_freelist_count() AS f, pragma_page_size() AS s",
    [ST_LOG_STATE_GET] = "SELECT segment, segment_bytes FROM request_log_state",
    [ST_LOG_STATE_SET] = "UPDATE request_log_state SET segment = ?1, segment_bytes = ?2",
#define LOG_INSERT_SQL(k) "INSERT OR IGNORE INTO request_log_" #k "(correlation_id, merchant_id, " \
                          "method, path, status, at, duration_us, body_at, request_len, " \
                          "response_len) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    [ST_LOG_INSERT0] = LOG_INSERT_SQL(0),
    [ST_LOG_INSERT1] = LOG_INSERT_SQL(1),
    [ST_LOG_INSERT2] = LOG_INSERT_SQL(2),
    [ST_LOG_INSERT3] = LOG_INSERT_SQL(3),
    /* No WHERE: SQLite empties the table and its indexes page by page (its truncate
     * optimization), without visiting rows. */
    [ST_LOG_CLEAR0] = "DELETE FROM request_log_0",
    [ST_LOG_CLEAR1] = "DELETE FROM request_log_1",
    [ST_LOG_CLEAR2] = "DELETE FROM request_log_2",
    [ST_LOG_CLEAR3] = "DELETE FROM request_log_3",
    [ST_LOG_PRUNE0] = "DELETE FROM request_log_0 WHERE at < ?1",
    [ST_LOG_PRUNE1] = "DELETE FROM request_log_1 WHERE at < ?1",
    [ST_LOG_PRUNE2] = "DELETE FROM request_log_2 WHERE at < ?1",
    [ST_LOG_PRUNE3] = "DELETE FROM request_log_3 WHERE at < ?1",
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
                          "duration_ms, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM outbox WHERE merchant_id = ?1 "
                       "AND (?2 = '' OR session_id = ?2) AND (?3 = '' OR order_id = ?3) "
                       "ORDER BY id LIMIT ?4",
    [ST_OUTBOX_ATTEMPTS] = "SELECT at, http_status, error, duration_ms, response FROM outbox_attempts "
                           "WHERE event_id = ?1 ORDER BY id LIMIT ?2",
    /* The portal's callback list: ?2 is the cursor (INT64_MAX for the first page); one range of
     * outbox_merchant. */
    [ST_OUTBOX_PAGE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE merchant_id = ?1 AND id < ?2 "
                       "ORDER BY id DESC LIMIT ?3",
    [ST_OUTBOX_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?1 AND merchant_id = ?2",
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
    /* The portal's HPP list: ?2 the cursor (above every id for the first page). */
    [ST_HPP_PAGE] = "SELECT " HPP_COLS " FROM hpp_sessions WHERE merchant_id = ?1 AND id < ?2 "
                    "ORDER BY id DESC LIMIT ?3",
#undef HPP_COLS
    [ST_MESSAGE_ADD] = "INSERT INTO messages(merchant_id, hpp_session_id, body, created_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
    [ST_MESSAGE_LIST] = "SELECT id, merchant_id, hpp_session_id, body, created_at FROM messages "
                        "WHERE merchant_id = ?1 AND (?2 = '' OR hpp_session_id = ?2) "
                        "ORDER BY id LIMIT ?3",
    /* The merchant portal (store.h). */
    [ST_PORTAL_PUT] = "INSERT INTO portal_sessions(id_hash, merchant_id, csrf, created_at, "
                      "expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PORTAL_GET] = "SELECT id_hash, merchant_id, csrf, created_at, expires_at "
                      "FROM portal_sessions WHERE id_hash = ?1 AND expires_at > ?2",
    [ST_PORTAL_DELETE] = "DELETE FROM portal_sessions WHERE id_hash = ?1",
    [ST_PORTAL_PRUNE] = "DELETE FROM portal_sessions WHERE expires_at < ?1",
    /* ?2 the cursor (above every id for the first page): one range of sessions_merchant. */
    [ST_SESSION_PAGE] = "SELECT id, merchant_id, status, created_at, updated_at, expires_at, "
                        "client_token, body FROM sessions WHERE merchant_id = ?1 AND id < ?2 "
                        "ORDER BY id DESC LIMIT ?3",
    /* Latest first, strictly before the cursor (?2, ?3): one range of each segment's
     * request_log_<k>_merchant, merged (sqlite_log.c). The bodies are not read. */
    [ST_LOG_PAGE] = "SELECT correlation_id, merchant_id, method, path, status, at, duration_us "
                    "FROM logs.request_log WHERE merchant_id = ?1 AND "
                    "(at, correlation_id) < (?2, ?3) "
                    "ORDER BY at DESC, correlation_id DESC LIMIT ?4",
    /* The newest ?3 matches of each reference (one range of orders_reference1 and of
     * orders_reference2, read in order), merged; an order matching on both counts once. */
    [ST_ORDER_BY_REF] = "SELECT id FROM ("
                        "SELECT id, created_at FROM (SELECT id, created_at FROM orders "
                        "WHERE merchant_id = ?1 AND "
                        "json_extract(body, '$.merchant_reference1') = ?2 "
                        "ORDER BY created_at DESC, id DESC LIMIT ?3) "
                        "UNION "
                        "SELECT id, created_at FROM (SELECT id, created_at FROM orders "
                        "WHERE merchant_id = ?1 AND "
                        "json_extract(body, '$.merchant_reference2') = ?2 "
                        "ORDER BY created_at DESC, id DESC LIMIT ?3)) "
                        "ORDER BY created_at DESC, id DESC LIMIT ?3",
};

static uint64_t next_generation = 1;
static _Thread_local struct conn *tl_conn;
static _Thread_local uint64_t tl_generation;

/* ---- connections and statements ---- */

sqlite3_stmt *sq_stmt(struct conn *c, enum stmt_id id)
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
int sq_step_rc(struct conn *c, enum stmt_id id, bool quiet)
{
    sqlite3_stmt *st = sq_stmt(c, id);
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
int sq_exec_stmt(struct conn *c, enum stmt_id id)
{
    return sq_step_rc(c, id, false) == SQLITE_DONE ? 0 : -1;
}

int sq_exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("sqlite: %s (%s)", msg ? msg : sqlite3_errmsg(db), sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int sq_finish(struct conn *c, sqlite3_stmt *st, int rc)
{
    (void)c;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_step_done(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        log_error("sqlite: %s", sqlite3_errmsg(c->db));
    return sq_finish(c, st, rc == SQLITE_DONE ? 0 : -1);
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
    if (sq_exec_sql(c->db, pragmas) != 0) {
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
 * INCREMENTAL lets the log give pages back to the file system (log_give_back). */
#define LOG_PRAGMAS "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; " \
                    "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY"
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
/* After ATTACH: a read connection's caches (negative cache_size = KiB) and no mmap. */
#define READER_PRAGMAS "PRAGMA main.cache_size=-" STRINGIFY(STORE_READER_CACHE_KIB) "; " \
                       "PRAGMA logs.cache_size=-" STRINGIFY(STORE_READER_LOG_CACHE_KIB) "; " \
                       "PRAGMA mmap_size=0"

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

    const char *pos = schema_sqlite_sql, *q;
    int n;
    size_t len;
    while (store_schema_next(&pos, &n, &q, &len)) {
        if (n > version) {
            char *sql = malloc(len + 64);
            if (!sql)
                return -1;
            memcpy(sql, q, len);
            snprintf(sql + len, 64, ";\nPRAGMA user_version = %d;", n);
            int rc = sq_exec_sql(db, "BEGIN IMMEDIATE");
            if (rc == 0)
                rc = sq_exec_sql(db, sql);
            if (rc == 0)
                rc = sq_exec_sql(db, "COMMIT");
            else
                sq_exec_sql(db, "ROLLBACK");
            free(sql);
            if (rc != 0)
                return -1;
            log_info("store: applied migration %d", n);
        }
    }
    return 0;
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
    if (sq_exec_sql(c->db, READER_PRAGMAS) != 0) {
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

int sq_read(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = reader(s);
    if (!c)
        return kerr_internal(err, "store: cannot open read connection");
    pthread_rwlock_rdlock(&s->read_gate);
    if (sq_exec_stmt(c, ST_BEGIN) != 0) {
        pthread_rwlock_unlock(&s->read_gate);
        return kerr_internal(err, "store: cannot begin read transaction");
    }
    int rc = fn(&c->tx, arg, err);
    if (sq_exec_stmt(c, ST_COMMIT) != 0)
        sq_exec_stmt(c, ST_ROLLBACK);
    pthread_rwlock_unlock(&s->read_gate);
    return rc;
}

int sq_ping(struct store *base, struct kerr *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = reader(s);
    if (!c || sq_exec_sql(c->db, "SELECT count(*) FROM meta") != 0)
        return kerr_unavailable(err, STORE_RETRY_AFTER_S, "the database does not answer");
    return 0;
}

/* ---- lifecycle ---- */

void sq_close(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    log_queue_stop(&s->log);
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
                 (unsigned long long)(st->log_dropped + s->log.dropped));
    }
    log_queue_destroy(&s->log);
    sq_log_close_bodies(s);
    conn_close(s->logger);
    for (struct conn *c = s->readers, *next; c; c = next) {
        next = c->next_all;
        conn_close(c);
    }
    conn_close(s->writer);
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->read_gate);
    pthread_cond_destroy(&s->work);
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
    log_queue_init(&s->log, LOG_QUEUE_MAX_BYTES, LOG_BATCH_ROWS);
    for (int k = 0; k < LOG_SEGMENTS; k++)
        s->log_body_fd[k] = -1;
    s->path = strdup(path);
    s->log_path = log_path_for(path);
    if (!s->path || !s->log_path || !(s->writer = conn_open(path, MAIN_PRAGMAS)) ||
        migrate(s->writer->db) != 0 || sq_exec_sql(s->writer->db, WRITER_PRAGMAS) != 0 ||
        sq_wal_bound_init(s->writer, "main", s->wal_max_bytes) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot open store %s", path);
        sq_close(&s->base);
        return NULL;
    }
    sq_log_convert(s->log_path, s->log_max_bytes);
    if (!(s->logger = conn_open(s->log_path, LOG_PRAGMAS)) ||
        sq_log_schema(s->logger->db) != 0 || sq_log_open_bodies(s) != 0 ||
        sq_wal_bound_init(s->logger, "request log",
                          s->log_max_bytes / 4 < s->wal_max_bytes ? s->log_max_bytes / 4
                                                                  : s->wal_max_bytes) != 0 ||
        pthread_create(&s->logger_thread, NULL, sq_logger_main, s) != 0) {
        kerr_set(err, 500, "INTERNAL_SERVER_ERROR", "cannot open the request log %s",
                 s->log_path);
        sq_close(&s->base);
        return NULL;
    }
    s->logger_started = 1;
    log_queue_open(&s->log);
    if (pthread_create(&s->writer_thread, NULL, sq_writer_main, s) != 0) {
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
    out->log_dropped = __atomic_load_n(&st->log_dropped, __ATOMIC_RELAXED) +
                       __atomic_load_n(&s->log.dropped, __ATOMIC_RELAXED);
}
