/* order_row: the one translation between an order (state and document) and its stored row;
 * order_row.h says which fields live where. */
#include "core/order_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/jsonp.h"
#include "lib/jsonw.h"

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static int set_int(json_t *o, const char *key, int64_t v)
{
    return json_object_set_new(o, key, json_integer(v));
}

void order_free(struct order *o)
{
    json_decref(o->doc);
    o->doc = o->kasse = o->captures = NULL;
}

int order_from_row(struct order *o, const struct order_row *row, struct kerr *err)
{
    memset(o, 0, sizeof *o);
    memcpy(o->id, row->id, sizeof o->id);
    o->merchant_id = row->merchant_id;
    memcpy(o->session_id, row->session_id, sizeof o->session_id);
    o->doc = jsonp_parse(row->body, strlen(row->body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(o->doc)) {
        order_free(o);
        return kerr_internal(err, "stored order is not an object");
    }
    o->kasse = json_object_get(o->doc, "_kasse");
    if (!json_is_object(o->kasse)) {
        o->kasse = json_object();
        if (json_object_set_new(o->doc, "_kasse", o->kasse) != 0)
            o->kasse = NULL;
    }
    o->captures = json_object_get(o->doc, "captures");
    if (!json_is_array(o->captures)) {
        o->captures = json_array();
        if (json_object_set_new(o->doc, "captures", o->captures) != 0)
            o->captures = NULL;
    }
    if (!o->kasse || !o->captures) {
        order_free(o);
        return kerr_internal(err, "order: out of memory");
    }
    struct order_state *st = &o->st;
    if (order_status_parse(row->status, &st->status) != 0 ||
        order_fraud_parse(row->fraud_status, &st->fraud) != 0) {
        order_free(o);
        return kerr_internal(err, "stored order has an unknown status");
    }
    st->order_amount = row->order_amount;
    st->original_order_amount = jint(o->doc, "original_order_amount");
    st->captured_amount = row->captured_amount;
    st->refunded_amount = row->refunded_amount;
    st->released = json_is_true(json_object_get(o->kasse, "released"));
    st->created_at = row->created_at;
    st->expires_at = row->expires_at;
    st->fraud_decided_at = jint(o->kasse, "fraud_decides_at");
    enum order_fraud result;
    st->fraud_result = order_fraud_parse(json_string_value(json_object_get(o->kasse,
                                                                           "fraud_result")),
                                         &result) == 0 &&
                               result == ORDER_FRAUD_ACCEPTED
                           ? ORDER_FRAUD_ACCEPTED
                           : ORDER_FRAUD_REJECTED;
    size_t i;
    json_t *c;
    json_array_foreach(o->captures, i, c) {
        if (o->n_caps == LIMIT_OM_CAPTURES)
            break;
        o->caps[o->n_caps].captured_amount = jint(c, "captured_amount");
        o->caps[o->n_caps].refunded_amount = jint(c, "refunded_amount");
        o->n_caps++;
    }
    return 0;
}

/* The list's filing (store.h order_row.list_*): the status schedule of st at now. */
static void file_for_list(struct order_row *row, const struct order_state *st, int64_t now)
{
    struct order_schedule sc;
    order_status_schedule(st, now, &sc);
    snprintf(row->list_status, sizeof row->list_status, "%s", order_status_name(sc.status));
    row->list_until = sc.until;
    snprintf(row->list_after, sizeof row->list_after, "%s",
             sc.until == INT64_MAX ? "" : order_status_name(sc.after));
}

int order_doc_state(json_t *doc, const struct order_state *st, int64_t now)
{
    char expires[32];
    time_format_iso8601(st->expires_at, expires);
    if (json_object_set_new(doc, "status",
                            json_string(order_status_name(order_status_at(st, now)))) ||
        json_object_set_new(doc, "fraud_status", json_string(order_fraud_name(st->fraud))) ||
        set_int(doc, "order_amount", st->order_amount) ||
        set_int(doc, "captured_amount", st->captured_amount) ||
        set_int(doc, "refunded_amount", st->refunded_amount) ||
        set_int(doc, "remaining_authorized_amount", order_remaining(st, now)) ||
        json_object_set_new(doc, "expires_at", json_string(expires)))
        return -1;
    return 0;
}

int order_to_row(struct order *o, int64_t now, struct order_row *row, struct kerr *err)
{
    const struct order_state *st = &o->st;
    size_t i;
    json_t *c;
    json_array_foreach(o->captures, i, c) {
        if (i < o->n_caps && set_int(c, "refunded_amount", o->caps[i].refunded_amount) != 0)
            return kerr_internal(err, "order: out of memory");
    }
    if (order_doc_state(o->doc, st, now) != 0 ||
        json_object_set_new(o->kasse, "released", json_boolean(st->released)) ||
        (st->fraud_decided_at &&
         (set_int(o->kasse, "fraud_decides_at", st->fraud_decided_at) ||
          json_object_set_new(o->kasse, "fraud_result",
                              json_string(order_fraud_name(st->fraud_result))))))
        return kerr_internal(err, "order: out of memory");
    char *text = jsonw_dumps(o->doc, NULL);
    if (!text)
        return kerr_internal(err, "order: out of memory");
    memset(row, 0, sizeof *row);
    memcpy(row->id, o->id, sizeof row->id);
    row->merchant_id = o->merchant_id;
    memcpy(row->session_id, o->session_id, sizeof row->session_id);
    snprintf(row->status, sizeof row->status, "%s", order_status_name(order_status_at(st, now)));
    snprintf(row->fraud_status, sizeof row->fraud_status, "%s", order_fraud_name(st->fraud));
    row->order_amount = st->order_amount;
    row->captured_amount = st->captured_amount;
    row->refunded_amount = st->refunded_amount;
    row->created_at = st->created_at;
    row->expires_at = st->expires_at;
    row->body = text;
    file_for_list(row, st, now);
    return 0;
}

/* ---- history and timeline ---- */

int order_history_add(struct order *o, const char *event, int64_t at, const char *key,
                      int64_t value)
{
    json_t *h = json_object_get(o->kasse, "history");
    if (!json_is_array(h)) {
        h = json_array();
        if (!h || json_object_set_new(o->kasse, "history", h) != 0)
            return -1;
    }
    char when[32];
    time_format_iso8601(at, when);
    json_t *e = json_pack("{s:s, s:s}", "type", event, "at", when);
    if (!e || (key && set_int(e, key, value) != 0)) {
        json_decref(e);
        return -1;
    }
    return json_array_append_new(h, e);
}

/* Appends {type, at, amount, id_key: id} for each entry of the doc's list (captures, refunds). */
static int timeline_money(json_t *events, const json_t *list, const char *type,
                          const char *at_key, const char *amount_key, const char *id_key)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        json_t *at = json_object_get(x, at_key), *id = json_object_get(x, id_key);
        if (!json_is_string(at))
            continue;
        json_t *e = json_pack("{s:s, s:O, s:I}", "type", type, "at", at, "amount",
                              (json_int_t)jint(x, amount_key));
        if (!e || (json_is_string(id) && json_object_set(e, id_key, id) != 0) ||
            json_array_append_new(events, e) != 0) {
            json_decref(e);
            return -1;
        }
    }
    return 0;
}

