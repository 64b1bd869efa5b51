/* control: Kasse's own endpoints under /kasse/v1 (design.md): the test clock and the request
 * log by correlation id. Klarna's paths are never used for these. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/authorization.h"
#include "lib/limits.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "outbox/outbox.h"
#include "store/store.h"

#define LOG_PEER_WAIT_MS 500

static json_t *clock_body(const struct app *app)
{
    char now[32];
    time_format_iso8601(clock_now_ms(&app->clock), now);
    return json_pack("{s:s}", "now", now);
}

/* GET /kasse/v1/health (no auth; for load balancers): 200 when the store answers, else 503
 * with the envelope and Retry-After. Says which store, never where it is. */
int control_health(struct req *r, struct reply *out, struct kerr *err)
{
    if (store_ping(r->app->store, err) != 0)
        return -1;
    json_t *body = json_pack("{s:s, s:s}", "status", "ok", "store", r->app->store->ops->name);
    return reply_json(out, 200, body, err);
}

int control_read_clock(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = clock_body(r->app);
    return reply_json(out, 200, body, err);
}

int control_advance_clock(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    json_t *v = json_object_get(body, "advance_seconds");
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(body);
    if (n < 0 || n > CLOCK_ADVANCE_MAX_S)
        return kerr_bad_value(err, "advance_seconds");
    if (app_clock_advance(r->app, n, err) != 0)
        return -1;
    json_t *reply = clock_body(r->app);
    return reply_json(out, 200, reply, err);
}

struct log_ctx {
    int64_t merchant_id;
    const char *id;
    struct reqlog_row row;
    int found;
};

static int log_get_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct log_ctx *l = arg;
    int rc = store_reqlog_get(tx, l->merchant_id, l->id, &l->row);
    if (rc < 0)
        return kerr_internal(err, "request log get");
    l->found = rc == 0;
    return 0;
}

int control_read_log(struct req *r, struct reply *out, struct kerr *err)
{
    const char *id = r->params[0];
    if (!ids_is_uuid(id))
        return kerr_set(err, 404, "NOT_FOUND", "No request with correlation id %s", id);
    /* Log rows are queued behind writes; make everything received so far readable. */
    if (store_flush(r->app->store, err) != 0)
        return -1;
    struct log_ctx l = {.merchant_id = r->merchant.id, .id = id};
    if (store_read(r->app->store, log_get_fn, &l, err) != 0)
        return -1;
    /* On a shared store the request may have been served by another node, whose logger
     * writes its rows within LOG_BATCH_MS (50 ms): look again for a little longer. */
    for (int waited = 0; !l.found && r->app->store->ops->shared && waited < LOG_PEER_WAIT_MS;
         waited += 25) {
        usleep(25 * 1000);
        if (store_read(r->app->store, log_get_fn, &l, err) != 0)
            return -1;
    }
    if (!l.found)
        return kerr_set(err, 404, "NOT_FOUND", "No request with correlation id %s", id);
    char at[32];
    time_format_iso8601(l.row.at_ms, at);
    /* Bodies are kept as received; bytes that are not UTF-8 (a rejected request may carry
     * any) are shown as U+FFFD so the log is JSON text. */
    const char *fields[] = {l.row.path, l.row.request_body, l.row.response_body};
    char *text[3] = {0};
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        const char *f = fields[i] ? fields[i] : "";
        text[i] = utf8_repair(f, strlen(f));
        bad |= !text[i];
    }
    json_t *body = bad ? NULL
                       : json_pack("{s:s, s:s, s:s, s:i, s:s, s:f, s:s, s:s}",
                                   "correlation_id", l.row.correlation_id, "method",
                                   l.row.method, "path", text[0], "status", l.row.status,
                                   "received_at", at, "duration_ms",
                                   (double)l.row.duration_us / 1000.0, "request_body", text[1],
                                   "response_body", text[2]);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    reqlog_row_free(&l.row);
    return reply_json(out, 200, body, err);
}

