/* matching: create-order (and customer-token) data must match what was authorized
 * (contract 2.5, 10.5): billing_address, shipping_address and order_lines (an ordered list),
 * plus the amounts and currency. Pure. */
#ifndef KASSE_CORE_MATCHING_H
#define KASSE_CORE_MATCHING_H

#include <jansson.h>

#include "lib/kerr.h"

/* authorized: the snapshot stored at authorization (session fields: purchase_country,
 * purchase_currency, order_amount, order_tax_amount, order_lines, billing_address,
 * shipping_address, customer). request: the create-order body (already schema-valid).
 * 0 when they match; else -1 with err = 409 BAD_VALUE and the message
 * "Not matching fields: [billing_address.postal_code, order_lines[1].quantity]" (the paths of
 * every mismatch, in a stable order), or for a different number of lines
 * "Not matching fields: [Incorrect number of items in the cart. Expected: 2, Actual: 3]". */
int matching_check(const json_t *authorized, const json_t *request, struct kerr *err);

#endif
