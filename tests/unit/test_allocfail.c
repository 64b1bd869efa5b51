/* Allocation failure (issue 9 item 12, style habit 8): representative requests — create
 * session, authorize, create order, capture, refund, a capture through the portal — are
 * dispatched in-process
 * (http_dispatch, the server's own seam, on a real SQLite store built by app_open, as
 * server.c's worker runs them) with the Nth allocation failed, for N = 1, 2, 3, ... until the
 * request runs without reaching an Nth allocation. Every run must answer the success status
 * or a 5xx with Klarna's envelope (this request's correlation id), never crash (ASan/UBSan),
 * never leak (LSan at exit) and never half-write: after a 5xx every table of the store reads
 * exactly as before (compared through a read-only connection of the test's own).
 *
 * What fails. The fault injector (lib/mem.h) is per thread and counts the request's own
 * allocations: jansson's (mem_alloc) and Kasse's request-path mallocs (mem_malloc and
 * friends: buffers, copied strings, store rows, scratch). The store's writer is another
 * thread (group commit), but it runs a request's transaction function with that request's
 * injection state (store/sqlite_writer.c hands it over and back), so a failure can land in
 * the middle of a transaction, where a half-write would come from. SQLite's own allocations
 * and the writer's bookkeeping are not counted: they are not the request's code.
 *
 * Three runs per request:
 *  - "Nth arena": exactly the Nth allocation fails, with a per-request arena current (as
 *    server.c runs a request);
 *  - "Nth strict": the same without an arena, so every block is a malloc block and ASan/LSan
 *    see each use after free and each leak that an arena would hide;
 *  - "from N strict": the Nth and every later allocation fail (memory stays exhausted), so the
 *    error path itself runs out: the envelope cannot be built, and the reply must still be the
 *    fixed 500 envelope that server.c's render() sends (reply_fallback_body).
 *
 * A run that succeeds although one of its allocations failed ("absorbed") must have lost
 * nothing: its reply, and what it made read back (the session or order, and the callbacks
 * queued for it), equal a clean run's with run-specific values (ids, times, tokens) masked;
 * and every success's idempotency record replays it exactly (status, headers, body). The
 * store lives on tmpfs when there is one (it fsyncs every commit). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "http/http.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/ids.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/mem.h"

#define USERNAME "allocfail"
#define SECRET "allocfail-secret-0123456789"
#define MAX_N 4000                   /* ten times the longest request's allocations today */

static struct app app;
static char db_path[256];
static char authorization[128];
static char portal_cookie[160];      /* "kasse_portal=...", from a sign-in in setup */
static char portal_csrf[80];
static sqlite3 *ro;                  /* read-only view of the store, for snapshots */
static FILE *quiet_log;
static int idem_seq;

/* ---- files ---- */

static void remove_db_files(void)
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

/* ---- one request, as server.c's worker runs it ---- */

struct outcome {
    int status;
    char *text;                      /* the body as render() would send it; or NULL */
    json_t *json;                    /* the body, parsed again outside any arena; or NULL */
    char headers[1024];              /* the handler's headers, "name: value\n" each */
    char correlation_id[37];
    bool fired;                      /* the Nth allocation was reached (and failed) */
    bool fallback;                   /* a 5xx without a body: render() sends the fixed one */
};

static void outcome_free(struct outcome *o)
{
    json_decref(o->json);
    o->json = NULL;
    free(o->text);
    o->text = NULL;
}

/* How a run fails its allocations, and what memory it has. */
struct mode {
    bool sticky;                     /* from the Nth on every allocation fails (exhaustion) */
    bool arena;                      /* a per-request arena, as server.c runs a request */
};

static const struct mode clean = {.arena = true};

