/* ordermanagement: Klarna's Order Management API v1 (contract 5) on the orders checkout makes.
 *
 * Every mutation is one store transaction (through api_write, so Klarna-Idempotency-Key works
 * the same everywhere): load the order (merchant scoped), apply one core/order rule, check the
 * money invariants inside the transaction (order_invariants; kept in release builds), save.
 * Loading the order inside the write locks its row until the commit (store.h, Concurrency; on
 * any backend and any number of nodes), so parallel captures of one order can never
 * over-capture: the loser of a race sees the new remaining amount and gets Klarna's 403.
 *
 * An order is loaded and saved through core/order_row (order_from_row / order_to_row), the one
 * place that knows which of its fields are columns and which live in the body; Kasse's own
 * bookkeeping lives under "_kasse" in the body and is never shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/orders.h"
#include "core/om_requests.h"
#include "core/order.h"
#include "core/order_row.h"
#include "lib/ids.h"
#include "lib/limits.h"
#include "lib/mem.h"
#include "lib/log.h"

#define DAY_MS (24LL * 3600 * 1000)

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int no_such_order(const char *id, struct kerr *err)
{
    return kerr_set(err, 404, "NO_SUCH_ORDER", "Order %s cannot be found", id);
}

/* A malformed id is 400 (contract 12); an unknown one 404. */
static int check_order_id(const char *id, struct kerr *err)
{
    if (!ids_is_uuid(id))
        return kerr_set(err, 400, "INVALID_ORDER_ID", "Order ID must be a valid UUID.");
    return 0;
}

/* ---- the loaded order (core/order_row: one translation between an order and its row) ---- */

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

/* Loads the order as it reads at now: a fraud review past its time is settled here too (the
 * outbox settles the row within 100 ms; reads must not wait for it). */
static int om_load(struct store_tx *tx, int64_t merchant, const char *id, int64_t now,
                   struct order *m, struct kerr *err)
{
    memset(m, 0, sizeof *m);
    struct order_row row;
    int rc = store_order_get(tx, merchant, id, &row);
    if (rc < 0)
        return kerr_internal(err, "order get");
    if (rc == STORE_NOT_FOUND)
        return no_such_order(id, err);
    rc = order_from_row(m, &row, err);
    order_row_free(&row);
    if (rc != 0)
        return -1;
    order_fraud_settle(&m->st, now);
    return 0;
}

static int set_int(json_t *o, const char *key, int64_t v)
{
    return json_object_set_new(o, key, json_integer(v));
}

/* Writes the order back: invariants first (inside the transaction, release builds too). */
static int om_save(struct store_tx *tx, struct order *m, int64_t now, struct kerr *err)
{
    if (order_invariants(&m->st, m->caps, m->n_caps, err) != 0)
        return -1;
    struct order_row row;
    if (order_to_row(m, now, &row, err) != 0)
        return -1;
    int rc = store_order_update(tx, &row);
    order_row_free(&row);
    return rc != 0 ? kerr_internal(err, "order update") : 0;
}

/* The fields ordermanagement.json gives MerchantOrderDto, Capture and Refund: a client sees
 * nothing else (no bookkeeping, whatever older rows stored; issue 8). */
static const char *const order_fields[] = {
    "order_id", "status", "fraud_status", "order_amount", "original_order_amount",
    "captured_amount", "refunded_amount", "remaining_authorized_amount", "purchase_country",
    "purchase_currency", "locale", "order_lines", "merchant_reference1", "merchant_reference2",
    "merchant_data", "klarna_reference", "billing_address", "shipping_address", "customer",
    "created_at", "expires_at", "captures", "refunds", "shipping_info", "initial_payment_method",
    "selected_shipping_option", NULL
};
static const char *const capture_fields[] = {
    "capture_id", "klarna_reference", "captured_amount", "captured_at", "description",
    "order_lines", "reference", "refunded_amount", "billing_address", "shipping_address",
    "shipping_info", NULL
};
/* Refund: Klarna's recorded reply has no "reference" (issue 8), so Kasse does not echo it. */
static const char *const refund_fields[] = {
    "refund_id", "refunded_amount", "refunded_at", "description", "order_lines",
    "credit_invoice", NULL
};

