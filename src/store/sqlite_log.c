/* store/sqlite_log: the SQLite backend's request log (sqlite.c lists the backend's files).
 *
 * Request-log rows are diagnostics, not money: they live in their own database file beside the
 * main one (kasse.db → kasse-log.db, synchronous=NORMAL), queued without waiting and written in
 * batches by a logger thread with its own connection, so they never lengthen the commit path of
 * the writes merchants wait for. Read connections ATTACH that file as "logs".
 *
 * Disk (issue 9, item 11). The request log is bounded by size (log_max_bytes, pruned oldest
 * first inside the batch transaction) as well as by age, and its queue by bytes; its WAL as the
 * main one is (sq_wal_bound, sqlite_writer.c). Log rows the disk refuses are dropped. */
#include <pthread.h>
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
#include "store/sqlite_int.h"
#include "store/store.h"

#define LOG_BATCH_MS 50
#define LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)   /* request logs are kept 30 days */
#define LOG_PRUNE_EVERY 4096                          /* rows written between age prunes */
#define LOG_PRUNE_TARGET_PCT 90        /* a size prune goes down to 90% of the bound */
#define LOG_BATCH_BYTES (1024 * 1024)  /* a batch is at most this much (and 1/8 of the bound) */
#define LOG_FREE_SLACK_PCT 25          /* free pages beyond 25% of the bound are given back */

/* The request-log database's schema (its own file; see the top of this file). */
const char sq_log_schema[] =
    "CREATE TABLE IF NOT EXISTS request_log ("
    " correlation_id TEXT PRIMARY KEY, merchant_id INTEGER, method TEXT NOT NULL,"
    " path TEXT NOT NULL, status INTEGER NOT NULL, at INTEGER NOT NULL,"
    " duration_us INTEGER NOT NULL, request_body TEXT, response_body TEXT) STRICT;"
    "CREATE INDEX IF NOT EXISTS request_log_at ON request_log(at);"
    /* The merchant's log, latest first (reqlog_page, the merchant portal). */
    "CREATE INDEX IF NOT EXISTS request_log_merchant ON request_log(merchant_id, at,"
    " correlation_id);";

/* ---- the logger thread ---- */

static int log_insert(struct conn *c, const struct reqlog_row *r)
{
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_INSERT);
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
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_USED);
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
        sqlite3_stmt *st = sq_stmt(c, ST_LOG_COUNT);
        if (!st)
            return;
        int64_t rows = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rows <= 0)
            return;
        int64_t per_row = used / rows > 0 ? used / rows : 1;
        int64_t n = ((used - target) / per_row + 1) << round;   /* more each round */
        st = sq_stmt(c, ST_LOG_DROP_OLDEST);
        if (!st)
            return;
        sqlite3_bind_int64(st, 1, n);
        if (sq_step_done(c, st) != 0)
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
    sq_exec_sql(c->db, sql);
}

/* Writes one batch in one transaction and prunes the log back within its bound before the
 * COMMIT; frees the rows. Rows that cannot be written (a full disk) are dropped and counted: the log
 * is diagnostics and must never be what fills the disk or makes requests wait. */
static void log_write_batch(struct sqlite_store *s, struct log_node *batch, int64_t *newest_at,
                            uint64_t *since_prune)
{
    struct conn *c = s->logger;
    uint64_t written = 0, failed = 0;
    int rc = sq_step_rc(c, ST_BEGIN_IMMEDIATE, true);
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
    }
    if (open) {
        /* Retention: rows older than 30 days (on the clock they were logged with) go. */
        *since_prune += written;
        if (*since_prune >= LOG_PRUNE_EVERY && *newest_at > LOG_RETENTION_MS) {
            *since_prune = 0;
            sqlite3_stmt *st = sq_stmt(c, ST_LOG_PRUNE);
            if (st) {
                sqlite3_bind_int64(st, 1, *newest_at - LOG_RETENTION_MS);
                if (sq_step_done(c, st) == 0)
                    STAT_ADD(s, log_pruned_age, (uint64_t)sqlite3_changes(c->db));
            }
        }
        log_prune_size(s);
        int crc = sq_step_rc(c, ST_COMMIT, true);
        if (crc != SQLITE_DONE) {
            rc = crc;
            if (!sqlite3_get_autocommit(c->db))
                sq_exec_stmt(c, ST_ROLLBACK);
            failed += written;
            written = 0;
        }
    } else if (!sqlite3_get_autocommit(c->db)) {
        sq_exec_stmt(c, ST_ROLLBACK);
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
}

void *sq_logger_main(void *arg)
{
    struct sqlite_store *s = arg;
    uint64_t since_prune = 0, n;
    int64_t newest_at = 0;
    /* A batch is at most about cap bytes, so it adds little to the log and its WAL before they
     * are bounded again. */
    int64_t cap = s->log_max_bytes / 8 < LOG_BATCH_BYTES ? s->log_max_bytes / 8 : LOG_BATCH_BYTES;
    struct log_node *batch;
    while ((batch = log_queue_take(&s->log, cap, LOG_BATCH_MS, &n))) {
        log_write_batch(s, batch, &newest_at, &since_prune);
        sq_wal_bound(s, s->logger);
        log_queue_done(&s->log, n);
    }
    return NULL;
}

/* Waits until every log row queued before the call is written (and so readable). */
int sq_flush(struct store *base, struct kerr *err)
{
    (void)err;
    log_queue_flush(&((struct sqlite_store *)base)->log);
    return 0;
}

void sq_log_async(struct store *base, struct reqlog_row *row)
{
    log_queue_push(&((struct sqlite_store *)base)->log, row);
}

/* A request log made before the size bound has auto_vacuum off, so it could never shrink (issue
 * 9 measured 240 MB). At open, before anything else uses it, its newest rows (about
 * LOG_PRUNE_TARGET_PCT of the bound, estimated from the average row) are copied into a new file
 * made the current way, which replaces it. The old file is only read, so this needs at most the
 * bound in free space; if anything fails, the old file stays (its content is still bounded from
 * now on, its size not). */
void sq_log_convert(const char *log_path, int64_t max_bytes)
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
             sq_exec_sql(fresh, "PRAGMA auto_vacuum=INCREMENTAL") == 0 &&
             sq_exec_sql(fresh, sq_log_schema) == 0;
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
