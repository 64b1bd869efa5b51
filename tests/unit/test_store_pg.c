/* Unit tests for store/pg (the PostgreSQL backend). They need a server: KASSE_TEST_PG names it
 * (a URL or conninfo of a role that may create databases, e.g. the cluster tools/pg-test.sh
 * starts); each test makes its own database and drops it. Without KASSE_TEST_PG they are
 * skipped. Checked: every resource call round-trips as on SQLite (test_store.c's shapes),
 * merchant scoping, a failing fn leaves nothing, the request log and its flush, the order list
 * against a full scan and its sweep, concurrent read-modify-writes of one row lose no update
 * (FOR UPDATE), an idempotency key recorded by two transactions at once (the loser runs again
 * and replays the winner's record), unique races on merchants, meta_add twice, outbox claims
 * by two nodes (exactly one wins), migrations run by two nodes at once, retries that never
 * succeed (503), and a connection killed under a transaction (503, then recovery). */
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/ids.h"
#include "lib/log.h"
#include "store/store.h"
#include "schema_pg.h"

static const char *server;           /* KASSE_TEST_PG */
static char dbname[64];
static char conninfo[2048];          /* server's, with dbname = the test's database */
static int db_seq;

/* conninfo of the server with another dbname (values quoted for libpq). */
static void conninfo_for(const char *db, char *out, size_t cap)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(server, &errmsg);
    assert_non_null(opts);
    size_t n = 0;
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (!v || !*v)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s='", o->keyword);
        for (const char *p = v; *p && n + 3 < cap; p++) {
            if (*p == '\'' || *p == '\\')
                out[n++] = '\\';
            out[n++] = *p;
        }
        n += (size_t)snprintf(out + n, cap - n, "' ");
    }
    PQconninfoFree(opts);
}

static void admin(const char *sql)
{
    char ci[2048];
    conninfo_for("postgres", ci, sizeof ci);
    PGconn *db = PQconnectdb(ci);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    PQfinish(db);
}

/* One value from the test's database. */
static long long query_int(const char *sql)
{
    PGconn *db = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *r = PQexec(db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(db);
    return v;
}

/* Runs SQL on the test's database. */
static void exec_sql(const char *sql)
{
    PGconn *db = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    PQfinish(db);
}

/* The number of schema_pg.sql's last migration block. */
static int last_migration(void)
{
    const char *pos = schema_pg_sql, *sql;
    int n = 0, last = 0;
    size_t len;
    while (store_schema_next(&pos, &n, &sql, &len))
        last = n;
    return last;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dbname, sizeof dbname, "kasse_ut_%d_%d", (int)getpid(), ++db_seq);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    admin(sql);
    conninfo_for(dbname, conninfo, sizeof conninfo);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    admin(sql);
    return 0;
}

static struct store *open_store(int pool)
{
    struct kerr err = {0};
    struct store *s = store_pg_open(conninfo, pool, 5, &err);
    if (!s)
        fail_msg("store_pg_open: %s", err.msg);
    assert_string_equal(s->ops->name, "postgresql");
    return s;
}

/* ---- merchants ---- */

struct merchant_args {
    const char *username;
    int64_t id;
};

/* Looks the username up first, inserts only when absent (as app.c does). */
static int add_merchant_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct merchant_args *a = arg;
    struct merchant_row got;
    int rc = store_merchant_by_username(tx, a->username, &got);
    if (rc == 0) {
        a->id = got.id;
        merchant_row_free(&got);
        return 0;
    }
    struct merchant_row m = {0};
    m.username = (char *)a->username;
    m.name = (char *)a->username;
    m.categories = "klarna";
    m.created_at = 5;
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

/* ---- every call round-trips ---- */

struct rt {
    int64_t a, b;
    char sid[37], oid[37], tok[37], tok2[37], hid[37], pid[37], cid[37];
    int64_t event, msg;
};

static int rt_write_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct rt *t = arg;
    /* meta */
    uint8_t v[3] = {0, 1, 255}, got[8];
    size_t len = 0;
    if (store_meta_put(tx, "k", v, sizeof v) != 0)
        return kerr_internal(err, "meta put");
    if (store_meta_get(tx, "k", got, sizeof got, &len) != 0 || len != 3 || memcmp(got, v, 3))
        return kerr_internal(err, "meta get");
    if (store_meta_get(tx, "nope", got, sizeof got, &len) != STORE_NOT_FOUND)
        return kerr_internal(err, "meta get absent");
    /* merchants */
    uint8_t mac[32];
    memset(mac, 9, sizeof mac);
    if (store_merchant_set_secret(tx, t->a, mac) != 0)
        return kerr_internal(err, "set secret");
    struct merchant_row m;
    if (store_merchant_by_id(tx, t->a, &m) != 0)
        return kerr_internal(err, "merchant by id");
    int bad = memcmp(m.secret_mac, mac, 32) != 0 || strcmp(m.username, "alice") != 0 ||
              strcmp(m.categories, "klarna") != 0 || m.created_at != 5;
    merchant_row_free(&m);
    if (bad)
        return kerr_internal(err, "merchant fields");
    int64_t count = 0;
    if (store_merchant_count(tx, &count) != 0 || count != 2)
        return kerr_internal(err, "merchant count");
    /* sessions */
    struct session_row s = {.merchant_id = t->a, .created_at = 1, .updated_at = 2,
                            .expires_at = 3, .client_token = "ct",
                            .body = "{\"b\": [1, 2.50, \"\\u00e9\"]}"};
    memcpy(s.id, t->sid, 37);
    snprintf(s.status, sizeof s.status, "incomplete");
    if (store_session_insert(tx, &s) != 0)
        return kerr_internal(err, "session insert");
    /* authorizations */
    struct auth_row au = {.merchant_id = t->a, .issued_at = 10, .state = "active", .body = "{}"};
    memcpy(au.token, t->tok, 37);
    memcpy(au.session_id, t->sid, 37);
    if (store_auth_insert(tx, &au) != 0)
        return kerr_internal(err, "auth insert");
    memcpy(au.token, t->tok2, 37);            /* same issued_at: the later insert is latest */
    if (store_auth_insert(tx, &au) != 0)
        return kerr_internal(err, "auth insert 2");
    /* orders */
    struct order_row o = {.merchant_id = t->a, .status = "AUTHORIZED", .fraud_status = "ACCEPTED",
                          .order_amount = 1000, .created_at = 100, .expires_at = 200,
                          .body = "{\"o\":1}", .list_status = "AUTHORIZED", .list_until = 200,
                          .list_after = "EXPIRED"};
    memcpy(o.id, t->oid, 37);
    memcpy(o.session_id, t->sid, 37);
    if (store_order_insert(tx, &o) != 0)
        return kerr_internal(err, "order insert");
    /* customer tokens */
    struct ctoken_row c = {.merchant_id = t->a, .status = "ACTIVE", .created_at = 7,
                           .body = "{\"c\":true}"};
    memcpy(c.id, t->cid, 37);
    if (store_ctoken_insert(tx, &c) != 0)
        return kerr_internal(err, "ctoken insert");
    /* outbox */
    struct outbox_row e = {.merchant_id = t->a, .kind = "authorization", .url = "https://x/cb",
                           .body = "{\"e\":1}", .created_at = 50, .due_at = 60,
                           .endpoint = "https://x:443"};
    memcpy(e.session_id, t->sid, 37);
    if (store_outbox_add(tx, &e) != 0 || e.id <= 0)
        return kerr_internal(err, "outbox add");
    t->event = e.id;
    /* HPP */
    struct hpp_row h = {.merchant_id = t->a, .status = "WAITING", .created_at = 1,
                        .updated_at = 1, .expires_at = 9, .body = "{\"h\":1}"};
    memcpy(h.id, t->hid, 37);
    memcpy(h.page_id, t->pid, 37);
    memcpy(h.kp_session_id, t->sid, 37);
    if (store_hpp_insert(tx, &h) != 0)
        return kerr_internal(err, "hpp insert");
    struct message_row msg = {.merchant_id = t->a, .body = "{\"to\":\"x\"}", .created_at = 3};
    memcpy(msg.hpp_session_id, t->hid, 37);
    if (store_message_add(tx, &msg) != 0 || msg.id <= 0)
        return kerr_internal(err, "message add");
    t->msg = msg.id;
    return 0;
}