static bool listed(const char *const *names, const char *key)
{
    for (; *names; names++)
        if (strcmp(*names, key) == 0)
            return true;
    return false;
}

/* Drops the keys of o that names does not list. */
static void keep_only(json_t *o, const char *const *names)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, key, v) {
        if (!listed(names, key))
            json_object_del(o, key);
    }
}

/* The order as a client sees it at now: the spec's fields only; an empty order-level
 * shipping_info is omitted (Klarna omits it); a refund always has order_lines (possibly
 * []) and credit_invoice, as Klarna's recorded refund reads. */
static json_t *om_render(const struct order *m, int64_t now)
{
    json_t *o = json_deep_copy(m->doc);
    if (!o)
        return NULL;
    keep_only(o, order_fields);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(o, "captures"), i, x) {
        keep_only(x, capture_fields);
    }
    int bad = 0;
    json_array_foreach(json_object_get(o, "refunds"), i, x) {
        keep_only(x, refund_fields);
        if (!bad && !json_is_array(json_object_get(x, "order_lines")))
            bad = json_object_set_new(x, "order_lines", json_array());
        if (!bad && !json_is_boolean(json_object_get(x, "credit_invoice")))
            bad = json_object_set_new(x, "credit_invoice", json_false());
    }
    if (json_array_size(json_object_get(o, "shipping_info")) == 0)
        json_object_del(o, "shipping_info");
    if (bad || order_doc_state(o, &m->st, now) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *find_by(json_t *array, const char *key, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(array, i, x) {
        const char *v = str(x, key);
        if (v && strcmp(v, id) == 0)
            return x;
    }
    return NULL;
}

static int no_such_capture(const char *id, struct kerr *err)
{
    return kerr_set(err, 404, "NO_SUCH_CAPTURE", "Capture %s could not be found", id);
}

/* ---- reads ---- */

enum om_read {
    READ_ORDER, READ_CAPTURES, READ_CAPTURE, READ_REFUND, READ_DUE_DATE_OPTIONS, READ_TIMELINE
};

struct read_ctx {
    struct req *r;
    enum om_read what;
    json_t *reply;
};

/* Extend-due-date options [INF]: Klarna prices them per market; Kasse offers 14 and 28 more
 * days for a fee in the order's currency's minor units, on pay-later (invoice) orders only. */
static const struct {
    int days;
    int64_t fee;
} due_date_options[] = {{14, 295}, {28, 495}};

static bool is_invoice(const struct order *m)
{
    const char *type = str(json_object_get(m->doc, "initial_payment_method"), "type");
    return type && strcmp(type, "INVOICE") == 0;
}

static int read_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct read_ctx *c = arg;
    struct req *r = c->r;
    struct order m;
    if (om_load(tx, r->merchant.id, r->params[0], r->received_ms, &m, err) != 0)
        return -1;
    int rc = 0;
    json_t *order = om_render(&m, r->received_ms);
    if (!order) {
        rc = kerr_internal(err, "out of memory");
    } else if (c->what == READ_ORDER) {
        c->reply = json_incref(order);
    } else if (c->what == READ_TIMELINE) {
        /* the order's amounts as GET order reads them, and its life (core/order_row.h) */
        static const char *const keys[] = {"order_id", "status", "fraud_status",
                                           "purchase_currency", "order_amount",
                                           "captured_amount", "refunded_amount",
                                           "remaining_authorized_amount", "expires_at"};
        json_t *events = order_timeline(&m, r->received_ms);
        c->reply = events ? json_pack("{s:o}", "events", events) : NULL;
        for (size_t i = 0; c->reply && i < sizeof keys / sizeof *keys; i++) {
            json_t *v = json_object_get(order, keys[i]);
            if (v && json_object_set(c->reply, keys[i], v) != 0)
                json_decref(c->reply), c->reply = NULL;
        }
    } else if (c->what == READ_CAPTURES) {
        c->reply = json_incref(json_object_get(order, "captures"));
    } else if (c->what == READ_REFUND) {
        json_t *refund = find_by(json_object_get(order, "refunds"), "refund_id", r->params[1]);
        if (refund)
            c->reply = json_incref(refund);
        else
            rc = kerr_set(err, 404, "NOT_FOUND", "Refund %s cannot be found for order %s",
                          r->params[1], r->params[0]);
    } else {
        json_t *capture = find_by(json_object_get(order, "captures"), "capture_id",
                                  r->params[1]);
        if (!capture) {
            rc = no_such_capture(r->params[1], err);
        } else if (c->what == READ_CAPTURE) {
            c->reply = json_incref(capture);
        } else if (!is_invoice(&m)) {
            rc = kerr_set(err, 403, "NOT_ALLOWED",
                          "Due date can only be extended for pay later purchases");
        } else {
            json_t *options = json_array();
            for (size_t i = 0; options && i < 2; i++)
                json_array_append_new(options, json_pack("{s:I, s:i}", "amount",
                                                         (json_int_t)due_date_options[i].fee,
                                                         "number_of_days",
                                                         due_date_options[i].days));
            c->reply = json_pack("{s:s?, s:o}", "currency",
                                 str(m.doc, "purchase_currency"), "options", options);
        }
    }
    json_decref(order);
    order_free(&m);
    if (rc == 0 && !c->reply)
        rc = kerr_internal(err, "out of memory");
    return rc;
}

