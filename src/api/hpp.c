/* hpp: the Hosted Payment Page API for merchants (contract 4, docs/hpp.md):
 *   POST   /hpp/v1/sessions                       create, on one of the merchant's KP sessions
 *   GET    /hpp/v1/sessions/{id}                  read (SessionResponseV1)
 *   DELETE /hpp/v1/sessions/{id}                  disable
 *   POST   /hpp/v1/sessions/{id}/distribution     write the SMS / e-mail to the message outbox
 *   GET    /kasse/v1/messages?session_id=         read the message outbox
 * and what the hosted page (hpp_page.c) and the KP order path share: loading an HPP session in
 * a transaction, moving it through the status machine of core/hpp.c with its status callback
 * (outbox kind "hpp_status", written in the same transaction), and the session object.
 * Every mutation is one store transaction through api_write (idempotency included). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/categories.h"
#include "core/hpp.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"
#include "lib/limits.h"
#include "lib/mem.h"
#include "outbox/outbox.h"

#define MESSAGES_MAX 200

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int not_found(struct kerr *err)
{
    return kerr_set(err, 404, "NOT_FOUND", "HPP session not found");
}

/* ---- shared: load, change, describe ---- */

void hpp_state_free(struct hpp_state *s)
{
    json_decref(s->body);
    s->body = NULL;
    hpp_row_free(&s->row);
}

static int state_from_row(struct hpp_state *s, struct kerr *err)
{
    s->body = jsonp_parse(s->row.body, strlen(s->row.body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(s->body) || hpp_status_parse(s->row.status, &s->status) != 0) {
        hpp_state_free(s);
        return kerr_internal(err, "stored HPP session is not readable");
    }
    return 0;
}

int hpp_load(struct store_tx *tx, int64_t merchant_id, const char *id, struct hpp_state *s,
             struct kerr *err)
{
    memset(s, 0, sizeof *s);
    if (!ids_is_uuid(id))
        return not_found(err);
    char lower[37];
    for (int i = 0; i < 37; i++)
        lower[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] + 32 : id[i]);
    int rc = store_hpp_get(tx, merchant_id, lower, &s->row);
    if (rc < 0)
        return kerr_internal(err, "hpp get");
    if (rc == STORE_NOT_FOUND)
        return not_found(err);
    return state_from_row(s, err);
}

int hpp_load_page(struct store_tx *tx, const char *page_id, struct hpp_state *s,
                  struct kerr *err)
{
    memset(s, 0, sizeof *s);
    if (!ids_is_uuid(page_id))
        return kerr_set(err, 404, "NOT_FOUND", "Payment page not found");
    char lower[37];
    for (int i = 0; i < 37; i++)
        lower[i] = (char)(page_id[i] >= 'A' && page_id[i] <= 'F' ? page_id[i] + 32 : page_id[i]);
    int rc = store_hpp_by_page(tx, lower, &s->row);
    if (rc < 0)
        return kerr_internal(err, "hpp get");
    if (rc == STORE_NOT_FOUND)
        return kerr_set(err, 404, "NOT_FOUND", "Payment page not found");
    return state_from_row(s, err);
}

json_t *hpp_session_object(const struct hpp_state *s)
{
    char updated[32], expires[32];
    time_format_iso8601(s->row.updated_at, updated);
    time_format_iso8601(s->row.expires_at, expires);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "session_id", s->row.id, "status",
                          hpp_status_name(s->status), "updated_at", updated, "expires_at",
                          expires);
    json_t *outcome = json_object_get(s->body, "outcome");
    static const char *const keys[] = {"authorization_token", "order_id", "klarna_reference"};
    for (size_t i = 0; o && outcome && i < 3; i++) {
        json_t *v = json_object_get(outcome, keys[i]);
        if (v)
            json_object_set(o, keys[i], v);
    }
    json_t *customer = json_object_get(s->body, "customer");
    if (o && json_object_size(customer) > 0)
        json_object_set(o, "customer", customer);
    return o;
}

/* The status callback of a change: {event_id, session} to merchant_urls.status_update, its
 * {{session_id}} filled; no URL, no event. */
