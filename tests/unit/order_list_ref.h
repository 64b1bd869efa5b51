/* The order list's reference model, shared by the store tests of both backends
 * (test_store.c: SQLite, test_store_pg.c: PostgreSQL): orders as the store was told of them,
 * the page a full scan answers, and random orders and queries at every scale the counts use.
 * Included once by each test file, after cmocka and store/store.h. */
#ifndef KASSE_TEST_ORDER_LIST_REF_H
#define KASSE_TEST_ORDER_LIST_REF_H

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t pick(int64_t lo, int64_t hi)   /* [lo, hi] */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

#define LT0 1700000000000LL                   /* ms; the listed orders are created around it */
static const char *const list_statuses[] = {"AUTHORIZED", "PART_CAPTURED", "CAPTURED",
                                            "CANCELLED", "EXPIRED", "CLOSED"};

/* The reference: every order as the store was told of it. */
struct ref_order {
    char id[37];
    int64_t merchant;
    int64_t created_at;
    const char *ls, *la;                      /* la NULL: never changes */
    int64_t lu;
};

static void make_order_row(struct order_row *row, const struct ref_order *o)
{
    memset(row, 0, sizeof *row);
    memcpy(row->id, o->id, sizeof row->id);
    row->merchant_id = o->merchant;
    snprintf(row->session_id, sizeof row->session_id, "s");
    snprintf(row->status, sizeof row->status, "%s", o->ls);
    snprintf(row->fraud_status, sizeof row->fraud_status, "ACCEPTED");
    row->order_amount = 100;
    row->created_at = o->created_at;
    row->expires_at = o->created_at + 1;
    row->body = "{}";
    snprintf(row->list_status, sizeof row->list_status, "%s", o->ls);
    row->list_until = o->la ? o->lu : INT64_MAX;
    snprintf(row->list_after, sizeof row->list_after, "%s", o->la ? o->la : "");
}

struct orders_args {
    struct ref_order *o;
    size_t n;
    bool update;
};

static int put_orders_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct orders_args *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        struct order_row row;
        make_order_row(&row, &a->o[i]);
        int rc = a->update ? store_order_update(tx, &row) : store_order_insert(tx, &row);
        if (rc != 0)
            return kerr_internal(err, "order put");
    }
    return 0;
}

static const char *ref_status_at(const struct ref_order *o, int64_t now)
{
    return o->la && o->lu <= now ? o->la : o->ls;
}

static int ref_newer(const void *a, const void *b)   /* qsort: newest first */
{
    const struct ref_order *x = *(const struct ref_order *const *)a;
    const struct ref_order *y = *(const struct ref_order *const *)b;
    if (x->created_at != y->created_at)
        return x->created_at > y->created_at ? -1 : 1;
    return -strcmp(x->id, y->id);
}

struct page_args {
    struct order_page_query q;
    char ids[100][37];
    size_t n;
    int64_t total;
    int rc;
};

static int page_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct page_args *p = arg;
    p->rc = store_order_page(tx, &p->q, p->ids, &p->n, &p->total);
    return 0;
}