static int om_read(struct req *r, struct reply *out, enum om_read what, struct kerr *err)
{
    if (check_order_id(r->params[0], err) != 0)
        return -1;
    struct read_ctx c = {.r = r, .what = what};
    if (store_read(r->app->store, read_fn, &c, err) != 0)
        return -1;
    return reply_json(out, 200, c.reply, err);
}

int om_get_order(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_ORDER, err);
}

int control_order_timeline(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_TIMELINE, err);
}

int om_list_captures(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_CAPTURES, err);
}

int om_get_capture(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_CAPTURE, err);
}

int om_get_refund(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_REFUND, err);
}

int om_due_date_options(struct req *r, struct reply *out, struct kerr *err)
{
    return om_read(r, out, READ_DUE_DATE_OPTIONS, err);
}

/* ---- mutations ---- */

enum om_op {
    OP_ACKNOWLEDGE, OP_AUTHORIZATION, OP_CANCEL, OP_EXTEND, OP_RELEASE, OP_CUSTOMER_DETAILS,
    OP_REFERENCES, OP_SHIPPING_INFO, OP_CAPTURE, OP_CAPTURE_SHIPPING_INFO, OP_SEND_OUT,
    OP_EXTEND_DUE_DATE, OP_REFUND, OP_CAPTURE_CUSTOMER_DETAILS
};

/* The order's history (core/order_row.h) after a successful op: what the order object does not
 * date. A repeated cancel changes nothing and adds nothing. */
static int om_history(struct order *m, enum om_op op, enum order_status before,
                      int64_t remaining_before, int64_t now)
{
    switch (op) {
    case OP_CANCEL:
        return before == ORDER_CANCELLED ? 0 : order_history_add(m, "cancelled", now, NULL, 0);
    case OP_RELEASE:
        return order_history_add(m, "released", now, "amount", remaining_before);
    case OP_EXTEND:
        return order_history_add(m, "authorization_extended", now, "expires_at_ms",
                                 m->st.expires_at);
    case OP_AUTHORIZATION:
        return order_history_add(m, "authorization_updated", now, "amount", m->st.order_amount);
    default:
        return 0;
    }
}

struct op_ctx {
    struct req *r;
    enum om_op op;
    json_t *body;
    char new_id[37];               /* capture_id / refund_id made */
    char transaction_id[37];
};

/* Kasse's bookkeeping about one capture or refund lives in the order's "_kasse" object, under
 * section ("captures" / "refunds") and the id, never in what a client reads. */
static json_t *kasse_entry(struct order *m, const char *section, const char *id)
{
    json_t *sec = json_object_get(m->kasse, section);
    if (!json_is_object(sec)) {
        sec = json_object();
        if (!sec || json_object_set_new(m->kasse, section, sec))
            return NULL;
    }
    json_t *entry = json_object_get(sec, id);
    if (!json_is_object(entry)) {
        entry = json_object();
        if (!entry || json_object_set_new(sec, id, entry))
            return NULL;
    }
    return entry;
}

