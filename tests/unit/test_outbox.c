/* Unit tests for outbox: the retry schedule; events written in a transaction come due on
 * Kasse's clock, are recorded with their attempts, and leave the due list once settled; the
 * endpoint of a URL; the fair scheduling rule (outbox_pick) and the due query's per-endpoint
 * bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "outbox/outbox.h"

/* Rule: after 1 failed attempt wait 1 s, after 2 wait 2 s (Klarna: backoff from 1 s). */
static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(outbox_backoff_ms(0), 0);
    assert_int_equal(outbox_backoff_ms(1), 1000);
    assert_int_equal(outbox_backoff_ms(2), 2000);
    assert_int_equal(outbox_backoff_ms(3), 4000);
    assert_true(outbox_backoff_ms(1000) > 0);
}

/* Rule: the unit of fairness is scheme://host:port, case-folded, default port filled in; the
 * path, query, user and fragment do not matter. */
static void test_endpoint(void **state)
{
    (void)state;
    char e[280];
    outbox_endpoint("HTTP://Shop.Example/cb/1?x=1#f", e, sizeof e);
    assert_string_equal(e, "http://shop.example:80");
    outbox_endpoint("https://shop.example./other", e, sizeof e);
    assert_string_equal(e, "https://shop.example:443");
    outbox_endpoint("https://user:pw@shop.example:8443/a", e, sizeof e);
    assert_string_equal(e, "https://shop.example:8443");
    outbox_endpoint("http://127.0.0.1:9/x", e, sizeof e);
    assert_string_equal(e, "http://127.0.0.1:9");
    outbox_endpoint("http://[::1]:8080/x", e, sizeof e);
    assert_string_equal(e, "http://[::1]:8080");
    outbox_endpoint("shop.example/cb", e, sizeof e);       /* libcurl guesses http */
    assert_string_equal(e, "http://shop.example:80");
    outbox_endpoint("", e, sizeof e);
    assert_string_equal(e, "");
    outbox_endpoint("http://", e, sizeof e);                /* no host: its own endpoint */
    assert_string_equal(e, "http://");
    char small[8];
    outbox_endpoint("https://shop.example/", small, sizeof small);
    assert_string_equal(small, "https:/");
}

#define A "http://a.example:80"
#define B "http://b.example:80"
#define C "http://c.example:80"

/* Rule: the oldest due event goes first when its endpoint is idle. */
static void test_pick_oldest_first(void **state)
{
    (void)state;
    struct outbox_slot due[] = {{1, A, "s1"}, {2, B, "s2"}, {3, A, "s3"}};
    assert_int_equal(outbox_pick(due, 3, NULL, 0, 2), 0);
    assert_int_equal(outbox_pick(due, 0, NULL, 0, 2), -1);
}

/* Rule: an endpoint gets at most per_endpoint deliveries at once; its other events wait, and
 * other endpoints' events go ahead of them even when younger. */
static void test_pick_per_endpoint_limit(void **state)
{
    (void)state;
    struct outbox_slot busy[] = {{1, A, "s1"}, {2, A, "s2"}};
    struct outbox_slot due[] = {{1, A, "s1"}, {2, A, "s2"}, {3, A, "s3"}, {4, A, "s4"},
                                {9, B, "s9"}};
    assert_int_equal(outbox_pick(due, 5, busy, 2, 2), 4);
    assert_int_equal(outbox_pick(due, 4, busy, 2, 2), -1);   /* only A's: A is full */
    assert_int_equal(outbox_pick(due, 4, busy, 1, 2), 1);    /* one of A's in flight */
}

/* Rule: an endpoint with fewer deliveries in flight goes first ("other endpoints' events are
 * picked first"); among equals, the oldest. */
static void test_pick_least_loaded_endpoint(void **state)
{
    (void)state;
    struct outbox_slot busy[] = {{1, A, "s1"}, {5, B, "s5"}, {6, B, "s6"}};
    struct outbox_slot due[] = {{2, A, "s2"}, {7, B, "s7"}, {8, C, "s8"}, {9, C, "s9"}};
    assert_int_equal(outbox_pick(due, 4, busy, 3, 3), 2);    /* C (0) before A (1), B (2) */
    assert_int_equal(outbox_pick(due, 2, busy, 3, 3), 0);    /* A (1) before B (2) */
    assert_int_equal(outbox_pick(due, 2, busy, 3, 2), 0);    /* B is full */
}

