/* The merchant portal's store calls, checked the same way on both backends (test_store.c:
 * SQLite, test_store_pg.c: PostgreSQL): portal sign-in sessions (expiry, delete, prune), the
 * keyset-paged lists (payment sessions, HPP sessions, callback events, the request log) and
 * the order search by merchant reference. Each check takes an open store and two merchants;
 * the rule it checks is named above it. Included once by each test file, after cmocka and
 * store/store.h. */
#ifndef KASSE_TEST_PORTAL_STORE_REF_H
#define KASSE_TEST_PORTAL_STORE_REF_H

#include "lib/ids.h"

#define PT0 1700000000000LL          /* ms; the portal rows are created around it */
#define PAGE_ROWS 25                 /* merchant A's rows in each list */
#define PAGE_OTHER 5                 /* merchant B's rows, interleaved with A's */
#define PAGE_LIMIT 10

/* ---- portal sign-in sessions ---- */

struct portal_args {
    const struct portal_session_row *put;
    const char *get, *del;
    int64_t now, prune_before;
    struct portal_session_row got;
    int rc;
};

static int portal_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct portal_args *a = arg;
    a->rc = 0;
    if (a->put && store_portal_session_put(tx, a->put) != 0)
        return kerr_internal(err, "portal put");
    if (a->del && store_portal_session_delete(tx, a->del) != 0)
        return kerr_internal(err, "portal delete");
    if (a->prune_before && store_portal_session_prune(tx, a->prune_before) != 0)
        return kerr_internal(err, "portal prune");
    if (a->get)
        a->rc = store_portal_session_get(tx, a->get, a->now, &a->got);
    return 0;
}

static void portal_row(struct portal_session_row *r, char fill, int64_t merchant,
                       int64_t expires_at)
{
    memset(r, 0, sizeof *r);
    memset(r->id_hash, fill, 64);
    memset(r->csrf, 'c', 64);
    r->merchant_id = merchant;
    r->created_at = 1000;
    r->expires_at = expires_at;
}

static int portal_get(struct store *s, const char *id_hash, int64_t now,
                      struct portal_session_row *out)
{
    struct portal_args a = {.get = id_hash, .now = now};
    struct kerr err = {0};
    assert_int_equal(store_read(s, portal_fn, &a, &err), 0);
    if (a.rc == 0 && out)
        *out = a.got;
    return a.rc;
}

static void portal_write(struct store *s, struct portal_args *a)
{
    struct kerr err = {0};
    assert_int_equal(store_write(s, portal_fn, a, &err), 0);
}

/* Rule: a portal session round-trips while expires_at > now and is not found from expires_at
 * on; delete removes it and is 0 when it is already gone; another merchant's session reads as
 * that merchant's (the cookie hash is the key). */
static void check_portal_session_round_trip_and_expiry(struct store *s, int64_t a, int64_t b)
{
    struct portal_session_row r1, r2, got;
    portal_row(&r1, 'a', a, 2000);
    portal_row(&r2, 'b', b, 2000);
    portal_write(s, &(struct portal_args){.put = &r1});
    portal_write(s, &(struct portal_args){.put = &r2});
    assert_int_equal(portal_get(s, r1.id_hash, 1999, &got), 0);
    assert_string_equal(got.id_hash, r1.id_hash);
    assert_string_equal(got.csrf, r1.csrf);
    assert_int_equal(got.merchant_id, a);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.expires_at, 2000);
    assert_int_equal(portal_get(s, r2.id_hash, 0, &got), 0);
    assert_int_equal(got.merchant_id, b);
    assert_int_equal(portal_get(s, r1.id_hash, 2000, &got), STORE_NOT_FOUND);   /* expired */
    assert_int_equal(portal_get(s, r1.id_hash, 5000, &got), STORE_NOT_FOUND);
    char absent[65];
    memset(absent, 'f', 64);
    absent[64] = '\0';
    assert_int_equal(portal_get(s, absent, 0, &got), STORE_NOT_FOUND);

    portal_write(s, &(struct portal_args){.del = r1.id_hash});
    assert_int_equal(portal_get(s, r1.id_hash, 0, &got), STORE_NOT_FOUND);
    portal_write(s, &(struct portal_args){.del = r1.id_hash});                /* again: 0 */
    assert_int_equal(portal_get(s, r2.id_hash, 0, &got), 0);                   /* untouched */
}