static int status_callback(struct store_tx *tx, const struct hpp_state *s, int64_t now,
                           struct kerr *err)
{
    const char *url = str(json_object_get(json_object_get(s->body, "request"), "merchant_urls"),
                          "status_update");
    if (!url)
        return 0;
    char filled[LIMIT_MERCHANT_URL + 256];
    struct hpp_fill f = {.session_id = s->row.id};
    if (hpp_url_fill(url, &f, filled, sizeof filled) != 0)
        return kerr_bad_value(err, "merchant_urls.status_update");
    char event_id[37];
    if (ids_uuid4(event_id) != 0)
        return kerr_internal(err, "random source");
    json_t *event = json_pack("{s:s, s:o}", "event_id", event_id, "session",
                              hpp_session_object(s));
    if (!event)
        return kerr_internal(err, "out of memory");
    int rc = outbox_event(tx, s->row.merchant_id, "hpp_status", s->row.id, "", filled, event,
                          now, now, err);
    json_decref(event);
    return rc;
}

int hpp_change(struct store_tx *tx, struct hpp_state *s, enum hpp_event ev, int64_t now,
               bool *changed, struct kerr *err)
{
    enum hpp_status to;
    if (changed)
        *changed = false;
    if (hpp_next(s->status, ev, &to, err) != 0)
        return -1;
    bool body_dirty = s->body_dirty;
    if (to == s->status && !body_dirty)
        return 0;
    bool moved = to != s->status;
    const char *expected = hpp_status_name(s->status);
    s->status = to;
    snprintf(s->row.status, sizeof s->row.status, "%s", hpp_status_name(to));
    if (moved)
        s->row.updated_at = now;
    char *text = jsonw_dumps(s->body, NULL);
    if (!text)
        return kerr_internal(err, "out of memory");
    free(s->row.body);
    s->row.body = text;
    int rc = store_hpp_update(tx, &s->row, expected);
    if (rc == STORE_NOT_FOUND)      /* another writer moved it first: this transaction yields */
        return kerr_set(err, 409, "CONFLICT", "HPP session changed meanwhile; try again");
    if (rc != 0)
        return kerr_internal(err, "hpp update");
    s->body_dirty = false;
    if (changed)
        *changed = moved;
    return moved ? status_callback(tx, s, now, err) : 0;
}

