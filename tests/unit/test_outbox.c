/* Unit tests for outbox: the retry schedule, and events written in a transaction come due on
 * Kasse's clock, are recorded with their attempts, and leave the due list once settled. */
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
    return store_outbox_due(tx, d->now, d->rows, 4, &d->n) ? kerr_internal(err, "due") : 0;
}

static int record_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    int64_t id = *(int64_t *)arg;
    struct outbox_attempt a = {.at = 6000, .http_status = 500, .duration_ms = 3};
    snprintf(a.error, sizeof a.error, "HTTP 500");
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
    store_close(s);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
        snprintf(p, sizeof p, "/tmp/kasse-test-outbox-%d-log.db%s", (int)getpid(), suffix[i]);
        unlink(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_event_due_and_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