/* ---- GET /kasse/v1/callbacks?session_id=&order_id= : deliveries and their attempts ---- */

#define CALLBACKS_MAX 200
#define ATTEMPTS_MAX 16

/* An event with its attempts, as the callback list shows it. NULL with err set on failure. */
static json_t *callback_item(struct store_tx *tx, const struct outbox_row *row, struct kerr *err)
{
    struct outbox_attempt attempts[ATTEMPTS_MAX];
    size_t na = 0;
    if (store_outbox_attempts(tx, row->id, attempts, ATTEMPTS_MAX, &na) != 0) {
        kerr_internal(err, "outbox attempts");
        return NULL;
    }
    json_t *atts = json_array();
    for (size_t k = 0; atts && k < na; k++) {
        char at[32];
        time_format_iso8601(attempts[k].at, at);
        if (json_array_append_new(atts, json_pack("{s:s, s:i, s:s, s:I, s:s}", "at", at,
                                                  "http_status", attempts[k].http_status,
                                                  "error", attempts[k].error, "duration_ms",
                                                  (json_int_t)attempts[k].duration_ms,
                                                  "response", attempts[k].response)) != 0) {
            json_decref(atts);
            atts = NULL;
        }
    }
    char created[32], due[32];
    time_format_iso8601(row->created_at, created);
    time_format_iso8601(row->due_at, due);
    json_t *body = jsonp_parse(row->body, strlen(row->body), 8, NULL, 0);
    json_t *item = atts ? json_pack("{s:I, s:s, s:s, s:o*, s:s, s:o, s:s, s:s}", "id",
                                    (json_int_t)row->id, "kind", row->kind, "url", row->url,
                                    "body", body, "status", row->status, "attempts", atts,
                                    "created_at", created, "due_at", due)
                        : NULL;
    if (!atts)
        json_decref(body);
    if (item && row->session_id[0] &&
        json_object_set_new(item, "session_id", json_string(row->session_id)) != 0)
        json_decref(item), item = NULL;
    if (item && row->order_id[0] &&
        json_object_set_new(item, "order_id", json_string(row->order_id)) != 0)
        json_decref(item), item = NULL;
    if (!item)
        kerr_internal(err, "out of memory");
    return item;
}

#define CALLBACKS_PAGE_MAX 100

struct callbacks_ctx {
    int64_t merchant_id;
    const char *session_id, *order_id;
    int64_t before;               /* paging newest first (no filters): ids below this */
    long limit;
    json_t *list;
    int64_t next_before;          /* 0: no more */
};

static int callbacks_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct callbacks_ctx *c = arg;
    json_array_clear(c->list);
    c->next_before = 0;
    bool paged = !c->session_id && !c->order_id;
    size_t cap = paged ? (size_t)c->limit + 1 : CALLBACKS_MAX;
    struct outbox_row *rows = mem_calloc(cap, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return kerr_internal(err, "out of memory");
    int rc = paged ? store_outbox_page(tx, c->merchant_id, c->before, cap, rows, &n)
                   : store_outbox_list(tx, c->merchant_id, c->session_id, c->order_id, rows,
                                       CALLBACKS_MAX, &n);
    if (rc != 0) {
        free(rows);
        return kerr_internal(err, "outbox list");
    }
    if (paged && n > (size_t)c->limit)   /* one more than the page: there is a next page */
        c->next_before = rows[c->limit - 1].id;
    size_t shown = paged && n > (size_t)c->limit ? (size_t)c->limit : n;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && i < shown) {
            json_t *item = callback_item(tx, &rows[i], err);
            if (!item || json_array_append_new(c->list, item) != 0)
                rc = item ? kerr_internal(err, "out of memory") : -1;
        }
        outbox_row_free(&rows[i]);
    }
    free(rows);
    return rc;
}

/* GET /kasse/v1/callbacks?session_id=&order_id= (oldest first), or without them
 * ?limit=&before= (newest first, paged by event id). */