/* Rule: prune(before) deletes exactly the sessions with expires_at < before, whoever's. */
static void check_portal_session_prune(struct store *s, int64_t a, int64_t b)
{
    struct portal_session_row r[4], got;
    portal_row(&r[0], '1', a, 100);
    portal_row(&r[1], '2', b, 199);
    portal_row(&r[2], '3', a, 200);
    portal_row(&r[3], '4', b, 300);
    for (int i = 0; i < 4; i++)
        portal_write(s, &(struct portal_args){.put = &r[i]});
    portal_write(s, &(struct portal_args){.prune_before = 200});
    assert_int_equal(portal_get(s, r[0].id_hash, 0, &got), STORE_NOT_FOUND);
    assert_int_equal(portal_get(s, r[1].id_hash, 0, &got), STORE_NOT_FOUND);
    assert_int_equal(portal_get(s, r[2].id_hash, 0, &got), 0);
    assert_int_equal(portal_get(s, r[3].id_hash, 0, &got), 0);
}

/* ---- keyset-paged lists ---- */

enum page_kind { PAGE_SESSIONS, PAGE_HPP, PAGE_OUTBOX, PAGE_REQLOG };

/* One page of any list, as keys: ids for sessions and HPP, "%020lld" of the id for events, the
 * correlation id for the log (at in at[]). */
struct portal_page_args {
    enum page_kind kind;
    int64_t merchant;
    char before_id[37];
    int64_t before_event;
    int64_t before_at;
    char keys[PAGE_LIMIT][37];
    int64_t at[PAGE_LIMIT];
    size_t n;
};

static int portal_page_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct portal_page_args *p = arg;
    int rc = -1;
    p->n = 0;
    switch (p->kind) {
    case PAGE_SESSIONS: {
        struct session_row rows[PAGE_LIMIT];
        rc = store_session_page(tx, p->merchant, p->before_id, PAGE_LIMIT, rows, &p->n);
        for (size_t i = 0; rc == 0 && i < p->n; i++) {
            /* filled like session_get */
            if (rows[i].merchant_id != p->merchant || strcmp(rows[i].body, "{\"n\":1}") != 0 ||
                strcmp(rows[i].client_token, "token") != 0 ||
                strcmp(rows[i].status, "incomplete") != 0 || rows[i].expires_at != 2000)
                rc = -1;
            memcpy(p->keys[i], rows[i].id, 37);
            session_row_free(&rows[i]);
        }
        break;
    }
    case PAGE_HPP: {
        struct hpp_row rows[PAGE_LIMIT];
        rc = store_hpp_page(tx, p->merchant, p->before_id, PAGE_LIMIT, rows, &p->n);
        for (size_t i = 0; rc == 0 && i < p->n; i++) {
            if (rows[i].merchant_id != p->merchant || strcmp(rows[i].body, "{}") != 0 ||
                strcmp(rows[i].status, "WAITING") != 0 || !ids_is_uuid(rows[i].page_id))
                rc = -1;
            memcpy(p->keys[i], rows[i].id, 37);
            hpp_row_free(&rows[i]);
        }
        break;
    }
    case PAGE_OUTBOX: {
        struct outbox_row rows[PAGE_LIMIT];
        rc = store_outbox_page(tx, p->merchant, p->before_event, PAGE_LIMIT, rows, &p->n);
        for (size_t i = 0; rc == 0 && i < p->n; i++) {
            if (rows[i].merchant_id != p->merchant || strcmp(rows[i].body, "{\"e\":1}") != 0 ||
                strcmp(rows[i].kind, "authorization") != 0)
                rc = -1;
            snprintf(p->keys[i], 37, "%020lld", (long long)rows[i].id);
            p->at[i] = rows[i].id;
            outbox_row_free(&rows[i]);
        }
        break;
    }
    case PAGE_REQLOG: {
        struct reqlog_row rows[PAGE_LIMIT];
        rc = store_reqlog_page(tx, p->merchant, p->before_at, p->before_id, PAGE_LIMIT, rows,
                               &p->n);
        for (size_t i = 0; rc == 0 && i < p->n; i++) {
            /* what the list carries; never the bodies */
            if (rows[i].merchant_id != p->merchant || strcmp(rows[i].method, "GET") != 0 ||
                strcmp(rows[i].path, "/payments/v1/sessions") != 0 || rows[i].status != 200 ||
                rows[i].duration_us != 1234 || rows[i].request_body || rows[i].response_body)
                rc = -1;
            memcpy(p->keys[i], rows[i].correlation_id, 37);
            p->at[i] = rows[i].at_ms;
            reqlog_row_free(&rows[i]);
        }
        break;
    }
    }
    return rc == 0 ? 0 : kerr_internal(err, "page");
}