static int rt_read_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct rt *t = arg;
    struct session_row s;
    assert_int_equal(store_session_get(tx, t->a, t->sid, &s), 0);
    assert_string_equal(s.body, "{\"b\": [1, 2.50, \"\\u00e9\"]}");   /* the exact text */
    assert_string_equal(s.client_token, "ct");
    assert_int_equal(s.expires_at, 3);
    session_row_free(&s);
    assert_int_equal(store_session_get(tx, 0, t->sid, &s), 0);        /* any merchant */
    assert_int_equal(s.merchant_id, t->a);
    session_row_free(&s);
    assert_int_equal(store_session_get(tx, t->b, t->sid, &s), STORE_NOT_FOUND);

    struct auth_row au;
    assert_int_equal(store_auth_get(tx, t->a, t->tok, &au), 0);
    assert_string_equal(au.state, "active");
    auth_row_free(&au);
    assert_int_equal(store_auth_get(tx, t->b, t->tok, &au), STORE_NOT_FOUND);

    struct order_row o;
    assert_int_equal(store_order_get(tx, t->a, t->oid, &o), 0);
    assert_string_equal(o.body, "{\"o\":1}");
    assert_int_equal(o.order_amount, 1000);
    assert_string_equal(o.list_after, "EXPIRED");
    assert_int_equal(o.list_until, 200);
    order_row_free(&o);
    assert_int_equal(store_order_get(tx, 0, t->oid, &o), 0);
    order_row_free(&o);
    assert_int_equal(store_order_get(tx, t->b, t->oid, &o), STORE_NOT_FOUND);

    struct ctoken_row c;
    assert_int_equal(store_ctoken_get(tx, t->a, t->cid, &c), 0);
    assert_string_equal(c.body, "{\"c\":true}");
    ctoken_row_free(&c);

    struct hpp_row h;
    assert_int_equal(store_hpp_get(tx, t->a, t->hid, &h), 0);
    assert_string_equal(h.page_id, t->pid);
    hpp_row_free(&h);
    assert_int_equal(store_hpp_get(tx, 0, t->hid, &h), 0);
    hpp_row_free(&h);
    assert_int_equal(store_hpp_get(tx, t->b, t->hid, &h), STORE_NOT_FOUND);
    assert_int_equal(store_hpp_by_page(tx, t->pid, &h), 0);
    assert_string_equal(h.id, t->hid);
    hpp_row_free(&h);
    struct hpp_row hs[4];
    size_t n = 0;
    assert_int_equal(store_hpp_for_kp(tx, t->a, t->sid, hs, 4, &n), 0);
    assert_int_equal(n, 1);
    hpp_row_free(&hs[0]);

    struct message_row ms[4];
    assert_int_equal(store_message_list(tx, t->a, t->hid, ms, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ms[0].id, t->msg);
    assert_string_equal(ms[0].body, "{\"to\":\"x\"}");
    message_row_free(&ms[0]);
    assert_int_equal(store_message_list(tx, t->a, "", ms, 4, &n), 0);
    assert_int_equal(n, 1);
    message_row_free(&ms[0]);
    assert_int_equal(store_message_list(tx, t->b, "", ms, 4, &n), 0);
    assert_int_equal(n, 0);

    struct outbox_row e[4];
    assert_int_equal(store_outbox_list(tx, t->a, t->sid, "", e, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].id, t->event);
    assert_string_equal(e[0].endpoint, "https://x:443");
    assert_string_equal(e[0].status, "pending");
    outbox_row_free(&e[0]);
    assert_int_equal(store_outbox_due(tx, 59, 0, 2, e, 4, &n), 0);
    assert_int_equal(n, 0);                                           /* not yet due */
    assert_int_equal(store_outbox_due(tx, 60, 0, 2, e, 4, &n), 0);
    assert_int_equal(n, 1);
    outbox_row_free(&e[0]);
    return 0;
}

