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
#include "store/pg.h"

#define PG_LOG_BATCH_ROWS 512
#define PG_LOG_BATCH_MS 50
#define PG_LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)
#define PG_LOG_PRUNE_EVERY 4096
#define PG_LOG_QUEUE_MAX_BYTES (32LL * 1024 * 1024)

struct log_node {
    struct reqlog_row row;       /* owned */
    size_t bytes;
    struct log_node *next;
};

struct pg_log_queue {
    pthread_mutex_t mu;
    pthread_cond_t work;         /* rows queued, a flush waits, or stopping */
    pthread_cond_t done;         /* a batch was written */
    pthread_t thread;
    bool started, stopping, urgent;
    struct log_node *head, *tail;
    uint64_t queued, written;    /* rows taken by log_async / handled by the thread */
    int64_t queued_bytes;
    uint64_t dropped;
    bool failing;                /* thread: the last batch could not be written */
};

static size_t row_bytes(const struct reqlog_row *r)
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
    for (struct log_node *l = batch, *next; l; l = next) {
        next = l->next;
        reqlog_row_free(&l->row);
        free(l);
    }
    if (!ok) {
        __atomic_add_fetch(&q->dropped, n, __ATOMIC_RELAXED);
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
    uint64_t since_prune = 0;
    int64_t newest_at = 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->mu);
        if (!q->head)
            break;               /* stopping, and everything queued is written */
        struct timespec until;
        clock_deadline_in(&until, PG_LOG_BATCH_MS);
        while (!q->stopping && !q->urgent && q->queued - q->written < PG_LOG_BATCH_ROWS &&
               pthread_cond_timedwait(&q->work, &q->mu, &until) == 0)
            ;
        struct log_node *batch = q->head, *last = batch;
        int64_t bytes = (int64_t)last->bytes;
        uint64_t rows = 1;
        for (; last->next && rows < PG_LOG_BATCH_ROWS; rows++) {
            last = last->next;
            bytes += (int64_t)last->bytes;
        }
        q->head = last->next;
        if (!q->head) {
            q->tail = NULL;
            q->urgent = false;
        }
        last->next = NULL;
        q->queued_bytes -= bytes;
        pthread_mutex_unlock(&q->mu);

        write_batch(s, batch, rows, &newest_at, &since_prune);

        pthread_mutex_lock(&q->mu);
        q->written += rows;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int pg_log_start(struct pg_store *s)
{
    struct pg_log_queue *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    s->log = q;
    if (pthread_create(&q->thread, NULL, logger_main, s) != 0)
        return -1;
    q->started = true;
    return 0;
}

void pg_log_stop(struct pg_store *s)
{
    struct pg_log_queue *q = s->log;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    if (q->started)
        pthread_join(q->thread, NULL);
    for (struct log_node *l = q->head, *next; l; l = next) {
        next = l->next;
        reqlog_row_free(&l->row);
        free(l);
    }
    uint64_t dropped = __atomic_load_n(&q->dropped, __ATOMIC_RELAXED);
    if (dropped)
        log_info("store: request log: %llu rows dropped", (unsigned long long)dropped);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
    free(q);
    s->log = NULL;
}

void pg_log_async(struct store *base, struct reqlog_row *row)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_log_queue *q = s->log;
    struct log_node *l = malloc(sizeof *l);
    size_t bytes = row_bytes(row);
    pthread_mutex_lock(&q->mu);
    if (!l || q->stopping || !q->started ||
        q->queued_bytes + (int64_t)bytes > PG_LOG_QUEUE_MAX_BYTES) {
        __atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&q->mu);
        free(l);
        reqlog_row_free(row);
        return;
    }
    l->row = *row;               /* takes ownership of the strings */
    l->bytes = bytes;
    l->next = NULL;
    if (q->tail)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = l;
    q->queued++;
    q->queued_bytes += (int64_t)bytes;
    if (q->queued - q->written == 1 || q->queued - q->written >= PG_LOG_BATCH_ROWS)
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
}

int pg_flush(struct store *base, struct kerr *err)
{
    (void)err;
    struct pg_store *s = (struct pg_store *)base;
    struct pg_log_queue *q = s->log;
    pthread_mutex_lock(&q->mu);
    uint64_t target = q->queued;
    if (q->written < target) {
        q->urgent = true;
        pthread_cond_signal(&q->work);
    }
    while (q->written < target && q->started)
        pthread_cond_wait(&q->done, &q->mu);
    pthread_mutex_unlock(&q->mu);
    return 0;
}
