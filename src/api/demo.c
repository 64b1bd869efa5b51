/* demo: the demo shop's server side (docs/portal.md). It is the signed-in merchant's backend,
 * written the way Klarna's guides tell a merchant to write one: the browser sends what it
 * wants to buy; prices, the cart and every Klarna call are the server's. Its calls go through
 * http_call, so they take the same router, validation, handlers, idempotency and request log
 * as a merchant server's HTTP calls, as this merchant. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "lib/ids.h"

struct product {
    const char *sku, *name;
    int64_t unit_price;         /* minor units, tax included */
    int tax_rate;               /* 2500 = 25 % */
};

/* Prices divisible by 5, so 25 % VAT included is an exact number of öre. */
static const struct product catalog[] = {
    {"KASSE-MUG", "Kasse mug", 12500, 2500},
    {"TOTE-BAG", "Tote bag", 25000, 2500},
    {"STICKERS", "Sticker pack", 5000, 2500},
    {"NOTEBOOK", "Dotted notebook", 17500, 2500},
};
#define CATALOG_N (sizeof catalog / sizeof catalog[0])
#define DEMO_QTY_MAX 99

static const struct product *product_of(const char *sku)
{
    for (size_t i = 0; sku && i < CATALOG_N; i++)
        if (strcmp(catalog[i].sku, sku) == 0)
            return &catalog[i];
    return NULL;
}

int demo_catalog(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *products = json_array();
    for (size_t i = 0; products && i < CATALOG_N; i++)
        if (json_array_append_new(products, json_pack("{s:s, s:s, s:I, s:i}", "sku",
                                                      catalog[i].sku, "name", catalog[i].name,
                                                      "unit_price",
                                                      (json_int_t)catalog[i].unit_price,
                                                      "tax_rate", catalog[i].tax_rate)) != 0)
            json_decref(products), products = NULL;
    (void)r;
    return reply_json(out, 200,
                      json_pack("{s:o*, s:s, s:s, s:s}", "products", products,
                                "purchase_country", "SE", "purchase_currency", "SEK", "locale",
                                "sv-SE"),
                      err);
}

/* The cart for {"items": [{"sku", "quantity"}]}: a Klarna session request (contract 2.2), or
 * NULL with err (400 with the field's path). */
static json_t *cart_request(const json_t *body, struct kerr *err)
{
    const json_t *items = json_object_get(body, "items");
    if (!json_is_array(items) || json_array_size(items) == 0 ||
        json_array_size(items) > CATALOG_N) {
        kerr_bad_value(err, "items");
        return NULL;
    }
    json_t *lines = json_array();
    int64_t amount = 0, tax = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item) {
        char path[32];
        const json_t *q = json_object_get(item, "quantity");
        const struct product *p = product_of(json_string_value(json_object_get(item, "sku")));
        if (!p || !json_is_integer(q) || json_integer_value(q) < 1 ||
            json_integer_value(q) > DEMO_QTY_MAX) {
            snprintf(path, sizeof path, "items[%zu]", i);
            json_decref(lines);
            kerr_bad_value(err, path);
            return NULL;
        }
        int64_t qty = json_integer_value(q), total = qty * p->unit_price;
        int64_t line_tax = total - total * 10000 / (10000 + p->tax_rate);
        amount += total;
        tax += line_tax;
        if (!lines || json_array_append_new(
                          lines, json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:i, s:I, s:I, s:I}",
                                           "type", "physical", "reference", p->sku, "name",
                                           p->name, "quantity", (json_int_t)qty,
                                           "quantity_unit", "pcs", "unit_price",
                                           (json_int_t)p->unit_price, "tax_rate", p->tax_rate,
                                           "total_amount", (json_int_t)total,
                                           "total_discount_amount", (json_int_t)0,
                                           "total_tax_amount", (json_int_t)line_tax)) != 0) {
            json_decref(lines);
            kerr_internal(err, "out of memory");
            return NULL;
        }
    }
    json_t *req = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "purchase_country", "SE",
                            "purchase_currency", "SEK", "locale", "sv-SE", "order_amount",
                            (json_int_t)amount, "order_tax_amount", (json_int_t)tax,
                            "order_lines", lines);
    if (!req)
        kerr_internal(err, "out of memory");
    return req;
}

/* A call's reply to the browser: a 2xx result through keep (a new object), or the call's own
 * status and envelope as they were. */
static int relay(struct reply *out, int status, json_t *reply, json_t *kept, struct kerr *err)
{
    if (status >= 200 && status < 300) {
        json_decref(reply);
        return reply_json(out, 200, kept, err);
    }
    json_decref(kept);
    if (!reply)
        return kerr_internal(err, "demo: empty error reply");
    out->status = status;
    out->json = reply;
    return 0;
}

static json_t *pick(const json_t *from, const char *const *keys, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v && json_object_set(o, keys[i], v) != 0)
            json_decref(o), o = NULL;
    }
    return o;
}