static int rt_change_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct rt *t = arg;
    struct session_row s;
    if (store_session_get(tx, t->a, t->sid, &s) != 0)
        return kerr_internal(err, "session get");
    snprintf(s.status, sizeof s.status, "complete");
    s.expires_at = 33;
    int rc = store_session_update(tx, &s);
    session_row_free(&s);
    if (rc != 0)
        return kerr_internal(err, "session update");
    struct session_row other = {.merchant_id = t->b, .body = "{}"};
    memcpy(other.id, t->sid, 37);
    if (store_session_update(tx, &other) != STORE_NOT_FOUND)
        return kerr_internal(err, "session update scoped");

    struct auth_row au;
    if (store_auth_latest(tx, t->a, t->sid, &au) != 0 || strcmp(au.token, t->tok2) != 0)
        return kerr_internal(err, "auth latest");
    auth_row_free(&au);
    if (store_auth_supersede(tx, t->a, t->sid, t->tok2) != 0 ||
        store_auth_set_state(tx, t->a, t->tok2, "consumed", "{\"x\":2}") != 0 ||
        store_auth_set_state(tx, t->b, t->tok2, "consumed", NULL) != STORE_NOT_FOUND)
        return kerr_internal(err, "auth state");
    if (store_auth_get(tx, t->a, t->tok, &au) != 0 || strcmp(au.state, "superseded") != 0)
        return kerr_internal(err, "auth superseded");
    auth_row_free(&au);
    if (store_auth_get(tx, t->a, t->tok2, &au) != 0 || strcmp(au.body, "{\"x\":2}") != 0)
        return kerr_internal(err, "auth body");
    auth_row_free(&au);

    struct order_row o;
    if (store_order_get(tx, t->a, t->oid, &o) != 0)
        return kerr_internal(err, "order get");
    o.captured_amount = 400;
    snprintf(o.status, sizeof o.status, "CAPTURED");
    snprintf(o.list_status, sizeof o.list_status, "CAPTURED");
    o.list_until = INT64_MAX;
    o.list_after[0] = '\0';
    rc = store_order_update(tx, &o);
    order_row_free(&o);
    if (rc != 0)
        return kerr_internal(err, "order update");
    if (store_order_get(tx, t->a, t->oid, &o) != 0 || o.list_until != INT64_MAX ||
        o.list_after[0] || o.captured_amount != 400)
        return kerr_internal(err, "order reread");
    order_row_free(&o);

    if (store_ctoken_set_status(tx, t->a, t->cid, "CANCELLED") != 0 ||
        store_ctoken_set_status(tx, t->b, t->cid, "CANCELLED") != STORE_NOT_FOUND)
        return kerr_internal(err, "ctoken status");

    struct hpp_row h = {.merchant_id = t->a, .status = "IN_PROGRESS", .updated_at = 5,
                        .body = "{}"};
    memcpy(h.id, t->hid, 37);
    if (store_hpp_update(tx, &h, "WAITING") != 0 ||
        store_hpp_update(tx, &h, "WAITING") != STORE_NOT_FOUND)
        return kerr_internal(err, "hpp cas");

    struct outbox_attempt a = {.at = 70, .http_status = 500, .duration_ms = 12};
    snprintf(a.error, sizeof a.error, "HTTP 500");
    snprintf(a.response, sizeof a.response, "%s", "{\"error\": \"bусy\"}");
    if (store_outbox_claim(tx, t->event, 1000, 5000) != 0 ||
        store_outbox_claim(tx, t->event, 1000, 5000) != STORE_NOT_FOUND ||
        store_outbox_record(tx, t->event, &a, "pending", 90) != 0)
        return kerr_internal(err, "outbox claim/record");
    struct outbox_attempt got[4];
    size_t n = 0;
    if (store_outbox_attempts(tx, t->event, got, 4, &n) != 0 || n != 1 ||
        got[0].http_status != 500 || strcmp(got[0].error, "HTTP 500") != 0 ||
        got[0].duration_ms != 12 || strcmp(got[0].response, a.response) != 0)
        return kerr_internal(err, "outbox attempts");
    struct outbox_row e[2];
    if (store_outbox_list(tx, t->a, "", t->oid, e, 2, &n) != 0 || n != 0)
        return kerr_internal(err, "outbox list by order");
    if (store_outbox_list(tx, t->a, "", "", e, 2, &n) != 0 || n != 1 || e[0].attempts != 1 ||
        e[0].lease_until != 0 || e[0].due_at != 90)
        return kerr_internal(err, "outbox after record");
    outbox_row_free(&e[0]);
    return 0;
}

static int rt_check_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct rt *t = arg;
    struct session_row s;
    assert_int_equal(store_session_get(tx, t->a, t->sid, &s), 0);
    assert_string_equal(s.status, "complete");
    assert_int_equal(s.expires_at, 33);
    session_row_free(&s);
    struct ctoken_row c;
    assert_int_equal(store_ctoken_get(tx, t->a, t->cid, &c), 0);
    assert_string_equal(c.status, "CANCELLED");
    ctoken_row_free(&c);
    struct hpp_row h;
    assert_int_equal(store_hpp_get(tx, t->a, t->hid, &h), 0);
    assert_string_equal(h.status, "IN_PROGRESS");
    hpp_row_free(&h);
    return 0;
}

static void new_id(char out[37])
{
    static int64_t t = 1700000000000;
    assert_int_equal(ids_uuid7(t++, out), 0);
}

/* Rule: every call stores and returns what SQLite's does, scoped by merchant. */
static void test_every_call_round_trips(void **state)
{
    (void)state;
    struct store *s = open_store(4);
    struct rt t = {0};
    t.a = add_merchant(s, "alice");
    t.b = add_merchant(s, "bob");
    assert_int_equal(add_merchant(s, "alice"), t.a);
    new_id(t.sid);
    new_id(t.oid);
    new_id(t.tok);
    new_id(t.tok2);
    new_id(t.hid);
    new_id(t.pid);
    new_id(t.cid);
    struct kerr err = {0};
    assert_int_equal(store_write(s, rt_write_fn, &t, &err), 0);
    assert_int_equal(store_read(s, rt_read_fn, &t, &err), 0);
    assert_int_equal(store_write(s, rt_change_fn, &t, &err), 0);
    assert_int_equal(store_read(s, rt_check_fn, &t, &err), 0);
    assert_int_equal(store_ping(s, &err), 0);
    store_close(s);
}

/* ---- a failing fn ---- */

static int insert_then_fail_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    if (store_session_insert(tx, arg) != 0)
        return kerr_internal(err, "insert");
    return kerr_bad_value(err, "order_amount");
}