int control_list_callbacks(struct req *r, struct reply *out, struct kerr *err)
{
    long long limit = 50, before = INT64_MAX;
    struct callbacks_ctx c = {.merchant_id = r->merchant.id,
                              .session_id = req_query(r, "session_id"),
                              .order_id = req_query(r, "order_id")};
    if (req_query_int(r, "limit", 1, CALLBACKS_PAGE_MAX, &limit, err) != 0 ||
        req_query_int(r, "before", 1, INT64_MAX, &before, err) != 0)
        return -1;
    c.limit = (long)limit;
    c.before = before;
    c.list = json_array();
    if (!c.list)
        return kerr_internal(err, "out of memory");
    if (store_read(r->app->store, callbacks_fn, &c, err) != 0) {
        json_decref(c.list);
        return -1;
    }
    json_t *body = json_pack("{s:o}", "callbacks", c.list);
    if (body && !c.session_id && !c.order_id &&
        json_object_set_new(body, "next_before",
                            c.next_before ? json_integer(c.next_before) : json_null()) != 0)
        json_decref(body), body = NULL;
    return reply_json(out, 200, body, err);
}

/* ---- POST /kasse/v1/callbacks/{id}/resend: the same event once more, due now ---- */

struct resend_ctx {
    struct req *r;
    int64_t id;
    json_t *item;
};

static int resend_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct resend_ctx *c = arg;
    json_decref(c->item);
    c->item = NULL;
    struct outbox_row old;
    int rc = store_outbox_get(tx, c->r->merchant.id, c->id, &old);
    if (rc < 0)
        return kerr_internal(err, "outbox get");
    if (rc == STORE_NOT_FOUND)
        return kerr_set(err, 404, "NOT_FOUND", "No callback with id %lld", (long long)c->id);
    if (!old.url[0] || strcmp(old.status, "pending") == 0) {
        rc = kerr_set(err, 409, "CONFLICT", "%s",
                      old.url[0] ? "The callback is still being delivered"
                                 : "The event has no callback URL to send to");
        outbox_row_free(&old);
        return rc;
    }
    /* A new event (its own attempts, the old one's history kept): kind, URL, endpoint and
     * body as they were, due now. */
    struct outbox_row row = old;
    row.id = 0;
    row.created_at = row.due_at = c->r->received_ms;
    row.attempts = 0;
    row.lease_until = 0;
    snprintf(row.status, sizeof row.status, "%s", "pending");
    rc = store_outbox_add(tx, &row);
    int64_t id = row.id;
    outbox_row_free(&old);
    if (rc != 0)
        return kerr_internal(err, "outbox add");
    rc = store_outbox_get(tx, c->r->merchant.id, id, &row);
    if (rc != 0)
        return kerr_internal(err, "outbox get");
    c->item = callback_item(tx, &row, err);
    outbox_row_free(&row);
    if (!c->item ||
        json_object_set_new(c->item, "resent_from", json_integer(c->id)) != 0)
        return kerr_internal(err, "out of memory");
    return 0;
}

static int resend_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct resend_ctx *c = arg;
    json_t *item = json_deep_copy(c->item);
    return reply_json(out, 201, item, err);
}

int control_resend_callback(struct req *r, struct reply *out, struct kerr *err)
{
    char *end;
    errno = 0;
    long long id = strtoll(r->params[0], &end, 10);
    if (*end || errno || id <= 0)
        return kerr_set(err, 404, "NOT_FOUND", "No callback with id %s", r->params[0]);
    struct resend_ctx c = {.r = r, .id = id};
    int rc = api_write(r, resend_fn, &c, resend_reply, out, err);
    json_decref(c.item);
    return rc;
}

/* ---- GET /kasse/v1/logs?limit=&before= : the latest requests, newest first ---- */

#define LOGS_PAGE_MAX 100

struct logs_ctx {
    int64_t merchant_id;
    int64_t before_at;
    char before_id[37];
    long limit;
    struct reqlog_row *rows;
    size_t n;
};

