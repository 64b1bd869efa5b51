/* order_row: an order and its stored row (store.h struct order_row), translated in one place.
 *
 * An order is one thing: its state (struct order_state, what core/order.c's rules read and
 * change) and its document (the contract 5.2 object, Kasse's bookkeeping under "_kasse"). The
 * row's columns (status, fraud_status, amounts, expires_at, list_*) are indexes the stores
 * need; they are derived from the state by order_to_row, never set by a handler. The body is
 * the document with the state's fields written in, in the format stored since the first
 * release (so existing databases read the same and older rows keep working):
 *   status (as read at the save), fraud_status, order_amount, captured_amount,
 *   refunded_amount, remaining_authorized_amount, expires_at (ISO 8601) — order_doc_state —
 *   each capture's refunded_amount, and under _kasse: released, fraud_decides_at and
 *   fraud_result (while a review is or was pending).
 * Reading takes the state from the columns and from the body's original_order_amount (written
 * once, when the order is made) and _kasse fields (order_from_row). */
#ifndef KASSE_CORE_ORDER_ROW_H
#define KASSE_CORE_ORDER_ROW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/order.h"
#include "lib/kerr.h"
#include "lib/limits.h"
#include "store/store.h"

struct order {
    char id[37];
    int64_t merchant_id;
    char session_id[37];                 /* "" for customer-token charges */
    struct order_state st;
    json_t *doc;                         /* owned: the order object with "_kasse" */
    json_t *kasse;                       /* doc["_kasse"] (borrowed) */
    json_t *captures;                    /* doc["captures"] (borrowed) */
    struct capture_money caps[LIMIT_OM_CAPTURES];   /* the captures' money, in order */
    size_t n_caps;
};

/* Reads o from row: the state as stored (a pending review is not settled here: a reader at an
 * instant calls order_fraud_settle), the document with "_kasse" and "captures" made present.
 * 0, or -1 with err 500 (a row Kasse cannot read, or no memory); o needs no free then. */
int order_from_row(struct order *o, const struct order_row *row, struct kerr *err);
/* Writes o into row at now: identity, every column from the state (the status o reads as at
 * now, the list's schedule: order_status_schedule) and the body (o->doc with the state's
 * fields written in; row->body malloc'ed, freed by order_row_free). 0, or -1 with err 500
 * (no memory; o->doc may then hold part of the fields). */
int order_to_row(struct order *o, int64_t now, struct order_row *row, struct kerr *err);
void order_free(struct order *o);
/* What Order Management did that the order object does not date (a cancel, a release, an
 * extension, an authorization update) is kept under "_kasse.history" as {type, at, key?:
 * value}. 0, or -1 when memory ran out. */
int order_history_add(struct order *o, const char *event, int64_t at, const char *key,
                      int64_t value);
/* The order's life at now, oldest first: authorized (its original amount), a fraud decision
 * once made, each capture and refund (amount, id), the history, and "expired" at expires_at
 * when it reads EXPIRED: [{type, at, amount?, capture_id? | refund_id?, ...}]. NULL when
 * memory ran out. What the portal draws (GET /kasse/v1/orders/{id}/timeline). */
json_t *order_timeline(const struct order *o, int64_t now);
/* Writes the state's fields a client reads (status and remaining amount as at now, fraud
 * status, amounts, expires_at) into doc: the stored body (order_to_row) or a reply built from
 * it. 0, or -1 when memory ran out. */
int order_doc_state(json_t *doc, const struct order_state *st, int64_t now);

#endif