struct get_args {
    int64_t merchant;
    const char *id;
    int rc;
};

static int get_session_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct get_args *g = arg;
    struct session_row row;
    g->rc = store_session_get(tx, g->merchant, g->id, &row);
    if (g->rc == 0)
        session_row_free(&row);
    return 0;
}

/* Rule: a fn that fails (4xx) leaves nothing behind and its error is the caller's, as is. */
static void test_failed_fn_leaves_nothing(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "alice");
    struct session_row row = {.merchant_id = a, .status = "incomplete", .client_token = "t",
                              .body = "{}"};
    new_id(row.id);
    struct kerr err = {0};
    assert_int_equal(store_write(s, insert_then_fail_fn, &row, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "Bad value: order_amount");
    struct get_args g = {.merchant = a, .id = row.id};
    assert_int_equal(store_read(s, get_session_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
    store_close(s);
}

/* ---- meta_add ---- */

static int meta_add_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    int *rc = arg;
    const uint8_t v[2] = {1, 2};
    *rc = store_meta_add(tx, "server_key", v, sizeof v);
    return 0;
}

/* Rule: meta_add adds once; the second add (another transaction) is STORE_EXISTS. */
static void test_meta_add_twice(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    struct kerr err = {0};
    int rc = -1;
    assert_int_equal(store_write(s, meta_add_fn, &rc, &err), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(store_write(s, meta_add_fn, &rc, &err), 0);
    assert_int_equal(rc, STORE_EXISTS);
    store_close(s);
}

/* ---- request log ---- */

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

/* Rule: a queued log row is readable after a flush, only by its merchant; a body that is not
 * UTF-8 is stored repaired, not lost. */
static void test_log_queue_and_flush(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "alice"), b = add_merchant(s, "bob");
    char ids[600][37];
    for (int i = 0; i < 600; i++) {             /* more than a batch */
        struct reqlog_row row = {.merchant_id = a, .status = 200, .at_ms = 42 + i};
        new_id(row.correlation_id);
        memcpy(ids[i], row.correlation_id, 37);
        snprintf(row.method, sizeof row.method, "POST");
        row.path = strdup("/payments/v1/sessions");
        row.request_body = strdup(i == 7 ? "{\"a\":\"\xff\"}" : "{\"a\":1}");
        store_log_async(s, &row);
    }
    struct kerr err = {0};
    assert_int_equal(store_flush(s, &err), 0);
    struct log_args l = {.merchant = a, .id = ids[599]};
    assert_int_equal(store_read(s, log_get_fn, &l, &err), 0);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.row.path, "/payments/v1/sessions");
    assert_string_equal(l.row.request_body, "{\"a\":1}");
    assert_null(l.row.response_body);
    assert_int_equal(l.row.status, 200);
    assert_int_equal(l.row.at_ms, 42 + 599);
    reqlog_row_free(&l.row);
    l.id = ids[7];
    assert_int_equal(store_read(s, log_get_fn, &l, &err), 0);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.row.request_body, "{\"a\":\"\xef\xbf\xbd\"}");
    reqlog_row_free(&l.row);
    struct log_args other = {.merchant = b, .id = ids[0]};
    assert_int_equal(store_read(s, log_get_fn, &other, &err), 0);
    assert_int_equal(other.rc, STORE_NOT_FOUND);
    store_close(s);
}

/* ---- idempotency ---- */

static int idem_put_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct idem_row row = {.merchant_id = *(int64_t *)arg, .key = "k1", .created_at = 1000,
                           .method = "POST", .path = "/x", .status = 201, .headers = "[]",
                           .body = "", .request_hash = "ab"};
    return store_idem_put(tx, &row, INT64_MIN) ? kerr_internal(err, "put") : 0;
}

static int idem_prune_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    return store_idem_prune(tx, 2000) ? kerr_internal(err, "prune") : 0;
}

struct idem_get_args {
    int64_t merchant, not_before;
    int rc;
};

static int idem_get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct idem_get_args *g = arg;
    struct idem_row row;
    g->rc = store_idem_get(tx, g->merchant, "k1", g->not_before, &row);
    if (g->rc == 0) {
        assert_string_equal(row.request_hash, "ab");
        assert_string_equal(row.body, "");
        assert_int_equal(row.status, 201);
        idem_row_free(&row);
    }
    return 0;
}