/* Pages through a merchant's list from the newest with PAGE_LIMIT rows a page; fills keys (and
 * at) in the order read and returns how many. sizes gets each page's size, up to and
 * including the first short page. */
static size_t read_all_pages(struct store *s, enum page_kind kind, int64_t merchant,
                             char (*keys)[37], int64_t *at, size_t cap, size_t *sizes,
                             size_t *pages)
{
    struct portal_page_args p = {.kind = kind, .merchant = merchant, .before_at = INT64_MAX};
    size_t total = 0;
    *pages = 0;
    for (;;) {
        struct kerr err = {0};
        assert_int_equal(store_read(s, portal_page_fn, &p, &err), 0);
        sizes[(*pages)++] = p.n;
        assert_true(total + p.n <= cap);
        for (size_t i = 0; i < p.n; i++) {
            memcpy(keys[total + i], p.keys[i], 37);
            at[total + i] = p.at[i];
        }
        total += p.n;
        if (p.n < PAGE_LIMIT)
            return total;
        /* the cursor is the last row's key */
        memcpy(p.before_id, p.keys[p.n - 1], 37);
        p.before_event = p.at[p.n - 1];
        p.before_at = p.at[p.n - 1];
    }
}

static int key_desc(const void *x, const void *y)
{
    return -strcmp(x, y);
}

/* Checks a merchant's pages against its keys (want, any order): 10/10/5 (or what want's size
 * gives), no overlap, newest first, nothing of anyone else's. */
static void check_pages(struct store *s, enum page_kind kind, int64_t merchant,
                        char (*want)[37], size_t n_want)
{
    char got[PAGE_ROWS + PAGE_OTHER + 1][37];
    int64_t at[PAGE_ROWS + PAGE_OTHER + 1];
    size_t sizes[8], pages;
    size_t n = read_all_pages(s, kind, merchant, got, at, PAGE_ROWS + PAGE_OTHER + 1, sizes,
                              &pages);
    assert_int_equal(n, n_want);
    assert_int_equal(pages, n_want / PAGE_LIMIT + 1);
    for (size_t i = 0; i + 1 < pages; i++)
        assert_int_equal(sizes[i], PAGE_LIMIT);
    assert_int_equal(sizes[pages - 1], n_want % PAGE_LIMIT);
    qsort(want, n_want, 37, key_desc);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);   /* the same rows, newest first, once each */
}

struct list_seed {
    int64_t a, b;
    char a_keys[PAGE_ROWS][37], b_keys[PAGE_OTHER][37];
};

static int seed_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct list_seed *d = arg;
    /* A's rows, with one of B's after every fifth, created one millisecond apart. */
    size_t na = 0, nb = 0;
    for (int i = 0; i < PAGE_ROWS + PAGE_OTHER; i++) {
        bool mine = i % 6 != 5;
        int64_t m = mine ? d->a : d->b;
        char *key = mine ? d->a_keys[na++] : d->b_keys[nb++];
        struct session_row row = {.merchant_id = m, .status = "incomplete", .created_at = 1000,
                                  .updated_at = 1000, .expires_at = 2000,
                                  .client_token = "token", .body = "{\"n\":1}"};
        if (ids_uuid7(PT0 + i, row.id) != 0 || store_session_insert(tx, &row) != 0)
            return kerr_internal(err, "seed session");
        memcpy(key, row.id, 37);
    }
    return 0;
}

