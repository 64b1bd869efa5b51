/* orders: making the order record that Order Management operates on (contract 5.2), from a
 * session's create-order call or a customer-token charge, and the browser redirect that
 * create-order's redirect_url points at. One place builds orders, whoever asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/orders.h"
#include "core/order.h"
#include "core/order_row.h"
#include "core/session.h"
#include "lib/ids.h"
#include "lib/limits.h"
#include "outbox/outbox.h"

#define ORDER_LIFETIME_MS (28LL * 24 * 3600 * 1000)

/* Payment method facts per category [INF]: Klarna's "Pay later" is an invoice with 30 days,
 * "Slice it" a fixed amount in 3 instalments, "Pay now" a direct debit. */
static const struct {
    const char *category;
    const char *kp_type;            /* create-order's authorized_payment_method.type */
    int days, installments;
    const char *om_type;            /* OM initial_payment_method.type */
    const char *description;
} methods[] = {
    {"klarna", "invoice", 30, 0, "INVOICE", "Pay later"},
    {"pay_later", "invoice", 30, 0, "INVOICE", "Pay later"},
    {"pay_over_time", "fixed_amount", 0, 3, "FIXED_AMOUNT", "Slice it"},
    {"pay_now", "direct_debit", 0, 0, "DIRECT_DEBIT", "Pay now"},
};

static size_t method_index(const char *category)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (category && strcmp(methods[i].category, category) == 0)
            return i;
    return 0;
}

const char *order_om_payment_type(const char *category)
{
    return methods[method_index(category)].om_type;
}

