/* store/log_queue: the request log's queue between the threads that serve requests and a
 * backend's logger thread (store/sqlite_log.c, store/pg_log.c). Log rows are diagnostics, not
 * money: queueing never waits on the disk or the database, the queue is bounded by bytes (past
 * max_bytes a row is dropped and counted, so a stuck disk cannot grow memory), and the logger
 * takes rows in batches (up to max_rows rows and max_bytes bytes, or what came within batch_ms,
 * at once when someone flushes), writes each batch as it likes and says it is done. flush waits
 * until every row queued before it was handled (so a log is readable once its reply was sent). */
#ifndef KASSE_LOG_QUEUE_H
#define KASSE_LOG_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct log_node {
    struct reqlog_row row;       /* owned */
    size_t bytes;
    struct log_node *next;
};

struct log_queue {
    pthread_mutex_t mu;
    pthread_cond_t work;         /* rows queued, a flush waits, or stopping */
    pthread_cond_t done;         /* a batch was handled */
    struct log_node *head, *tail;
    uint64_t queued, handled;    /* rows taken by push / handed back by done */
    int64_t queued_bytes, max_bytes;
    uint64_t batch_rows;         /* a batch this long wakes the logger at once */
    bool open;                   /* a logger runs: push queues, flush waits */
    bool urgent;                 /* a flush waits: take now */
    bool stopping;
    uint64_t dropped;            /* rows refused by push (atomic) */
};

void log_queue_init(struct log_queue *q, int64_t max_bytes, int batch_rows);
/* Frees what is still queued (after the logger has stopped). */
void log_queue_destroy(struct log_queue *q);
/* The logger is running: push queues rows from now on. */
void log_queue_open(struct log_queue *q);
/* Takes ownership of row's strings: queued, or dropped (false; counted) when the queue is full,
 * closed or stopping. Never blocks on the logger. */
bool log_queue_push(struct log_queue *q, struct reqlog_row *row);
/* Waits until every row queued before the call is handled. */
void log_queue_flush(struct log_queue *q);
/* The logger's next batch (at least one row, *n of them), once batch_rows rows or max_bytes
 * bytes are queued, batch_ms passed since the first, a flush waits, or stopping; NULL when stopping
 * and nothing is left. */
struct log_node *log_queue_take(struct log_queue *q, int64_t max_bytes, int batch_ms,
                                uint64_t *n);
/* The logger handled n rows (written or not). */
void log_queue_done(struct log_queue *q, uint64_t n);
/* Asks the logger to stop: take returns the rest, then NULL. */
void log_queue_stop(struct log_queue *q);
void log_batch_free(struct log_node *batch);

#endif
