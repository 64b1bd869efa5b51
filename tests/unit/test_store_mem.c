/* Unit tests for the memory bounds of store/sqlite (issue 9): however many threads read, each
 * read connection's page cache stays within STORE_READER_CACHE_KIB and SQLite's heap within
 * its soft limit. Without the bounds, 24 threads each reading an 8 MB database held 2 MB of
 * cached pages apiece (48 MB). */
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

#define SESSIONS 2000
#define BODY_BYTES 3000
#define READERS 24

static char db_path[256];

static void unlink_all(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[300];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, suffixes[i]);
        unlink(p);
        snprintf(p, sizeof p, "%.*s-log.db%s", (int)(strlen(db_path) - 3), db_path, suffixes[i]);
        unlink(p);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(db_path, sizeof db_path, "/tmp/kasse-test-store-mem-%d.db", (int)getpid());
    unlink_all();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink_all();
    return 0;
}

struct fill {
    int64_t merchant;
    char (*ids)[37];
    const char *body;
};

static int fill_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct fill *f = arg;
    struct merchant_row m = {.username = "m", .name = "m", .categories = "klarna"};
    if (store_merchant_insert(tx, &m) != 0)
        return kerr_internal(err, "merchant");
    f->merchant = m.id;
    for (int i = 0; i < SESSIONS; i++) {
        struct session_row row = {.merchant_id = m.id, .created_at = 1000, .updated_at = 1000,
                                  .expires_at = 2000, .client_token = "t", .body = (char *)f->body};
        snprintf(row.status, sizeof row.status, "incomplete");
        if (ids_uuid7(1700000000000 + i, row.id) != 0 || store_session_insert(tx, &row) != 0)
            return kerr_internal(err, "session");
        memcpy(f->ids[i], row.id, sizeof row.id);
    }
    return 0;
}

/* One read transaction that touches every session: it would fill any cache. */
static int read_all_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct fill *f = arg;
    for (int i = 0; i < SESSIONS; i++) {
        struct session_row row;
        if (store_session_get(tx, f->merchant, f->ids[i], &row) != 0)
            return kerr_internal(err, "get");
        int ok = strlen(row.body) == BODY_BYTES;
        session_row_free(&row);
        if (!ok)
            return kerr_internal(err, "body");
    }
    return 0;
}

struct reader_args {
    struct store *s;
    struct fill *f;
    int rc;
};

static void *reader_main(void *arg)
{
    struct reader_args *a = arg;
    struct kerr err = {0};
    a->rc = store_read(a->s, read_all_fn, a->f, &err);
    return NULL;
}

/* Rule: READERS threads that each read the whole database leave READERS read connections,
 * none caching more than its bound, and SQLite's heap under the soft limit. */
static void test_reader_caches_are_bounded(void **state)
{
    (void)state;
    struct kerr err = {0};
    struct store *s = store_sqlite_open(db_path, &err);
    assert_non_null(s);
    static char ids[SESSIONS][37];
    char *body = malloc(BODY_BYTES + 1);
    assert_non_null(body);
    memset(body, 'x', BODY_BYTES);
    body[BODY_BYTES] = '\0';
    struct fill f = {.ids = ids, .body = body};
    assert_int_equal(store_write(s, fill_fn, &f, &err), 0);

    pthread_t t[READERS];
    struct reader_args a[READERS];
    for (int i = 0; i < READERS; i++) {
        a[i] = (struct reader_args){.s = s, .f = &f, .rc = -1};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &a[i]), 0);
    }
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, 0);
    }

    struct store_sqlite_mem m;
    assert_int_equal(store_sqlite_mem(s, &m), 0);
    print_message("readers %d, caches %lld KiB (largest %lld KiB), statements %lld KiB, "
                  "schemas %lld KiB, SQLite heap %lld KiB (high-water %lld KiB)\n",
                  m.readers, (long long)m.reader_cache_bytes / 1024,
                  (long long)m.reader_cache_max_bytes / 1024, (long long)m.stmt_bytes / 1024,
                  (long long)m.schema_bytes / 1024, (long long)m.heap_bytes / 1024,
                  (long long)m.heap_highwater_bytes / 1024);
    assert_int_equal(m.readers, READERS);
    /* A cache's bookkeeping adds a little to its pages: allow 1/8 over the bound. */
    int64_t bound = (STORE_READER_CACHE_KIB + STORE_READER_LOG_CACHE_KIB) * 1024LL * 9 / 8;
    assert_true(m.reader_cache_max_bytes > 0);
    assert_true(m.reader_cache_max_bytes <= bound);
    assert_true(m.heap_bytes <= STORE_SQLITE_HEAP_SOFT_LIMIT);
    free(body);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reader_caches_are_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