static int logs_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct logs_ctx *c = arg;
    for (size_t i = 0; i < c->n; i++)
        reqlog_row_free(&c->rows[i]);
    c->n = 0;
    if (store_reqlog_page(tx, c->merchant_id, c->before_at, c->before_id, (size_t)c->limit + 1,
                          c->rows, &c->n) != 0)
        return kerr_internal(err, "request log page");
    return 0;
}

int control_list_logs(struct req *r, struct reply *out, struct kerr *err)
{
    long long limit = 20;
    struct logs_ctx c = {.merchant_id = r->merchant.id, .before_at = INT64_MAX};
    if (req_query_int(r, "limit", 1, LOGS_PAGE_MAX, &limit, err) != 0)
        return -1;
    c.limit = (long)limit;
    /* the cursor: "<received ms>.<correlation id>" of the last request of a page */
    const char *before = req_query(r, "before");
    if (before) {
        char *dot;
        errno = 0;
        long long at = strtoll(before, &dot, 10);
        if (dot == before || *dot != '.' || errno || at < 0 || !ids_is_uuid(dot + 1))
            return kerr_bad_value(err, "before");
        c.before_at = at;
        snprintf(c.before_id, sizeof c.before_id, "%s", dot + 1);
        ids_lowercase(c.before_id);
    }
    if (store_flush(r->app->store, err) != 0)
        return -1;
    c.rows = mem_calloc((size_t)c.limit + 1, sizeof *c.rows);
    if (!c.rows)
        return kerr_internal(err, "out of memory");
    int rc = store_read(r->app->store, logs_fn, &c, err);
    json_t *list = rc == 0 ? json_array() : NULL;
    size_t shown = c.n > (size_t)c.limit ? (size_t)c.limit : c.n;
    for (size_t i = 0; list && i < shown; i++) {
        char at[32];
        time_format_iso8601(c.rows[i].at_ms, at);
        char *path = utf8_repair(c.rows[i].path ? c.rows[i].path : "",
                                 c.rows[i].path ? strlen(c.rows[i].path) : 0);
        json_t *item = path ? json_pack("{s:s, s:s, s:s, s:i, s:s, s:f}", "correlation_id",
                                        c.rows[i].correlation_id, "method", c.rows[i].method,
                                        "path", path, "status", c.rows[i].status,
                                        "received_at", at, "duration_ms",
                                        (double)c.rows[i].duration_us / 1000.0)
                            : NULL;
        free(path);
        if (!item || json_array_append_new(list, item) != 0)
            json_decref(list), list = NULL;
    }
    json_t *next = json_null();
    if (list && c.n > (size_t)c.limit) {
        char cursor[64];
        snprintf(cursor, sizeof cursor, "%lld.%s", (long long)c.rows[shown - 1].at_ms,
                 c.rows[shown - 1].correlation_id);
        next = json_string(cursor);
    }
    for (size_t i = 0; i < c.n; i++)
        reqlog_row_free(&c.rows[i]);
    free(c.rows);
    if (rc != 0) {
        json_decref(next);
        return -1;
    }
    json_t *body = list ? json_pack("{s:o, s:o}", "requests", list, "next_before", next) : NULL;
    if (!list)
        json_decref(next);
    return reply_json(out, 200, body, err);
}

/* ---- GET /kasse/v1/sessions, /kasse/v1/hpp-sessions: newest first, paged by id ---- */

#define SESSIONS_PAGE_MAX 100

/* limit and before (a session id: rows older than it) of a list by id. */
static int page_args(const struct req *r, long long *limit, char before[37], struct kerr *err)
{
    *limit = 20;
    before[0] = '\0';
    if (req_query_int(r, "limit", 1, SESSIONS_PAGE_MAX, limit, err) != 0)
        return -1;
    const char *b = req_query(r, "before");
    if (b) {
        if (!ids_is_uuid(b))
            return kerr_bad_value(err, "before");
        snprintf(before, 37, "%s", b);
        ids_lowercase(before);
    }
    return 0;
}

static json_t *json_str_or_null(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v ? json_deep_copy(v) : json_null();
}

