/* store/sqlite_writer: the SQLite backend's writer (sqlite.c lists the backend's files).
 *
 * Durability and throughput. The database runs in WAL mode with synchronous=FULL, so a write
 * acknowledged to a client survives a power cut. One fsync costs far more than the work of a
 * request, so writes are group-committed: every store_write() call becomes a job on one queue;
 * one writer thread, owning the only write connection, takes all queued jobs, runs each inside
 * its own SAVEPOINT of a single BEGIN IMMEDIATE transaction (a failing job rolls back only its
 * own savepoint), COMMITs once, and only then wakes the callers. A request is still one atomic
 * unit of work; the commit that makes it durable is shared.
 *
 * Disk (issue 9, item 11). Both WALs (the main one and the request log's, sqlite_log.c) are
 * bounded by checkpoints their own thread runs after a commit (sq_wal_bound: PASSIVE, and
 * RESTART past the bound). A commit the disk refuses (full, I/O error) fails its whole batch
 * with 503 and nothing of it applied (run_batch, batch_lost); the writer goes on, so the next
 * batch succeeds once there is space. */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

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

/* ---- the WAL bound (writer and logger connections) ---- */

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
#define WAL_MIN_BYTES (64 * 1024)
#define WAL_RESTART_WAIT_MS 100
#define WAL_RESTART_RETRY_MS 100
#define WAL_RESTART_RETRY_MAX_MS 5000
#define WAL_WARN_EVERY_MS 60000

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
int sq_wal_bound_init(struct conn *c, const char *name, int64_t wal_max)
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
    if (sq_exec_sql(c->db, sql) != 0)
        return -1;
    sqlite3_wal_hook(c->db, wal_hook, c);
    return 0;
}

/* After a commit: PASSIVE past WAL_CHECKPOINT_FRAMES, RESTART past wal_max (see "The WAL
 * bound" above). */
void sq_wal_bound(struct sqlite_store *s, struct conn *c)
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
    int rc = sq_step_rc(c, ST_BEGIN_IMMEDIATE, true);
    if (rc != SQLITE_DONE) {
        if (!disk_error(rc))
            log_error("sqlite BEGIN IMMEDIATE: %s", sqlite3_errstr(rc));
        batch_lost(s, batch, rc);
        return;
    }
    for (struct job *j = batch; j; j = j->next) {
        j->ran = true;
        if (sq_exec_stmt(c, ST_SAVEPOINT) != 0) {
            j->rc = kerr_internal(j->err, "store: savepoint");
            continue;
        }
        /* The job is the caller's code: it runs with the caller's fault injection. */
        struct mem_fault own = mem_fault_swap(j->fault);
        j->rc = j->fn(&c->tx, j->arg, j->err);
        if (s->rerun && !sqlite3_get_autocommit(c->db)) {
            /* What a backend with concurrent writers does after a serialization failure:
             * the attempt is rolled back whole and fn runs again on the same arg. */
            sq_exec_stmt(c, ST_ROLLBACK_TO);
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
            sq_exec_stmt(c, ST_ROLLBACK_TO);
        }
        sq_exec_stmt(c, ST_RELEASE);
    }
    c->wal_wrote = false;
    rc = sq_step_rc(c, ST_COMMIT, true);
    if (rc != SQLITE_DONE) {
        if (!disk_error(rc))
            log_error("sqlite COMMIT: %s", sqlite3_errstr(rc));
        if (!sqlite3_get_autocommit(c->db))
            sq_exec_stmt(c, ST_ROLLBACK);
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

void *sq_writer_main(void *arg)
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
        sq_wal_bound(s, s->writer);
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

int sq_write(struct store *base, store_tx_fn fn, void *arg, struct kerr *err)
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