/* Sets one bookkeeping value (stolen); -1 when memory runs out. */
static int kasse_note(struct order *m, const char *section, const char *id, const char *key,
                      json_t *value)
{
    json_t *entry = kasse_entry(m, section, id);
    if (!entry || !value) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(entry, key, value);
}

/* Adds n to a bookkeeping counter. */
static int kasse_count(struct order *m, const char *section, const char *id, const char *key,
                       int64_t n)
{
    json_t *entry = kasse_entry(m, section, id);
    if (!entry)
        return -1;
    return set_int(entry, key, jint(entry, key) + n);
}

static int copy_field(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    return v ? json_object_set(dst, key, v) : 0;
}

static int do_capture(struct order *m, struct op_ctx *c, int64_t now, struct kerr *err)
{
    int64_t amount = jint(c->body, "captured_amount");
    if (m->n_caps == LIMIT_OM_CAPTURES)
        return kerr_set(err, 403, "CAPTURE_NOT_ALLOWED", "Capture not allowed");
    if (order_capture(&m->st, amount, now, err) != 0) {
        /* Klarna names the order in this one (contract 5.4). */
        if (err->status == 403 && order_status_at(&m->st, now) == ORDER_EXPIRED)
            kerr_set(err, 403, "CAPTURE_NOT_ALLOWED", "Order %s is expired. Capture not possible.",
                     m->id);
        return -1;
    }
    char at[32], ref[64];
    time_format_iso8601(now, at);
    snprintf(ref, sizeof ref, "%s-%zu", str(m->doc, "klarna_reference"), m->n_caps + 1);
    if (ids_uuid4(c->new_id) != 0 || ids_uuid4(c->transaction_id) != 0)
        return kerr_internal(err, "random source");
    json_t *capture = json_pack("{s:s, s:s, s:I, s:s, s:I}", "capture_id", c->new_id,
                                "klarna_reference", ref, "captured_amount", (json_int_t)amount,
                                "captured_at", at, "refunded_amount", (json_int_t)0);
    if (!capture || copy_field(capture, c->body, "description") ||
        copy_field(capture, c->body, "reference") ||
        copy_field(capture, c->body, "order_lines") ||
        copy_field(capture, m->doc, "billing_address") ||
        copy_field(capture, m->doc, "shipping_address") ||
        json_object_set_new(capture, "shipping_info",
                            json_object_get(c->body, "shipping_info")
                                ? json_incref(json_object_get(c->body, "shipping_info"))
                                : json_array())) {
        json_decref(capture);
        return kerr_internal(err, "capture: out of memory");
    }
    if (json_array_append_new(m->captures, capture) != 0)   /* steals capture even then */
        return kerr_internal(err, "capture: out of memory");
    m->caps[m->n_caps].captured_amount = amount;
    m->caps[m->n_caps].refunded_amount = 0;
    m->n_caps++;
    /* Capturing also acknowledges the order (contract 5.4). */
    if (json_object_set_new(m->kasse, "acknowledged", json_true()) != 0)
        return kerr_internal(err, "capture: out of memory");
    return 0;
}

static int do_refund(struct order *m, struct op_ctx *c, int64_t now, struct kerr *err)
{
    int64_t amount = jint(c->body, "refunded_amount");
    json_t *refunds = json_object_get(m->doc, "refunds");
    if (!json_is_array(refunds)) {
        refunds = json_array();
        if (json_object_set_new(m->doc, "refunds", refunds) != 0)
            return kerr_internal(err, "refund: out of memory");
    }
    if (json_array_size(refunds) >= LIMIT_OM_REFUNDS)
        return kerr_set(err, 403, "REFUND_NOT_ALLOWED", "Refund not allowed");
    if (order_refund(&m->st, m->caps, m->n_caps, amount, now, err) != 0)
        return -1;
    char at[32];
    time_format_iso8601(now, at);
    if (ids_uuid4(c->new_id) != 0)
        return kerr_internal(err, "random source");
    /* Klarna's recorded refund: order_lines ([] when none) and credit_invoice always, the
     * request's reference not echoed (it is kept with Kasse's bookkeeping). */
    json_t *lines = json_object_get(c->body, "order_lines");
    json_t *refund = json_pack("{s:s, s:I, s:s, s:o, s:b}", "refund_id", c->new_id,
                               "refunded_amount", (json_int_t)amount, "refunded_at", at,
                               "order_lines", lines ? json_incref(lines) : json_array(),
                               "credit_invoice", 0);
    if (!refund || copy_field(refund, c->body, "description")) {
        json_decref(refund);
        return kerr_internal(err, "refund: out of memory");
    }
    if (json_array_append_new(refunds, refund) ||   /* steals refund even then */
        (json_object_get(c->body, "reference") &&
         kasse_note(m, "refunds", c->new_id, "reference",
                    json_incref(json_object_get(c->body, "reference")))))
        return kerr_internal(err, "refund: out of memory");
    return 0;
}