static const char *event_at(const json_t *e)
{
    const char *s = json_string_value(json_object_get(e, "at"));
    return s ? s : "";
}

json_t *order_timeline(const struct order *o, int64_t now)
{
    const struct order_state *st = &o->st;
    json_t *events = json_array();
    char at[32];
    time_format_iso8601(st->created_at, at);
    int rc = !events || json_array_append_new(events, json_pack("{s:s, s:s, s:I}", "type",
                                                                "authorized", "at", at, "amount",
                                                                (json_int_t)(st->original_order_amount
                                                                                 ? st->original_order_amount
                                                                                 : st->order_amount)));
    /* a review decided by now */
    if (rc == 0 && st->fraud_decided_at && st->fraud_decided_at <= now &&
        st->fraud != ORDER_FRAUD_PENDING) {
        time_format_iso8601(st->fraud_decided_at, at);
        rc = json_array_append_new(events, json_pack("{s:s, s:s}", "type",
                                                     st->fraud == ORDER_FRAUD_ACCEPTED
                                                         ? "fraud_accepted"
                                                         : "fraud_rejected",
                                                     "at", at));
    }
    if (rc == 0)
        rc = timeline_money(events, o->captures, "capture", "captured_at", "captured_amount",
                            "capture_id");
    if (rc == 0)
        rc = timeline_money(events, json_object_get(o->doc, "refunds"), "refund", "refunded_at",
                            "refunded_amount", "refund_id");
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(o->kasse, "history"), i, h) {
        if (rc == 0)
            rc = json_array_append(events, h);
    }
    enum order_status status = order_status_at(st, now);
    if (rc == 0 && status == ORDER_EXPIRED) {
        time_format_iso8601(st->expires_at, at);
        rc = json_array_append_new(events, json_pack("{s:s, s:s}", "type", "expired", "at", at));
    }
    if (rc != 0) {
        json_decref(events);
        return NULL;
    }
    /* oldest first; among equal instants in the order added (insertion sort: a few events) */
    size_t n = json_array_size(events);
    for (size_t k = 1; k < n; k++) {
        for (size_t j = k; j > 0; j--) {
            json_t *a = json_array_get(events, j - 1), *b = json_array_get(events, j);
            if (strcmp(event_at(a), event_at(b)) <= 0)
                break;
            json_incref(a);
            json_array_set(events, j - 1, b);
            json_array_set_new(events, j, a);
        }
    }
    return events;
}
