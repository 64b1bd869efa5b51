/* customer_token: the Customer Token API (contract 3): read a token, charge it without the
 * shopper, cancel it. Charges are validated like a session cart and make orders through
 * api/orders.c; a cancelled token refuses charges with Klarna's token error codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/orders.h"
#include "core/decision.h"
#include "core/session.h"
#include "lib/ids.h"
#include "lib/jsonp.h"
#include "lib/limits.h"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Klarna's answer for an unknown customer token, on every operation (recorded traffic). */
static int token_not_found(struct kerr *err)
{
    return kerr_set(err, 404, "TOKEN_NOT_FOUND", "Customer token not found");
}

/* Loads a token inside a transaction (merchant scoped); missing → 404 TOKEN_NOT_FOUND. */
static int load_token(struct store_tx *tx, int64_t merchant, const char *id,
                      struct ctoken_row *row, json_t **body, struct kerr *err)
{
    if (!ids_is_uuid(id))
        return token_not_found(err);
    int rc = store_ctoken_get(tx, merchant, id, row);
    if (rc < 0)
        return kerr_internal(err, "customer token get");
    if (rc == STORE_NOT_FOUND)
        return token_not_found(err);
    *body = jsonp_parse(row->body, strlen(row->body), LIMIT_JSON_DEPTH, NULL, 0);
    if (!json_is_object(*body)) {
        json_decref(*body);
        ctoken_row_free(row);
        return kerr_internal(err, "stored customer token is not an object");
    }
    return 0;
}

/* ---- GET /customer-token/v1/tokens/{id} ---- */

struct read_ctx {
    struct req *r;
    json_t *reply;
};

static int read_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct read_ctx *c = arg;
    struct ctoken_row row;
    json_t *body;
    if (load_token(tx, c->r->merchant.id, c->r->params[0], &row, &body, err) != 0)
        return -1;
    c->reply = json_pack("{s:s, s:s}", "status", row.status, "payment_method_type",
                         str(body, "payment_method_type") ? str(body, "payment_method_type")
                                                          : "INVOICE");
    json_decref(body);
    ctoken_row_free(&row);
    return c->reply ? 0 : kerr_internal(err, "out of memory");
}

int ctoken_read(struct req *r, struct reply *out, struct kerr *err)
{
    struct read_ctx c = {.r = r};
    if (store_read(r->app->store, read_fn, &c, err) != 0)
        return -1;
    return reply_json(out, 200, c.reply, err);
}

/* ---- POST /customer-token/v1/tokens/{id}/order ---- */

struct charge_ctx {
    struct req *r;
    json_t *request;
    struct order_made made;
};

static int charge_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct charge_ctx *c = arg;
    struct req *r = c->r;
    struct ctoken_row row;
    json_t *token;
    if (load_token(tx, r->merchant.id, r->params[0], &row, &token, err) != 0)
        return -1;
    int rc = -1;
    if (strcmp(row.status, "ACTIVE") != 0) {
        kerr_set(err, 403, "TOKEN_CANCELED", "The customer token has been cancelled");
        goto done;
    }
    if (strcasecmp(str(c->request, "purchase_currency"), str(token, "purchase_currency")) != 0) {
        kerr_set(err, 403, "UNAVAILABLE_PAYMENT_METHOD",
                 "The payment method is not available for this currency");
        goto done;
    }
    /* A charge is decided like an authorization, without a shopper: a token made with a
     * "+denied" identity fails the way Klarna fails a declined charge. */
    const char *email = str(json_object_get(token, "billing_address"), "email");
    if (!email)
        email = str(token, "email");
    if (email) {
        struct decision_input in = {.email = email, .signup_done = true};
        struct decision d;
        struct kerr ignored;
        if (decision_make(&in, &d, &ignored) == 0 && d.outcome != DECISION_APPROVED) {
            kerr_set(err, 403, "PAYMENT_METHOD_FAILED", "The payment method was declined");
            goto done;
        }
    }
    struct order_spec spec = {
        .merchant = &r->merchant,
        .public_url = r->app->public_url,
        .session_id = "",
        .request = c->request,
        .authorized = token,
        .category = str(token, "payment_method_category"),
        .fraud = ORDER_FRAUD_ACCEPTED,
        .now_ms = r->received_ms,
        .always_redirect = true,
    };
    rc = order_create(tx, &spec, &c->made, err);