/* Dispatches method path?query body with the fail_at-th allocation failed (0: none). */
static void dispatch(const char *method, const char *path, const char *query_name,
                     const char *query_value, const char *body, const char *idem, long fail_at,
                     struct mode mode, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    /* Under /portal/ a request authenticates as the portal's page does: cookie and CSRF. */
    bool portal = strncmp(path, "/portal/", 8) == 0;
    struct http_field headers[5] = {
        {"Host", "kasse.test"},
        {"Content-Type", "application/json"},
    };
    int nh = 2;
    if (portal) {
        headers[nh++] = (struct http_field){"Cookie", portal_cookie};
        headers[nh++] = (struct http_field){"X-Kasse-CSRF", portal_csrf};
    } else {
        headers[nh++] = (struct http_field){"Authorization", authorization};
    }
    if (idem)
        headers[nh++] = (struct http_field){"Klarna-Idempotency-Key", idem};
    struct http_field query[] = {{query_name, query_value}};
    struct req r = {0};
    r.app = &app;
    r.method = method;
    r.path = path;
    r.headers = headers;
    r.n_headers = nh;
    r.query = query;
    r.n_query = query_name ? 1 : 0;
    r.received_ms = clock_now_ms(&app.clock);
    assert_int_equal(ids_uuid7(r.received_ms, r.correlation_id), 0);
    buf_init(&r.body, LIMIT_BODY_BYTES);
    if (body)
        assert_int_equal(buf_append(&r.body, body, strlen(body)), 0);

    struct arena arena = {0};
    struct arena *prev = mem_arena_enter(mode.arena ? &arena : NULL);
    struct reply out;
    if (mode.sticky)
        mem_fail_from(fail_at);
    else
        mem_fail_after(fail_at);
    http_dispatch(&r, &out);
    o->fired = mem_fail_stop();

    /* What render() would send, taken before the arena goes. */
    o->status = out.status;
    if (out.json) {
        o->text = jsonw_dumps(out.json, NULL);
        assert_non_null(o->text);
    } else if (out.raw || out.owned) {
        o->text = strndup(out.owned ? out.owned : out.raw, out.raw_len);
        assert_non_null(o->text);
    } else if (out.status >= 500) {
        char fallback[REPLY_FALLBACK_BYTES];
        int n = reply_fallback_body(r.correlation_id, fallback);
        o->text = strndup(fallback, (size_t)n);
        assert_non_null(o->text);
        o->fallback = true;
    }
    size_t used = 0;
    for (int i = 0; i < out.n_headers; i++) {
        int w = snprintf(o->headers + used, sizeof o->headers - used, "%s: %s\n",
                         out.headers[i].name, out.headers[i].value);
        assert_true(w > 0 && (size_t)w < sizeof o->headers - used);
        used += (size_t)w;
    }
    snprintf(o->correlation_id, sizeof o->correlation_id, "%s", r.correlation_id);
    json_decref(out.json);
    free(out.owned);
    mem_arena_leave(prev);
    mem_arena_free(&arena);
    free(r.path_copy);
    buf_free(&r.body);
    if (o->text)
        o->json = json_loads(o->text, 0, NULL);
}

/* A request that must work (setting up the next one's preconditions). */
static json_t *must_q(const char *method, const char *path, const char *query_name,
                      const char *query_value, const char *body, int status)
{
    struct outcome o;
    dispatch(method, path, query_name, query_value, body, NULL, 0, clean, &o);
    if (o.status != status) {
        fail_msg("%s %s → %d (want %d): %s", method, path, o.status, status,
                 o.text ? o.text : "");
    }
    json_t *j = o.json;
    o.json = NULL;
    outcome_free(&o);
    return j;
}

static json_t *must(const char *method, const char *path, const char *body, int status)
{
    return must_q(method, path, NULL, NULL, body, status);
}

/* ---- the store, read whole ---- */

