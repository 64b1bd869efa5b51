/* order: Order Management's state machine and money rules (contract 5.4, 5.6). Pure: the
 * caller loads the order, calls one of these inside its store transaction, checks
 * order_invariants, and saves. Every amount is int64 minor units, every sum overflow-checked. */
#ifndef KASSE_CORE_ORDER_H
#define KASSE_CORE_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kerr.h"

enum order_status {
    ORDER_AUTHORIZED, ORDER_PART_CAPTURED, ORDER_CAPTURED, ORDER_CANCELLED, ORDER_EXPIRED,
    ORDER_CLOSED
};

enum order_fraud { ORDER_FRAUD_ACCEPTED, ORDER_FRAUD_PENDING, ORDER_FRAUD_REJECTED };

#define ORDER_AUTH_DAYS 28               /* authorization window, and each extension */
#define ORDER_MAX_LIFE_DAYS 180          /* extensions never go past creation + 180 days */
#define ORDER_REJECTED_CAPTURE_HOURS 4   /* a rejected order may be captured this long */
#define ORDER_AMOUNT_MAX 200000000LL     /* captured_amount, refunded_amount, order_amount in
                                            requests (contract 5.3) */

struct order_state {
    enum order_status status;            /* as stored; see order_status_at for the clock */
    enum order_fraud fraud;
    int64_t fraud_decided_at;            /* ms; when REJECTED/ACCEPTED was decided (0: at creation) */
    int64_t order_amount;                /* current authorized total */
    int64_t original_order_amount;
    int64_t captured_amount;
    int64_t refunded_amount;
    bool released;                       /* remaining authorization released */
    int64_t created_at, expires_at;      /* ms, Kasse's clock */
    enum order_fraud fraud_result;       /* PENDING with fraud_decided_at: what the review
                                            decides then (ACCEPTED or REJECTED) */
};

/* One capture's money, for refund allocation and the per-capture invariant. */
struct capture_money {
    int64_t captured_amount;
    int64_t refunded_amount;
};

const char *order_status_name(enum order_status s);            /* "AUTHORIZED", ... */
int order_status_parse(const char *name, enum order_status *out);
const char *order_fraud_name(enum order_fraud f);              /* "ACCEPTED", ... */
int order_fraud_parse(const char *name, enum order_fraud *out);

/* Fraud review (contract 5.6). An order made PENDING is decided at fraud_decided_at with
 * fraud_result; the outbox applies that decision to the stored order (order_fraud_settle in a
 * transaction of its own) and tells the merchant. The one rule for what the review reads as:
 * from fraud_decided_at on, its result, whether or not the outbox has run yet (reads never
 * wait for it); before, and for ACCEPTED or REJECTED, the fraud status as it is. */
enum order_fraud order_fraud_at(const struct order_state *o, int64_t t);
/* Applies that rule to o at t (o->fraud = order_fraud_at(o, t)): true when o changed, i.e. a
 * pending review was decided, so a caller holding the stored order saves it. */
bool order_fraud_settle(struct order_state *o, int64_t t);

/* The status at now: AUTHORIZED or PART_CAPTURED orders at or past expires_at are EXPIRED
 * (CLOSED if everything captured was refunded); a REJECTED order not captured within 4 hours
 * of the decision is CANCELLED (Klarna cancels it); when both deadlines passed, the earlier
 * one decides. Other statuses are returned as stored. */
enum order_status order_status_at(const struct order_state *o, int64_t now);
/* The status as a schedule, for the merchant's order list (the store files each order under
 * it, so the list filters and counts in the store): the status at now, and, when the status
 * will change by itself (expiry, Klarna's cancellation of a rejected order), the instant it
 * does (`until`; INT64_MAX: never) and the status from then on (`after`). A pending review is
 * taken as decided at fraud_decided_at with fraud_result (order_fraud_at), so for every
 * t >= now the status at t is t < until ? status : after — one change at most, since EXPIRED,
 * CLOSED and CANCELLED do not change by themselves. */
struct order_schedule {
    enum order_status status;
    int64_t until;
    enum order_status after;
};
void order_status_schedule(const struct order_state *o, int64_t now, struct order_schedule *out);
/* order_amount − captured_amount, or 0 once released, cancelled, expired or closed. */
int64_t order_remaining(const struct order_state *o, int64_t now);

/* Each operation checks the rule, and on success applies it to o (and to caps). On refusal it
 * returns -1 with Klarna's error (403 CAPTURE_NOT_ALLOWED, REFUND_NOT_ALLOWED,
 * CANCEL_NOT_ALLOWED, NOT_ALLOWED with Klarna's messages, or 400 BAD_VALUE for a bad amount)
 * and leaves o and caps unchanged. Refusals and decisions are listed at the top of order.c.
 * o->status is updated to the stored status after the operation (CLOSED when the money is
 * settled); render order_status_at, never o->status, to a client. */
/* Amount 1..ORDER_AMOUNT_MAX. On success the caller records the new capture
 * ({amount, 0}) at the end of its capture list. */
int order_capture(struct order_state *o, int64_t amount, int64_t now, struct kerr *err);
/* Allocates the refund to captures oldest first (caps in capture order, caps[0] the oldest;
 * each capture's refunded ≤ its captured). Checks order_invariants first: an inconsistent
 * order/caps pair is refused with 500 before anything is written. */
int order_refund(struct order_state *o, struct capture_money *caps, size_t n_caps,
                 int64_t amount, int64_t now, struct kerr *err);
int order_cancel(struct order_state *o, int64_t now, struct kerr *err);
int order_release(struct order_state *o, int64_t now, struct kerr *err);
int order_update_authorization(struct order_state *o, int64_t new_amount, int64_t now,
                               struct kerr *err);
/* expires_at = now + 28 days, capped at created_at + 180 days; never moved backwards (at the
 * cap the call succeeds and changes nothing). */
int order_extend_authorization(struct order_state *o, int64_t now, struct kerr *err);
/* Operations that only need an order that can still change (customer details, merchant
 * references, shipping info, acknowledge): refused for cancelled orders with 403 NOT_ALLOWED
 * "Can not update a cancelled order". what names the operation for the caller's own use;
 * Klarna's message does not vary with it, so it is not part of the error. */
int order_check_updatable(const struct order_state *o, int64_t now, const char *what,
                          struct kerr *err);

/* The money invariants: 0 ≤ captured ≤ order_amount (≤ original or raised amount), refunded
 * ≤ captured, every capture refunded ≤ captured, Σ captures = captured, Σ capture refunds =
 * refunded; and the states that depend on money: CANCELLED has no captures, CLOSED is fully
 * refunded, released has captures. 0 when they hold; -1 (with err 500, the broken invariant
 * named in the log) when not: a bug, never a client error. */
int order_invariants(const struct order_state *o, const struct capture_money *caps,
                     size_t n_caps, struct kerr *err);

#endif