/* Asks the store for one page and compares it with the reference, order by order. */
static void check_page(struct store *s, const struct ref_order *all, size_t n_all,
                       const struct order_page_query *q)
{
    const struct ref_order **match = calloc(n_all ? n_all : 1, sizeof *match);
    assert_non_null(match);
    size_t total = 0;
    for (size_t i = 0; i < n_all; i++) {
        const struct ref_order *o = &all[i];
        if (o->merchant == q->merchant_id && o->created_at >= q->from && o->created_at < q->to &&
            (!q->status || strcmp(ref_status_at(o, q->now), q->status) == 0))
            match[total++] = o;
    }
    qsort(match, total, sizeof *match, ref_newer);
    struct page_args p = {.q = *q};
    struct kerr err = {0};
    assert_int_equal(store_read(s, page_fn, &p, &err), 0);
    assert_int_equal(p.rc, 0);
    if (p.total != (int64_t)total)
        fail_msg("status %s [%lld, %lld) now %lld: total %lld, expected %zu",
                 q->status ? q->status : "any", (long long)q->from, (long long)q->to,
                 (long long)q->now, (long long)p.total, total);
    size_t want = (size_t)q->offset >= total ? 0 : total - (size_t)q->offset;
    if (want > q->limit)
        want = q->limit;
    if (p.n != want)
        fail_msg("status %s offset %lld limit %zu: %zu ids, expected %zu",
                 q->status ? q->status : "any", (long long)q->offset, q->limit, p.n, want);
    for (size_t i = 0; i < want; i++)
        if (strcmp(p.ids[i], match[q->offset + (int64_t)i]->id) != 0)
            fail_msg("status %s [%lld, %lld) offset %lld: item %zu is %s, expected %s",
                     q->status ? q->status : "any", (long long)q->from, (long long)q->to,
                     (long long)q->offset, i, p.ids[i], match[q->offset + (int64_t)i]->id);
    free(match);
}

/* Creation times at every scale the counts use: the same millisecond, the same second,
 * minutes, days, years. */
static int64_t pick_created(void)
{
    switch (pick(0, 9)) {
    case 0: case 1: case 2:   /* a few seconds, at both ends of each */
        return LT0 + pick(0, 3) * 1000 + (pick(0, 1) ? pick(0, 20) : pick(980, 999));
    case 3: case 4: return LT0 + pick(0, 3600LL * 1000);
    case 5: case 6: case 7: return LT0 + pick(0, 60LL * 86400 * 1000);
    default: return LT0 + pick(-3LL * 360 * 86400 * 1000, 3LL * 360 * 86400 * 1000);
    }
}

static void make_ref(struct ref_order *o, size_t i, int64_t merchant)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%08zx-0000-7000-8000-%012llx", i,
             (unsigned long long)(rnd() & 0xffffffffffffULL));
    o->merchant = merchant;
    o->created_at = pick_created();
    o->ls = list_statuses[pick(0, 9) < 5 ? 0 : pick(0, 5)];
    if (strcmp(o->ls, "AUTHORIZED") == 0 || strcmp(o->ls, "PART_CAPTURED") == 0) {
        o->la = pick(0, 3) == 0 ? "CANCELLED" : "EXPIRED";
        o->lu = LT0 + pick(-30LL * 86400 * 1000, 90LL * 86400 * 1000);
    }
}

/* A query drawn at random: any or one status, open or random bounds (often on a second or
 * bucket edge, or 1 ms off one), shallow or deep offsets. */
static void pick_query(struct order_page_query *q, int64_t merchant, int64_t total_hint)
{
    memset(q, 0, sizeof *q);
    q->merchant_id = merchant;
    q->status = pick(0, 3) == 0 ? NULL : list_statuses[pick(0, 9) < 5 ? 0 : pick(0, 5)];
    q->from = 0;
    q->to = INT64_MAX;
    for (int side = 0; side < 2; side++) {
        if (pick(0, 2) == 0)
            continue;
        int64_t t = pick_created();
        static const int64_t snap[] = {1000, 60000, 3600000, 86400000};
        if (pick(0, 1)) {
            int64_t w = snap[pick(0, 3)];
            t = t / w * w + pick(-1, 1);
        }
        if (side == 0)
            q->from = t;
        else
            q->to = t;
    }
    if (q->from > q->to) {
        int64_t t = q->from;
        q->from = q->to;
        q->to = t;
    }
    q->now = LT0 + pick(-40LL * 86400 * 1000, 100LL * 86400 * 1000);
    q->limit = (size_t)pick(1, 100);
    switch (pick(0, 3)) {
    case 0: q->offset = 0; break;
    case 1: q->offset = pick(0, 1200); break;
    default: q->offset = pick(0, total_hint + 10); break;
    }
}


#endif