static int append_shipping(json_t *target, const json_t *body, struct kerr *err)
{
    json_t *list = json_object_get(target, "shipping_info");
    if (!json_is_array(list)) {
        list = json_array();
        if (!list || json_object_set_new(target, "shipping_info", list))
            return kerr_internal(err, "out of memory");
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(body, "shipping_info"), i, x) {
        if (json_array_size(list) >= LIMIT_OM_SHIPPING_INFO)
            return kerr_set(err, 403, "NOT_ALLOWED", "Too many shipping info entries");
        if (json_array_append(list, x) != 0)
            return kerr_internal(err, "out of memory");
    }
    return 0;
}

/* Applies an address update to target's shipping_address: present fields overwrite, ""
 * clears (contract 5.4). changes NULL: nothing. */
static int merge_address(json_t *target, const json_t *changes, struct kerr *err)
{
    if (!changes)
        return 0;
    json_t *address = json_object_get(target, "shipping_address");
    if (!json_is_object(address)) {
        address = json_object();
        if (!address || json_object_set_new(target, "shipping_address", address) != 0)
            return kerr_internal(err, "oom");
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)changes, key, v) {
        if (json_is_string(v) && json_string_length(v) == 0)
            json_object_del(address, key);
        else if (json_object_set(address, key, v) != 0)
            return kerr_internal(err, "oom");
    }
    return 0;
}