static int seed_hpp_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct list_seed *d = arg;
    size_t na = 0, nb = 0;
    for (int i = 0; i < PAGE_ROWS + PAGE_OTHER; i++) {
        bool mine = i % 6 != 5;
        char *key = mine ? d->a_keys[na++] : d->b_keys[nb++];
        struct hpp_row row = {.merchant_id = mine ? d->a : d->b, .status = "WAITING",
                              .kp_session_id = "01a2338b-c7e9-79d5-bf05-46908aafcfc0",
                              .created_at = 1, .updated_at = 1, .expires_at = 2, .body = "{}"};
        if (ids_uuid7(PT0 + i, row.id) != 0 || ids_uuid4(row.page_id) != 0 ||
            store_hpp_insert(tx, &row) != 0)
            return kerr_internal(err, "seed hpp");
        memcpy(key, row.id, 37);
    }
    return 0;
}

static int seed_outbox_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct list_seed *d = arg;
    size_t na = 0, nb = 0;
    for (int i = 0; i < PAGE_ROWS + PAGE_OTHER; i++) {
        bool mine = i % 6 != 5;
        char *key = mine ? d->a_keys[na++] : d->b_keys[nb++];
        struct outbox_row row = {.merchant_id = mine ? d->a : d->b, .kind = "authorization",
                                 .url = "", .body = "{\"e\":1}", .created_at = PT0 + i,
                                 .due_at = PT0 + i};
        if (store_outbox_add(tx, &row) != 0)
            return kerr_internal(err, "seed outbox");
        snprintf(key, 37, "%020lld", (long long)row.id);
    }
    return 0;
}

/* Rule: the payment-session list pages newest first by id: 25 rows at 10 a page are 10/10/5,
 * each row once; merchant B sees only its own 5, merchant A none of B's. */
static void check_session_page(struct store *s, int64_t a, int64_t b)
{
    static struct list_seed d;
    memset(&d, 0, sizeof d);
    d.a = a;
    d.b = b;
    struct kerr err = {0};
    assert_int_equal(store_write(s, seed_fn, &d, &err), 0);
    check_pages(s, PAGE_SESSIONS, a, d.a_keys, PAGE_ROWS);
    check_pages(s, PAGE_SESSIONS, b, d.b_keys, PAGE_OTHER);
}

/* Rule: the HPP-session list pages as the payment-session list does. */
static void check_hpp_page(struct store *s, int64_t a, int64_t b)
{
    static struct list_seed d;
    memset(&d, 0, sizeof d);
    d.a = a;
    d.b = b;
    struct kerr err = {0};
    assert_int_equal(store_write(s, seed_hpp_fn, &d, &err), 0);
    check_pages(s, PAGE_HPP, a, d.a_keys, PAGE_ROWS);
    check_pages(s, PAGE_HPP, b, d.b_keys, PAGE_OTHER);
}

struct outbox_get_args {
    int64_t merchant, id;
    struct outbox_row row;
    int rc;
};

static int outbox_get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct outbox_get_args *g = arg;
    g->rc = store_outbox_get(tx, g->merchant, g->id, &g->row);
    return 0;
}

/* Rule: callback events page newest first by id (10/10/5, scoped by merchant); outbox_get
 * finds the merchant's own event and reports another merchant's id as not found. */