/* Rule: an event is never handed out while it is being delivered (no two workers at once),
 * nor while another event of its session is (a session's callbacks go out in order). */
static void test_pick_claims(void **state)
{
    (void)state;
    struct outbox_slot busy[] = {{1, A, "s1"}};
    struct outbox_slot due[] = {{1, A, "s1"}, {2, B, "s1"}, {3, C, ""}, {4, C, ""}};
    assert_int_equal(outbox_pick(due, 2, busy, 1, 8), -1);
    assert_int_equal(outbox_pick(due, 4, busy, 1, 8), 2);    /* "" is no session */
    struct outbox_slot busy2[] = {{3, C, ""}};
    assert_int_equal(outbox_pick(&due[2], 2, busy2, 1, 8), 1);
    assert_int_equal(outbox_pick(&due[2], 2, busy2, 1, 0), -1); /* a limit below 1 is 1 */
}

/* Rule: a hanging endpoint holds at most per_endpoint workers of a pool, whatever its backlog:
 * filling a pool of 8 from 20 events to A then one to B hands out A, A, B and stops. */
static void test_pick_fills_pool_fairly(void **state)
{
    (void)state;
    struct outbox_slot due[21], busy[8];
    char sessions[21][16];
    for (int i = 0; i < 21; i++) {
        snprintf(sessions[i], sizeof sessions[i], "s%d", i);
        due[i] = (struct outbox_slot){i + 1, i < 20 ? A : B, sessions[i]};
    }
    size_t n_busy = 0;
    int k;
    while (n_busy < 8 && (k = outbox_pick(due, 21, busy, n_busy, 2)) >= 0)
        busy[n_busy++] = due[k];
    assert_int_equal(n_busy, 3);
    assert_int_equal(busy[0].id, 1);
    assert_int_equal(busy[1].id, 21);                        /* B before A's second */
    assert_int_equal(busy[2].id, 2);
}

/* Removes a test store: path ending ".db", its log store and their WAL files. */
static void remove_db(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char log[160];
    snprintf(log, sizeof log, "%.*s-log.db", (int)(strlen(path) - 3), path);
    for (int i = 0; i < 3; i++) {
        char p[180];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s%s", log, suffix[i]);
        unlink(p);
    }
}

static int64_t merchant_id;

static int merchant_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    struct merchant_row m = {.username = "m", .name = "m", .categories = "klarna"};
    if (store_merchant_insert(tx, &m) != 0)
        return kerr_internal(err, "insert");
    merchant_id = m.id;
    return 0;
}

static int add_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    json_t *body = json_pack("{s:s}", "authorization_token", "t");
    int rc = outbox_event(tx, merchant_id, "authorization", "s1", "", "http://127.0.0.1:9/x",
                          body, 1000, 5000, err);
    json_decref(body);
    return rc;
}

struct due_args {
    int64_t now;
    struct outbox_row rows[4];
    size_t n;
};

static int due_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct due_args *d = arg;
    return store_outbox_due(tx, d->now, 0, 4, d->rows, 4, &d->n) ? kerr_internal(err, "due") : 0;
}

static int record_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    int64_t id = *(int64_t *)arg;
    struct outbox_attempt a = {.at = 6000, .http_status = 500, .duration_ms = 3};
    snprintf(a.error, sizeof a.error, "HTTP 500");
    snprintf(a.response, sizeof a.response, "%s", "try later");
    return store_outbox_record(tx, id, &a, "failed", 6000) ? kerr_internal(err, "record") : 0;
}

struct attempts_args {
    int64_t id;
    struct outbox_attempt a[4];
    size_t n;
};

static int attempts_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct attempts_args *x = arg;
    return store_outbox_attempts(tx, x->id, x->a, 4, &x->n) ? kerr_internal(err, "att") : 0;
}