json_t *order_authorized_payment_method(const char *category)
{
    size_t m = method_index(category);
    json_t *o = json_pack("{s:s}", "type", methods[m].kp_type);
    if (o && ((methods[m].days &&
               json_object_set_new(o, "number_of_days", json_integer(methods[m].days))) ||
              (methods[m].installments &&
               json_object_set_new(o, "number_of_installments",
                                   json_integer(methods[m].installments))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Replaces every {session.id} and {order.id} in url (contract 2.8.5). */
void order_url_fill(const char *url, const char *session_id, const char *order_id, char *out,
                    size_t cap)
{
    size_t o = 0;
    for (const char *p = url; *p && o + 1 < cap;) {
        const char *with = NULL;
        size_t skip = 0;
        if (strncmp(p, "{session.id}", 12) == 0) {
            with = session_id;
            skip = 12;
        } else if (strncmp(p, "{order.id}", 10) == 0) {
            with = order_id;
            skip = 10;
        }
        if (with) {
            size_t n = strlen(with);
            if (o + n >= cap)
                break;
            memcpy(out + o, with, n);
            o += n;
            p += skip;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static int set(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

/* o[key] = v, v stolen whatever happens: dropped when an earlier step failed (*bad), and a
 * NULL v (its building failed) or a failed set makes *bad. */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (*bad)
        json_decref(v);
    else if (!v || json_object_set_new(o, key, v) != 0)
        *bad = 1;
}

/* Copies src[key] into dst when src has it: 0, or -1 when memory ran out. */
static int copy_if(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    return v ? json_object_set(dst, key, v) : 0;
}

int order_create(struct store_tx *tx, const struct order_spec *spec, struct order_made *out,
                 struct kerr *err)
{
    memset(out, 0, sizeof *out);
    const json_t *req = spec->request;
    /* The order: its state here, its document below; core/order_row makes the row. */
    struct order o = {.merchant_id = spec->merchant->id};
    char ref[9];
    if (ids_uuid7(spec->now_ms, o.id) != 0 || ids_upper_alnum(ref, 8) != 0)
        return kerr_internal(err, "random source");
    json_int_t amount = json_integer_value(json_object_get(req, "order_amount"));
    bool captured = json_is_true(json_object_get(req, "auto_capture"));
    snprintf(o.session_id, sizeof o.session_id, "%s", spec->session_id);
    o.st = (struct order_state){
        .status = captured ? ORDER_CAPTURED : ORDER_AUTHORIZED,
        .fraud = spec->fraud,
        .fraud_decided_at = spec->fraud_decides_at,
        .fraud_result = spec->fraud_result == ORDER_FRAUD_ACCEPTED ? ORDER_FRAUD_ACCEPTED
                                                                   : ORDER_FRAUD_REJECTED,
        .order_amount = amount,
        .original_order_amount = amount,
        .captured_amount = captured ? amount : 0,
        .created_at = spec->now_ms,
        .expires_at = spec->now_ms + ORDER_LIFETIME_MS,
    };
    if (captured)
        o.caps[o.n_caps++] = (struct capture_money){.captured_amount = amount};

    char created[32];
    time_format_iso8601(o.st.created_at, created);
    size_t m = method_index(spec->category);
    json_t *order = json_object();
    int bad = !order;
    /* The state's fields hold their places (order_to_row writes them, as on every save). */
    bad = bad || set(order, "order_id", json_string(o.id)) ||
          set(order, "status", json_null()) || set(order, "fraud_status", json_null()) ||
          set(order, "order_amount", json_null()) ||
          set(order, "original_order_amount", json_integer(amount)) ||
          set(order, "captured_amount", json_null()) ||
          set(order, "refunded_amount", json_null()) ||
          set(order, "remaining_authorized_amount", json_null());
    if (!bad) {
        static const char *const from_request[] = {
            "purchase_country", "purchase_currency", "locale", "order_lines",
            "merchant_reference1", "merchant_reference2", "merchant_data", "billing_address",
            "shipping_address"};
        for (size_t i = 0; !bad && i < sizeof from_request / sizeof from_request[0]; i++)
            bad = copy_if(order, req, from_request[i]);
        if (!bad && !json_object_get(order, "shipping_address"))
            bad = copy_if(order, spec->authorized, "shipping_address");
        if (!bad && !json_object_get(order, "billing_address"))
            bad = copy_if(order, spec->authorized, "billing_address");
        json_t *customer = json_object_get(req, "customer");
        if (!customer)
            customer = json_object_get(spec->authorized, "customer");
        json_t *om_customer = json_object();
        if (om_customer && customer &&
            (copy_if(om_customer, customer, "date_of_birth") ||
             copy_if(om_customer, customer, "national_identification_number"))) {
            json_decref(om_customer);
            om_customer = NULL;        /* put() below reports NULL as bad */
        }
        /* auto_capture: the order is created captured, with its one capture (contract 2.5). */
        json_t *captures = json_array();
        if (captures && captured) {
            char capture_id[37], capture_ref[16];
            snprintf(capture_ref, sizeof capture_ref, "%s-1", ref);
            json_t *capture = ids_uuid4(capture_id) != 0 ? NULL
                              : json_pack("{s:s, s:s, s:I, s:s, s:I}", "capture_id", capture_id,
                                          "klarna_reference", capture_ref, "captured_amount",
                                          (json_int_t)amount, "captured_at", created,
                                          "refunded_amount", (json_int_t)0);
            if (capture && copy_if(capture, req, "order_lines") != 0) {
                json_decref(capture);
                capture = NULL;
            }
            if (!capture || json_array_append_new(captures, capture) != 0) {
                json_decref(captures);
                captures = NULL;
            }
        }
        put(order, "customer", om_customer, &bad);
        put(order, "klarna_reference", json_string(ref), &bad);
        put(order, "created_at", json_string(created), &bad);
        put(order, "expires_at", json_null(), &bad);
        put(order, "captures", captures, &bad);
        put(order, "refunds", json_array(), &bad);
        put(order, "shipping_info", json_array(), &bad);
        json_t *ipm = json_pack("{s:s, s:s}", "type", methods[m].om_type, "description",
                                methods[m].description);
        if (ipm && methods[m].installments &&
            json_object_set_new(ipm, "number_of_installments",
                                json_integer(methods[m].installments)) != 0) {
            json_decref(ipm);
            ipm = NULL;
        }
        put(order, "initial_payment_method", ipm, &bad);
    }
    /* Kasse's own bookkeeping rides along under "_kasse" (never shown to clients as is). */
    const json_t *urls = json_object_get(req, "merchant_urls");
    if (!urls)
        urls = json_object_get(spec->authorized, "merchant_urls");
    const char *confirmation = json_string_value(json_object_get(urls, "confirmation"));
    char target[LIMIT_MERCHANT_URL + 256] = "";
    if (confirmation)
        order_url_fill(confirmation, spec->session_id, o.id, target, sizeof target);
    json_t *kasse = json_pack("{s:s, s:s, s:s}", "session_id", spec->session_id,
                              "payment_method_category", methods[m].category,
                              "redirect_target", target);
    if (kasse && urls && json_object_set(kasse, "merchant_urls", (json_t *)urls) != 0) {
        json_decref(kasse);
        kasse = NULL;
    }
    put(order, "_kasse", kasse, &bad);
    if (bad) {
        json_decref(order);
        return kerr_internal(err, "order: out of memory");
    }
    o.doc = order;
    o.kasse = kasse;
    o.captures = json_object_get(order, "captures");
    struct order_row row;
    int rc = order_to_row(&o, spec->now_ms, &row, err);
    order_free(&o);
    if (rc != 0)
        return -1;
    rc = store_order_insert(tx, &row);
    order_row_free(&row);
    if (rc != 0)
        return kerr_internal(err, "order insert");
    /* A pending review ends NN minutes later: the order changes then, and
     * merchant_urls.notification hears of it (contract 5.6). */
    if (spec->fraud_decides_at) {
        const char *notify = json_string_value(json_object_get(urls, "notification"));
        char notify_url[LIMIT_MERCHANT_URL + 256] = "";
        if (notify)
            order_url_fill(notify, spec->session_id, o.id, notify_url, sizeof notify_url);
        bool accepted = o.st.fraud_result == ORDER_FRAUD_ACCEPTED;
        json_t *event = json_pack("{s:s, s:s}", "order_id", o.id, "event_type",
                                  accepted ? "FRAUD_RISK_ACCEPTED" : "FRAUD_RISK_REJECTED");
        int bad_event = !event || outbox_event(tx, spec->merchant->id, "fraud_notification",
                                               spec->session_id, o.id, notify_url, event,
                                               spec->now_ms, spec->fraud_decides_at, err) != 0;
        json_decref(event);
        if (bad_event)
            return event ? -1 : kerr_internal(err, "order: out of memory");
    }
    memcpy(out->order_id, o.id, sizeof out->order_id);
    snprintf(out->klarna_reference, sizeof out->klarna_reference, "%s", ref);
    snprintf(out->fraud_status, sizeof out->fraud_status, "%s", order_fraud_name(o.st.fraud));
    snprintf(out->category, sizeof out->category, "%s", methods[m].category);
    if (target[0] || spec->always_redirect)
        snprintf(out->redirect_url, sizeof out->redirect_url, "%s/kp/redirect/v1/%s",
                 spec->public_url, o.id);
    return 0;
}

json_t *order_request_from(const json_t *body, struct kerr *err)
{
    json_t *capture = json_object_get(body, "auto_capture");
    if (capture && !json_is_boolean(capture)) {
        kerr_bad_value(err, "auto_capture");
        return NULL;
    }
    json_t *request = session_from_create(body, err);
    if (request && capture && json_object_set(request, "auto_capture", capture) != 0) {
        json_decref(request);
        kerr_internal(err, "out of memory");
        return NULL;
    }
    return request;
}

json_t *order_reply_object(const struct order_made *made)
{
    json_t *o = json_object();
    if (!o || set(o, "order_id", json_string(made->order_id)) ||
        (made->redirect_url[0] && set(o, "redirect_url", json_string(made->redirect_url))) ||
        set(o, "fraud_status", json_string(made->fraud_status)) ||
        set(o, "authorized_payment_method", order_authorized_payment_method(made->category))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- GET /kp/redirect/v1/{order_id}: on to the merchant's confirmation page ---- */

struct redirect_ctx {
    const char *id;
    struct order o;
    int found;
};

static int redirect_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct redirect_ctx *c = arg;
    struct order_row row;
    int rc = store_order_get(tx, 0, c->id, &row);
    if (rc < 0)
        return kerr_internal(err, "order get");
    if (rc == STORE_NOT_FOUND)
        return 0;
    rc = order_from_row(&c->o, &row, err);
    order_row_free(&row);
    if (rc != 0)
        return -1;
    c->found = 1;
    return 0;
}

int payments_order_redirect(struct req *r, struct reply *out, struct kerr *err)
{
    struct redirect_ctx c = {.id = r->params[0]};
    if (!ids_is_uuid(c.id))
        return kerr_set(err, 404, "NOT_FOUND", "No such order");
    if (store_read(r->app->store, redirect_fn, &c, err) != 0)
        return -1;
    if (!c.found)
        return kerr_set(err, 404, "NOT_FOUND", "No such order");
    const char *target = json_string_value(json_object_get(c.o.kasse, "redirect_target"));
    int rc;
    if (!target || !target[0]) {
        /* No confirmation URL (a customer-token charge): a plain page says it is done. */
        static const char done_page[] =
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>Order placed</title></head><body><h1>Order placed</h1>"
            "<p>Your order is placed. You can close this page.</p></body></html>";
        out->raw = done_page;
        out->raw_len = sizeof done_page - 1;
        out->content_type = "text/html; charset=utf-8";
        reply_header(out, "Cache-Control", "no-store");
        rc = 0;
        out->status = 200;
    } else {
        reply_header(out, "Location", target);
        reply_header(out, "Cache-Control", "no-store");
        rc = reply_empty(out, 302);
    }
    order_free(&c.o);
    return rc;
}