static void check_outbox_page_and_get(struct store *s, int64_t a, int64_t b)
{
    static struct list_seed d;
    memset(&d, 0, sizeof d);
    d.a = a;
    d.b = b;
    struct kerr err = {0};
    assert_int_equal(store_write(s, seed_outbox_fn, &d, &err), 0);
    check_pages(s, PAGE_OUTBOX, a, d.a_keys, PAGE_ROWS);
    check_pages(s, PAGE_OUTBOX, b, d.b_keys, PAGE_OTHER);

    int64_t mine = strtoll(d.a_keys[3], NULL, 10);
    struct outbox_get_args g = {.merchant = a, .id = mine};
    assert_int_equal(store_read(s, outbox_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.row.id, mine);
    assert_int_equal(g.row.merchant_id, a);
    assert_string_equal(g.row.body, "{\"e\":1}");
    assert_string_equal(g.row.status, "pending");
    outbox_row_free(&g.row);
    g = (struct outbox_get_args){.merchant = b, .id = mine};   /* A's event, asked by B */
    assert_int_equal(store_read(s, outbox_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
    g = (struct outbox_get_args){.merchant = a, .id = mine + 100000};
    assert_int_equal(store_read(s, outbox_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
}

/* Rule: the request log pages latest first by (at, correlation id) — rows logged in the same
 * millisecond are split across pages without loss or overlap — 10/10/5, scoped by merchant
 * (unauthenticated rows are no one's); the bodies are not returned. */
static void check_reqlog_page(struct store *s, int64_t a, int64_t b)
{
    static char a_keys[PAGE_ROWS][37], b_keys[PAGE_OTHER][37];
    size_t na = 0, nb = 0;
    for (int i = 0; i < PAGE_ROWS + PAGE_OTHER + 1; i++) {
        bool anonymous = i == PAGE_ROWS + PAGE_OTHER, mine = i % 6 != 5;
        struct reqlog_row row = {.merchant_id = anonymous ? 0 : mine ? a : b, .status = 200,
                                 .at_ms = PT0 + i / 4, .duration_us = 1234};
        snprintf(row.method, sizeof row.method, "GET");
        row.path = strdup("/payments/v1/sessions");
        row.request_body = strdup("{\"big\":\"body\"}");
        row.response_body = strdup("{}");
        assert_int_equal(ids_uuid4(row.correlation_id), 0);   /* random: ties in at order by id */
        if (!anonymous)
            memcpy(mine ? a_keys[na++] : b_keys[nb++], row.correlation_id, 37);
        store_log_async(s, &row);
    }
    struct kerr err = {0};
    assert_int_equal(store_flush(s, &err), 0);

    char got[PAGE_ROWS + PAGE_OTHER + 1][37];
    int64_t at[PAGE_ROWS + PAGE_OTHER + 1];
    size_t sizes[8], pages;
    for (int who = 0; who < 2; who++) {
        size_t n_want = who ? PAGE_OTHER : PAGE_ROWS;
        size_t n = read_all_pages(s, PAGE_REQLOG, who ? b : a, got, at,
                                  PAGE_ROWS + PAGE_OTHER + 1, sizes, &pages);
        assert_int_equal(n, n_want);
        assert_int_equal(pages, n_want / PAGE_LIMIT + 1);
        for (size_t i = 0; i + 1 < pages; i++)
            assert_int_equal(sizes[i], PAGE_LIMIT);
        assert_int_equal(sizes[pages - 1], n_want % PAGE_LIMIT);
        for (size_t i = 1; i < n; i++)   /* strictly descending: no overlap, no repeat */
            assert_true(at[i - 1] > at[i] ||
                        (at[i - 1] == at[i] && strcmp(got[i - 1], got[i]) > 0));
        for (size_t i = 0; i < n_want; i++) {   /* every row once */
            const char *k = who ? b_keys[i] : a_keys[i];
            size_t seen = 0;
            for (size_t j = 0; j < n; j++)
                seen += strcmp(got[j], k) == 0;
            assert_int_equal(seen, 1);
        }
    }
}

/* ---- orders by merchant reference ---- */

struct ref_seed {
    int64_t merchant;
    const char *id;
    int64_t created_at;
    const char *body;
};

struct ref_args {
    const struct ref_seed *seed;
    size_t n_seed;
    bool update;
    int64_t merchant;
    const char *reference;
    size_t cap;
    char ids[8][37];
    size_t n;
};

static int ref_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct ref_args *r = arg;
    for (size_t i = 0; i < r->n_seed; i++) {
        const struct ref_seed *o = &r->seed[i];
        struct order_row row = {.merchant_id = o->merchant, .session_id = "s",
                                .status = "AUTHORIZED", .fraud_status = "ACCEPTED",
                                .order_amount = 100, .created_at = o->created_at,
                                .expires_at = o->created_at + 1, .body = (char *)o->body,
                                .list_status = "AUTHORIZED", .list_until = INT64_MAX};
        snprintf(row.id, sizeof row.id, "%s", o->id);
        int rc = r->update ? store_order_update(tx, &row) : store_order_insert(tx, &row);
        if (rc != 0)
            return kerr_internal(err, "order put");
    }
    if (r->reference &&
        store_order_by_reference(tx, r->merchant, r->reference, r->ids, r->cap, &r->n) != 0)
        return kerr_internal(err, "order_by_reference");
    return 0;
}

static size_t by_reference(struct store *s, int64_t merchant, const char *reference, size_t cap,
                           char (*ids)[37])
{
    struct ref_args r = {.merchant = merchant, .reference = reference, .cap = cap};
    struct kerr err = {0};
    assert_true(cap <= 8);
    assert_int_equal(store_read(s, ref_fn, &r, &err), 0);
    assert_true(r.n <= cap);
    memcpy(ids, r.ids, sizeof r.ids);
    return r.n;
}

/* Rule: order_by_reference finds the merchant's orders whose merchant_reference1 or
 * merchant_reference2 equals the reference exactly (an order with both counts once), newest
 * first (created_at, then id), at most cap; another merchant's order with the same reference
 * is not found; a reference changed by an order update is found by its new value only. */
static void check_order_by_reference(struct store *s, int64_t a, int64_t b)
{
    static const char *const id[] = {
        "0a000000-0000-4000-8000-000000000001", "0a000000-0000-4000-8000-000000000002",
        "0a000000-0000-4000-8000-000000000003", "0a000000-0000-4000-8000-000000000004",
        "0a000000-0000-4000-8000-000000000005", "0a000000-0000-4000-8000-000000000006",
        "0a000000-0000-4000-8000-000000000007", "0a000000-0000-4000-8000-000000000008",
    };
    const struct ref_seed seed[] = {
        {a, id[0], PT0 + 1, "{\"merchant_reference1\":\"R-1\",\"order_amount\":100}"},
        {a, id[1], PT0 + 2, "{\"merchant_reference2\":\"R-1\"}"},
        {a, id[2], PT0 + 3, "{\"merchant_reference1\":\"R-1\",\"merchant_reference2\":\"R-1\"}"},
        {a, id[3], PT0 + 4, "{\"merchant_reference1\":\"R-10\",\"merchant_reference2\":\"r-1\"}"},
        {a, id[4], PT0 + 5, "{\"order_amount\":100}"},
        {b, id[5], PT0 + 6, "{\"merchant_reference1\":\"R-1\"}"},   /* B's, same reference */
        {a, id[6], PT0 + 3, "{\"merchant_reference2\":\"R-1\"}"},   /* ties id[2] on time */
        {a, id[7], PT0 + 7, "{\"merchant_reference1\":\"caf\xc3\xa9 \\\"x\\\"\"}"},
    };
    struct ref_args put = {.seed = seed, .n_seed = sizeof seed / sizeof seed[0]};
    struct kerr err = {0};
    assert_int_equal(store_write(s, ref_fn, &put, &err), 0);

    char got[8][37];
    assert_int_equal(by_reference(s, a, "R-1", 8, got), 4);
    assert_string_equal(got[0], id[6]);        /* created_at PT0 + 3, the greater id */
    assert_string_equal(got[1], id[2]);        /* both references: listed once */
    assert_string_equal(got[2], id[1]);        /* reference2 */
    assert_string_equal(got[3], id[0]);        /* reference1 */
    assert_int_equal(by_reference(s, a, "R-1", 2, got), 2);   /* at most cap, the newest */
    assert_string_equal(got[0], id[6]);
    assert_string_equal(got[1], id[2]);
    assert_int_equal(by_reference(s, b, "R-1", 8, got), 1);   /* B: its own only */
    assert_string_equal(got[0], id[5]);
    assert_int_equal(by_reference(s, a, "R-10", 8, got), 1);  /* exact, not a prefix */
    assert_string_equal(got[0], id[3]);
    assert_int_equal(by_reference(s, a, "r-1", 8, got), 1);   /* case matters */
    assert_string_equal(got[0], id[3]);
    assert_int_equal(by_reference(s, a, "R-", 8, got), 0);
    assert_int_equal(by_reference(s, a, "", 8, got), 0);
    assert_int_equal(by_reference(s, a, "caf\xc3\xa9 \"x\"", 8, got), 1);   /* the JSON value */
    assert_string_equal(got[0], id[7]);

    /* The merchant changes id[0]'s references (PATCH merchant-references: an order update). */
    const struct ref_seed changed[] = {
        {a, id[0], PT0 + 1, "{\"merchant_reference1\":\"NEW\",\"merchant_reference2\":\"\"}"},
    };
    put = (struct ref_args){.seed = changed, .n_seed = 1, .update = true};
    assert_int_equal(store_write(s, ref_fn, &put, &err), 0);
    assert_int_equal(by_reference(s, a, "R-1", 8, got), 3);
    assert_string_equal(got[2], id[1]);
    assert_int_equal(by_reference(s, a, "NEW", 8, got), 1);
    assert_string_equal(got[0], id[0]);
}

#endif