/* Rule: an event is due from its due time on Kasse's clock, and a settled one is not due. */
static void test_event_due_and_recorded(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/tmp/kasse-test-outbox-%d.db", (int)getpid());
    struct kerr err = {0};
    struct store *s = store_sqlite_open(path, &err);
    assert_non_null(s);
    assert_int_equal(store_write(s, merchant_fn, NULL, &err), 0);
    assert_int_equal(store_write(s, add_fn, NULL, &err), 0);

    struct due_args early = {.now = 4999};
    assert_int_equal(store_read(s, due_fn, &early, &err), 0);
    assert_int_equal(early.n, 0);
    struct due_args due = {.now = 5000};
    assert_int_equal(store_read(s, due_fn, &due, &err), 0);
    assert_int_equal(due.n, 1);
    assert_string_equal(due.rows[0].kind, "authorization");
    assert_string_equal(due.rows[0].body, "{\"authorization_token\":\"t\"}");
    assert_string_equal(due.rows[0].status, "pending");
    int64_t id = due.rows[0].id;
    outbox_row_free(&due.rows[0]);

    assert_int_equal(store_write(s, record_fn, &id, &err), 0);
    struct due_args after = {.now = 100000};
    assert_int_equal(store_read(s, due_fn, &after, &err), 0);
    assert_int_equal(after.n, 0);
    struct attempts_args at = {.id = id};
    assert_int_equal(store_read(s, attempts_fn, &at, &err), 0);
    assert_int_equal(at.n, 1);
    assert_int_equal(at.a[0].http_status, 500);
    assert_string_equal(at.a[0].error, "HTTP 500");
    assert_string_equal(at.a[0].response, "try later");
    store_close(s);
    remove_db(path);
}

struct claim_args {
    int64_t id, wall_now, lease_until;
    int rc;
};

static int claim_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct claim_args *c = arg;
    c->rc = store_outbox_claim(tx, c->id, c->wall_now, c->lease_until);
    return c->rc < 0 ? kerr_internal(err, "claim") : 0;
}

struct wall_due_args {
    int64_t wall_now;
    struct outbox_row rows[4];
    size_t n;
};

static int wall_due_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct wall_due_args *d = arg;
    return store_outbox_due(tx, 5000, d->wall_now, 4, d->rows, 4, &d->n) ? kerr_internal(err, "due")
                                                                          : 0;
}

static size_t due_at_wall(struct store *s, int64_t wall_now)
{
    struct kerr err = {0};
    struct wall_due_args d = {.wall_now = wall_now};
    assert_int_equal(store_read(s, wall_due_fn, &d, &err), 0);
    for (size_t i = 0; i < d.n; i++)
        outbox_row_free(&d.rows[i]);
    return d.n;
}

/* Rule (issue 10: several nodes on one store): a due event is claimed in its row until
 * lease_until on the wall clock; while the claim lives, nobody else claims it and it is not
 * due; once the lease has passed (the claimer died) anyone may claim it; the record of the
 * attempt gives the claim up, and a settled event cannot be claimed at all. */
