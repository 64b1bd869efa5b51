/* store/order_list: the merchant's order list, counted and paged over the backend's primitives
 * (order_list.h). Both backends run this code; they differ only in how each query is read.
 *
 * Every order is filed under a list_status (with list_until / list_after while its status can
 * still change by itself). An order matches status X at now when it is filed under X and not
 * due (list_until NULL or > now), or due (list_until <= now: the sweep has not filed it under
 * list_after yet) with list_after X. Due orders are few: the sweep files them within a poll of
 * the outbox thread.
 *
 * Counting. order_counts holds, per merchant, level, creation-time bucket and list_status, how
 * many orders there are (kept by triggers). A range [lo, hi) is cut into pieces (pieces()):
 * the partial seconds at both ends, read from the orders index (rows of at most two
 * seconds), then on each side the whole buckets of each level up to the next level's
 * boundary, and in the middle the 360-day buckets: at most 2 × (59 + 59 + 23 + 29 + 11)
 * bucket rows per status plus the 360-day buckets of the span, whatever the number of orders.
 * The due orders in the range then correct the count from list_status to list_after.
 *
 * Paging. A shallow offset (up to PAGE_SKIP_DIRECT) is skipped by walking the index. A deeper
 * one is located with the counts (locate()): the pieces are walked newest first, whole pieces
 * skipped by their counts; in the piece holding the offset, its buckets are walked newest
 * first, and so on down to one second, so the page starts in that second after skipping
 * fewer rows than it holds. About 20 small index reads, at any offset and any size. With a
 * status filter the page merges the orders filed under the status (index order) with the due
 * ones now reading as it (few, sorted). */
#include <string.h>

#include "lib/log.h"
#include "store/order_list.h"

const int64_t order_list_width[ORDER_LIST_LEVELS] = {
    1000, 60000, 3600000, 86400000, 2592000000LL, 31104000000LL
};
#define PAGE_SKIP_DIRECT 100
#define TIME_MAX (INT64_C(1) << 53)      /* ms; ~285,000 years: keeps bucket arithmetic exact */

struct page_ctx {
    const struct order_list_ops *ops;
    void *be;
    const struct order_page_query *q;
    int rc;                              /* -1 once a query failed */
};

/* One number over [lo, hi) (0 for an empty range or after a failure). */
static int64_t list_int(struct page_ctx *p, enum ol_count what, int64_t lo, int64_t hi,
                        int level)
{
    int64_t v = 0;
    if (p->rc != 0 || lo >= hi)
        return 0;
    if (p->ops->count(p->be, p->q, what, level, lo, hi, &v) != 0) {
        p->rc = -1;
        return 0;
    }
    return v;
}

static int64_t floor_to(int64_t t, int64_t w)
{
    return t / w * w;                    /* t >= 0 */
}

static int64_t ceil_to(int64_t t, int64_t w)
{
    return (t + w - 1) / w * w;          /* t <= TIME_MAX */
}

/* A piece of a range: rows created in [lo, hi) ms (level -1), or buckets [lo, hi) of a level. */
struct piece {
    int level;
    int64_t lo, hi;
};
#define MAX_PIECES (2 * ORDER_LIST_LEVELS + 3)

static int64_t piece_start(const struct piece *c)
{
    return c->level < 0 ? c->lo : c->lo * order_list_width[c->level];
}

static int64_t piece_end(const struct piece *c)
{
    return c->level < 0 ? c->hi : c->hi * order_list_width[c->level];
}

/* Cuts [lo, hi) (0 <= lo, hi <= TIME_MAX) into pieces, newest first; returns how many. */
static size_t pieces(int64_t lo, int64_t hi, struct piece out[MAX_PIECES])
{
    const int64_t *width = order_list_width;
    struct piece left[ORDER_LIST_LEVELS + 1];
    size_t n = 0, n_left = 0;
    if (lo >= hi)
        return 0;
    int64_t a = ceil_to(lo, width[0]), b = floor_to(hi, width[0]);
    if (a >= b) {
        out[n++] = (struct piece){-1, lo, hi};
        return n;
    }
    if (b < hi)
        out[n++] = (struct piece){-1, b, hi};
    if (lo < a)
        left[n_left++] = (struct piece){-1, lo, a};
    lo = a;
    hi = b;
    for (int l = 0; l < ORDER_LIST_LEVELS; l++) {
        int64_t w = width[l];
        if (l + 1 < ORDER_LIST_LEVELS) {
            a = ceil_to(lo, width[l + 1]);
            b = floor_to(hi, width[l + 1]);
        }
        if (l + 1 == ORDER_LIST_LEVELS || a >= b) {
            out[n++] = (struct piece){l, lo / w, hi / w};
            break;
        }
        if (b < hi)
            out[n++] = (struct piece){l, b / w, hi / w};
        if (lo < a)
            left[n_left++] = (struct piece){l, lo / w, a / w};
        lo = a;
        hi = b;
    }
    while (n_left > 0)
        out[n++] = left[--n_left];
    return n;
}

