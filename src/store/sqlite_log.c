/* store/sqlite_log: the SQLite backend's request log (sqlite.c lists the backend's files).
 *
 * Request-log rows are diagnostics, not money: they live in their own database file beside the
 * main one (kasse.db → kasse-log.db, synchronous=NORMAL), queued without waiting and written in
 * batches by a logger thread with its own connection, so they never lengthen the commit path of
 * the writes merchants wait for. Read connections ATTACH that file as "logs".
 *
 * Disk (issue 9, item 11). The request log is bounded by size (log_max_bytes) as well as by age,
 * and its queue by bytes; its WAL as the main one is (sq_wal_bound, sqlite_writer.c). Log rows
 * the disk refuses are dropped.
 *
 * Segments and body files (issue 12). Written into SQLite, a row's bodies (a session read's
 * reply is ~2 KB) cost the logger four page writes each (the WAL, then the checkpoint's read,
 * write and fsync), and the log took ~40 % of the server's one core under reads (36,000 req/s
 * without it, 22,000 with it). So the bodies go to plain files, written once: each batch's
 * bodies are one pwrite at the end of the current segment's file (kasse-log.db-body<k>), never
 * fsynced (diagnostics: after a power cut a row may find its record gone; it then reads with
 * empty bodies), appended where the file ends under the log's write lock (log_body_size),
 * and SQLite keeps only the row's small columns, its record's offset and the two lengths. A
 * record starts with LOG_BODY_MAGIC and the correlation id, so a reader can tell it has the right
 * one. The log is LOG_SEGMENTS tables, request_log_0..3, each with its body file, used in turn;
 * the view request_log (segment, columns) is what readers query (SQLite pushes a WHERE into each
 * segment and merges their index ranges for ORDER BY ... LIMIT). Rows go into the current
 * segment; once it holds a segment's share of the bound (pages in use plus body bytes, kept in
 * request_log_state with the segment's number), or the whole log is over the bound, the oldest
 * segment is emptied (DELETE without WHERE: SQLite frees its pages without visiting rows; its
 * body file is cut to nothing) and becomes the current one. So the log keeps between 3/4 of the
 * bound and the bound, oldest rows first out, and staying within it costs a page walk per quarter
 * of the bound instead of a delete per row in the table and its three indexes. Rows written
 * before the body files keep their bodies in the table's own columns. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define LOG_BATCH_MS 50
#define LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)   /* request logs are kept 30 days */
#define LOG_PRUNE_EVERY 4096                          /* rows written between age prunes */
#define LOG_BATCH_BYTES (1024 * 1024)  /* a batch is at most this much (and 1/8 of the bound) */
/* Free pages beyond 40% of the bound are given back (an emptied segment leaves a quarter free,
 * which the next rows reuse). */
#define LOG_FREE_SLACK_PCT 40

/* A body record: the magic, the correlation id, the request body, the response body. */
#define LOG_BODY_MAGIC "KLB1"
#define LOG_BODY_HEAD (4 + 36)

/* One segment: a table and its indexes, named after k. */
#define LOG_SEGMENT_SQL(k)                                                                     \
    "CREATE TABLE IF NOT EXISTS request_log_" #k " ("                                          \
    " correlation_id TEXT PRIMARY KEY, merchant_id INTEGER, method TEXT NOT NULL,"             \
    " path TEXT NOT NULL, status INTEGER NOT NULL, at INTEGER NOT NULL,"                       \
    " duration_us INTEGER NOT NULL, request_body TEXT, response_body TEXT,"                    \
    " body_at INTEGER, request_len INTEGER, response_len INTEGER) STRICT;"                     \
    "CREATE INDEX IF NOT EXISTS request_log_" #k "_at ON request_log_" #k "(at);"              \
    /* The merchant's log, latest first (reqlog_page, the merchant portal). */                 \
    "CREATE INDEX IF NOT EXISTS request_log_" #k "_merchant ON request_log_" #k                \
    "(merchant_id, at, correlation_id);"

/* A row as logs before the body files held it (bodies in the table). */
#define LOG_OLD_COLUMNS "correlation_id, merchant_id, method, path, status, at, duration_us, " \
                        "request_body, response_body"

