/* Unit tests for store/sqlite: migrations, merchant scoping, group-commit atomicity (a failing
 * job rolls back only its own work), durability across reopen, concurrent writers, the request
 * log queue and flush barrier. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/ids.h"
#include "store/store.h"

static char db_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(db_path, sizeof db_path, "/tmp/kasse-test-store-%d.db", (int)getpid());
    unlink(db_path);
    char p[300];
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
    static const char *const log_suffixes[] = {"-log.db", "-log.db-wal", "-log.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%.*s%s", (int)(strlen(db_path) - 3), db_path, log_suffixes[i]);
        unlink(p);
    }
    return 0;
}

static int teardown(void **state)
{
    return setup(state);
}

struct merchant_args {
    const char *username;
    int64_t id;
};

static int add_merchant_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct merchant_args *a = arg;
    struct merchant_row m = {0};
    m.username = (char *)a->username;
    m.name = (char *)a->username;
    m.categories = "klarna";
    memset(m.secret_mac, 7, sizeof m.secret_mac);
    if (store_merchant_insert(tx, &m) != 0)
        return kerr_internal(err, "insert");
    a->id = m.id;
    return 0;
}

static int64_t add_merchant(struct store *s, const char *username)
{
    struct merchant_args a = {.username = username};
    struct kerr err = {0};
    assert_int_equal(store_write(s, add_merchant_fn, &a, &err), 0);
    assert_true(a.id > 0);
    return a.id;
}

static int insert_session_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    if (store_session_insert(tx, arg) != 0)
        return kerr_internal(err, "insert");
    return 0;
}

static void make_session(struct session_row *row, int64_t merchant, const char *body)
{
    memset(row, 0, sizeof *row);
    assert_int_equal(ids_uuid7(1700000000000, row->id), 0);
    row->merchant_id = merchant;
    snprintf(row->status, sizeof row->status, "incomplete");
    row->created_at = row->updated_at = 1000;
    row->expires_at = 2000;
    row->client_token = "token";
    row->body = (char *)body;
}

struct get_args {
    int64_t merchant;
    const char *id;
    struct session_row row;
    int rc;
};

static int get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct get_args *g = arg;
    g->rc = store_session_get(tx, g->merchant, g->id, &g->row);
    return 0;
}

static int get_session(struct store *s, int64_t merchant, const char *id, struct session_row *out)
{
    struct get_args g = {.merchant = merchant, .id = id};
    struct kerr err = {0};
    assert_int_equal(store_read(s, get_fn, &g, &err), 0);
    if (g.rc == 0)
        *out = g.row;
    return g.rc;
}

/* Rule: a session is visible only to the merchant that owns it. */
static void test_session_scoped_by_merchant(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice"), b = add_merchant(s, "bob");
    struct session_row row;
    make_session(&row, a, "{\"x\":1}");
    assert_int_equal(store_write(s, insert_session_fn, &row, &err), 0);

    struct session_row got;
    assert_int_equal(get_session(s, a, row.id, &got), 0);
    assert_string_equal(got.body, "{\"x\":1}");
    assert_string_equal(got.status, "incomplete");
    assert_int_equal(got.expires_at, 2000);
    session_row_free(&got);
    assert_int_equal(get_session(s, b, row.id, &got), STORE_NOT_FOUND);
    assert_int_equal(get_session(s, a, "00000000-0000-7000-8000-000000000000", &got),
                     STORE_NOT_FOUND);
    store_close(s);
}

struct two_inserts {
    struct session_row first, second;
};

static int insert_then_fail_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct two_inserts *t = arg;
    if (store_session_insert(tx, &t->first) != 0)
        return kerr_internal(err, "insert");
    return kerr_bad_value(err, "order_amount");   /* the job fails after writing */
}

/* Rule: a job that fails is rolled back entirely, and only that job. */
static void test_failed_job_leaves_nothing(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice");
    struct two_inserts t;
    make_session(&t.first, a, "{}");
    assert_int_equal(store_write(s, insert_then_fail_fn, &t, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "Bad value: order_amount");
    struct session_row got;
    assert_int_equal(get_session(s, a, t.first.id, &got), STORE_NOT_FOUND);

    struct session_row ok;
    make_session(&ok, a, "{\"ok\":true}");
    assert_int_equal(store_write(s, insert_session_fn, &ok, &err), 0);
    assert_int_equal(get_session(s, a, ok.id, &got), 0);
    session_row_free(&got);
    store_close(s);
}

/* Rule: an acknowledged write survives closing and reopening the store; migrations are applied
 * once (reopening does not fail on existing tables). */
static void test_durable_across_reopen(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice");
    struct session_row row;
    make_session(&row, a, "{\"kept\":1}");
    assert_int_equal(store_write(s, insert_session_fn, &row, &err), 0);
    store_close(s);

    s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    struct session_row got;
    assert_int_equal(get_session(s, a, row.id, &got), 0);
    assert_string_equal(got.body, "{\"kept\":1}");
    session_row_free(&got);
    store_close(s);
}

struct writer_args {
    struct store *s;
    int64_t merchant;
    int n;
    char ids[50][37];
};

static void *writer_thread(void *arg)
{
    struct writer_args *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct session_row row;
        make_session(&row, w->merchant, "{}");
        struct kerr err = {0};
        if (store_write(w->s, insert_session_fn, &row, &err) != 0)
            return (void *)1;
        memcpy(w->ids[i], row.id, sizeof row.id);
    }
    return NULL;
}