/* What a session reads as in the lists: "expired" once past expires_at while incomplete. */
static const char *session_status(const struct session_row *row, int64_t now)
{
    return strcmp(row->status, "incomplete") == 0 && now >= row->expires_at ? "expired"
                                                                             : row->status;
}

struct sessions_ctx {
    const struct req *r;
    long limit;
    char before[37];
    bool hpp;
    json_t *list;
    char next[37];
};

static int sessions_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct sessions_ctx *c = arg;
    json_array_clear(c->list);
    c->next[0] = '\0';
    size_t cap = (size_t)c->limit + 1, n = 0;
    int64_t now = c->r->received_ms;
    int rc = 0;
    if (!c->hpp) {
        struct session_row *rows = mem_calloc(cap, sizeof *rows);
        if (!rows)
            return kerr_internal(err, "out of memory");
        if (store_session_page(tx, c->r->merchant.id, c->before, cap, rows, &n) != 0)
            rc = kerr_internal(err, "session page");
        for (size_t i = 0; i < n; i++) {
            if (rc == 0 && i < (size_t)c->limit) {
                json_t *b = jsonp_parse(rows[i].body, strlen(rows[i].body), LIMIT_JSON_DEPTH,
                                        NULL, 0);
                char created[32], expires[32];
                time_format_iso8601(rows[i].created_at, created);
                time_format_iso8601(rows[i].expires_at, expires);
                json_t *item = json_pack(
                    "{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s}", "session_id", rows[i].id,
                    "status", session_status(&rows[i], now), "purchase_country",
                    json_str_or_null(b, "purchase_country"), "purchase_currency",
                    json_str_or_null(b, "purchase_currency"), "order_amount",
                    json_str_or_null(b, "order_amount"), "intent", json_str_or_null(b, "intent"),
                    "created_at", created, "expires_at", expires);
                json_decref(b);
                if (!item || json_array_append_new(c->list, item) != 0)
                    rc = kerr_internal(err, "out of memory");
            }
            if (i == (size_t)c->limit)
                snprintf(c->next, sizeof c->next, "%s", rows[i - 1].id);
            session_row_free(&rows[i]);
        }
        free(rows);
        return rc;
    }
    struct hpp_row *rows = mem_calloc(cap, sizeof *rows);
    if (!rows)
        return kerr_internal(err, "out of memory");
    if (store_hpp_page(tx, c->r->merchant.id, c->before, cap, rows, &n) != 0)
        rc = kerr_internal(err, "hpp page");
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && i < (size_t)c->limit) {
            char created[32], updated[32], expires[32];
            time_format_iso8601(rows[i].created_at, created);
            time_format_iso8601(rows[i].updated_at, updated);
            time_format_iso8601(rows[i].expires_at, expires);
            json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "session_id",
                                     rows[i].id, "kp_session_id", rows[i].kp_session_id,
                                     "status", rows[i].status, "created_at", created,
                                     "updated_at", updated, "expires_at", expires);
            if (!item || json_array_append_new(c->list, item) != 0)
                rc = kerr_internal(err, "out of memory");
        }
        if (i == (size_t)c->limit)
            snprintf(c->next, sizeof c->next, "%s", rows[i - 1].id);
        hpp_row_free(&rows[i]);
    }
    free(rows);
    return rc;
}

static int list_sessions(struct req *r, bool hpp, struct reply *out, struct kerr *err)
{
    long long limit;
    struct sessions_ctx c = {.r = r, .hpp = hpp};
    if (page_args(r, &limit, c.before, err) != 0)
        return -1;
    c.limit = (long)limit;
    c.list = json_array();
    if (!c.list)
        return kerr_internal(err, "out of memory");
    if (store_read(r->app->store, sessions_fn, &c, err) != 0) {
        json_decref(c.list);
        return -1;
    }
    json_t *body = json_pack("{s:o, s:o}", hpp ? "hpp_sessions" : "sessions", c.list,
                             "next_before", c.next[0] ? json_string(c.next) : json_null());
    return reply_json(out, 200, body, err);
}