int hpp_kp_ended(struct store_tx *tx, int64_t merchant_id, const char *kp_session_id,
                     const char *except_id, int64_t now, struct kerr *err)
{
    struct hpp_row *rows = mem_calloc(LIMIT_HPP_PER_KP_SESSION, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return kerr_internal(err, "out of memory");
    if (store_hpp_for_kp(tx, merchant_id, kp_session_id, rows, LIMIT_HPP_PER_KP_SESSION, &n) != 0) {
        free(rows);
        return kerr_internal(err, "hpp list");
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct hpp_state s = {.row = rows[i]};
        memset(&rows[i], 0, sizeof rows[i]);
        bool skip = except_id && strcmp(s.row.id, except_id) == 0;
        if (rc == 0 && !skip) {
            if (state_from_row(&s, err) != 0)
                rc = -1;
            /* Paid another way: this page can no longer be used (docs/hpp.md). */
            else if (!hpp_status_final(s.status))
                rc = hpp_change(tx, &s, HPP_EV_DISABLE, now, NULL, err);
        }
        hpp_state_free(&s);
    }
    free(rows);
    return rc;
}

/* ---- POST /hpp/v1/sessions ---- */

/* Several HPP sessions may point at one KP session (contract 4.10), up to a limit, so that
 * completing the KP session reaches every one of them. */
static int check_room(struct store_tx *tx, int64_t merchant_id, const char *kp_id,
                      struct kerr *err)
{
    struct hpp_row *rows = mem_calloc(LIMIT_HPP_PER_KP_SESSION, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return kerr_internal(err, "out of memory");
    int rc = store_hpp_for_kp(tx, merchant_id, kp_id, rows, LIMIT_HPP_PER_KP_SESSION, &n);
    for (size_t i = 0; i < n; i++)
        hpp_row_free(&rows[i]);
    free(rows);
    if (rc != 0)
        return kerr_internal(err, "hpp list");
    if (n >= LIMIT_HPP_PER_KP_SESSION)
        return kerr_set(err, 400, "BAD_VALUE",
                        "Too many HPP sessions for this payment session (at most %d)",
                        LIMIT_HPP_PER_KP_SESSION);
    return 0;
}

struct create_ctx {
    struct req *r;
    json_t *request;
    struct hpp_state made;
};

static int create_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct create_ctx *c = arg;
    struct req *r = c->r;
    hpp_state_free(&c->made);            /* a rerun starts afresh (store.h, Concurrency) */
    const char *kp_id = str(c->request, "kp_session_id");
    struct session_row kp;
    int rc = store_session_get(tx, r->merchant.id, kp_id, &kp);
    if (rc < 0)
        return kerr_internal(err, "session get");
    if (rc == STORE_NOT_FOUND)
        return kerr_set(err, 404, "NOT_FOUND", "Payment session not found");
    json_t *session = NULL, *offered = NULL, *allowed = NULL, *cats = NULL;
    rc = -1;
    int64_t expires = kp.expires_at - (int64_t)LIFETIME_HPP_MARGIN_S * 1000;
    if (r->received_ms >= expires) {
        kerr_set(err, 404, "NOT_FOUND", "Payment session has expired");
        goto done;
    }
    if (strcmp(kp.status, "complete") == 0) {
        kerr_set(err, 400, "BAD_VALUE", "Payment session has already been completed");
        goto done;
    }
    session = jsonp_parse(kp.body, strlen(kp.body), LIMIT_JSON_DEPTH, NULL, 0);
    cats = categories_for(r->merchant.categories, str(session, "purchase_country"), "");
    offered = json_array();
    size_t i;
    json_t *cat;
    json_array_foreach(cats, i, cat)
        json_array_append_new(offered, json_string(str(cat, "identifier")));
    if (!session || !cats || !offered) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    allowed = hpp_allowed_categories(c->request, offered, err);
    if (!allowed || check_room(tx, r->merchant.id, kp.id, err) != 0)
        goto done;
    struct hpp_state *s = &c->made;
    char token[37];
    if (ids_uuid7(r->received_ms, s->row.id) != 0 || ids_uuid4(s->row.page_id) != 0 ||
        ids_uuid4(token) != 0) {
        kerr_internal(err, "random source");
        goto done;
    }
    s->row.merchant_id = r->merchant.id;
    snprintf(s->row.kp_session_id, sizeof s->row.kp_session_id, "%s", kp.id);
    s->status = HPP_WAITING;
    snprintf(s->row.status, sizeof s->row.status, "%s", hpp_status_name(s->status));
    s->row.created_at = s->row.updated_at = r->received_ms;
    s->row.expires_at = expires;
    s->body = json_pack("{s:O, s:O, s:s}", "request", c->request, "allowed", allowed,
                        "distribution_token", token);
    s->row.body = s->body ? jsonw_dumps(s->body, NULL) : NULL;
    if (!s->row.body) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    if (store_hpp_insert(tx, &s->row) != 0) {
        kerr_internal(err, "hpp insert");
        goto done;
    }
    rc = 0;
done:
    json_decref(allowed);
    json_decref(offered);
    json_decref(cats);
    json_decref(session);
    session_row_free(&kp);
    return rc;
}

static int create_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct create_ctx *c = arg;
    const struct hpp_state *s = &c->made;
    const char *base = c->r->app->public_url;
    char session_url[512], redirect[512], expires[32];
    snprintf(session_url, sizeof session_url, "%s/hpp/v1/sessions/%s", base, s->row.id);
    snprintf(redirect, sizeof redirect, "%s/hpp/payments/%s", base, s->row.page_id);
    time_format_iso8601(s->row.expires_at, expires);
    json_t *o = json_object();
    json_t *module = json_object();
    int bad = !o || !module;
    bad = bad || json_object_set_new(o, "session_id", json_string(s->row.id)) ||
          json_object_set_new(o, "redirect_url", json_string(redirect)) ||
          json_object_set_new(o, "session_url", json_string(session_url)) ||
          json_object_set_new(o, "distribution_url",
                              json_sprintf("%s/distribution", session_url)) ||
          json_object_set_new(o, "qr_code_url", json_sprintf("%s/qr", redirect)) ||
          json_object_set_new(o, "expires_at", json_string(expires)) ||
          json_object_set_new(o, "manual_identification_check_url",
                              json_sprintf("%s/manual-id-check", session_url)) ||
          json_object_set_new(module, "token",
                              json_string(str(s->body, "distribution_token"))) ||
          json_object_set_new(module, "standalone_url",
                              json_sprintf("%s/hpp/distributions/%s", base, s->row.page_id)) ||
          json_object_set_new(module, "generation_url",
                              json_sprintf("%s/distribution-module/token", session_url));
    if (bad) {
        json_decref(o);
        json_decref(module);
        return kerr_internal(err, "out of memory");
    }
    json_object_set_new(o, "distribution_module", module);
    return reply_json(out, 201, o, err);
}