/* Every row of every table (the request log lives in its own file and is not part of it). */
static char *snapshot(void)
{
    struct buf b;
    buf_init(&b, (size_t)-1);
    sqlite3_stmt *tables;
    assert_int_equal(sqlite3_prepare_v2(ro,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(ro, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", name);
        sqlite3_stmt *rows;
        if (sqlite3_prepare_v2(ro, sql, -1, &rows, NULL) != SQLITE_OK) {
            /* a WITHOUT ROWID table (the order list's counts): its scan is in key order */
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
            assert_int_equal(sqlite3_prepare_v2(ro, sql, -1, &rows, NULL), SQLITE_OK);
        }
        assert_int_equal(buf_printf(&b, "== %s\n", name), 0);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(rows); i++) {
                const unsigned char *t = sqlite3_column_text(rows, i);
                assert_int_equal(buf_printf(&b, "%s|", t ? (const char *)t : "NULL"), 0);
            }
            assert_int_equal(buf_append(&b, "\n", 1), 0);
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    assert_int_equal(sqlite3_exec(ro, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return b.data;
}

/* ---- canonical form: keys sorted, values kept, run-specific strings masked ---- */

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* s holds a UUID, a time (2026-01-02T03:04:05...), or a JWT: values a clean run makes anew. */
static bool run_specific(const char *key, const char *s)
{
    static const char *const keys[] = {"klarna_reference", "client_token"};
    for (size_t i = 0; key && i < sizeof keys / sizeof *keys; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    size_t n = strlen(s);
    for (size_t i = 0; i + 36 <= n; i++) {
        bool uuid = true;
        for (size_t k = 0; uuid && k < 36; k++)
            uuid = (k == 8 || k == 13 || k == 18 || k == 23) ? s[i + k] == '-' : is_hex(s[i + k]);
        if (uuid)
            return true;
    }
    if (n >= 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':')
        return true;
    return strncmp(s, "eyJ", 3) == 0;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon_into(const json_t *v, const char *key, struct buf *b)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof *keys);
        assert_non_null(keys);
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item)
            keys[i++] = k;
        qsort(keys, n, sizeof *keys, key_cmp);
        buf_append(b, "{", 1);
        for (i = 0; i < n; i++) {
            buf_printf(b, "%s:", keys[i]);
            canon_into(json_object_get(v, keys[i]), keys[i], b);
            buf_append(b, ",", 1);
        }
        buf_append(b, "}", 1);
        free(keys);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        buf_append(b, "[", 1);
        json_array_foreach(v, i, item) {
            canon_into(item, key, b);
            buf_append(b, ",", 1);
        }
        buf_append(b, "]", 1);
        break;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        buf_printf(b, "\"%s\"", run_specific(key, s) ? "<run>" : s);
        break;
    }
    case JSON_INTEGER:
        if (key && strcmp(key, "id") == 0)   /* a row id (the outbox's) */
            buf_printf(b, "<run>");
        else
            buf_printf(b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: buf_printf(b, "%g", json_real_value(v)); break;
    case JSON_TRUE: buf_append(b, "true", 4); break;
    case JSON_FALSE: buf_append(b, "false", 5); break;
    case JSON_NULL: buf_append(b, "null", 4); break;
    }
}

static char *canon(const json_t *v)
{
    struct buf b;
    buf_init(&b, (size_t)-1);
    if (v)
        canon_into(v, NULL, &b);
    else
        buf_append(&b, "(none)", 6);
    return b.data;
}

/* ---- the requests ---- */

static const char session_body[] =
    "{\"acquiring_channel\":\"ECOMMERCE\",\"intent\":\"buy\",\"purchase_country\":\"SE\","
    "\"purchase_currency\":\"SEK\",\"locale\":\"en-SE\",\"order_amount\":9500,"
    "\"order_tax_amount\":1900,\"merchant_reference1\":\"ref-1\","
    "\"order_lines\":[{\"type\":\"physical\",\"reference\":\"19-402\","
    "\"name\":\"Battery Power Pack\",\"quantity\":1,\"unit_price\":10000,\"tax_rate\":2500,"
    "\"total_amount\":9500,\"total_discount_amount\":500,\"total_tax_amount\":1900,"
    "\"image_url\":\"https://www.exampleobjects.com/logo.png\","
    "\"product_url\":\"https://www.estore.com/products/f2a8d7e34\"}],"
    "\"merchant_urls\":{\"authorization\":\"https://example-url.com/authorization\"}}";

#define SE_ADDRESS                                                                            \
    "{\"given_name\":\"Alice\",\"family_name\":\"Test\",\"email\":\"customer@email.se\","    \
    "\"street_address\":\"Södra Blasieholmshamnen 2\",\"postal_code\":\"11148\","           \
    "\"city\":\"Stockholm\",\"phone\":\"+46701740615\",\"country\":\"SE\"}"

static const char authorize_body[] =
    "{\"billing_address\":" SE_ADDRESS ",\"shipping_address\":" SE_ADDRESS "}";

static const char order_body[] =
    "{\"purchase_country\":\"SE\",\"purchase_currency\":\"SEK\",\"locale\":\"en-SE\","
    "\"order_amount\":9500,\"order_tax_amount\":1900,\"merchant_reference1\":\"order-1\","
    "\"order_lines\":[{\"type\":\"physical\",\"reference\":\"19-402\","
    "\"name\":\"Battery Power Pack\",\"quantity\":1,\"unit_price\":10000,\"tax_rate\":2500,"
    "\"total_amount\":9500,\"total_discount_amount\":500,\"total_tax_amount\":1900,"
    "\"image_url\":\"https://www.exampleobjects.com/logo.png\","
    "\"product_url\":\"https://www.estore.com/products/f2a8d7e34\"}],"
    "\"merchant_urls\":{\"confirmation\":\"https://example.com/thanks?o={order.id}\","
    "\"notification\":\"https://example.com/notify\"}}";

static const char capture_body[] =
    "{\"captured_amount\":9500,\"description\":\"Shipped\",\"reference\":\"cap-1\","
    "\"order_lines\":[{\"type\":\"physical\",\"reference\":\"19-402\","
    "\"name\":\"Battery Power Pack\",\"quantity\":1,\"unit_price\":10000,\"tax_rate\":2500,"
    "\"total_amount\":9500,\"total_discount_amount\":500,\"total_tax_amount\":1900}],"
    "\"shipping_info\":[{\"shipping_company\":\"DHL\",\"shipping_method\":\"Home\","
    "\"tracking_number\":\"63456415674545679874\"}]}";

static const char refund_body[] =
    "{\"refunded_amount\":9500,\"description\":\"Returned\",\"reference\":\"ref-1\","
    "\"order_lines\":[{\"type\":\"physical\",\"reference\":\"19-402\","
    "\"name\":\"Battery Power Pack\",\"quantity\":1,\"unit_price\":10000,\"tax_rate\":2500,"
    "\"total_amount\":9500,\"total_discount_amount\":500,\"total_tax_amount\":1900}]}";

/* The request under test, and the resource it changes when that is known beforehand. */
struct call {
    char path[256];
    const char *body;
    char session_id[37];
    char order_id[37];
};

static const char *json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static char *new_session(void)
{
    json_t *s = must("POST", "/payments/v1/sessions", session_body, 200);
    char *id = strdup(json_str(s, "session_id"));
    json_decref(s);
    return id;
}

static char *new_token(void)
{
    char *sid = new_session();
    char path[256];
    snprintf(path, sizeof path, "/kasse/v1/sessions/%s/authorize", sid);
    json_t *a = must("POST", path, authorize_body, 200);
    char *token = strdup(json_str(a, "authorization_token"));
    json_decref(a);
    free(sid);
    return token;
}

static char *new_order(void)
{
    char *token = new_token();
    char path[256];
    snprintf(path, sizeof path, "/payments/v1/authorizations/%s/order", token);
    json_t *o = must("POST", path, order_body, 200);
    char *id = strdup(json_str(o, "order_id"));
    json_decref(o);
    free(token);
    return id;
}

static void prepare_create_session(struct call *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "/payments/v1/sessions");
    c->body = session_body;
}

static void prepare_authorize(struct call *c)
{
    memset(c, 0, sizeof *c);
    char *sid = new_session();
    snprintf(c->path, sizeof c->path, "/kasse/v1/sessions/%s/authorize", sid);
    snprintf(c->session_id, sizeof c->session_id, "%s", sid);
    c->body = authorize_body;
    free(sid);
}

static void prepare_create_order(struct call *c)
{
    memset(c, 0, sizeof *c);
    char *token = new_token();
    snprintf(c->path, sizeof c->path, "/payments/v1/authorizations/%s/order", token);
    c->body = order_body;
    free(token);
}

static void prepare_capture(struct call *c)
{
    memset(c, 0, sizeof *c);
    char *id = new_order();
    snprintf(c->path, sizeof c->path, "/ordermanagement/v1/orders/%s/captures", id);
    snprintf(c->order_id, sizeof c->order_id, "%s", id);
    c->body = capture_body;
    free(id);
}

static void prepare_refund(struct call *c)
{
    memset(c, 0, sizeof *c);
    char *id = new_order();
    char path[256];
    snprintf(path, sizeof path, "/ordermanagement/v1/orders/%s/captures", id);
    json_decref(must("POST", path, capture_body, 201));
    snprintf(c->path, sizeof c->path, "/ordermanagement/v1/orders/%s/refunds", id);
    snprintf(c->order_id, sizeof c->order_id, "%s", id);
    c->body = refund_body;
    free(id);
}

/* Rule (docs/portal.md): a capture through the portal's prefix is the API's capture, with the
 * portal's sign-in (cookie and CSRF header) checked on the way. */
static void prepare_portal_capture(struct call *c)
{
    prepare_capture(c);
    char path[sizeof c->path];
    memcpy(path, c->path, sizeof path);
    int n = snprintf(c->path, sizeof c->path, "/portal/api%s", path);
    assert_true(n > 0 && (size_t)n < sizeof c->path);
}

/* What the request made or changed, read back the way a merchant reads it: the session or the
 * order, and the callbacks queued for it. Compared with a clean run's, run-specific strings
 * masked. */
static char *readback_canon(const struct call *c, const struct outcome *o)
{
    char path[256];
    const char *order_id = c->order_id[0] ? c->order_id
                                           : json_string_value(json_object_get(o->json, "order_id"));
    const char *session_id = c->session_id[0]
                                 ? c->session_id
                                 : json_string_value(json_object_get(o->json, "session_id"));
    json_t *resource, *callbacks;
    if (order_id) {
        snprintf(path, sizeof path, "/ordermanagement/v1/orders/%s", order_id);
        resource = must("GET", path, NULL, 200);
        callbacks = must_q("GET", "/kasse/v1/callbacks", "order_id", order_id, NULL, 200);
    } else {
        assert_non_null(session_id);
        snprintf(path, sizeof path, "/payments/v1/sessions/%s", session_id);
        resource = must("GET", path, NULL, 200);
        callbacks = must_q("GET", "/kasse/v1/callbacks", "session_id", session_id, NULL, 200);
    }
    json_t *both = json_pack("{s:o, s:o}", "resource", resource, "callbacks", callbacks);
    assert_non_null(both);
    char *text = canon(both);
    json_decref(both);
    return text;
}

/* A 5xx is Klarna's envelope: {correlation_id (this request's), error_code, error_messages}. */
static void assert_envelope(const char *what, long n, const struct outcome *o)
{
    if (!json_is_object(o->json))
        fail_msg("%s, N=%ld: %d without a JSON body", what, n, o->status);
    const char *cid = json_string_value(json_object_get(o->json, "correlation_id"));
    if (!cid || strcmp(cid, o->correlation_id) != 0 ||
        !json_is_string(json_object_get(o->json, "error_code")) ||
        !json_is_array(json_object_get(o->json, "error_messages")))
        fail_msg("%s, N=%ld: %d body is not the envelope: %s", what, n, o->status, o->text);
}

/* The idempotency record of a success replays it exactly: status, headers, body. */
static void assert_replays(const char *what, long n, const struct call *c, const char *idem,
                           const struct outcome *o)
{
    struct outcome again;
    dispatch("POST", c->path, NULL, NULL, c->body, idem, 0, clean, &again);
    if (again.status != o->status || strcmp(again.headers, o->headers) != 0 ||
        strcmp(again.text ? again.text : "", o->text ? o->text : "") != 0)
        fail_msg("%s, N=%ld: the replay differs\n %d %s%s\n want %d %s%s", what, n,
                 again.status, again.headers, again.text, o->status, o->headers, o->text);
    outcome_free(&again);
}

struct tally {
    long n_success;                  /* the N at which it ran through */
    long failed;                     /* runs answered 5xx */
    long fallback;                   /* of those, with the fixed envelope */
    long absorbed;                   /* runs that succeeded although an allocation failed */
};

static struct tally run_loop(const char *what, void (*prepare)(struct call *), int ok,
                             struct mode mode)
{
    struct tally t = {0};
    struct call c;
    char idem[64];

    /* A clean run: what absorbed failures are compared with. */
    prepare(&c);
    snprintf(idem, sizeof idem, "allocfail-%d", ++idem_seq);
    struct outcome ref;
    dispatch("POST", c.path, NULL, NULL, c.body, idem, 0, clean, &ref);
    assert_int_equal(ref.status, ok);
    char *ref_reply = canon(ref.json);
    char *ref_back = readback_canon(&c, &ref);
    outcome_free(&ref);

    prepare(&c);
    snprintf(idem, sizeof idem, "allocfail-%d", ++idem_seq);
    char *before = snapshot();
    for (long n = 1;; n++) {
        if (n > MAX_N)
            fail_msg("%s: still failing at N=%d", what, MAX_N);
        struct outcome o;
        dispatch("POST", c.path, NULL, NULL, c.body, idem, n, mode, &o);
        if (o.status >= 500) {
            if (!o.fired)
                fail_msg("%s, N=%ld: %d without an allocation failure", what, n, o.status);
            assert_envelope(what, n, &o);
            char *after = snapshot();
            if (strcmp(before, after) != 0)
                fail_msg("%s, N=%ld: %d but the store changed", what, n, o.status);
            free(after);
            t.failed++;
            t.fallback += o.fallback;
            outcome_free(&o);
            continue;
        }
        if (o.status != ok)
            fail_msg("%s, N=%ld: %d (want %d or 5xx): %s", what, n, o.status, ok,
                     o.text ? o.text : "");
        char *got = canon(o.json);
        char *back = readback_canon(&c, &o);
        if (strcmp(got, ref_reply) != 0 || strcmp(back, ref_back) != 0) {
            bool reply_differs = strcmp(got, ref_reply) != 0;
            const char *x = reply_differs ? got : back, *y = reply_differs ? ref_reply : ref_back;
            size_t at = 0;
            while (x[at] && x[at] == y[at])
                at++;
            size_t from = at > 80 ? at - 80 : 0;
            fail_msg("%s, N=%ld: succeeded, but its %s differs from a clean run's at %zu:\n"
                     "  got  ...%.200s\n  want ...%.200s",
                     what, n, reply_differs ? "reply" : "stored state", at, x + from, y + from);
        }
        free(got);
        free(back);
        assert_replays(what, n, &c, idem, &o);
        outcome_free(&o);
        if (!o.fired) {
            t.n_success = n;
            break;
        }
        /* The failure was absorbed: the request is done; set up a fresh one. */
        t.absorbed++;
        free(before);
        prepare(&c);
        snprintf(idem, sizeof idem, "allocfail-%d", ++idem_seq);
        before = snapshot();
    }
    free(before);
    free(ref_reply);
    free(ref_back);
    print_message("%-14s %-6s %-6s: %3ld runs answered 5xx (%3ld with the fixed envelope), "
                  "%ld absorbed a failure, ran through at N=%ld\n",
                  what, mode.sticky ? "from N" : "Nth", mode.arena ? "arena" : "strict",
                  t.failed, t.fallback, t.absorbed, t.n_success);
    return t;
}

/* ---- tests ---- */

static int setup(void **state)
{
    (void)state;
    /* tmpfs when there is one: the store fsyncs every commit, and the loop commits often. */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(db_path, sizeof db_path, "%s/kasse-test-allocfail-%d.db", dir, (int)getpid());
    remove_db_files();
    mem_install();
    log_set_quiet(1);
    quiet_log = fopen("/dev/null", "w");
    log_set_stream(quiet_log);
    memset(&app, 0, sizeof app);
    snprintf(app.public_url, sizeof app.public_url, "http://kasse.test");
    struct kerr err = {0};
    if (app_open(&app, db_path, NULL, &err) != 0) {
        fprintf(stderr, "app_open: %s\n", err.msg);
        return -1;
    }
    struct app_merchant m = {.username = USERNAME, .secret = SECRET, .name = "Alloc Fail Shop",
                             .categories = "klarna"};
    if (app_merchant_put(&app, &m, false, NULL, &err) != 0)
        return -1;
    char b64[96];
    if (crypto_b64_encode(USERNAME ":" SECRET, strlen(USERNAME ":" SECRET), b64, sizeof b64) < 0)
        return -1;
    snprintf(authorization, sizeof authorization, "Basic %s", b64);
    if (sqlite3_open_v2(db_path, &ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    /* The portal's sign-in, for the requests under /portal/api. */
    struct outcome o;
    dispatch("POST", "/portal/api/session", NULL, NULL,
             "{\"username\": \"" USERNAME "\", \"secret\": \"" SECRET "\"}", NULL, 0, clean, &o);
    const char *set = strstr(o.headers, "Set-Cookie: ");
    const char *csrf = json_string_value(json_object_get(o.json, "csrf_token"));
    int rc = o.status == 200 && set && csrf ? 0 : -1;
    if (rc == 0) {
        set += strlen("Set-Cookie: ");
        snprintf(portal_cookie, sizeof portal_cookie, "%.*s", (int)strcspn(set, ";"), set);
        snprintf(portal_csrf, sizeof portal_csrf, "%s", csrf);
    }
    outcome_free(&o);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    sqlite3_close(ro);
    app_close(&app);
    log_set_stream(NULL);
    if (quiet_log)
        fclose(quiet_log);
    remove_db_files();
    json_set_alloc_funcs(malloc, free);
    return 0;
}

#define LOOP_TEST(fn, what, prepare, ok)                                                      \
    static void fn(void **state)                                                               \
    {                                                                                          \
        (void)state;                                                                           \
        static const struct mode modes[] = {                                                   \
            {.arena = true}, {.arena = false}, {.sticky = true, .arena = false}};              \
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)                            \
            assert_true(run_loop(what, prepare, ok, modes[i]).n_success > 1);                  \
    }

LOOP_TEST(test_create_session, "create session", prepare_create_session, 200)
LOOP_TEST(test_authorize, "authorize", prepare_authorize, 200)
LOOP_TEST(test_create_order, "create order", prepare_create_order, 200)
LOOP_TEST(test_capture, "capture", prepare_capture, 201)
LOOP_TEST(test_refund, "refund", prepare_refund, 201)
LOOP_TEST(test_portal_capture, "portal capture", prepare_portal_capture, 201)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_session),
        cmocka_unit_test(test_authorize),
        cmocka_unit_test(test_create_order),
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_refund),
        cmocka_unit_test(test_portal_capture),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
