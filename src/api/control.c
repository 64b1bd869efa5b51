/* control: Kasse's own endpoints under /kasse/v1 (design.md): the test clock and the request
 * log by correlation id. Klarna's paths are never used for these. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/mem.h"
#include "lib/utf8.h"
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

struct callbacks_ctx {
    int64_t merchant_id;
    const char *session_id, *order_id;
    json_t *list;
};

static int callbacks_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct callbacks_ctx *c = arg;
    struct outbox_row *rows = mem_calloc(CALLBACKS_MAX, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return kerr_internal(err, "out of memory");
    if (store_outbox_list(tx, c->merchant_id, c->session_id, c->order_id, rows, CALLBACKS_MAX,
                          &n) != 0) {
        free(rows);
        return kerr_internal(err, "outbox list");
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct outbox_attempt attempts[ATTEMPTS_MAX];
        size_t na = 0;
        json_t *atts = json_array();
        if (rc == 0 && store_outbox_attempts(tx, rows[i].id, attempts, ATTEMPTS_MAX, &na) != 0)
            rc = kerr_internal(err, "outbox attempts");
        for (size_t k = 0; rc == 0 && atts && k < na; k++) {
            char at[32];
            time_format_iso8601(attempts[k].at, at);
            json_array_append_new(atts, json_pack("{s:s, s:i, s:s, s:I}", "at", at,
                                                  "http_status", attempts[k].http_status,
                                                  "error", attempts[k].error, "duration_ms",
                                                  (json_int_t)attempts[k].duration_ms));
        }
        char created[32], due[32];
        time_format_iso8601(rows[i].created_at, created);
        time_format_iso8601(rows[i].due_at, due);
        json_t *body = jsonp_parse(rows[i].body, strlen(rows[i].body), 8, NULL, 0);
        json_t *item = json_pack("{s:I, s:s, s:s, s:o*, s:s, s:o, s:s, s:s}", "id",
                                 (json_int_t)rows[i].id, "kind", rows[i].kind, "url",
                                 rows[i].url, "body", body, "status", rows[i].status,
                                 "attempts", atts ? atts : json_array(), "created_at", created,
                                 "due_at", due);
        if (item && rows[i].session_id[0])
            json_object_set_new(item, "session_id", json_string(rows[i].session_id));
        if (item && rows[i].order_id[0])
            json_object_set_new(item, "order_id", json_string(rows[i].order_id));
        if (rc == 0 && (!item || json_array_append_new(c->list, item) != 0))
            rc = kerr_internal(err, "out of memory");
        outbox_row_free(&rows[i]);
    }
    free(rows);
    return rc;
}

int control_list_callbacks(struct req *r, struct reply *out, struct kerr *err)
{
    struct callbacks_ctx c = {.merchant_id = r->merchant.id,
                              .session_id = req_query(r, "session_id"),
                              .order_id = req_query(r, "order_id"),
                              .list = json_array()};
    if (!c.list)
        return kerr_internal(err, "out of memory");
    if (store_read(r->app->store, callbacks_fn, &c, err) != 0) {
        json_decref(c.list);
        return -1;
    }
    json_t *body = json_pack("{s:o}", "callbacks", c.list);
    return reply_json(out, 200, body, err);
}
