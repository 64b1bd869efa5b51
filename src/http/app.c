/* app: building the server-wide context (struct app) — the store, the keys derived from the
 * server key, the merchant cache — and putting merchants into it. Shared by the command line
 * (main.c) and the tests that drive http_dispatch in-process (tests/unit/test_allocfail.c), so
 * both run the same start-up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http.h"
#include "lib/crypto.h"

/* ---- server key ---- */

struct key_ctx {
    uint8_t key[32];
};

static int key_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct key_ctx *k = arg;
    size_t len = 0;
    int rc = store_meta_get(tx, "server_key", k->key, sizeof k->key, &len);
    if (rc == 0 && len == sizeof k->key)
        return 0;
    if (rc < 0)
        return kerr_internal(err, "meta get");
    if (crypto_random(k->key, sizeof k->key) != 0)
        return kerr_internal(err, "random source");
    rc = store_meta_add(tx, "server_key", k->key, sizeof k->key);
    if (rc == STORE_EXISTS) {            /* another node made it first: use that one */
        rc = store_meta_get(tx, "server_key", k->key, sizeof k->key, &len);
        if (rc == 0 && len == sizeof k->key)
            return 0;
    }
    if (rc != 0)
        return kerr_internal(err, "meta put");
    return 0;
}

/* Loads (creating on first start) the server key and derives the purpose keys from it. */
static int load_keys(struct app *app, struct kerr *err)
{
    struct key_ctx k;
    if (store_write(app->store, key_fn, &k, err) != 0)
        return -1;
    static const char merchant_label[] = "kasse merchant secrets v1";
    static const char token_label[] = "kasse client_token v1";
    int rc = crypto_hmac_sha256(k.key, sizeof k.key, merchant_label, strlen(merchant_label),
                                app->merchant_key);
    if (rc == 0)
        rc = crypto_hmac_sha256(k.key, sizeof k.key, token_label, strlen(token_label),
                                app->token_key);
    crypto_wipe(&k, sizeof k);
    return rc == 0 ? 0 : kerr_internal(err, "key derivation");
}

/* ---- the test clock, shared through the store ---- */

#define CLOCK_KEY "test_clock_offset_ms"

static int64_t offset_decode(const uint8_t *v, size_t len)
{
    int64_t x = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        x |= (int64_t)v[i] << (8 * i);
    return x;
}

static void offset_encode(int64_t x, uint8_t v[8])
{
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)((uint64_t)x >> (8 * i));
}

struct clock_ctx {
    const struct app *app;
    int64_t advance_ms;
    int64_t offset_ms;           /* out: the stored offset (after the advance) */
};

static int clock_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct clock_ctx *c = arg;
    uint8_t v[8];
    size_t len = 0;
    int rc = store_meta_get(tx, CLOCK_KEY, v, sizeof v, &len);
    if (rc < 0)
        return kerr_internal(err, "meta get");
    c->offset_ms = rc == 0 ? offset_decode(v, len) : 0;
    if (c->advance_ms == 0)
        return 0;
    /* Never behind what this node already shows (it may have run ahead of a lost write). */
    int64_t local = clock_offset(&c->app->clock);
    if (local > c->offset_ms)
        c->offset_ms = local;
    c->offset_ms += c->advance_ms;
    offset_encode(c->offset_ms, v);
    if (store_meta_put(tx, CLOCK_KEY, v, sizeof v) != 0)
        return kerr_internal(err, "meta put");
    return 0;
}

int app_clock_sync(struct app *app, struct kerr *err)
{
    struct clock_ctx c = {.app = app};
    if (store_read(app->store, clock_fn, &c, err) != 0)
        return -1;
    clock_raise(&app->clock, c.offset_ms);
    return 0;
}

static int clock_row_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    uint8_t zero[8] = {0};
    return store_meta_add(tx, CLOCK_KEY, zero, sizeof zero) < 0 ? kerr_internal(err, "meta add")
                                                               : 0;
}

