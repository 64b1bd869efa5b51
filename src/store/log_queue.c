/* store/log_queue: see log_queue.h. */
#include "store/log_queue.h"

#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"

/* What a queued row costs (its strings and a little bookkeeping). */
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

void log_queue_init(struct log_queue *q, int64_t max_bytes, int batch_rows)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    q->max_bytes = max_bytes;
    q->batch_rows = batch_rows > 0 ? (uint64_t)batch_rows : 1;
}

void log_batch_free(struct log_node *batch)
{
    for (struct log_node *l = batch, *next; l; l = next) {
        next = l->next;
        reqlog_row_free(&l->row);
        free(l);
    }
}

void log_queue_destroy(struct log_queue *q)
{
    log_batch_free(q->head);
    q->head = q->tail = NULL;
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
}

void log_queue_open(struct log_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->open = true;
    pthread_mutex_unlock(&q->mu);
}

bool log_queue_push(struct log_queue *q, struct reqlog_row *row)
{
    struct log_node *l = malloc(sizeof *l);
    size_t bytes = row_bytes(row);
    pthread_mutex_lock(&q->mu);
    if (!l || !q->open || q->stopping || q->queued_bytes + (int64_t)bytes > q->max_bytes) {
        /* The logger is behind by max_bytes (a slow or full disk): drop the row rather than
         * grow without bound. */
        if (l && q->open && !q->stopping)
            __atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&q->mu);
        free(l);
        reqlog_row_free(row);
        return false;
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
    if (q->queued - q->handled == 1 || q->queued - q->handled >= q->batch_rows)
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return true;
}

void log_queue_flush(struct log_queue *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t target = q->queued;
    if (q->handled < target) {
        q->urgent = true;
        pthread_cond_signal(&q->work);
    }
    while (q->handled < target && q->open)
        pthread_cond_wait(&q->done, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

struct log_node *log_queue_take(struct log_queue *q, int64_t max_bytes, int batch_ms,
                                uint64_t *n)
{
    uint64_t max_rows = q->batch_rows;
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->stopping)
        pthread_cond_wait(&q->work, &q->mu);
    if (!q->head) {              /* stopping, and everything queued is handled */
        pthread_mutex_unlock(&q->mu);
        return NULL;
    }
    /* Let rows gather unless a reader waits on them. */
    struct timespec until;
    clock_deadline_in(&until, batch_ms);
    while (!q->stopping && !q->urgent && q->queued - q->handled < max_rows &&
           q->queued_bytes < max_bytes &&
           pthread_cond_timedwait(&q->work, &q->mu, &until) == 0)
        ;
    /* One batch: up to max_rows rows and about max_bytes (at least one row). */
    struct log_node *batch = q->head, *last = batch;
    int64_t bytes = (int64_t)last->bytes;
    uint64_t rows = 1;
    for (; last->next && rows < max_rows &&
           bytes + (int64_t)last->next->bytes <= max_bytes;
         rows++) {
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
    *n = rows;
    return batch;
}

void log_queue_done(struct log_queue *q, uint64_t n)
{
    pthread_mutex_lock(&q->mu);
    q->handled += n;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
}

void log_queue_stop(struct log_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
}