static int op_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct op_ctx *c = arg;
    struct req *r = c->r;
    int64_t now = r->received_ms;
    struct order m;
    if (om_load(tx, r->merchant.id, r->params[0], now, &m, err) != 0)
        return -1;
    int rc = -1;
    json_t *capture = NULL;
    if (c->op == OP_CAPTURE_SHIPPING_INFO || c->op == OP_SEND_OUT ||
        c->op == OP_EXTEND_DUE_DATE || c->op == OP_CAPTURE_CUSTOMER_DETAILS) {
        capture = find_by(m.captures, "capture_id", r->params[1]);
        if (!capture) {
            no_such_capture(r->params[1], err);
            goto done;
        }
    }
    enum order_status before = order_status_at(&m.st, now);
    int64_t remaining_before = order_remaining(&m.st, now);
    switch (c->op) {
    case OP_ACKNOWLEDGE:
        rc = json_object_set_new(m.kasse, "acknowledged", json_true()) ? kerr_internal(err, "oom")
                                                                        : 0;
        break;
    case OP_CAPTURE:
        rc = do_capture(&m, c, now, err);
        break;
    case OP_REFUND:
        rc = do_refund(&m, c, now, err);
        break;
    case OP_CANCEL:
        rc = order_cancel(&m.st, now, err);
        break;
    case OP_RELEASE:
        rc = order_release(&m.st, now, err);
        break;
    case OP_EXTEND:
        rc = order_extend_authorization(&m.st, now, err);
        break;
    case OP_AUTHORIZATION:
        rc = order_update_authorization(&m.st, jint(c->body, "order_amount"), now, err);
        if (rc == 0) {
            /* Sent lines replace the old ones; omitted, the old ones are deleted (5.4). */
            json_t *lines = json_object_get(c->body, "order_lines");
            rc = json_object_set_new(m.doc, "order_lines",
                                     lines ? json_incref(lines) : json_array())
                     ? kerr_internal(err, "oom")
                     : 0;
        }
        break;
    case OP_CUSTOMER_DETAILS:
        /* Only the shipping address changes (contract 5.4); a billing_address sent with it (as
         * Klarna's own SDK example does) is not applied and does not fail the request. */
        rc = order_check_updatable(&m.st, now, "Customer details", err);
        if (rc == 0)
            rc = merge_address(m.doc, json_object_get(c->body, "shipping_address"), err);
        break;
    case OP_CAPTURE_CUSTOMER_DETAILS:
        /* The older capture sub-resource of Klarna's SDKs: the same rule, on the capture. */
        rc = merge_address(capture, json_object_get(c->body, "shipping_address"), err);
        break;
    case OP_REFERENCES:
        rc = order_check_updatable(&m.st, now, "Merchant references", err);
        for (int k = 1; rc == 0 && k <= 2; k++) {
            char key[32];
            snprintf(key, sizeof key, "merchant_reference%d", k);
            json_t *v = json_object_get(c->body, key);
            if (v && json_string_length(v) == 0)
                json_object_del(m.doc, key);
            else if (v && json_object_set(m.doc, key, v) != 0)
                rc = kerr_internal(err, "oom");
        }
        break;
    case OP_SHIPPING_INFO:
        rc = order_check_updatable(&m.st, now, "Shipping info", err);
        if (rc == 0)
            rc = append_shipping(m.doc, c->body, err);
        break;
    case OP_CAPTURE_SHIPPING_INFO:
        rc = append_shipping(capture, c->body, err);
        break;
    case OP_SEND_OUT:
        /* Kasse sends no customer communication; the request is recorded. */
        rc = kasse_count(&m, "captures", str(capture, "capture_id"), "send_outs", 1)
                 ? kerr_internal(err, "oom")
                 : 0;
        break;
    case OP_EXTEND_DUE_DATE: {
        int64_t days = jint(c->body, "number_of_days");
        bool offered = false;
        for (size_t i = 0; i < 2; i++)
            offered = offered || due_date_options[i].days == days;
        if (!is_invoice(&m))
            rc = kerr_set(err, 403, "NOT_ALLOWED",
                          "Due date can only be extended for pay later purchases");
        else if (!offered)
            rc = kerr_bad_value(err, "number_of_days");
        else
            rc = kasse_count(&m, "captures", str(capture, "capture_id"),
                             "due_date_extended_days", days)
                     ? kerr_internal(err, "oom")
                     : 0;
        break;
    }
    }
    if (rc == 0 && om_history(&m, c->op, before, remaining_before, now) != 0)
        rc = kerr_internal(err, "oom");
    if (rc == 0)
        rc = om_save(tx, &m, now, err);
done:
    order_free(&m);
    return rc;
}

static int op_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct op_ctx *c = arg;
    struct req *r = c->r;
    char location[600];
    /* Every mutation names its transaction (Klarna's recorded replies; issue 8); recorded with
     * the reply, so an idempotent replay repeats it. */
    if (!c->transaction_id[0] && ids_uuid4(c->transaction_id) != 0)
        return kerr_internal(err, "random source");
    if (c->op == OP_CAPTURE) {
        snprintf(location, sizeof location, "%s/ordermanagement/v1/orders/%s/captures/%s",
                 r->app->public_url, r->params[0], c->new_id);
        reply_header(out, "Location", location);
        reply_header(out, "Capture-Id", c->new_id);
        reply_header(out, "Transaction-Id", c->transaction_id);
        return reply_empty(out, 201);
    }
    if (c->op == OP_REFUND) {
        snprintf(location, sizeof location, "%s/ordermanagement/v1/orders/%s/refunds/%s",
                 r->app->public_url, r->params[0], c->new_id);
        reply_header(out, "Location", location);
        reply_header(out, "Refund-Id", c->new_id);
        reply_header(out, "Transaction-Id", c->transaction_id);
        return reply_empty(out, 201);
    }
    reply_header(out, "Transaction-Id", c->transaction_id);
    return reply_empty(out, 204);
}