/* The request-log database's schema (its own file; see the top of this file). */
static const char log_segments_sql[] =
    LOG_SEGMENT_SQL(0) LOG_SEGMENT_SQL(1) LOG_SEGMENT_SQL(2) LOG_SEGMENT_SQL(3)
    "CREATE TABLE IF NOT EXISTS request_log_state (only INTEGER PRIMARY KEY CHECK (only = 0),"
    " segment INTEGER NOT NULL, segment_bytes INTEGER NOT NULL) STRICT;"
    "INSERT OR IGNORE INTO request_log_state VALUES (0, 0, 0);";
static const char log_view_sql[] =
    "CREATE VIEW IF NOT EXISTS request_log AS"
    " SELECT 0 AS segment, * FROM request_log_0 UNION ALL"
    " SELECT 1 AS segment, * FROM request_log_1 UNION ALL"
    " SELECT 2 AS segment, * FROM request_log_2 UNION ALL"
    " SELECT 3 AS segment, * FROM request_log_3;";

/* Creates the log's schema on db, or brings one made before the segments to it: the old table
 * request_log's rows move into segment 0, which then counts as full (the next batch starts the
 * next segment). 0 or -1. */
int sq_log_schema(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    bool old_table = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name = "
                                            "'request_log' AND type = 'table'",
                                        -1, &q, NULL) == SQLITE_OK &&
                     sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (!old_table)
        return sq_exec_sql(db, log_segments_sql) == 0 && sq_exec_sql(db, log_view_sql) == 0
                   ? 0 : -1;
    if (sq_exec_sql(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    int rc = sq_exec_sql(db, log_segments_sql) == 0 &&
             sq_exec_sql(db, "INSERT OR IGNORE INTO request_log_0 (" LOG_OLD_COLUMNS ") "
                             "SELECT " LOG_OLD_COLUMNS " FROM request_log ORDER BY at, rowid;"
                             "DROP TABLE request_log;"
                             "UPDATE request_log_state SET segment = 0, segment_bytes = "
                             "(SELECT (p.page_count - f.freelist_count) * s.page_size FROM "
                             "pragma_page_count() AS p, pragma_freelist_count() AS f, "
                             "pragma_page_size() AS s);") == 0 &&
             sq_exec_sql(db, log_view_sql) == 0 && sq_exec_sql(db, "COMMIT") == 0
             ? 0 : -1;
    if (rc != 0) {
        if (!sqlite3_get_autocommit(db))
            sq_exec_sql(db, "ROLLBACK");
        log_error("store: the request log could not be brought to its segments: %s",
                  sqlite3_errmsg(db));
    }
    return rc;
}

/* ---- the logger thread ---- */

/* Where a row's body record is in its segment's file, and the bodies' lengths (-1: NULL). */
struct body_pos {
    int64_t at, request_len, response_len;
};

static int log_insert(struct conn *c, int segment, const struct reqlog_row *r,
                      const struct body_pos *pos)
{
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_INSERT0 + segment);
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
    sqlite3_bind_int64(st, 8, pos->at);
    if (pos->request_len >= 0)       /* NULL stays NULL: no length */
        sqlite3_bind_int64(st, 9, pos->request_len);
    if (pos->response_len >= 0)
        sqlite3_bind_int64(st, 10, pos->response_len);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The two integers of a one-row statement's row (a, and b unless NULL); 0 or -1. */
static int log_row_ints(struct conn *c, enum stmt_id id, int64_t *a, int64_t *b)
{
    sqlite3_stmt *st = sq_stmt(c, id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) {
        *a = sqlite3_column_int64(st, 0);
        if (b)
            *b = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc;
}

/* The log's content and free space in bytes (ST_LOG_USED); 0 or -1. */
static int log_used(struct conn *c, int64_t *used, int64_t *free_bytes)
{
    return log_row_ints(c, ST_LOG_USED, used, free_bytes);
}

/* The current segment and how much it has grown (ST_LOG_STATE_GET); 0 or -1. */
static int log_state(struct conn *c, int *segment, int64_t *bytes)
{
    int64_t k = 0;
    if (log_row_ints(c, ST_LOG_STATE_GET, &k, bytes) != 0)
        return -1;
    *segment = k >= 0 && k < LOG_SEGMENTS ? (int)k : 0;
    return 0;
}

/* A body file's size: where its next record goes. Read from the file, inside the logger's
 * BEGIN IMMEDIATE (the log database's write lock), never kept in memory: another Kasse process
 * on the same files appends under the same lock, and its records must not be overwritten. */
static int64_t log_body_size(const struct sqlite_store *s, int k)
{
    struct stat st;
    return s->log_body_fd[k] >= 0 && fstat(s->log_body_fd[k], &st) == 0 ? (int64_t)st.st_size : 0;
}

/* The body files' bytes (inside the logger's transaction, as above). */
static int64_t log_body_bytes(const struct sqlite_store *s)
{
    int64_t n = 0;
    for (int k = 0; k < LOG_SEGMENTS; k++)
        n += log_body_size(s, k);
    return n;
}

/* Segment k emptied: its rows and its body file, inside the logger's open transaction (under
 * the write lock: no other process appends to the file meanwhile). The file cannot be rolled
 * back: should this batch's COMMIT then fail, the segment keeps its rows, which read with empty
 * bodies (as a record lost to a power cut does). */
static int log_clear(struct sqlite_store *s, int k)
{
    struct conn *c = s->logger;
    sqlite3_stmt *st = sq_stmt(c, ST_LOG_CLEAR0 + k);
    if (!st || sq_step_done(c, st) != 0)
        return -1;
    STAT_ADD(s, log_pruned_size, (uint64_t)sqlite3_changes(c->db));
    if (s->log_body_fd[k] >= 0)
        (void)!ftruncate(s->log_body_fd[k], 0);   /* failing, the next records go after */
    return 0;
}

/* Keeps the log's content (pages in use and body bytes) within log_max_bytes, inside the
 * logger's open transaction (so the content is within the bound at every commit): once the
 * current segment has grown by its share of the bound, or the log is over the bound, the oldest
 * segment (the next one round) is emptied and becomes the current one; over the bound still (a
 * bound lowered since the last start, a log brought over from before the segments), the next
 * oldest too, never the segment just written. */
static void log_rotate(struct sqlite_store *s, int *segment, int64_t *grown, int64_t used)
{
    int64_t share = s->log_max_bytes / LOG_SEGMENTS;
    for (int n = 0; n < LOG_SEGMENTS - 1 && (*grown >= share || used > s->log_max_bytes); n++) {
        int next = (*segment + 1) % LOG_SEGMENTS;
        if (log_clear(s, next) != 0)
            return;
        *segment = next;
        *grown = 0;
        if (log_used(s->logger, &used, NULL) != 0)
            return;
        used += log_body_bytes(s);
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

/* Appends the batch's bodies to the end of the segment's file in one write (inside the logger's
 * transaction), each row's record in pos[] (in batch order). 0, or -1 with errno (the file is
 * cut back to where it was). */
static int log_write_bodies(struct sqlite_store *s, int segment, struct log_node *batch,
                            struct body_pos *pos)
{
    int fd = s->log_body_fd[segment];
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    struct buf b;
    buf_init(&b, (size_t)-1);
    int64_t start = log_body_size(s, segment);
    int i = 0, rc = 0;
    for (struct log_node *l = batch; l; l = l->next, i++) {
        const char *req = l->row.request_body, *resp = l->row.response_body;
        pos[i] = (struct body_pos){.at = start + (int64_t)b.len,
                                   .request_len = req ? (int64_t)strlen(req) : -1,
                                   .response_len = resp ? (int64_t)strlen(resp) : -1};
        char cid[36];
        memset(cid, 0, sizeof cid);
        memcpy(cid, l->row.correlation_id, strnlen(l->row.correlation_id, sizeof cid));
        rc |= buf_append(&b, LOG_BODY_MAGIC, 4);
        rc |= buf_append(&b, cid, sizeof cid);
        if (req)
            rc |= buf_append(&b, req, (size_t)pos[i].request_len);
        if (resp)
            rc |= buf_append(&b, resp, (size_t)pos[i].response_len);
    }
    if (rc != 0) {
        buf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    size_t done = 0;
    while (done < b.len) {
        ssize_t n = pwrite(fd, b.data + done, b.len - done, (off_t)(start + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            (void)!ftruncate(fd, (off_t)start);
            buf_free(&b);
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    buf_free(&b);
    return 0;
}

/* Writes one batch in one transaction and keeps the log within its bound before the COMMIT;
 * frees the rows. Rows that cannot be written (a full disk) are dropped and counted: the log is
 * diagnostics and must never be what fills the disk or makes requests wait. */
static void log_write_batch(struct sqlite_store *s, struct log_node *batch, uint64_t n_rows,
                            int64_t *newest_at, uint64_t *since_prune)
{
    struct conn *c = s->logger;
    uint64_t written = 0, failed = 0;
    const char *why = NULL;
    int rc = sq_step_rc(c, ST_BEGIN_IMMEDIATE, true);
    bool open = rc == SQLITE_DONE;
    int segment = 0;
    int64_t grown = 0, used_before = 0, used = 0, bodies_before = 0;
    struct body_pos *pos = calloc(n_rows ? n_rows : 1, sizeof *pos);
    if (open)
        bodies_before = log_body_bytes(s);
    if (open && (!pos || log_state(c, &segment, &grown) != 0 ||
                 log_used(c, &used_before, NULL) != 0)) {
        rc = pos ? sqlite3_extended_errcode(c->db) : SQLITE_NOMEM;
        sq_exec_stmt(c, ST_ROLLBACK);
        open = false;
    }
    if (open && log_write_bodies(s, segment, batch, pos) != 0) {
        why = strerror(errno);
        sq_exec_stmt(c, ST_ROLLBACK);
        open = false;
    }
    uint64_t i = 0;
    for (struct log_node *l = batch, *next; l; l = next, i++) {
        next = l->next;
        if (l->row.at_ms > *newest_at)
            *newest_at = l->row.at_ms;
        if (open && log_insert(c, segment, &l->row, &pos[i]) == 0) {
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
    free(pos);
    if (open) {
        /* Retention: rows older than 30 days (on the clock they were logged with) go. */
        *since_prune += written;
        if (*since_prune >= LOG_PRUNE_EVERY && *newest_at > LOG_RETENTION_MS) {
            *since_prune = 0;
            for (int k = 0; k < LOG_SEGMENTS; k++) {
                sqlite3_stmt *st = sq_stmt(c, ST_LOG_PRUNE0 + k);
                if (!st)
                    continue;
                sqlite3_bind_int64(st, 1, *newest_at - LOG_RETENTION_MS);
                if (sq_step_done(c, st) == 0)
                    STAT_ADD(s, log_pruned_age, (uint64_t)sqlite3_changes(c->db));
            }
        }
        if (log_used(c, &used, NULL) == 0) {
            if (used > used_before)
                grown += used - used_before;
            grown += log_body_bytes(s) - bodies_before;
            log_rotate(s, &segment, &grown, used + log_body_bytes(s));
        }
        sqlite3_stmt *st = sq_stmt(c, ST_LOG_STATE_SET);
        if (st) {
            sqlite3_bind_int(st, 1, segment);
            sqlite3_bind_int64(st, 2, grown);
            sq_step_done(c, st);
        }
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
                      "log can be written again", why ? why : sqlite3_errstr(rc));
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
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    uint64_t since_prune = 0, n;
    int64_t newest_at = 0;
    /* A batch is at most about cap bytes, so it adds little to the log and its WAL before they
     * are bounded again. */
    int64_t cap = s->log_max_bytes / 8 < LOG_BATCH_BYTES ? s->log_max_bytes / 8 : LOG_BATCH_BYTES;
    struct log_node *batch;
    while ((batch = log_queue_take(&s->log, cap, LOG_BATCH_MS, &n))) {
        log_write_batch(s, batch, n, &newest_at, &since_prune);
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

/* Segment k's body file: <log_path>-body<k>. */
static char *log_body_path(const char *log_path, int k)
{
    size_t n = strlen(log_path) + sizeof "-body" + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s-body%d", log_path, k);
    return p;
}

int sq_log_open_bodies(struct sqlite_store *s)
{
    /* Under the log's write lock, as every append and truncation (log_body_size). */
    if (sq_exec_sql(s->logger->db, "BEGIN IMMEDIATE") != 0)
        return -1;
    int rc = 0;
    for (int k = 0; k < LOG_SEGMENTS && rc == 0; k++) {
        char *path = log_body_path(s->log_path, k);
        if (!path) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        free(path);
        if (fd < 0) {
            rc = -1;
            break;
        }
        s->log_body_fd[k] = fd;
        /* An empty segment's file holds nothing anyone can reach (a log file replaced, a batch
         * whose COMMIT never came): it starts over. */
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM request_log_%d)", k);
        sqlite3_stmt *q = NULL;
        bool rows = sqlite3_prepare_v2(s->logger->db, sql, -1, &q, NULL) == SQLITE_OK &&
                    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
        sqlite3_finalize(q);
        if (!rows && ftruncate(fd, 0) != 0)
            rc = -1;
    }
    int e = errno;
    if (sq_exec_sql(s->logger->db, rc == 0 ? "COMMIT" : "ROLLBACK") != 0)
        rc = -1;
    errno = e;
    return rc;
}

void sq_log_close_bodies(struct sqlite_store *s)
{
    for (int k = 0; k < LOG_SEGMENTS; k++) {
        if (s->log_body_fd[k] >= 0)
            close(s->log_body_fd[k]);
        s->log_body_fd[k] = -1;
    }
}

int sq_log_read_bodies(const char *log_path, int segment, int64_t at, int64_t request_len,
                       int64_t response_len, const char *correlation_id, char **request_body,
                       char **response_body)
{
    *request_body = *response_body = NULL;
    if (segment < 0 || segment >= LOG_SEGMENTS || at < 0 || request_len < -1 ||
        response_len < -1 || request_len > LIMIT_LOG_BODY_BYTES ||
        response_len > LIMIT_LOG_BODY_BYTES)
        return -1;
    size_t req_n = request_len > 0 ? (size_t)request_len : 0;
    size_t resp_n = response_len > 0 ? (size_t)response_len : 0;
    char *path = log_body_path(log_path, segment);
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    free(path);
    if (fd < 0)
        return -1;
    size_t n = LOG_BODY_HEAD + req_n + resp_n;
    char *rec = mem_malloc(n);
    ssize_t got = rec ? pread(fd, rec, n, (off_t)at) : -1;
    close(fd);
    char cid[36] = {0};
    memcpy(cid, correlation_id, strnlen(correlation_id, sizeof cid));
    if (got != (ssize_t)n || memcmp(rec, LOG_BODY_MAGIC, 4) != 0 ||
        memcmp(rec + 4, cid, sizeof cid) != 0) {
        free(rec);
        return -1;
    }
    bool ok = true;
    if (request_len >= 0)
        ok = (*request_body = mem_strndup(rec + LOG_BODY_HEAD, req_n)) != NULL;
    if (ok && response_len >= 0)
        ok = (*response_body = mem_strndup(rec + LOG_BODY_HEAD + req_n, resp_n)) != NULL;
    free(rec);
    if (!ok) {
        free(*request_body);
        free(*response_body);
        *request_body = *response_body = NULL;
        return -1;
    }
    return 0;
}

void sq_log_async(struct store *base, struct reqlog_row *row)
{
    log_queue_push(&((struct sqlite_store *)base)->log, row);
}

/* A request log made before the size bound has auto_vacuum off, so it could never shrink (issue
 * 9 measured 240 MB). At open, before anything else uses it, its newest rows (about 3/4 of the
 * bound, estimated from the average row) are copied into a new file
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
    int64_t keep = 0;
    ok = fresh_path && side;
    if (ok) {
        snprintf(fresh_path, n, "%s.new", log_path);
        unlink(fresh_path);
        ok = sqlite3_open(fresh_path, &fresh) == SQLITE_OK &&
             sq_exec_sql(fresh, "PRAGMA auto_vacuum=INCREMENTAL") == 0 &&
             sq_log_schema(fresh) == 0;
        sqlite3_close(fresh);
        /* The empty segments take some pages of the bound already. */
        struct stat empty;
        int64_t room = max_bytes / 4 * 3 - (stat(fresh_path, &empty) == 0 ? empty.st_size : 0);
        keep = rows > 0 && used > 0 && room > 0 ? room / (used / rows + 1) : 0;
    }
    if (ok) {
        ok = sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS fresh", -1, &q, NULL) == SQLITE_OK &&
             sqlite3_bind_text(q, 1, fresh_path, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_DONE;
        sqlite3_finalize(q);
        q = NULL;
    }
    if (ok) {
        ok = sqlite3_prepare_v2(db, "INSERT INTO fresh.request_log_0 (" LOG_OLD_COLUMNS ") "
                                    "SELECT " LOG_OLD_COLUMNS " FROM (SELECT * FROM "
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