static void test_claim_lease(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/tmp/kasse-test-outbox-claim-%d.db", (int)getpid());
    struct kerr err = {0};
    struct store *s = store_sqlite_open(path, &err);
    assert_non_null(s);
    assert_int_equal(store_write(s, merchant_fn, NULL, &err), 0);
    assert_int_equal(store_write(s, add_fn, NULL, &err), 0);
    struct due_args due = {.now = 5000};
    assert_int_equal(store_read(s, due_fn, &due, &err), 0);
    assert_int_equal(due.n, 1);
    assert_int_equal(due.rows[0].lease_until, 0);
    int64_t id = due.rows[0].id;
    outbox_row_free(&due.rows[0]);

    struct claim_args a = {.id = id, .wall_now = 1000, .lease_until = 21000};
    assert_int_equal(store_write(s, claim_fn, &a, &err), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(due_at_wall(s, 1000), 0);        /* claimed: not due for anyone */
    assert_int_equal(due_at_wall(s, 20999), 0);
    struct claim_args b = {.id = id, .wall_now = 20999, .lease_until = 40999};
    assert_int_equal(store_write(s, claim_fn, &b, &err), 0);
    assert_int_equal(b.rc, STORE_NOT_FOUND);          /* a second node cannot take it */

    assert_int_equal(due_at_wall(s, 21000), 1);       /* the claimer died: the lease ran out */
    struct claim_args c = {.id = id, .wall_now = 21000, .lease_until = 41000};
    assert_int_equal(store_write(s, claim_fn, &c, &err), 0);
    assert_int_equal(c.rc, 0);

    assert_int_equal(store_write(s, record_fn, &id, &err), 0);   /* "failed": settled */
    struct due_args settled = {.now = 5000};
    assert_int_equal(store_read(s, due_fn, &settled, &err), 0);
    assert_int_equal(settled.n, 0);
    struct claim_args d = {.id = id, .wall_now = 50000, .lease_until = 70000};
    assert_int_equal(store_write(s, claim_fn, &d, &err), 0);
    assert_int_equal(d.rc, STORE_NOT_FOUND);
    store_close(s);
    remove_db(path);
}

struct many_args {
    const char *url;
    int64_t due;
};

static int add_url_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct many_args *m = arg;
    json_t *body = json_pack("{s:s}", "authorization_token", "t");
    int rc = outbox_event(tx, merchant_id, "authorization", "", "", m->url, body, 1000, m->due,
                          err);
    json_decref(body);
    return rc;
}

struct due_bounded {
    int64_t now;
    size_t per_endpoint;
    struct outbox_row rows[8];
    size_t n;
};

static int due_bounded_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct due_bounded *d = arg;
    return store_outbox_due(tx, d->now, 0, d->per_endpoint, d->rows, 8, &d->n)
               ? kerr_internal(err, "due")
               : 0;
}

/* Rule: the due list holds at most per_endpoint events of any one endpoint (its oldest), so a
 * backlog of 10 events to one endpoint does not hide a younger event to another; each row
 * carries its endpoint. */
static void test_due_bounded_per_endpoint(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/tmp/kasse-test-outbox-due-%d.db", (int)getpid());
    struct kerr err = {0};
    struct store *s = store_sqlite_open(path, &err);
    assert_non_null(s);
    assert_int_equal(store_write(s, merchant_fn, NULL, &err), 0);
    for (int i = 0; i < 10; i++) {
        struct many_args m = {.url = i % 2 ? "http://A.example/x" : "http://a.example:80/y",
                              .due = 100 + i};
        assert_int_equal(store_write(s, add_url_fn, &m, &err), 0);
    }
    struct many_args b = {.url = "https://b.example/cb", .due = 500};
    assert_int_equal(store_write(s, add_url_fn, &b, &err), 0);

    struct due_bounded d = {.now = 1000, .per_endpoint = 4};
    assert_int_equal(store_read(s, due_bounded_fn, &d, &err), 0);
    assert_int_equal(d.n, 5);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(d.rows[i].endpoint, "http://a.example:80");
        assert_int_equal(d.rows[i].due_at, 100 + (int64_t)i);
    }
    assert_string_equal(d.rows[4].endpoint, "https://b.example:443");
    assert_string_equal(d.rows[4].url, "https://b.example/cb");
    for (size_t i = 0; i < d.n; i++)
        outbox_row_free(&d.rows[i]);

    struct due_bounded all = {.now = 1000, .per_endpoint = 100};
    assert_int_equal(store_read(s, due_bounded_fn, &all, &err), 0);
    assert_int_equal(all.n, 8);                               /* cap */
    for (size_t i = 0; i < all.n; i++)
        outbox_row_free(&all.rows[i]);
    store_close(s);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_event_due_and_recorded),
        cmocka_unit_test(test_claim_lease),
        cmocka_unit_test(test_due_bounded_per_endpoint),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_pick_oldest_first),
        cmocka_unit_test(test_pick_per_endpoint_limit),
        cmocka_unit_test(test_pick_least_loaded_endpoint),
        cmocka_unit_test(test_pick_claims),
        cmocka_unit_test(test_pick_fills_pool_fairly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