/* Rule: records are found while young (not_before), removed by the prune. */
static void test_idempotency_record_and_prune(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "alice");
    struct kerr err = {0};
    assert_int_equal(store_write(s, idem_put_fn, &a, &err), 0);
    struct idem_get_args g = {.merchant = a};
    assert_int_equal(store_read(s, idem_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, 0);
    g.not_before = 1001;
    assert_int_equal(store_read(s, idem_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
    g.not_before = 0;
    assert_int_equal(store_write(s, idem_prune_fn, NULL, &err), 0);
    assert_int_equal(store_read(s, idem_get_fn, &g, &err), 0);
    assert_int_equal(g.rc, STORE_NOT_FOUND);
    store_close(s);
}

/* Two transactions record one key at once: both look it up (absent), both put. */
struct idem_race {
    struct store *s;
    int64_t merchant;
    pthread_barrier_t *bar;
    const char *mine;
    int attempts;
    bool replayed;
    char body[32];
    int rc;
};

static int idem_race_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct idem_race *r = arg;
    r->attempts++;
    r->replayed = false;
    r->body[0] = '\0';
    struct idem_row got;
    int rc = store_idem_get(tx, r->merchant, "race", 0, &got);
    if (rc == 0) {
        r->replayed = true;
        snprintf(r->body, sizeof r->body, "%s", got.body);
        idem_row_free(&got);
        return 0;
    }
    if (rc < 0)
        return kerr_internal(err, "idem get");
    if (r->attempts == 1)
        pthread_barrier_wait(r->bar);
    struct idem_row row = {.merchant_id = r->merchant, .key = "race", .created_at = 1000,
                           .method = "POST", .path = "/x", .status = 200, .headers = "[]",
                           .body = (char *)r->mine};
    if (store_idem_put(tx, &row, 0) != 0)
        return kerr_internal(err, "idem put (expected once: the race is lost)");
    snprintf(r->body, sizeof r->body, "%s", r->mine);
    return 0;
}

static void *idem_race_thread(void *arg)
{
    struct idem_race *r = arg;
    struct kerr err = {0};
    r->rc = store_write(r->s, idem_race_fn, r, &err);
    return NULL;
}

/* Rule: one key recorded by two transactions at once executes once: the loser's fn runs again
 * and finds (replays) the winner's record. */
static void test_idem_put_race_replays(void **state)
{
    (void)state;
    struct store *s = open_store(4);
    int64_t a = add_merchant(s, "alice");
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct idem_race r[2] = {{.s = s, .merchant = a, .bar = &bar, .mine = "first"},
                             {.s = s, .merchant = a, .bar = &bar, .mine = "second"}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, idem_race_thread, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(r[0].rc, 0);
    assert_int_equal(r[1].rc, 0);
    struct idem_race *win = r[0].replayed ? &r[1] : &r[0], *lose = r[0].replayed ? &r[0] : &r[1];
    assert_false(win->replayed);
    assert_int_equal(win->attempts, 1);
    assert_true(lose->replayed);
    assert_int_equal(lose->attempts, 2);
    assert_string_equal(lose->body, win->mine);
    store_close(s);
}

/* A write that loses its race every time: 503 after the bounded attempts. */
static int always_loses_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct idem_race *r = arg;
    r->attempts++;
    struct idem_row row = {.merchant_id = r->merchant, .key = "k1", .created_at = 1000,
                           .method = "POST", .path = "/x", .status = 200, .headers = "[]",
                           .body = ""};
    if (store_idem_put(tx, &row, 0) != 0)     /* the live record of idem_put_fn */
        return kerr_internal(err, "idem put (expected: the race is lost)");
    return 0;
}

/* Rule: the retries are bounded; then the caller answers 503 with Retry-After. */
static void test_retries_are_bounded(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "alice");
    struct kerr err = {0};
    assert_int_equal(store_write(s, idem_put_fn, &a, &err), 0);
    struct idem_race r = {.merchant = a};
    assert_int_equal(store_write(s, always_loses_fn, &r, &err), -1);
    assert_int_equal(err.status, 503);
    assert_int_equal(err.retry_after, 1);
    assert_int_equal(r.attempts, 8);
    store_close(s);
}

/* ---- merchants: a unique race ---- */

struct merchant_race {
    struct store *s;
    pthread_barrier_t *bar;
    int attempts;
    int64_t id;
    int rc;
};

static int merchant_race_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct merchant_race *r = arg;
    r->attempts++;
    struct merchant_row got;
    int rc = store_merchant_by_username(tx, "same", &got);
    if (rc == 0) {
        r->id = got.id;
        merchant_row_free(&got);
        return 0;
    }
    if (r->attempts == 1)
        pthread_barrier_wait(r->bar);
    struct merchant_row m = {.username = "same", .name = "n", .categories = "klarna"};
    if (store_merchant_insert(tx, &m) != 0)
        return kerr_internal(err, "merchant insert (expected once: the race is lost)");
    r->id = m.id;
    return 0;
}

static void *merchant_race_thread(void *arg)
{
    struct merchant_race *r = arg;
    struct kerr err = {0};
    r->rc = store_write(r->s, merchant_race_fn, r, &err);
    return NULL;
}

/* Rule: two nodes inserting one username: one inserts, the other runs again and finds it. */
static void test_merchant_insert_race(void **state)
{
    (void)state;
    struct store *s = open_store(4);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct merchant_race r[2] = {{.s = s, .bar = &bar}, {.s = s, .bar = &bar}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, merchant_race_thread, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(r[0].rc, 0);
    assert_int_equal(r[1].rc, 0);
    assert_int_equal(r[0].id, r[1].id);
    assert_int_equal(r[0].attempts + r[1].attempts, 3);
    store_close(s);
}

/* ---- no lost update ---- */

struct bump {
    struct store *s;
    int64_t merchant;
    const char *id;
    int n;
    int failed;
};

static int bump_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct bump *b = arg;
    struct order_row o;
    if (store_order_get(tx, b->merchant, b->id, &o) != 0)
        return kerr_internal(err, "order get");
    o.order_amount += 1;
    int rc = store_order_update(tx, &o);
    order_row_free(&o);
    return rc == 0 ? 0 : kerr_internal(err, "order update");
}

static void *bump_thread(void *arg)
{
    struct bump *b = arg;
    for (int i = 0; i < b->n; i++) {
        struct kerr err = {0};
        if (store_write(b->s, bump_fn, b, &err) != 0)
            b->failed++;
    }
    return NULL;
}

static int order_insert_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    return store_order_insert(tx, arg) == 0 ? 0 : kerr_internal(err, "order insert");
}

struct amount_args {
    int64_t merchant;
    const char *id;
    int64_t amount;
};

static int amount_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct amount_args *a = arg;
    struct order_row o;
    if (store_order_get(tx, a->merchant, a->id, &o) != 0)
        return kerr_internal(err, "order get");
    a->amount = o.order_amount;
    order_row_free(&o);
    return 0;
}

/* Rule: read-modify-writes of one order by concurrent transactions never lose an update: the
 * get inside store_write locks the row (FOR UPDATE). */
static void test_no_lost_update(void **state)
{
    (void)state;
    struct store *s = open_store(6);
    int64_t a = add_merchant(s, "alice");
    struct order_row o = {.merchant_id = a, .session_id = "s", .status = "AUTHORIZED",
                          .fraud_status = "ACCEPTED", .created_at = 1, .expires_at = 2,
                          .body = "{}", .list_status = "AUTHORIZED", .list_until = INT64_MAX};
    new_id(o.id);
    struct kerr err = {0};
    assert_int_equal(store_write(s, order_insert_fn, &o, &err), 0);
    enum { THREADS = 4, EACH = 50 };
    struct bump b[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        b[i] = (struct bump){.s = s, .merchant = a, .id = o.id, .n = EACH};
        assert_int_equal(pthread_create(&th[i], NULL, bump_thread, &b[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(b[i].failed, 0);
    }
    struct amount_args got = {.merchant = a, .id = o.id};
    assert_int_equal(store_read(s, amount_fn, &got, &err), 0);
    assert_int_equal(got.amount, THREADS * EACH);
    store_close(s);
}

/* ---- outbox claims by two nodes ---- */

struct claim_args {
    struct store *s;
    int64_t id, wall, lease;
    pthread_barrier_t *bar;
    int rc;
};

static int claim_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)err;
    struct claim_args *c = arg;
    c->rc = store_outbox_claim(tx, c->id, c->wall, c->lease);
    if (c->bar) {                              /* hold the claim uncommitted meanwhile */
        pthread_barrier_wait(c->bar);
        pthread_barrier_wait(c->bar);
    }
    return 0;
}

static void *claim_thread(void *arg)
{
    struct claim_args *c = arg;
    struct kerr err = {0};
    if (store_write(c->s, claim_fn, c, &err) != 0)
        c->rc = -1;
    return NULL;
}

static int outbox_add_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    return store_outbox_add(tx, arg) == 0 ? 0 : kerr_internal(err, "outbox add");
}