/* Orders filed under the query's status (any when NULL) in one piece. */
static int64_t count_piece(struct page_ctx *p, const struct piece *c)
{
    if (c->level < 0)
        return list_int(p, OL_COUNT_ROWS, c->lo, c->hi, 0);
    return list_int(p, OL_COUNT_BUCKETS, c->lo, c->hi, c->level);
}

/* The query's matches created in [lo, hi). */
static int64_t count_matches(struct page_ctx *p, int64_t lo, int64_t hi)
{
    struct piece c[MAX_PIECES];
    size_t n = pieces(lo, hi, c);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += count_piece(p, &c[i]);
    if (p->q->status)
        total += list_int(p, OL_COUNT_DUE, lo, hi, 0);
    return total;
}

/* A row query read in order; have = false when done (or after a failure). */
struct cursor {
    struct ol_cursor k;
    bool open, have;
    struct ol_row row;
};

static void cursor_next(struct page_ctx *p, struct cursor *k)
{
    k->have = false;
    if (!k->open || p->rc != 0)
        return;
    int rc = p->ops->next(p->be, &k->k, &k->row);
    if (rc < 0)
        p->rc = -1;
    k->have = rc > 0;
}

static void cursor_open(struct page_ctx *p, struct cursor *k, enum ol_rows what, int64_t lo,
                        int64_t hi, int64_t arg, int64_t max)
{
    memset(k, 0, sizeof *k);
    if (p->rc != 0)
        return;
    k->open = true;
    k->k.what = what;
    if (p->ops->open(p->be, p->q, what, lo, hi, arg, max, &k->k) != 0) {
        p->rc = -1;
        return;
    }
    cursor_next(p, k);
}

static void cursor_close(struct page_ctx *p, struct cursor *k)
{
    if (k->open)
        p->ops->close(p->be, &k->k);
    k->open = k->have = false;
}

/* In buckets [lo, hi) of level l, the newest bucket holding the skip-th match (newest first):
 * sets *bucket and lowers *skip by the matches in the newer buckets. -1 when none holds it
 * (the counts and the rows disagree: a bug). corrections: due orders exist in the range. */
static int locate_bucket(struct page_ctx *p, int l, int64_t lo, int64_t hi, bool corrections,
                         int64_t *skip, int64_t *bucket)
{
    struct cursor filed, due = {0};
    int64_t w = order_list_width[l];
    /* At most one row per bucket: hi - lo buckets (bounded by the span for the top level). */
    cursor_open(p, &filed, OL_BUCKETS_DESC, lo, hi, l, hi - lo);
    if (corrections)
        cursor_open(p, &due, OL_DUE_BUCKETS_DESC, lo * w, hi * w, w, hi - lo);
    int rc = -1;
    while ((filed.have || due.have) && p->rc == 0) {
        int64_t b = !due.have || (filed.have && filed.row.a >= due.row.a) ? filed.row.a
                                                                          : due.row.a;
        int64_t n = 0;
        if (filed.have && filed.row.a == b) {
            n += filed.row.b;
            cursor_next(p, &filed);
        }
        if (due.have && due.row.a == b) {
            n += due.row.b;
            cursor_next(p, &due);
        }
        if (*skip < n) {
            *bucket = b;
            rc = 0;
            break;
        }
        *skip -= n;
    }
    cursor_close(p, &filed);
    cursor_close(p, &due);
    return p->rc != 0 ? -1 : rc;
}

/* The page boundary for skipping `skip` matches of [lo, hi), newest first: *end such that the
 * matches in [*end, hi) are skipped whole and the *skip left fall in the second before *end. */
