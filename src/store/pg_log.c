/* store/pg_log: the PostgreSQL backend's request log. Log rows are diagnostics, not money:
 * log_async queues them without waiting (the queue bounded by bytes: past
 * PG_LOG_QUEUE_MAX_BYTES rows are dropped and counted), and one thread writes them in batches
 * (up to PG_LOG_BATCH_ROWS rows, or what came in PG_LOG_BATCH_MS) in one transaction on a
 * pooled connection, with synchronous_commit off for that transaction (a crash may lose the
 * last batch, never a payment). flush waits until every row queued before it is written.
 *
 * Bounds: rows older than 30 days (on the clock they were logged with) are deleted every
 * PG_LOG_PRUNE_EVERY rows. There is no size bound here (SQLite's log has one): the table
 * grows with traffic for 30 days; an operator who needs less can prune request_log by `at`. */
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "store/log_queue.h"
#include "store/pg.h"

#define PG_LOG_BATCH_ROWS 512
#define PG_LOG_BATCH_MS 50
#define PG_LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)
#define PG_LOG_PRUNE_EVERY 4096
#define PG_LOG_QUEUE_MAX_BYTES (32LL * 1024 * 1024)   /* queued rows past this are dropped */

struct pg_log_queue {
    struct log_queue q;          /* store/log_queue.h */
    pthread_t thread;
    bool started;
    bool failing;                /* thread: the last batch could not be written */
    uint64_t failed;             /* rows the database refused (thread) */
};

/* PostgreSQL refuses text that is not UTF-8, and a request body is whatever the client sent:
 * such a string is stored repaired (invalid bytes as U+FFFD). */
static void make_text(char **s)
{
    if (!*s || utf8_valid(*s, strlen(*s)))
        return;
    char *fixed = utf8_repair(*s, strlen(*s));
    free(*s);
    *s = fixed;
}

static int insert_row(struct pg_conn *c, struct reqlog_row *r)
{
    make_text(&r->path);
    make_text(&r->request_body);
    make_text(&r->response_body);
    struct pg_params p = {0};
    pg_p_text(&p, r->correlation_id);
    if (r->merchant_id)
        pg_p_i64(&p, r->merchant_id);
    else
        pg_p_text(&p, NULL);
    pg_p_text(&p, r->method);
    pg_p_text(&p, r->path ? r->path : "");
    pg_p_i64(&p, r->status);
    pg_p_i64(&p, r->at_ms);
    pg_p_i64(&p, r->duration_us);
    pg_p_text(&p, r->request_body);
    pg_p_text(&p, r->response_body);
    PGresult *res = pg_run(c, PG_LOG_INSERT, &p);
    PQclear(res);
    return res ? 0 : -1;
}

/* Writes one batch in one transaction (and, now and then, prunes by age); frees the rows.
 * Rows that cannot be written are dropped and counted: the log must never hold requests up. */
static void write_batch(struct pg_store *s, struct log_node *batch, uint64_t n,
                        int64_t *newest_at, uint64_t *since_prune)
{
    struct pg_log_queue *q = s->log;
    struct kerr err = {0};
    struct pg_conn *c = pg_acquire(s, -1, &err);
    bool ok = c && pg_exec(c, "BEGIN") == 0 && pg_exec(c, "SET LOCAL synchronous_commit = off") == 0;
    for (struct log_node *l = batch; l && ok; l = l->next) {
        if (l->row.at_ms > *newest_at)
            *newest_at = l->row.at_ms;
        ok = insert_row(c, &l->row) == 0;
    }
    if (ok) {
        *since_prune += n;
        if (*since_prune >= PG_LOG_PRUNE_EVERY && *newest_at > PG_LOG_RETENTION_MS) {
            *since_prune = 0;
            struct pg_params p = {0};
            pg_p_i64(&p, *newest_at - PG_LOG_RETENTION_MS);
            PGresult *res = pg_run(c, PG_LOG_PRUNE, &p);
            ok = res != NULL;
            PQclear(res);
        }
    }
    if (ok)
        ok = pg_exec(c, "COMMIT") == 0;
    else if (c && !c->broken)
        pg_exec(c, "ROLLBACK");
    pg_release(s, c);
    log_batch_free(batch);
    if (!ok) {
        q->failed += n;
        if (!q->failing)
            log_error("store: request log rows not written (%s): they are dropped until the "
                      "log can be written again", err.msg[0] ? err.msg : "a statement failed");
        q->failing = true;
    } else if (q->failing) {
        q->failing = false;
        log_info("store: the request log is written again");
    }
}

static void *logger_main(void *arg)
{
    struct pg_store *s = arg;
    struct pg_log_queue *q = s->log;
    uint64_t since_prune = 0, n;
    int64_t newest_at = 0;
    struct log_node *batch;
    while ((batch = log_queue_take(&q->q, PG_LOG_QUEUE_MAX_BYTES, PG_LOG_BATCH_MS, &n))) {
        write_batch(s, batch, n, &newest_at, &since_prune);
        log_queue_done(&q->q, n);
    }
    return NULL;
}

int pg_log_start(struct pg_store *s)
{
    struct pg_log_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    log_queue_init(&q->q, PG_LOG_QUEUE_MAX_BYTES, PG_LOG_BATCH_ROWS);
    s->log = q;
    if (pthread_create(&q->thread, NULL, logger_main, s) != 0)
        return -1;
    q->started = true;
    log_queue_open(&q->q);
    return 0;
}

void pg_log_stop(struct pg_store *s)
{
    struct pg_log_queue *q = s->log;
    if (!q)
        return;
    log_queue_stop(&q->q);
    if (q->started)
        pthread_join(q->thread, NULL);   /* it writes what is queued first */
    uint64_t dropped = q->failed + __atomic_load_n(&q->q.dropped, __ATOMIC_RELAXED);
    if (dropped)
        log_info("store: request log: %llu rows dropped", (unsigned long long)dropped);
    log_queue_destroy(&q->q);
    free(q);
    s->log = NULL;
}

void pg_log_async(struct store *base, struct reqlog_row *row)
{
    log_queue_push(&((struct pg_store *)base)->log->q, row);
}

int pg_flush(struct store *base, struct kerr *err)
{
    (void)err;
    log_queue_flush(&((struct pg_store *)base)->log->q);
    return 0;
}
