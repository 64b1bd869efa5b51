/* store/order_list: the merchant's order list (store.h, order_page) filtered, counted and paged
 * at a cost that does not grow with the number of orders, over a few primitive queries each
 * backend supplies (SQLite: sqlite_rows.c; PostgreSQL: pg_rows.c). The algorithm is in
 * order_list.c; the backend keeps, per merchant, level, creation-time bucket and list_status,
 * the number of orders (order_counts, kept by triggers; the widths are order_list_width).
 *
 * Every query reads the orders of q->merchant_id; "status" is q->status (NULL: any) and "due"
 * means list_until <= q->now. Times are ms, ranges [lo, hi); buckets are created_at / width. */
#ifndef KASSE_STORE_ORDER_LIST_H
#define KASSE_STORE_ORDER_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define ORDER_LIST_LEVELS 6
/* The bucket width of each level (ms): 1 s, 1 min, 1 h, 1 day, 30 days, 360 days. Must equal
 * each backend's order_count_levels table. */
extern const int64_t order_list_width[ORDER_LIST_LEVELS];

/* One-number queries. */
enum ol_count {
    OL_COUNT_BUCKETS,      /* sum of the counts of buckets [lo, hi) of `level` filed under status */
    OL_COUNT_ROWS,         /* orders created in [lo, hi) filed under status */
    OL_COUNT_DUE,          /* due orders created in [lo, hi): list_after = status ones minus
                            * list_status = status ones (status not NULL) */
    OL_DUE_ANY,            /* 1 when a due order created in [lo, hi) has list_after or
                            * list_status = status, else 0 */
};

/* Row queries, read through a cursor. */
enum ol_rows {
    OL_BUCKETS_DESC,       /* (bucket, sum of counts filed under status) of buckets [lo, hi) of
                            * level `arg`, newest first */
    OL_DUE_BUCKETS_DESC,   /* (created_at / arg, the OL_COUNT_DUE correction) of the due orders
                            * created in [lo, hi), per bucket, newest first */
    OL_PAGE_ALL,           /* (id, created_at) of the orders created in [lo, hi), newest first
                            * (created_at, then id), the first `arg` skipped */
    OL_PAGE_STATUS,        /* the same, filed under status and not due */
    OL_PAGE_DUE,           /* the same, due with list_after = status */
};

/* A row: (a, b) for the bucket queries, (id, b = created_at) for the page queries. */
struct ol_row {
    int64_t a, b;
    char id[37];
};

/* A cursor: what it reads (set before open) and the backend's state (a statement, or a
 * result and a row index). */
struct ol_cursor {
    enum ol_rows what;
    void *h;
    int i;
};

/* What a backend supplies. be: its connection. Each returns 0 or -1 (logged by the backend)
 * except next: 1 (a row), 0 (done) or -1. max: rows the caller will read at most (a backend
 * that fetches results whole limits the query to it; one that steps lazily may ignore it).
 * close is called on every opened cursor, failed or not. */
struct order_list_ops {
    /* created_at of the oldest and newest orders created in [lo, hi); *any false when none. */
    int (*span)(void *be, const struct order_page_query *q, int64_t lo, int64_t hi, bool *any,
                int64_t *first, int64_t *last);
    int (*count)(void *be, const struct order_page_query *q, enum ol_count what, int level,
                 int64_t lo, int64_t hi, int64_t *n);
    int (*open)(void *be, const struct order_page_query *q, enum ol_rows what, int64_t lo,
                int64_t hi, int64_t arg, int64_t max, struct ol_cursor *k);
    int (*next)(void *be, struct ol_cursor *k, struct ol_row *row);
    void (*close)(void *be, struct ol_cursor *k);
};

/* store.h's order_page over a backend's primitives. */
int order_list_page(const struct order_list_ops *ops, void *be, const struct order_page_query *q,
                    char (*ids)[37], size_t *n, int64_t *total);

#endif