static int locate(struct page_ctx *p, int64_t lo, int64_t hi, int64_t *skip, int64_t *end)
{
    struct piece c[MAX_PIECES];
    size_t n = pieces(lo, hi, c);
    bool corrections = p->q->status && list_int(p, OL_DUE_ANY, lo, hi, 0);
    for (size_t i = 0; i < n && p->rc == 0; i++) {
        int64_t m = count_piece(p, &c[i]);
        if (corrections)
            m += list_int(p, OL_COUNT_DUE, piece_start(&c[i]), piece_end(&c[i]), 0);
        if (*skip >= m) {
            *skip -= m;
            continue;
        }
        if (c[i].level < 0) {
            *end = c[i].hi;
            return 0;
        }
        /* Down the levels: the bucket holding it, then that bucket's sub-buckets. */
        int l = c[i].level;
        int64_t blo = c[i].lo, bhi = c[i].hi, b = 0;
        for (;;) {
            if (locate_bucket(p, l, blo, bhi, corrections, skip, &b) != 0)
                break;
            if (l == 0) {
                *end = (b + 1) * order_list_width[0];
                return 0;
            }
            int64_t ratio = order_list_width[l] / order_list_width[l - 1];
            blo = b * ratio;
            bhi = (b + 1) * ratio;
            l--;
        }
        break;
    }
    if (p->rc == 0)
        log_error("store: order list counts disagree with the rows (merchant %lld)",
                  (long long)p->q->merchant_id);
    return -1;
}

/* Newest first: created_at, then id. */
static bool page_newer(const struct ol_row *a, const struct ol_row *b)
{
    if (a->b != b->b)
        return a->b > b->b;
    return strcmp(a->id, b->id) > 0;
}

/* The matches created in [lo, hi), newest first: skip `skip`, copy up to q->limit ids. */
static void page_read(struct page_ctx *p, int64_t lo, int64_t hi, int64_t skip, char (*ids)[37],
                      size_t *n)
{
    int64_t limit = (int64_t)p->q->limit;
    *n = 0;
    if (!p->q->status) {
        struct cursor all;
        cursor_open(p, &all, OL_PAGE_ALL, lo, hi, skip, limit);
        while (all.have && *n < p->q->limit) {
            memcpy(ids[(*n)++], all.row.id, 37);
            cursor_next(p, &all);
        }
        cursor_close(p, &all);
        return;
    }
    /* Filed under the status and not due, merged with the due ones that now read as it: at
     * most skip + limit rows of each. */
    struct cursor filed, due;
    cursor_open(p, &filed, OL_PAGE_STATUS, lo, hi, 0, skip + limit);
    cursor_open(p, &due, OL_PAGE_DUE, lo, hi, 0, skip + limit);
    while ((filed.have || due.have) && *n < p->q->limit && p->rc == 0) {
        struct cursor *next = !due.have                        ? &filed
                              : !filed.have                    ? &due
                              : page_newer(&filed.row, &due.row) ? &filed
                                                                 : &due;
        if (skip > 0)
            skip--;
        else
            memcpy(ids[(*n)++], next->row.id, 37);
        cursor_next(p, next);
    }
    cursor_close(p, &filed);
    cursor_close(p, &due);
}

int order_list_page(const struct order_list_ops *ops, void *be, const struct order_page_query *q,
                    char (*ids)[37], size_t *n, int64_t *total)
{
    struct page_ctx p = {.ops = ops, .be = be, .q = q};
    *n = 0;
    *total = 0;
    /* Clamp [from, to) to the span of the merchant's orders in it: bucket arithmetic stays
     * small and the pieces cover only buckets that can hold orders. */
    int64_t from = q->from < 0 ? 0 : q->from, to = q->to > TIME_MAX ? TIME_MAX : q->to;
    if (from >= to)
        return 0;
    bool any = false;
    int64_t first = 0, last = 0;
    if (ops->span(be, q, from, to, &any, &first, &last) != 0)
        return -1;
    if (!any)
        return 0;
    from = first;
    to = last + 1;

    *total = count_matches(&p, from, to);
    if (p.rc != 0)
        return -1;
    if (q->offset >= *total || q->limit == 0)
        return 0;
    int64_t end = to, skip = q->offset;
    if (q->offset > PAGE_SKIP_DIRECT && locate(&p, from, to, &skip, &end) != 0)
        return -1;
    page_read(&p, from, end, skip, ids, n);
    return p.rc;
}
