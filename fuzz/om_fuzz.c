/* libFuzzer target: Order Management request bodies (core/om_requests) and the order rules
 * (core/order) driven by them. Any JSON is either refused with 400 BAD_VALUE naming a path
 * (or 422 UNPROCESSABLE_ENTITY "'<path>' must not be null" for a missing required field), or
 * accepted; accepted amounts then go through capture/refund/update on a sample order, and the
 * money invariants must hold after every step that succeeds. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/om_requests.h"
#include "core/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    struct order_state o = {.status = ORDER_AUTHORIZED, .fraud = ORDER_FRAUD_ACCEPTED,
                            .order_amount = 8500, .original_order_amount = 8500,
                            .created_at = 1000, .expires_at = 1000 + 28LL * 86400000};
    struct capture_money caps[8];
    size_t n = 0;
    for (int kind = OM_CAPTURE; kind <= OM_EXTEND_DUE_DATE; kind++) {
        struct kerr err = {0};
        if (om_validate((enum om_request)kind, body, &err) != 0) {
            /* 400 "Bad value: <path>", or 422 "'<path>' must not be null" for a missing field */
            size_t len = strlen(err.msg);
            bool bad = err.status == 400 && strncmp(err.msg, "Bad value: ", 11) == 0;
            bool missing = err.status == 422 && strcmp(err.code, "UNPROCESSABLE_ENTITY") == 0 &&
                           err.path[0] && len > 18 && err.msg[0] == '\'' &&
                           strcmp(err.msg + len - 18, "' must not be null") == 0;
            if (!bad && !missing)
                abort();
            continue;
        }
        int rc = 0;
        if (kind == OM_CAPTURE && n < 8) {
            json_int_t a = json_integer_value(json_object_get(body, "captured_amount"));
            rc = order_capture(&o, a, 2000, &err);
            if (rc == 0)
                caps[n++] = (struct capture_money){.captured_amount = a};
        } else if (kind == OM_REFUND) {
            rc = order_refund(&o, caps, n,
                              json_integer_value(json_object_get(body, "refunded_amount")), 3000,
                              &err);
        } else if (kind == OM_AUTHORIZATION) {
            rc = order_update_authorization(
                &o, json_integer_value(json_object_get(body, "order_amount")), 4000, &err);
        }
        if (rc == 0 && order_invariants(&o, caps, n, &err) != 0)
            abort();
        if (rc != 0 && err.status >= 500)
            abort();
    }
    json_decref(body);
    return 0;
}