static int om_mutate(struct req *r, struct reply *out, enum om_op op, int kind,
                     struct kerr *err)
{
    if (check_order_id(r->params[0], err) != 0)
        return -1;
    struct op_ctx c = {.r = r, .op = op};
    int rc = -1;
    if (kind >= 0) {
        c.body = req_json_body(r, err);
        if (!c.body)
            return -1;
        om_normalize((enum om_request)kind, c.body);
        if (om_validate((enum om_request)kind, c.body, err) != 0)
            goto done;
    }
    rc = api_write(r, op_fn, &c, op_reply, out, err);
done:
    json_decref(c.body);
    return rc;
}

#define NO_BODY (-1)

int om_acknowledge(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_ACKNOWLEDGE, NO_BODY, err);
}

int om_update_authorization(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_AUTHORIZATION, OM_AUTHORIZATION, err);
}

int om_cancel(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_CANCEL, NO_BODY, err);
}

int om_extend_authorization(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_EXTEND, NO_BODY, err);
}

int om_release(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_RELEASE, NO_BODY, err);
}

int om_customer_details(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_CUSTOMER_DETAILS, OM_CUSTOMER_DETAILS, err);
}

int om_capture_customer_details(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_CAPTURE_CUSTOMER_DETAILS, OM_CUSTOMER_DETAILS, err);
}

int om_merchant_references(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_REFERENCES, OM_MERCHANT_REFERENCES, err);
}

int om_shipping_info(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_SHIPPING_INFO, OM_SHIPPING_INFO, err);
}

int om_capture(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_CAPTURE, OM_CAPTURE, err);
}

int om_capture_shipping_info(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_CAPTURE_SHIPPING_INFO, OM_SHIPPING_INFO, err);
}

int om_trigger_send_out(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_SEND_OUT, NO_BODY, err);
}

int om_extend_due_date(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_EXTEND_DUE_DATE, OM_EXTEND_DUE_DATE, err);
}

int om_refund(struct req *r, struct reply *out, struct kerr *err)
{
    return om_mutate(r, out, OP_REFUND, OM_REFUND, err);
}

/* ---- GET /kasse/v1/orders: the merchant's orders, for people ---- */

#define ORDERS_PAGE_MAX 100
#define ORDERS_OFFSET_MAX 2147483647L

/* A reference lists at most this many orders (its newest): references are meant to name one
 * order, or a few. */
#define ORDERS_REFERENCE_MAX 200

struct list_ctx {
    struct req *r;
    struct order_page_query q;
    const char *reference;        /* merchant_reference1 or 2, exactly; NULL: any */
    json_t *orders;
    int64_t total;
};

/* The list's item for an order: what the order reads as at now. */
static json_t *list_item(const struct order *m, int64_t now)
{
    const char *status = order_status_name(order_status_at(&m->st, now));
    char created[32];
    time_format_iso8601(m->st.created_at, created);
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s}", "order_id", m->id,
        "status", status, "fraud_status", order_fraud_name(m->st.fraud), "order_amount",
        (json_int_t)m->st.order_amount, "captured_amount", (json_int_t)m->st.captured_amount,
        "refunded_amount", (json_int_t)m->st.refunded_amount, "remaining_authorized_amount",
        (json_int_t)order_remaining(&m->st, now), "purchase_currency",
        str(m->doc, "purchase_currency"), "klarna_reference", str(m->doc, "klarna_reference"),
        "merchant_reference1", str(m->doc, "merchant_reference1"), "merchant_reference2",
        str(m->doc, "merchant_reference2"), "created_at", created);
}

/* By reference: the store finds the few orders carrying it (an index on each reference);
 * the other filters and the page apply to those. */
static int list_by_reference(struct store_tx *tx, struct list_ctx *c, struct kerr *err)
{
    char (*ids)[37] = mem_calloc(ORDERS_REFERENCE_MAX, sizeof *ids);
    size_t n = 0;
    if (!ids)
        return kerr_internal(err, "out of memory");
    if (store_order_by_reference(tx, c->q.merchant_id, c->reference, ids, ORDERS_REFERENCE_MAX,
                                 &n) != 0) {
        free(ids);
        return kerr_internal(err, "order list by reference");
    }
    c->total = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct order m;
        if (om_load(tx, c->r->merchant.id, ids[i], c->q.now, &m, err) != 0) {
            rc = -1;
            break;
        }
        const char *status = order_status_name(order_status_at(&m.st, c->q.now));
        bool match = m.st.created_at >= c->q.from && m.st.created_at < c->q.to &&
                     (!c->q.status || strcmp(c->q.status, status) == 0);
        if (match && c->total >= c->q.offset &&
            c->total < c->q.offset + (int64_t)c->q.limit) {
            json_t *item = list_item(&m, c->q.now);
            if (!item || json_array_append_new(c->orders, item) != 0)
                rc = kerr_internal(err, "out of memory");
        }
        c->total += match;
        order_free(&m);
    }
    free(ids);
    return rc;
}