/* Creates the KP session for the body's items: *status and *reply as http_call gives them. */
static int create_session(struct req *r, const json_t *body, int *status, json_t **reply,
                          json_t **cart, struct kerr *err)
{
    *cart = cart_request(body, err);
    if (!*cart)
        return -1;
    return http_call(r, "POST", "/payments/v1/sessions", *cart, status, reply, err);
}

/* POST /demo/api/checkout {"items"} → the KP session the browser's SDK needs */
int demo_checkout(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    int status;
    json_t *reply = NULL, *cart = NULL;
    int rc = create_session(r, body, &status, &reply, &cart, err);
    json_decref(body);
    if (rc != 0) {
        json_decref(cart);
        return -1;
    }
    static const char *const keys[] = {"session_id", "client_token",
                                       "payment_method_categories"};
    json_t *kept = pick(reply, keys, 3);
    if (kept && (json_object_set(kept, "order_amount", json_object_get(cart, "order_amount")) ||
                 json_object_set(kept, "order_lines", json_object_get(cart, "order_lines"))))
        json_decref(kept), kept = NULL;
    json_decref(cart);
    if (!kept && status >= 200 && status < 300) {
        json_decref(reply);
        return kerr_internal(err, "out of memory");
    }
    return relay(out, status, reply, kept, err);
}

/* POST /demo/api/orders {"session_id", "authorization_token"}: the order, on the cart the
 * session holds (the server's own record of what is being bought). */
int demo_order(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    const char *sid = json_string_value(json_object_get(body, "session_id"));
    const char *token = json_string_value(json_object_get(body, "authorization_token"));
    int rc = 0;
    if (!sid || !ids_is_uuid(sid))
        rc = kerr_bad_value(err, "session_id");
    else if (!token || !ids_is_uuid(token))
        rc = kerr_bad_value(err, "authorization_token");
    char path[128];
    int status = 0;
    json_t *session = NULL, *reply = NULL;
    if (rc == 0) {
        snprintf(path, sizeof path, "/payments/v1/sessions/%s", sid);
        rc = http_call(r, "GET", path, NULL, &status, &session, err);
    }
    if (rc == 0 && (status < 200 || status >= 300)) {
        json_decref(body);
        return relay(out, status, session, NULL, err);
    }
    json_t *order = NULL;
    if (rc == 0) {
        static const char *const keys[] = {"purchase_country", "purchase_currency", "locale",
                                           "order_amount", "order_tax_amount", "order_lines"};
        order = pick(session, keys, 6);
        char ref[16] = "DEMO-", confirmation[384];
        snprintf(confirmation, sizeof confirmation, "%s/demo/?order_id={order.id}",
                 r->app->public_url);
        if (!order || ids_upper_alnum(ref + 5, 8) != 0 ||
            json_object_set_new(order, "merchant_reference1", json_string(ref)) ||
            json_object_set_new(order, "merchant_urls",
                                json_pack("{s:s}", "confirmation", confirmation)))
            rc = kerr_internal(err, "out of memory");
    }
    json_decref(session);
    if (rc == 0) {
        snprintf(path, sizeof path, "/payments/v1/authorizations/%s/order", token);
        rc = http_call(r, "POST", path, order, &status, &reply, err);
    }
    json_decref(order);
    json_decref(body);
    if (rc != 0)
        return -1;
    static const char *const keys[] = {"order_id", "redirect_url", "fraud_status"};
    return relay(out, status, reply, pick(reply, keys, 3), err);
}

/* POST /demo/api/hpp {"items"}: a KP session and a hosted page on it that comes back here */
int demo_hpp(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    int status;
    json_t *kp = NULL, *cart = NULL;
    int rc = create_session(r, body, &status, &kp, &cart, err);
    json_decref(body);
    json_decref(cart);
    if (rc != 0)
        return -1;
    if (status < 200 || status >= 300)
        return relay(out, status, kp, NULL, err);
    const char *pub = r->app->public_url;
    char session_url[384], urls[5][384];
    static const char *const pages[5] = {"success", "failure", "cancel", "back", "error"};
    snprintf(session_url, sizeof session_url, "%s/payments/v1/sessions/%s", pub,
             json_string_value(json_object_get(kp, "session_id")));
    for (int i = 0; i < 5; i++)
        snprintf(urls[i], sizeof urls[i], "%s/demo/?hpp=%s&sid={{session_id}}%s", pub, pages[i],
                 i == 0 ? "&order_id={{order_id}}" : "");
    json_decref(kp);
    json_t *hpp = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s}}", "payment_session_url",
                            session_url, "merchant_urls", "success", urls[0], "failure",
                            urls[1], "cancel", urls[2], "back", urls[3], "error", urls[4],
                            "options", "place_order_mode", "PLACE_ORDER");
    if (!hpp)
        return kerr_internal(err, "out of memory");
    json_t *reply = NULL;
    rc = http_call(r, "POST", "/hpp/v1/sessions", hpp, &status, &reply, err);
    json_decref(hpp);
    if (rc != 0)
        return -1;
    static const char *const keys[] = {"session_id", "redirect_url"};
    return relay(out, status, reply, pick(reply, keys, 2), err);
}