done:
    json_decref(token);
    ctoken_row_free(&row);
    return rc;
}

static int charge_reply(void *arg, struct reply *out, struct kerr *err)
{
    struct charge_ctx *c = arg;
    return reply_json(out, 200, order_reply_object(&c->made), err);
}

/* customer_token_order (contract 3.3): a cart in the token's market, validated by the session
 * rules; order_amount must be at least 1. */
struct country_ctx {
    struct req *r;
    char country[3];
    char currency[4];
};

static int country_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct country_ctx *c = arg;
    struct ctoken_row row;
    json_t *token;
    if (load_token(tx, c->r->merchant.id, c->r->params[0], &row, &token, err) != 0)
        return -1;
    snprintf(c->country, sizeof c->country, "%s",
             str(token, "purchase_country") ? str(token, "purchase_country") : "");
    snprintf(c->currency, sizeof c->currency, "%s",
             str(token, "purchase_currency") ? str(token, "purchase_currency") : "");
    json_decref(token);
    ctoken_row_free(&row);
    return 0;
}

int ctoken_create_order(struct req *r, struct reply *out, struct kerr *err)
{
    struct country_ctx cc = {.r = r};
    if (store_read(r->app->store, country_fn, &cc, err) != 0)
        return -1;
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    /* A currency the token's payment method does not take is Klarna's 403, not a bad value. */
    const char *currency = str(body, "purchase_currency");
    if (currency && strcasecmp(currency, cc.currency) != 0) {
        json_decref(body);
        return kerr_set(err, 403, "UNAVAILABLE_PAYMENT_METHOD",
                        "The payment method is not available for this currency");
    }
    json_t *amount = json_object_get(body, "order_amount");
    if (json_is_integer(amount) && json_integer_value(amount) < 1) {
        json_decref(body);
        return kerr_bad_value(err, "order_amount");
    }
    if (!json_object_get(body, "purchase_country"))
        json_object_set_new(body, "purchase_country", json_string(cc.country));
    json_t *request = order_request_from(body, err);
    json_decref(body);
    if (!request)
        return -1;
    struct charge_ctx c = {.r = r, .request = request};
    int rc = api_write(r, charge_fn, &c, charge_reply, out, err);
    json_decref(request);
    return rc;
}

/* ---- PATCH /customer-token/v1/tokens/{id}/status ---- */

struct status_ctx {
    struct req *r;
};

static int status_fn(struct store_tx *tx, void *arg, struct kerr *err)
{
    struct status_ctx *c = arg;
    struct ctoken_row row;
    json_t *token;
    if (load_token(tx, c->r->merchant.id, c->r->params[0], &row, &token, err) != 0)
        return -1;
    int rc = store_ctoken_set_status(tx, c->r->merchant.id, row.id, "CANCELLED");
    json_decref(token);
    ctoken_row_free(&row);
    return rc == 0 ? 0 : kerr_internal(err, "customer token update");
}

int ctoken_update_status(struct req *r, struct reply *out, struct kerr *err)
{
    json_t *body = req_json_body(r, err);
    if (!body)
        return -1;
    const char *status = str(body, "status");
    /* Cancellation is the only change a merchant can make, and it is final. */
    int ok = status && strcasecmp(status, "CANCELLED") == 0;
    json_decref(body);
    if (!ok)
        return kerr_bad_value(err, "status");
    struct status_ctx c = {.r = r};
    return api_write(r, status_fn, &c, reply_accepted, out, err);
}