int hpp_create_session(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    struct create_ctx c = {.r = r, .request = hpp_create_request(body, err)};
    json_decref(body);
    if (!c.request)
        return -1;
    int rc = api_write(r, create_fn, &c, create_reply, out, err);
    hpp_state_free(&c.made);
    json_decref(c.request);
    return rc;
}

/* ---- GET /hpp/v1/sessions/{id} ---- */

struct read_ctx {
    struct req *r;
    json_t *object;
};

/* A session that is not final reads as expired from its expires_at on (contract 4.1). */
static int expired(struct kerr *err)
{
    return kerr_set(err, 404, "NOT_FOUND", "HPP session has expired");
}

static int read_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct read_ctx *c = arg;
    struct hpp_state s;
    if (hpp_load(tx, c->r->merchant.id, c->r->params[0], &s, err) != 0)
        return -1;
    int rc = 0;
    if (hpp_expired(s.status, s.row.expires_at, c->r->received_ms))
        rc = expired(err);
    else if (!(c->object = hpp_session_object(&s)))
        rc = kerr_internal(err, "out of memory");
    hpp_state_free(&s);
    return rc;
}

int hpp_read_session(struct req *r, struct reply *out, struct kerr *err)
{
    struct read_ctx c = {.r = r};
    if (store_read(r->app->store, read_fn, &c, err) != 0)
        return -1;
    return reply_json(out, 200, c.object, err);
}

/* ---- DELETE /hpp/v1/sessions/{id} ---- */

static int disable_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct req *r = arg;
    struct hpp_state s;
    if (hpp_load(tx, r->merchant.id, r->params[0], &s, err) != 0)
        return -1;
    int rc = hpp_expired(s.status, s.row.expires_at, r->received_ms)
                 ? expired(err)
                 : hpp_change(tx, &s, HPP_EV_DISABLE, r->received_ms, NULL, err);
    hpp_state_free(&s);
    return rc;
}

int hpp_disable_session(struct req *r, struct reply *out, struct kerr *err)
{
    return api_write(r, disable_fn, r, reply_no_content, out, err);
}

/* ---- POST /hpp/v1/sessions/{id}/distribution ---- */

struct distribution_ctx {
    struct req *r;
    const json_t *body;
    struct hpp_distribution d;
};