/* Rule: two nodes claiming one event: exactly one wins, the other neither waits nor takes it
 * (SKIP LOCKED while the claim is uncommitted, the live lease afterwards); once the lease
 * ends, it can be claimed again. */
static void test_outbox_claim_two_nodes(void **state)
{
    (void)state;
    struct store *n1 = open_store(2), *n2 = open_store(2);
    int64_t a = add_merchant(n1, "alice");
    struct outbox_row e = {.merchant_id = a, .kind = "authorization", .url = "https://x/",
                           .body = "{}", .created_at = 1, .due_at = 1,
                           .endpoint = "https://x:443"};
    struct kerr err = {0};
    assert_int_equal(store_write(n1, outbox_add_fn, &e, &err), 0);

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct claim_args first = {.s = n1, .id = e.id, .wall = 1000, .lease = 5000, .bar = &bar};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, claim_thread, &first), 0);
    pthread_barrier_wait(&bar);                /* n1 holds its claim, uncommitted */
    struct claim_args second = {.s = n2, .id = e.id, .wall = 1000, .lease = 5000};
    claim_thread(&second);
    pthread_barrier_wait(&bar);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(first.rc, 0);
    assert_int_equal(second.rc, STORE_NOT_FOUND);

    second.wall = 4999;                        /* the lease is live */
    claim_thread(&second);
    assert_int_equal(second.rc, STORE_NOT_FOUND);
    second.wall = 5000;                        /* it ended: n2 may take it */
    second.lease = 9000;
    claim_thread(&second);
    assert_int_equal(second.rc, 0);
    store_close(n1);
    store_close(n2);
}

/* ---- migrations ---- */

struct open_args {
    struct store *s;
    struct kerr err;
};

static void *open_thread(void *arg)
{
    struct open_args *o = arg;
    o->s = store_pg_open(conninfo, 2, 5, &o->err);
    return NULL;
}

/* Rule: two nodes starting at once on a new database both open it; the schema is made once. */
static void test_concurrent_migration(void **state)
{
    (void)state;
    struct open_args o[3] = {0};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, open_thread, &o[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        if (!o[i].s)
            fail_msg("store_pg_open %d: %s", i, o[i].err.msg);
    assert_int_equal(query_int("SELECT count(*) FROM kasse_schema"), 1);
    assert_int_equal(query_int("SELECT version FROM kasse_schema"), last_migration());
    add_merchant(o[0].s, "alice");
    for (int i = 0; i < 3; i++)
        store_close(o[i].s);
    /* and a later start migrates nothing */
    struct store *s = open_store(1);
    store_close(s);
    assert_int_equal(query_int("SELECT count(*) FROM merchants"), 1);
}

/* ---- connection loss ---- */

static int kill_mid_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    (void)arg;
    int64_t n = 0;
    if (store_merchant_count(tx, &n) != 0)
        return kerr_internal(err, "count");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = '%s' AND application_name = 'kasse'", dbname);
    admin(sql);
    if (store_merchant_count(tx, &n) != 0)
        return kerr_internal(err, "count after the kill");
    return 0;
}

static int count_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    return store_merchant_count(tx, arg) == 0 ? 0 : kerr_internal(err, "count");
}

/* Rule: a connection lost under a transaction answers 503 (never 500, never a crash); the
 * next call works on a new connection, also when the lost one was idle. A server that is
 * not there: store_pg_open gives up after its wait with 503. */
static void test_connection_loss(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    add_merchant(s, "alice");
    struct kerr err = {0};
    assert_int_equal(store_write(s, kill_mid_fn, NULL, &err), -1);
    assert_int_equal(err.status, 503);
    assert_true(err.retry_after > 0);
    int64_t n = 0;
    kerr_clear(&err);
    assert_int_equal(store_read(s, count_fn, &n, &err), 0);   /* idle connections were killed */
    assert_int_equal(n, 1);
    assert_int_equal(store_write(s, count_fn, &n, &err), 0);
    assert_int_equal(store_ping(s, &err), 0);
    store_close(s);

    struct store *none = store_pg_open("postgresql://kasse@127.0.0.1:1/nothing", 1, 1, &err);
    assert_null(none);
    assert_int_equal(err.status, 503);
}

/* ---- the order list ---- */

#include "order_list_ref.h"
#define LIST_ORDERS 5000

/* Every counter of order_counts (its shards summed) equals the orders it counts, at every
 * level, and no order goes uncounted. */
static void assert_counts_exact(void)
{
    assert_int_equal(query_int(
        "SELECT count(*) FROM (SELECT l.level, o.merchant_id, o.created_at / l.width AS bucket, "
        "o.list_status AS status, count(*) AS n FROM orders o, order_count_levels l "
        "GROUP BY 1, 2, 3, 4) a FULL JOIN (SELECT level, merchant_id, bucket, status, "
        "sum(n) AS n FROM order_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0) b "
        "USING (level, merchant_id, bucket, status) WHERE a.n IS DISTINCT FROM b.n"), 0);
}

struct sweep_args {
    int64_t now;
    size_t max, n;
};

static int sweep_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct sweep_args *w = arg;
    return store_order_list_sweep(tx, w->now, w->max, &w->n) == 0 ? 0
                                                                  : kerr_internal(err, "sweep");
}

/* Rule: the list's total and pages are those of a full scan, for any status at any now, with
 * due orders not yet swept; the sweep files due ones (at most max a call) and changes nothing
 * visible; an order not filed for the list is refused. */