/* The store filters, counts and pages (store_order_page); each order of the page is then read
 * through om_load, so it shows what GET order shows at now. */
static int list_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct list_ctx *c = arg;
    json_array_clear(c->orders);
    if (c->reference)
        return list_by_reference(tx, c, err);
    char ids[ORDERS_PAGE_MAX][37];
    size_t n = 0;
    if (store_order_page(tx, &c->q, ids, &n, &c->total) != 0)
        return kerr_internal(err, "order list");
    for (size_t i = 0; i < n; i++) {
        struct order m;
        if (om_load(tx, c->r->merchant.id, ids[i], c->q.now, &m, err) != 0)
            return -1;
        const char *status = order_status_name(order_status_at(&m.st, c->q.now));
        if (c->q.status && strcmp(c->q.status, status) != 0)
            log_error("order list: %s filed as %s reads as %s", m.id, c->q.status, status);
        json_t *item = list_item(&m, c->q.now);
        order_free(&m);
        if (!item || json_array_append_new(c->orders, item) != 0)
            return kerr_internal(err, "out of memory");
    }
    return 0;
}

/* created_after / created_before: ISO 8601 (as orders show them) or milliseconds. */
static int query_time(const struct req *r, const char *name, int64_t *out, struct kerr *err)
{
    const char *v = req_query(r, name);
    if (!v)
        return 0;
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0, frac = 0;
    char *end;
    long long ms = strtoll(v, &end, 10);
    if (*v && !*end) {
        *out = ms;
        return 0;
    }
    if (sscanf(v, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return kerr_bad_value(err, name);
    if (v[n] == 'T') {
        int m2 = 0;
        if (sscanf(v + n, "T%2d:%2d:%2d%n", &h, &mi, &s, &m2) < 3)
            return kerr_bad_value(err, name);
        const char *p = v + n + m2;
        if (*p == '.') {                  /* milliseconds, as orders show them */
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    frac = frac * 10 + (*p - '0');
            for (; digits < 3; digits++)
                frac *= 10;
        }
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60)
        return kerr_bad_value(err, name);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = s};
    *out = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

int control_list_orders(struct req *r, struct reply *out, struct kerr *err)
{
    struct list_ctx c = {.r = r, .reference = req_query(r, "reference")};
    long long limit = 20, offset = 0;
    if (c.reference && (!c.reference[0] || strlen(c.reference) > 255))
        return kerr_bad_value(err, "reference");
    int64_t from = 0, to = INT64_MAX;
    const char *status = req_query(r, "status");
    if (status) {
        enum order_status s;
        if (order_status_parse(status, &s) != 0)
            return kerr_bad_value(err, "status");
    }
    if (req_query_int(r, "limit", 1, ORDERS_PAGE_MAX, &limit, err) ||
        req_query_int(r, "offset", 0, ORDERS_OFFSET_MAX, &offset, err) ||
        query_time(r, "created_after", &from, err) ||
        query_time(r, "created_before", &to, err))
        return -1;
    c.q = (struct order_page_query){.merchant_id = r->merchant.id, .status = status,
                                    .from = from, .to = to, .now = r->received_ms,
                                    .offset = offset, .limit = (size_t)limit};
    c.orders = json_array();
    if (!c.orders)
        return kerr_internal(err, "out of memory");
    if (store_read(r->app->store, list_fn, &c, err) != 0) {
        json_decref(c.orders);
        return -1;
    }
    json_t *body = json_pack("{s:o, s:I, s:i, s:I}", "orders", c.orders, "total",
                             (json_int_t)c.total, "limit", (int)limit, "offset",
                             (json_int_t)offset);
    return reply_json(out, 200, body, err);
}
