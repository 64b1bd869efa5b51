/* orders: building order records (api/orders.c), shared by session create-order and
 * customer-token charges. */
#ifndef KASSE_API_ORDERS_H
#define KASSE_API_ORDERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/order.h"
#include "http/http.h"

struct order_spec {
    const struct merchant *merchant;
    const char *public_url;
    const char *session_id;        /* "" for customer-token charges */
    const json_t *request;         /* the validated cart and order fields */
    const json_t *authorized;      /* the authorized snapshot (addresses, customer, urls) */
    const char *category;          /* payment method category */
    enum order_fraud fraud;        /* ACCEPTED or PENDING */
    int64_t fraud_decides_at;      /* PENDING: when the review ends (ms), else 0 */
    enum order_fraud fraud_result; /* PENDING: ACCEPTED or REJECTED */
    int64_t now_ms;
    bool always_redirect;          /* customer-token orders: redirect_url is required there */
};

struct order_made {
    char order_id[37];
    char klarna_reference[16];
    char fraud_status[16];
    char category[32];
    char redirect_url[512];        /* "" when no confirmation URL was given */
};

int order_create(struct store_tx *tx, const struct order_spec *spec, struct order_made *out,
                 struct kerr *err);
/* A create-order or token-charge body as an order request: the cart validated with the session
 * rules (400 Bad value: <path>), auto_capture (a boolean) carried along. NULL with err. */
json_t *order_request_from(const json_t *body, struct kerr *err);
/* {order_id, redirect_url?, fraud_status, authorized_payment_method} */
json_t *order_reply_object(const struct order_made *made);
json_t *order_authorized_payment_method(const char *category);
/* A KP merchant URL with {session.id} and {order.id} replaced (contract 2.8). */
void order_url_fill(const char *url, const char *session_id, const char *order_id, char *out,
                    size_t cap);
/* Order Management's payment method type for a category ("INVOICE", "FIXED_AMOUNT", ...). */
const char *order_om_payment_type(const char *category);

#endif