static int distribution_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct distribution_ctx *c = arg;
    struct req *r = c->r;
    struct hpp_state s;
    if (hpp_load(tx, r->merchant.id, r->params[0], &s, err) != 0)
        return -1;
    int rc = -1;
    struct session_row kp = {0};
    json_t *session = NULL, *message = NULL;
    if (hpp_expired(s.status, s.row.expires_at, r->received_ms)) {
        expired(err);
        goto done;
    }
    if (hpp_status_final(s.status)) {
        kerr_set(err, 400, "BAD_VALUE", "HPP session is %s",
                 s.status == HPP_COMPLETED   ? "completed"
                 : s.status == HPP_CANCELLED ? "cancelled"
                                             : "disabled");
        goto done;
    }
    /* The message is in the KP session's language. */
    if (store_session_get(tx, r->merchant.id, s.row.kp_session_id, &kp) != 0) {
        kerr_internal(err, "session get");
        goto done;
    }
    session = jsonp_parse(kp.body, strlen(kp.body), LIMIT_JSON_DEPTH, NULL, 0);
    char link[512], subject[512], text[1024], created[32];
    snprintf(link, sizeof link, "%s/hpp/payments/%s", r->app->public_url, s.row.page_id);
    if (hpp_message_text(str(session, "locale"), r->merchant.name, link, subject,
                         sizeof subject, text, sizeof text) != 0) {
        kerr_internal(err, "message text");
        goto done;
    }
    time_format_iso8601(r->received_ms, created);
    message = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "session_id", s.row.id, "method",
                        hpp_method_name(c->d.method), "to", c->d.to, "text", text, "link", link,
                        "created_at", created);
    if (message && c->d.phone_country)
        json_object_set_new(message, "phone_country", json_string(c->d.phone_country));
    if (message && c->d.method == HPP_SEND_EMAIL)
        json_object_set_new(message, "subject", json_string(subject));
    if (message && c->d.has_template)
        json_object_set_new(message, "template", json_string("INSTORE_PURCHASE"));
    struct message_row m = {.merchant_id = r->merchant.id, .created_at = r->received_ms};
    memcpy(m.hpp_session_id, s.row.id, sizeof m.hpp_session_id);
    m.body = message ? jsonw_dumps(message, NULL) : NULL;
    if (!m.body) {
        kerr_internal(err, "out of memory");
        goto done;
    }
    rc = store_message_add(tx, &m) == 0 ? 0 : kerr_internal(err, "message add");
    free(m.body);
done:
    json_decref(message);
    json_decref(session);
    session_row_free(&kp);
    hpp_state_free(&s);
    return rc;
}

static int reply_created(void *arg, struct reply *out, struct kerr *err)
{
    (void)arg;
    (void)err;
    return reply_empty(out, 201);
}

int hpp_distribute_session(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    struct distribution_ctx c = {.r = r, .body = body};
    int rc = -1;
    /* An unknown session is 404 before its body is judged. */
    struct read_ctx probe = {.r = r};
    if (store_read(r->app->store, read_fn, &probe, err) == 0 &&
        hpp_distribution_check(body, &c.d, err) == 0)
        rc = api_write(r, distribution_fn, &c, reply_created, out, err);
    json_decref(probe.object);
    json_decref(body);
    return rc;
}

/* ---- GET /kasse/v1/messages?session_id= ---- */

struct messages_ctx {
    int64_t merchant_id;
    const char *session_id;
    json_t *list;
};

static int messages_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct messages_ctx *c = arg;
    struct message_row *rows = mem_calloc(MESSAGES_MAX, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return kerr_internal(err, "out of memory");
    if (store_message_list(tx, c->merchant_id, c->session_id, rows, MESSAGES_MAX, &n) != 0) {
        free(rows);
        return kerr_internal(err, "message list");
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *m = jsonp_parse(rows[i].body, strlen(rows[i].body), 8, NULL, 0);
        if (m)
            json_object_set_new(m, "message_id", json_integer(rows[i].id));
        if (rc == 0 && (!m || json_array_append_new(c->list, m) != 0))
            rc = kerr_internal(err, "out of memory");
        message_row_free(&rows[i]);
    }
    free(rows);
    return rc;
}

int control_list_messages(struct req *r, struct reply *out, struct kerr *err)
{
    struct messages_ctx c = {.merchant_id = r->merchant.id,
                             .session_id = req_query(r, "session_id"),
                             .list = json_array()};
    if (!c.list)
        return kerr_internal(err, "out of memory");
    if (store_read(r->app->store, messages_fn, &c, err) != 0) {
        json_decref(c.list);
        return -1;
    }
    return reply_json(out, 200, json_pack("{s:o}", "messages", c.list), err);
}