static void test_order_page_and_sweep(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "lister"), b = add_merchant(s, "other");
    struct ref_order *o = calloc(LIST_ORDERS, sizeof *o);
    assert_non_null(o);
    for (size_t i = 0; i < LIST_ORDERS; i++)
        make_ref(&o[i], i, i % 8 == 7 ? b : a);
    struct orders_args put = {.o = o, .n = LIST_ORDERS};
    struct kerr err = {0};
    assert_int_equal(store_write(s, put_orders_fn, &put, &err), 0);
    assert_counts_exact();
    struct order_page_query q;
    for (int i = 0; i < 200; i++) {
        pick_query(&q, pick(0, 5) == 0 ? b : a, LIST_ORDERS);
        check_page(s, o, LIST_ORDERS, &q);
    }
    /* Every depth, with and without a status, due orders read through the correction. */
    q = (struct order_page_query){.merchant_id = a, .from = 0, .to = INT64_MAX, .now = LT0,
                                  .limit = 100};
    for (q.offset = 0; q.offset < LIST_ORDERS; q.offset += 337)
        check_page(s, o, LIST_ORDERS, &q);
    q.status = "AUTHORIZED";
    q.limit = 7;
    for (q.offset = 0; q.offset < LIST_ORDERS / 2; q.offset += 101)
        check_page(s, o, LIST_ORDERS, &q);
    q.status = "EXPIRED";
    q.now = LT0 + 60LL * 86400 * 1000;
    for (q.offset = 0; q.offset < LIST_ORDERS / 2; q.offset += 149)
        check_page(s, o, LIST_ORDERS, &q);
    /* Within the crowded seconds (several orders in one ms), at every offset. */
    q = (struct order_page_query){.merchant_id = a, .from = LT0, .to = LT0 + 4000, .now = LT0,
                                  .limit = 3};
    for (q.offset = 0; q.offset < LIST_ORDERS / 3; q.offset += 13)
        check_page(s, o, LIST_ORDERS, &q);
    q.from = LT0 + 1000;
    q.to = LT0 + 1990;
    q.status = "AUTHORIZED";
    for (q.offset = 0; q.offset < 400; q.offset += 5)
        check_page(s, o, LIST_ORDERS, &q);

    for (size_t i = 0; i < LIST_ORDERS; i += 3) {
        o[i].ls = list_statuses[pick(0, 5)];
        o[i].la = pick(0, 1) ? NULL : "EXPIRED";
        o[i].lu = LT0 + pick(-30LL * 86400 * 1000, 90LL * 86400 * 1000);
    }
    put.update = true;
    assert_int_equal(store_write(s, put_orders_fn, &put, &err), 0);
    assert_counts_exact();

    const int64_t now = LT0 + 10LL * 86400 * 1000;
    size_t due = 0;
    for (size_t i = 0; i < LIST_ORDERS; i++)
        due += o[i].la && o[i].lu <= now;
    struct sweep_args w = {.now = now, .max = 50};
    assert_int_equal(store_write(s, sweep_fn, &w, &err), 0);
    assert_int_equal(w.n, 50);
    for (int i = 0; i < 50; i++) {
        pick_query(&q, pick(0, 5) == 0 ? b : a, LIST_ORDERS);
        q.now = now + pick(0, 100LL * 86400 * 1000);
        check_page(s, o, LIST_ORDERS, &q);
    }
    assert_counts_exact();
    w.max = LIST_ORDERS;
    assert_int_equal(store_write(s, sweep_fn, &w, &err), 0);
    assert_int_equal(w.n, due - 50);
    assert_int_equal(store_write(s, sweep_fn, &w, &err), 0);
    assert_int_equal(w.n, 0);
    assert_counts_exact();
    /* Deleted orders leave the counts (no store call deletes one; the trigger covers it). */
    exec_sql("DELETE FROM orders WHERE id LIKE '%3-0000-7000-%'");
    for (size_t i = 0; i < LIST_ORDERS; i++)
        if (strstr(o[i].id, "3-0000-7000-"))
            o[i].merchant = -1;
    assert_counts_exact();
    for (int i = 0; i < 50; i++) {
        pick_query(&q, a, LIST_ORDERS);
        q.now = now + pick(0, 100LL * 86400 * 1000);
        check_page(s, o, LIST_ORDERS, &q);
    }

    struct ref_order bad;
    make_ref(&bad, LIST_ORDERS + 1, a);
    bad.ls = "";
    struct orders_args put_bad = {.o = &bad, .n = 1};
    assert_int_equal(store_write(s, put_orders_fn, &put_bad, &err), -1);
    free(o);
    store_close(s);
}

struct inserter {
    struct store *s;
    struct ref_order *o;
    size_t n;
    bool update;                               /* then file each under a new status */
    int failed;
};

static void *insert_thread(void *arg)
{
    struct inserter *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        struct orders_args one = {.o = &t->o[i], .n = 1};
        struct kerr err = {0};
        if (store_write(t->s, put_orders_fn, &one, &err) != 0)
            t->failed++;
    }
    for (size_t i = 0; t->update && i < t->n; i += 2) {
        t->o[i].ls = list_statuses[(i / 2) % 6];
        struct orders_args one = {.o = &t->o[i], .n = 1, .update = true};
        struct kerr err = {0};
        if (store_write(t->s, put_orders_fn, &one, &err) != 0)
            t->failed++;
    }
    return NULL;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum { INSERTERS = 16 };

/* threads × each orders of merchant m, one transaction each, all threads at once (then, with
 * update, each thread refiles half of its orders); returns the wall time in µs. */
static int64_t insert_at_once(struct store *s, struct ref_order *o, size_t threads, size_t each,
                              int64_t m, size_t first, bool update)
{
    struct inserter t[INSERTERS];
    pthread_t th[INSERTERS];
    for (size_t i = 0; i < threads * each; i++) {
        make_ref(&o[i], first + i, m);
        o[i].created_at = LT0 + (int64_t)(i % 5) * 400;     /* the same few seconds */
    }
    int64_t t0 = mono_us();
    for (size_t i = 0; i < threads; i++) {
        t[i] = (struct inserter){.s = s, .o = o + i * each, .n = each, .update = update};
        assert_int_equal(pthread_create(&th[i], NULL, insert_thread, &t[i]), 0);
    }
    for (size_t i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failed, 0);
    }
    return mono_us() - t0;
}