int app_clock_advance(struct app *app, int64_t seconds, struct kerr *err)
{
    if (!app->clock.testable || seconds < 0 || seconds > CLOCK_ADVANCE_MAX_S)
        return kerr_bad_value(err, "advance_seconds");
    struct clock_ctx c = {.app = app, .advance_ms = seconds * 1000};
    if (seconds == 0)
        return app_clock_sync(app, err);
    if (store_write(app->store, clock_fn, &c, err) != 0)
        return -1;
    clock_raise(&app->clock, c.offset_ms);
    return 0;
}

/* ---- opening ---- */

static int ensure_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int app_open(struct app *app, const char *db, const struct store_sqlite_limits *lim,
             struct kerr *err)
{
    if (store_is_pg(db)) {
        app->store = store_pg_open(db, app->db_pool > 0 ? app->db_pool : 8, app->db_wait_s, err);
    } else {
        if (ensure_parent_dir(db) != 0)
            return kerr_set(err, 500, "CONFIG", "cannot create the folder of %s: %s", db,
                            strerror(errno));
        app->store = store_sqlite_open_with(db, lim, err);
    }
    if (!app->store || load_keys(app, err) != 0) {
        app_close(app);
        return -1;
    }
    /* The test clock's row exists before any advance locks it (two nodes' first advances
     * must not both insert); a restarted server takes the clock on where it was. */
    if (app->test_clock && (store_write(app->store, clock_row_fn, NULL, err) != 0 ||
                            app_clock_sync(app, err) != 0)) {
        app_close(app);
        return -1;
    }
    app->auth_cache = auth_cache_new();
    if (!app->auth_cache) {
        app_close(app);
        return kerr_set(err, 500, "CONFIG", "out of memory");
    }
    return 0;
}

void app_close(struct app *app)
{
    auth_cache_free(app->auth_cache);
    app->auth_cache = NULL;
    store_close(app->store);
    app->store = NULL;
}

/* ---- merchants ---- */

struct merchant_ctx {
    const struct app *app;
    const struct app_merchant *m;
    bool only_if_empty;
    bool created;
};

/* Inserts the merchant, or sets the secret of an existing one. */
static int merchant_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct merchant_ctx *ctx = arg;
    const struct app_merchant *m = ctx->m;
    ctx->created = false;
    int rc;
    if (ctx->only_if_empty) {
        int64_t n = 0;
        if (store_merchant_count(tx, &n) != 0)
            return kerr_internal(err, "merchant count");
        if (n > 0)
            return 0;
        /* Nodes starting together on an empty database: the first to add this key makes the
         * test merchant, the others (meta_add waits for its commit) make none. */
        static const uint8_t mark[1] = {1};
        rc = store_meta_add(tx, "first_merchant", mark, sizeof mark);
        if (rc < 0)
            return kerr_internal(err, "meta add");
        if (rc == STORE_EXISTS)
            return 0;
    }
    struct merchant_row row = {0};
    if (auth_secret_mac(ctx->app, m->secret, row.secret_mac) != 0)
        return kerr_internal(err, "hmac");
    struct merchant_row existing;
    rc = store_merchant_by_username(tx, m->username, &existing);
    if (rc < 0)
        return kerr_internal(err, "merchant lookup");
    if (rc == 0) {
        rc = store_merchant_set_secret(tx, existing.id, row.secret_mac);
        merchant_row_free(&existing);
        return rc == 0 ? 0 : kerr_internal(err, "merchant update");
    }
    row.username = (char *)m->username;
    row.name = (char *)m->name;
    row.categories = (char *)m->categories;
    row.created_at = clock_now_ms(&ctx->app->clock);
    if (store_merchant_insert(tx, &row) != 0)
        return kerr_internal(err, "merchant insert");
    ctx->created = true;
    return 0;
}

int app_merchant_put(struct app *app, const struct app_merchant *m, bool only_if_empty,
                     bool *created, struct kerr *err)
{
    struct merchant_ctx ctx = {.app = app, .m = m, .only_if_empty = only_if_empty};
    int rc = store_write(app->store, merchant_fn, &ctx, err);
    if (created)
        *created = rc == 0 && ctx.created;
    return rc;
}