int control_list_sessions(struct req *r, struct reply *out, struct kerr *err)
{
    return list_sessions(r, false, out, err);
}

int control_list_hpp_sessions(struct req *r, struct reply *out, struct kerr *err)
{
    return list_sessions(r, true, out, err);
}

/* ---- GET /kasse/v1/sessions/{id}: one payment session as the portal shows it ---- */

#define SESSION_HPP_MAX 32

struct overview_ctx {
    const struct req *r;
    json_t *body;
};

static int overview_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct overview_ctx *c = arg;
    json_decref(c->body);
    c->body = NULL;
    const char *id = c->r->params[0];
    int64_t merchant = c->r->merchant.id, now = c->r->received_ms;
    struct session_row row;
    int rc = store_session_get(tx, merchant, id, &row);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND)
        return kerr_set(err, 404, "NOT_FOUND", "%s", "Invalid session id");
    json_t *session = jsonp_parse(row.body, strlen(row.body), LIMIT_JSON_DEPTH, NULL, 0);
    json_t *customer = json_object_get(session, "customer");
    if (customer) {   /* as the Klarna read: never the identity numbers */
        json_object_del(customer, "national_identification_number");
        json_object_del(customer, "last_four_ssn");
        json_object_del(customer, "customer_token");
    }
    char created[32], expires[32];
    time_format_iso8601(row.created_at, created);
    time_format_iso8601(row.expires_at, expires);
    c->body = json_pack("{s:s, s:s, s:s, s:s, s:o*}", "session_id", row.id, "status",
                        session_status(&row, now), "created_at", created, "expires_at", expires,
                        "session", session);
    session_row_free(&row);
    if (!c->body)
        return kerr_internal(err, "out of memory");

    struct auth_row a;
    rc = store_auth_latest(tx, merchant, id, &a);
    if (rc < 0)
        return kerr_internal(err, "authorization get");
    json_t *auth = json_null();
    if (rc == 0) {
        char issued[32], ends[32];
        time_format_iso8601(a.issued_at, issued);
        time_format_iso8601(auth_expires_at(a.issued_at), ends);
        json_t *ab = jsonp_parse(a.body, strlen(a.body), LIMIT_JSON_DEPTH, NULL, 0);
        json_decref(auth);
        auth = json_pack("{s:s, s:s, s:s, s:s, s:o}", "authorization_token", a.token, "state",
                         auth_state_name(auth_state_of(a.state, a.issued_at, now)), "issued_at",
                         issued, "expires_at", ends, "payment_method_category",
                         json_str_or_null(ab, "payment_method_category"));
        json_decref(ab);
        auth_row_free(&a);
    }
    struct hpp_row hrows[SESSION_HPP_MAX];
    size_t nh = 0;
    json_t *hpps = json_array();
    if (store_hpp_for_kp(tx, merchant, id, hrows, SESSION_HPP_MAX, &nh) != 0)
        nh = 0, json_decref(hpps), hpps = NULL;
    for (size_t i = 0; i < nh; i++) {
        if (hpps && json_array_append_new(hpps, json_pack("{s:s, s:s}", "session_id",
                                                          hrows[i].id, "status",
                                                          hrows[i].status)) != 0)
            json_decref(hpps), hpps = NULL;
        hpp_row_free(&hrows[i]);
    }
    if (!auth || !hpps || json_object_set_new(c->body, "authorization", auth) != 0 ||
        json_object_set_new(c->body, "hpp_sessions", hpps) != 0)
        return kerr_internal(err, "session overview");
    return 0;
}

int control_read_session(struct req *r, struct reply *out, struct kerr *err)
{
    if (!ids_is_uuid(r->params[0]))
        return kerr_set(err, 404, "NOT_FOUND", "%s", "Invalid session id");
    struct overview_ctx c = {.r = r};
    if (store_read(r->app->store, overview_fn, &c, err) != 0) {
        json_decref(c.body);
        return -1;
    }
    return reply_json(out, 200, c.body, err);
}