/* Rule: concurrent writers are all committed (batched), each readable afterwards. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice");
    enum { THREADS = 8 };
    static struct writer_args w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct writer_args){.s = s, .merchant = a, .n = 50};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < 50; j++) {
            struct session_row got;
            assert_int_equal(get_session(s, a, w[i].ids[j], &got), 0);
            session_row_free(&got);
        }
    store_close(s);
}

struct log_args {
    int64_t merchant;
    const char *id;
    struct reqlog_row row;
    int rc;
};

static int log_get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct log_args *l = arg;
    l->rc = store_reqlog_get(tx, l->merchant, l->id, &l->row);
    return 0;
}

/* Rule: a queued log row is readable after a flush, only by its merchant. */
static void test_log_queue_and_flush(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice"), b = add_merchant(s, "bob");
    struct reqlog_row row = {0};
    assert_int_equal(ids_uuid7(1700000000000, row.correlation_id), 0);
    row.merchant_id = a;
    snprintf(row.method, sizeof row.method, "POST");
    row.path = strdup("/payments/v1/sessions");
    row.status = 200;
    row.at_ms = 42;
    row.request_body = strdup("{\"a\":1}");
    row.response_body = NULL;
    char id[37];
    memcpy(id, row.correlation_id, sizeof id);
    store_log_async(s, &row);
    assert_int_equal(store_flush(s, &err), 0);

    struct log_args l = {.merchant = a, .id = id};
    assert_int_equal(store_read(s, log_get_fn, &l, &err), 0);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.row.path, "/payments/v1/sessions");
    assert_string_equal(l.row.request_body, "{\"a\":1}");
    assert_null(l.row.response_body);
    assert_int_equal(l.row.status, 200);
    reqlog_row_free(&l.row);

    struct log_args other = {.merchant = b, .id = id};
    assert_int_equal(store_read(s, log_get_fn, &other, &err), 0);
    assert_int_equal(other.rc, STORE_NOT_FOUND);
    store_close(s);
}

static int idem_put_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct idem_row row = {.merchant_id = *(int64_t *)arg, .key = "k1", .created_at = 1000,
                           .method = "POST", .path = "/x", .status = 201, .headers = "[]",
                           .body = ""};
    return store_idem_put(tx, &row) ? kerr_internal(err, "put") : 0;
}

static int idem_prune_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    return store_idem_prune(tx, 2000) ? kerr_internal(err, "prune") : 0;
}

struct idem_get_args {
    int64_t merchant;
    int rc;
};

static int idem_get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct idem_get_args *g = arg;
    struct idem_row row;
    g->rc = store_idem_get(tx, g->merchant, "k1", 0, &row);
    if (g->rc == 0)
        idem_row_free(&row);
    return 0;
}

/* Rule: idempotency records are found while young and removed by the 24-hour prune. */
static void test_idempotency_record_and_prune(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t a = add_merchant(s, "alice");
    assert_int_equal(store_write(s, idem_put_fn, &a, &err), 0);
    struct idem_get_args g = {.merchant = a};
    assert_int_equal(store_read(s, idem_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, 0);
    assert_int_equal(store_write(s, idem_prune_fn, NULL, &err), 0);
    assert_int_equal(store_read(s, idem_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
    store_close(s);
}

/* Rule: an HPP status update is a compare-and-set on the stored status, so two writers (any
 * backend, any number of nodes) cannot both move one session; the loser sees STORE_NOT_FOUND. */
struct hpp_cas {
    int64_t merchant;
    const char *expected, *to;
    int rc;
};

static int hpp_insert_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    int64_t m = *(int64_t *)arg;
    struct hpp_row row = {.id = "01a2338b-c8db-7b79-9039-3ed2b3ff48a9",
                          .page_id = "86e35830-d173-4030-b4c3-eac2d69a9d07",
                          .merchant_id = m,
                          .kp_session_id = "01a2338b-c7e9-79d5-bf05-46908aafcfc0",
                          .status = "WAITING",
                          .created_at = 1, .updated_at = 1, .expires_at = 2,
                          .body = "{}"};
    return store_hpp_insert(tx, &row) == 0 ? 0 : kerr_internal(err, "hpp insert");
}

static int hpp_cas_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct hpp_cas *c = arg;
    struct hpp_row row = {.id = "01a2338b-c8db-7b79-9039-3ed2b3ff48a9", .merchant_id = c->merchant,
                          .updated_at = 5, .body = "{}"};
    snprintf(row.status, sizeof row.status, "%s", c->to);
    c->rc = store_hpp_update(tx, &row, c->expected);
    return 0;
}

static void test_hpp_update_is_compare_and_set(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    int64_t m = add_merchant(s, "hpp_cas");
    assert_int_equal(store_write(s, hpp_insert_fn, &m, &err), 0);
    struct hpp_cas first = {.merchant = m, .expected = "WAITING", .to = "IN_PROGRESS"};
    assert_int_equal(store_write(s, hpp_cas_fn, &first, &err), 0);
    assert_int_equal(first.rc, 0);
    struct hpp_cas stale = {.merchant = m, .expected = "WAITING", .to = "DISABLED"};
    assert_int_equal(store_write(s, hpp_cas_fn, &stale, &err), 0);
    assert_int_equal(stale.rc, STORE_NOT_FOUND);
    struct hpp_cas other = {.merchant = m + 1, .expected = "IN_PROGRESS", .to = "DISABLED"};
    assert_int_equal(store_write(s, hpp_cas_fn, &other, &err), 0);
    assert_int_equal(other.rc, STORE_NOT_FOUND);          /* scoped by merchant */
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_scoped_by_merchant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_job_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_queue_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_record_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hpp_update_is_compare_and_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
