/* om_requests: validation of Order Management request bodies (contract 5.3). Pure. */
#ifndef KASSE_CORE_OM_REQUESTS_H
#define KASSE_CORE_OM_REQUESTS_H

#include <jansson.h>

#include "lib/kerr.h"

enum om_request {
    OM_CAPTURE, OM_REFUND, OM_AUTHORIZATION, OM_CUSTOMER_DETAILS, OM_MERCHANT_REFERENCES,
    OM_SHIPPING_INFO, OM_EXTEND_DUE_DATE
};

/* 0, or -1 for the first bad field: 422 UNPROCESSABLE_ENTITY "'<path>' must not be null" when it
 * is a required field that is absent or null, else 400 BAD_VALUE "Bad value: <path>". */
int om_validate(enum om_request kind, const json_t *body, struct kerr *err);
/* Before validation: what Klarna accepts in another form is brought to the stored form
 * (enums in another case → their spelling; shipping_info[].tracking_number sent as a JSON
 * integer → its decimal string). */
void om_normalize(enum om_request kind, json_t *body);

#endif