/* Rule: orders of one merchant inserted and refiled by concurrent transactions (several
 * nodes) are all counted, exactly, whichever shard each transaction writes.
 * KASSE_TEST_PG_BENCH=1 also prints what the counters cost such inserts: without triggers,
 * with one counter row (no shards), with the shards. */
static void test_order_counts_concurrent(void **state)
{
    (void)state;
    struct store *s = open_store(INSERTERS);
    int64_t a = add_merchant(s, "busy");
    enum { EACH = 40 };
    struct ref_order *o = calloc(INSERTERS * EACH, sizeof *o);
    assert_non_null(o);
    insert_at_once(s, o, INSERTERS, EACH, a, 0, true);
    assert_counts_exact();
    struct order_page_query q = {.merchant_id = a, .from = 0, .to = INT64_MAX, .now = LT0,
                                 .limit = 10};
    for (q.offset = 0; q.offset < INSERTERS * EACH; q.offset += 61)
        check_page(s, o, INSERTERS * EACH, &q);
    q.status = "CAPTURED";
    for (q.offset = 0; q.offset < INSERTERS * EACH / 8; q.offset += 7)
        check_page(s, o, INSERTERS * EACH, &q);
    free(o);

    const char *bench = getenv("KASSE_TEST_PG_BENCH");
    if (bench && *bench == '1') {
        enum { BENCH_EACH = 200 };
        static const char *const variant[] = {"8 shards", "1 shard", "no triggers"};
        static const char *const sql[] = {
            "SELECT 1",
            "DO $$ BEGIN EXECUTE replace(pg_get_functiondef('orders_count'::regproc), "
            "'% 8)', '% 1)'); END $$",
            "ALTER TABLE orders DISABLE TRIGGER USER",
        };
        struct ref_order *r = calloc(INSERTERS * BENCH_EACH, sizeof *r);
        assert_non_null(r);
        for (int v = 0; v < 3; v++) {
            exec_sql(sql[v]);
            int64_t m = add_merchant(s, variant[v]);
            for (size_t threads = 1; threads <= INSERTERS; threads *= 4) {
                int64_t us = insert_at_once(s, r, threads, BENCH_EACH, m,
                                            100000 * (size_t)(v + 1) + 10000 * threads, false);
                printf("bench: %-11s %2zu threads: %6.0f inserts/s, %.3f ms each\n", variant[v],
                       threads, (double)threads * BENCH_EACH * 1e6 / (double)us,
                       (double)us / 1000.0 / BENCH_EACH);
            }
        }
        free(r);
    }
    store_close(s);
}

/* Rule: a database made before migration 2 gets its orders counted by it. */
static void test_migration_2_counts_existing_orders(void **state)
{
    (void)state;
    struct store *s = open_store(2);
    int64_t a = add_merchant(s, "old"), b = add_merchant(s, "older");
    enum { N = 600 };
    struct ref_order *o = calloc(N, sizeof *o);
    assert_non_null(o);
    for (size_t i = 0; i < N; i++)
        make_ref(&o[i], i, i % 4 == 3 ? b : a);
    /* Back to migration 1: undo 4 (the callback answer's excerpt), 3 (the portal's table and
     * indexes), then 2. */
    exec_sql("ALTER TABLE outbox_attempts DROP COLUMN response; DROP TABLE portal_sessions; DROP INDEX sessions_merchant, hpp_sessions_merchant, "
             "outbox_merchant, request_log_merchant, orders_reference1, orders_reference2; "
             "DROP TRIGGER orders_count_insert ON orders; "
             "DROP TRIGGER orders_count_update ON orders; "
             "DROP TRIGGER orders_count_delete ON orders; DROP FUNCTION orders_count(); "
             "DROP TABLE order_counts, order_count_levels; UPDATE kasse_schema SET version = 1");
    struct orders_args put = {.o = o, .n = N};
    struct kerr err = {0};
    assert_int_equal(store_write(s, put_orders_fn, &put, &err), 0);
    store_close(s);
    s = open_store(2);
    assert_int_equal(query_int("SELECT version FROM kasse_schema"), last_migration());
    assert_counts_exact();
    struct order_page_query q;
    for (int i = 0; i < 60; i++) {
        pick_query(&q, pick(0, 3) == 0 ? b : a, N);
        check_page(s, o, N, &q);
    }
    free(o);
    store_close(s);
}

/* ---- the merchant portal's calls (portal_store_ref.h names each rule) ---- */

#include "portal_store_ref.h"

/* Runs one of portal_store_ref.h's checks on a fresh store with two merchants. */
static void run_portal_check(void (*check)(struct store *s, int64_t a, int64_t b))
{
    struct store *s = open_store(4);
    check(s, add_merchant(s, "portal_a"), add_merchant(s, "portal_b"));
    store_close(s);
}

static void test_portal_session_round_trip_and_expiry(void **state)
{
    (void)state;
    run_portal_check(check_portal_session_round_trip_and_expiry);
}

static void test_portal_session_prune(void **state)
{
    (void)state;
    run_portal_check(check_portal_session_prune);
}

static void test_session_page(void **state)
{
    (void)state;
    run_portal_check(check_session_page);
}

static void test_hpp_page(void **state)
{
    (void)state;
    run_portal_check(check_hpp_page);
}

static void test_outbox_page_and_get(void **state)
{
    (void)state;
    run_portal_check(check_outbox_page_and_get);
}

static void test_reqlog_page(void **state)
{
    (void)state;
    run_portal_check(check_reqlog_page);
}

static void test_order_by_reference(void **state)
{
    (void)state;
    run_portal_check(check_order_by_reference);
}

int main(void)
{
    server = getenv("KASSE_TEST_PG");
    if (!server || !*server) {
        printf("skipped: KASSE_TEST_PG not set\n");
        return 0;
    }
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_call_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_fn_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_add_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_queue_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_record_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idem_put_race_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merchant_insert_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_claim_two_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_page_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_counts_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_2_counts_existing_orders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_portal_session_round_trip_and_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_portal_session_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hpp_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_page_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reqlog_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_by_reference, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
