/* test_order: Order Management's state machine and money rules (core/order). One table per
 * operation, each row a rule with both sides of its boundary (remaining exactly and one more,
 * the expiry instant, 4 h after a fraud rejection, the 180-day cap); every refusal is checked
 * to leave the order and its captures untouched; the money invariants are broken one at a time
 * and the log must name the broken one; a fixed-seed property loop runs 10,000 random
 * operation sequences and checks the invariants after every successful operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/order.h"

#define HOUR (3600 * 1000LL)
#define DAY  (24 * HOUR)
#define T0   1700000000000LL   /* created_at, ms */
#define EXP0 (T0 + 28 * DAY)   /* expires_at at creation */
#define DEC  (T0 + HOUR)       /* fraud_decided_at */
#define NOW  (T0 + DAY)        /* an ordinary instant: not expired, decision + 23 h */
#define CUT  (DEC + 4 * HOUR)  /* Klarna cancels an uncaptured REJECTED order here */

#define AUTH ORDER_AUTHORIZED
#define PART ORDER_PART_CAPTURED
#define CAPT ORDER_CAPTURED
#define CANC ORDER_CANCELLED
#define EXPD ORDER_EXPIRED
#define CLSD ORDER_CLOSED
#define ACC  ORDER_FRAUD_ACCEPTED
#define PEN  ORDER_FRAUD_PENDING
#define REJ  ORDER_FRAUD_REJECTED

/* An order created at T0 for 1000, expiring at EXP0, fraud decided at DEC. */
#define ORD(st, fr, amount, captured, refunded, rel)                                          \
    { .status = (st), .fraud = (fr), .fraud_decided_at = DEC, .order_amount = (amount),       \
      .original_order_amount = 1000, .captured_amount = (captured),                           \
      .refunded_amount = (refunded), .released = (rel), .created_at = T0, .expires_at = EXP0 }

#define NCAPS(a) (sizeof(a) / sizeof((a)[0]))

/* The first field where a and b differ, NULL when none. */
static const char *order_diff(const struct order_state *a, const struct order_state *b)
{
    if (a->status != b->status)
        return "status";
    if (a->fraud != b->fraud)
        return "fraud";
    if (a->fraud_decided_at != b->fraud_decided_at)
        return "fraud_decided_at";
    if (a->order_amount != b->order_amount)
        return "order_amount";
    if (a->original_order_amount != b->original_order_amount)
        return "original_order_amount";
    if (a->captured_amount != b->captured_amount)
        return "captured_amount";
    if (a->refunded_amount != b->refunded_amount)
        return "refunded_amount";
    if (a->released != b->released)
        return "released";
    if (a->created_at != b->created_at)
        return "created_at";
    if (a->expires_at != b->expires_at)
        return "expires_at";
    return NULL;
}

static bool caps_equal(const struct capture_money *a, const struct capture_money *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].captured_amount != b[i].captured_amount ||
            a[i].refunded_amount != b[i].refunded_amount)
            return false;
    return true;
}

/* The log goes to stderr: tests that provoke a 500 send it to a temporary file and read it
 * back, to check the detail and keep the test output clean. */
struct logcap {
    FILE *tmp;
    int saved;
};

static struct logcap log_begin(void)
{
    struct logcap c;
    fflush(stderr);
    c.tmp = tmpfile();
    assert_non_null(c.tmp);
    c.saved = dup(2);
    assert_true(c.saved >= 0);
    assert_true(dup2(fileno(c.tmp), 2) >= 0);
    return c;
}

static void log_end(struct logcap c, char *log, size_t log_size)
{
    fflush(stderr);
    assert_true(dup2(c.saved, 2) >= 0);
    close(c.saved);
    rewind(c.tmp);
    size_t k = fread(log, 1, log_size - 1, c.tmp);
    log[k] = '\0';
    fclose(c.tmp);
}

static int invariants_logged(const struct order_state *o, const struct capture_money *caps,
                             size_t n, struct kerr *err, char *log, size_t log_size)
{
    struct logcap c = log_begin();
    int rc = order_invariants(o, caps, n, err);
    log_end(c, log, log_size);
    return rc;
}

/* ---- operations through one table ---------------------------------------------------- */

enum op { OP_CAPTURE, OP_REFUND, OP_CANCEL, OP_RELEASE, OP_UPDATE, OP_EXTEND, OP_UPDATABLE };

struct ocase {
    const char *rule;
    struct order_state o;
    int64_t now;
    enum op op;
    int64_t amount;
    int status; /* 0: success, o becomes want */
    const char *code, *msg;
    struct order_state want;
};

static int apply(enum op op, struct order_state *o, struct capture_money *caps, size_t n,
                 int64_t amount, int64_t now, struct kerr *err)
{
    switch (op) {
    case OP_CAPTURE:
        return order_capture(o, amount, now, err);
    case OP_REFUND:
        return order_refund(o, caps, n, amount, now, err);
    case OP_CANCEL:
        return order_cancel(o, now, err);
    case OP_RELEASE:
        return order_release(o, now, err);
    case OP_UPDATE:
        return order_update_authorization(o, amount, now, err);
    case OP_EXTEND:
        return order_extend_authorization(o, now, err);
    case OP_UPDATABLE:
    default:
        return order_check_updatable(o, now, "Merchant references", err);
    }
}

/* Each case's order has one capture holding all of its captured and refunded money; a
 * successful capture appends the second, as the caller does. */
static void run_cases(const struct ocase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct order_state o = c[i].o;
        struct capture_money caps[2] = { { c[i].o.captured_amount, c[i].o.refunded_amount },
                                         { 0, 0 } };
        size_t n_caps = c[i].o.captured_amount > 0 ? 1 : 0;
        struct kerr err;
        kerr_clear(&err);
        int rc = apply(c[i].op, &o, caps, n_caps, c[i].amount, c[i].now, &err);
        if (c[i].status == 0) {
            if (rc != 0)
                fail_msg("case %zu (%s): refused %d %s \"%s\"", i, c[i].rule, err.status,
                         err.code, err.msg);
            const char *d = order_diff(&o, &c[i].want);
            if (d)
                fail_msg("case %zu (%s): %s differs from the expected result", i, c[i].rule, d);
            if (c[i].op == OP_CAPTURE)
                caps[n_caps++] = (struct capture_money){ c[i].amount, 0 };
            if (order_invariants(&o, caps, n_caps, &err) != 0)
                fail_msg("case %zu (%s): invariants broken after success", i, c[i].rule);
            continue;
        }
        if (rc != -1)
            fail_msg("case %zu (%s): accepted, expected %d \"%s\"", i, c[i].rule, c[i].status,
                     c[i].msg);
        if (err.status != c[i].status || strcmp(err.code, c[i].code) != 0 ||
            strcmp(err.msg, c[i].msg) != 0)
            fail_msg("case %zu (%s): got %d %s \"%s\", expected %d %s \"%s\"", i, c[i].rule,
                     err.status, err.code, err.msg, c[i].status, c[i].code, c[i].msg);
        if (c[i].status == 403)
            assert_string_equal(err.path, "");
        const char *d = order_diff(&o, &c[i].o);
        if (d)
            fail_msg("case %zu (%s): refusal changed %s", i, c[i].rule, d);
        if (caps[0].captured_amount != c[i].o.captured_amount ||
            caps[0].refunded_amount != c[i].o.refunded_amount)
            fail_msg("case %zu (%s): refusal changed the captures", i, c[i].rule);
    }
}

#define CNA "CAPTURE_NOT_ALLOWED"
#define RNA "REFUND_NOT_ALLOWED"
#define XNA "CANCEL_NOT_ALLOWED"
#define NA  "NOT_ALLOWED"
#define BV  "BAD_VALUE"
#define OK(...) 0, "", "", ORD(__VA_ARGS__)
#define NO(st, code, msg) st, code, msg, ORD(AUTH, ACC, 0, 0, 0, false)

/* ---- names ----------------------------------------------------------------------------- */

static void rule_status_and_fraud_names_round_trip(void **state)
{
    (void)state;
    static const char *const st[] = { "AUTHORIZED", "PART_CAPTURED", "CAPTURED",
                                      "CANCELLED",  "EXPIRED",       "CLOSED" };
    for (size_t i = 0; i < NCAPS(st); i++) {
        enum order_status s = AUTH;
        assert_string_equal(order_status_name((enum order_status)i), st[i]);
        assert_int_equal(order_status_parse(st[i], &s), 0);
        assert_int_equal(s, i);
    }
    static const char *const fr[] = { "ACCEPTED", "PENDING", "REJECTED" };
    for (size_t i = 0; i < NCAPS(fr); i++) {
        enum order_fraud f = ACC;
        assert_string_equal(order_fraud_name((enum order_fraud)i), fr[i]);
        assert_int_equal(order_fraud_parse(fr[i], &f), 0);
        assert_int_equal(f, i);
    }
    static const char *const bad[] = { "", "authorized", "AUTHORIZED ", "PART-CAPTURED",
                                       "ACCEPTED", NULL };
    for (size_t i = 0; i < NCAPS(bad); i++) {
        enum order_status s = CLSD;
        assert_int_equal(order_status_parse(bad[i], &s), -1);
        assert_int_equal(s, CLSD); /* untouched */
    }
    enum order_fraud f = REJ;
    assert_int_equal(order_fraud_parse("accepted", &f), -1);
    assert_int_equal(order_fraud_parse("AUTHORIZED", &f), -1);
    assert_int_equal(order_fraud_parse(NULL, &f), -1);
    assert_int_equal(f, REJ);
    assert_string_equal(order_status_name((enum order_status)99), "UNKNOWN");
    assert_string_equal(order_fraud_name((enum order_fraud)99), "UNKNOWN");
}

/* ---- status at an instant ---------------------------------------------------------------- */

struct scase {
    const char *rule;
    struct order_state o;
    int64_t now;
    enum order_status want;
    int64_t want_remaining;
};

static void run_status(const struct scase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enum order_status s = order_status_at(&c[i].o, c[i].now);
        int64_t r = order_remaining(&c[i].o, c[i].now);
        if (s != c[i].want || r != c[i].want_remaining)
            fail_msg("case %zu (%s): %s remaining %lld, expected %s remaining %lld", i,
                     c[i].rule, order_status_name(s), (long long)r,
                     order_status_name(c[i].want), (long long)c[i].want_remaining);
    }
}

/* Capturable while now < expires_at; from expires_at on AUTHORIZED and PART_CAPTURED are
 * EXPIRED (CLOSED when fully refunded); other statuses do not expire. */
static void rule_status_expired_from_expires_at(void **state)
{
    (void)state;
    static const struct scase c[] = {
        { "authorized, 1 ms before", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0 - 1, AUTH, 1000 },
        { "authorized, at the instant", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, EXPD, 0 },
        { "authorized, long after", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0 + 90 * DAY, EXPD, 0 },
        { "part captured, 1 ms before", ORD(PART, ACC, 1000, 400, 0, false), EXP0 - 1, PART, 600 },
        { "part captured, at the instant", ORD(PART, ACC, 1000, 400, 0, false), EXP0, EXPD, 0 },
        { "part captured, partly refunded", ORD(PART, ACC, 1000, 400, 399, false), EXP0, EXPD, 0 },
        { "part captured, fully refunded: closed", ORD(PART, ACC, 1000, 400, 400, false), EXP0,
          CLSD, 0 },
        { "fully refunded, not yet expired", ORD(PART, ACC, 1000, 400, 400, false), EXP0 - 1,
          PART, 600 },
        { "captured does not expire", ORD(CAPT, ACC, 1000, 1000, 0, false), EXP0, CAPT, 0 },
        { "released does not expire", ORD(CAPT, ACC, 1000, 400, 0, true), EXP0, CAPT, 0 },
        { "cancelled stays cancelled", ORD(CANC, ACC, 1000, 0, 0, false), EXP0, CANC, 0 },
        { "closed stays closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), EXP0, CLSD, 0 },
        { "stored expired", ORD(EXPD, ACC, 1000, 0, 0, false), NOW, EXPD, 0 },
        { "pending expires too", ORD(AUTH, PEN, 1000, 0, 0, false), EXP0, EXPD, 0 },
    };
    run_status(c, NCAPS(c));
}

/* A REJECTED order not captured by fraud_decided_at + 4 h is CANCELLED from that instant. */
static void rule_status_rejected_uncaptured_cancelled_after_4_hours(void **state)
{
    (void)state;
    static const struct scase c[] = {
        { "rejected, at the decision", ORD(AUTH, REJ, 1000, 0, 0, false), DEC, AUTH, 1000 },
        { "rejected, 1 ms before 4 h", ORD(AUTH, REJ, 1000, 0, 0, false), CUT - 1, AUTH, 1000 },
        { "rejected, at 4 h", ORD(AUTH, REJ, 1000, 0, 0, false), CUT, CANC, 0 },
        { "rejected, a day later", ORD(AUTH, REJ, 1000, 0, 0, false), CUT + DAY, CANC, 0 },
        { "rejected but captured", ORD(PART, REJ, 1000, 100, 0, false), CUT, PART, 900 },
        { "rejected, captured in full", ORD(CAPT, REJ, 1000, 1000, 0, false), CUT, CAPT, 0 },
        { "accepted is never cancelled", ORD(AUTH, ACC, 1000, 0, 0, false), CUT, AUTH, 1000 },
        { "pending is never cancelled", ORD(AUTH, PEN, 1000, 0, 0, false), CUT, AUTH, 1000 },
    };
    run_status(c, NCAPS(c));
}

/* Both deadlines passed: the earlier one decides; a tie is CANCELLED. */
static void rule_status_earlier_deadline_wins(void **state)
{
    (void)state;
    struct order_state o = ORD(AUTH, REJ, 1000, 0, 0, false);
    o.expires_at = CUT - 1; /* expired first */
    assert_int_equal(order_status_at(&o, CUT - 1), EXPD);
    assert_int_equal(order_status_at(&o, CUT), EXPD);
    o.expires_at = CUT; /* same instant */
    assert_int_equal(order_status_at(&o, CUT - 1), AUTH);
    assert_int_equal(order_status_at(&o, CUT), CANC);
    o.expires_at = CUT + 1; /* cancelled first */
    assert_int_equal(order_status_at(&o, CUT), CANC);
    assert_int_equal(order_status_at(&o, CUT + 1), CANC);
    /* the decision time saturates instead of overflowing: never cancelled */
    o.fraud_decided_at = INT64_MAX - 1;
    o.expires_at = INT64_MAX;
    assert_int_equal(order_status_at(&o, INT64_MAX - 1), AUTH);
}

/* remaining = order_amount − captured, 0 once released / cancelled / expired / closed. */
static void rule_remaining_is_uncaptured_authorization(void **state)
{
    (void)state;
    static const struct scase c[] = {
        { "authorized", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, AUTH, 1000 },
        { "part captured", ORD(PART, ACC, 1000, 300, 0, false), NOW, PART, 700 },
        { "refunds do not restore it", ORD(PART, ACC, 1000, 300, 300, false), NOW, PART, 700 },
        { "captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, CAPT, 0 },
        { "released", ORD(CAPT, ACC, 1000, 300, 0, true), NOW, CAPT, 0 },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, CANC, 0 },
        { "expired", ORD(PART, ACC, 1000, 300, 0, false), EXP0, EXPD, 0 },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, CLSD, 0 },
        { "authorized for 0", ORD(AUTH, ACC, 0, 0, 0, false), NOW, AUTH, 0 },
        { "broken: captured > amount", ORD(PART, ACC, 100, 300, 0, false), NOW, PART, 0 },
        { "broken: difference overflows", ORD(PART, ACC, INT64_MIN, 1, 0, false), NOW, PART, 0 },
        { "largest", ORD(AUTH, ACC, INT64_MAX, 0, 0, false), NOW, AUTH, INT64_MAX },
    };
    run_status(c, NCAPS(c));
}

/* ---- capture ------------------------------------------------------------------------------ */

static void rule_capture_amount_is_1_to_200000000(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "0", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 0,
          NO(400, BV, "Bad value: captured_amount") },
        { "-1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, -1,
          NO(400, BV, "Bad value: captured_amount") },
        { "INT64_MIN", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, INT64_MIN,
          NO(400, BV, "Bad value: captured_amount") },
        { "limit + 1, though within remaining", ORD(AUTH, ACC, 300000000, 0, 0, false), NOW,
          OP_CAPTURE, ORDER_AMOUNT_MAX + 1, NO(400, BV, "Bad value: captured_amount") },
        { "INT64_MAX", ORD(AUTH, ACC, INT64_MAX, 0, 0, false), NOW, OP_CAPTURE, INT64_MAX,
          NO(400, BV, "Bad value: captured_amount") },
        { "bad value before state: cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW,
          OP_CAPTURE, 0, NO(400, BV, "Bad value: captured_amount") },
        { "1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1,
          OK(PART, ACC, 1000, 1, 0, false) },
        { "the limit", ORD(AUTH, ACC, 300000000, 0, 0, false), NOW, OP_CAPTURE, ORDER_AMOUNT_MAX,
          OK(PART, ACC, 300000000, ORDER_AMOUNT_MAX, 0, false) },
    };
    assert_int_equal(ORDER_AMOUNT_MAX, 200000000);
    run_cases(c, NCAPS(c));
    struct order_state o = ORD(AUTH, ACC, 1000, 0, 0, false);
    struct kerr err;
    assert_int_equal(order_capture(&o, 0, NOW, &err), -1);
    assert_string_equal(err.path, "captured_amount");
}

/* Up to the remaining authorization; CAPTURED when it reaches 0, else PART_CAPTURED. */
static void rule_capture_up_to_remaining(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "exactly remaining", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1000,
          OK(CAPT, ACC, 1000, 1000, 0, false) },
        { "remaining + 1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1001,
          NO(403, CNA, "Capture not allowed") },
        { "remaining - 1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 999,
          OK(PART, ACC, 1000, 999, 0, false) },
        { "second capture, exactly the rest", ORD(PART, ACC, 1000, 400, 0, false), NOW,
          OP_CAPTURE, 600, OK(CAPT, ACC, 1000, 1000, 0, false) },
        { "second capture, one more", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_CAPTURE, 601,
          NO(403, CNA, "Capture not allowed") },
        { "second capture, one less", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_CAPTURE, 599,
          OK(PART, ACC, 1000, 999, 0, false) },
        { "refunds do not give room", ORD(PART, ACC, 1000, 400, 100, false), NOW, OP_CAPTURE,
          601, NO(403, CNA, "Capture not allowed") },
        { "refunded money stays refunded", ORD(PART, ACC, 1000, 400, 100, false), NOW,
          OP_CAPTURE, 600, OK(CAPT, ACC, 1000, 1000, 100, false) },
        { "authorization updated to 0", ORD(AUTH, ACC, 0, 0, 0, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
        { "increased authorization", ORD(PART, ACC, 1500, 400, 0, false), NOW, OP_CAPTURE, 1100,
          OK(CAPT, ACC, 1500, 1500, 0, false) },
    };
    run_cases(c, NCAPS(c));
}

static void rule_capture_refused_unless_authorized_or_part_captured(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "1 ms before expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0 - 1, OP_CAPTURE, 1000,
          OK(CAPT, ACC, 1000, 1000, 0, false) },
        { "at expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, OP_CAPTURE, 1000,
          NO(403, CNA, "Order is expired. Capture not possible.") },
        { "part captured at expiry", ORD(PART, ACC, 1000, 400, 0, false), EXP0, OP_CAPTURE, 1,
          NO(403, CNA, "Order is expired. Capture not possible.") },
        { "stored expired", ORD(EXPD, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Order is expired. Capture not possible.") },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
        { "captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
        { "released", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
    };
    run_cases(c, NCAPS(c));
}

static void rule_capture_refused_while_fraud_pending(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "pending", ORD(AUTH, PEN, 1000, 0, 0, false), NOW, OP_CAPTURE, 1,
          NO(403, CNA, "Order is pending fraud review. Capture not possible.") },
        { "pending, over remaining", ORD(AUTH, PEN, 1000, 0, 0, false), NOW, OP_CAPTURE, 1001,
          NO(403, CNA, "Order is pending fraud review. Capture not possible.") },
        { "pending and expired: expiry first", ORD(AUTH, PEN, 1000, 0, 0, false), EXP0,
          OP_CAPTURE, 1, NO(403, CNA, "Order is expired. Capture not possible.") },
        { "accepted", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CAPTURE, 1,
          OK(PART, ACC, 1000, 1, 0, false) },
    };
    run_cases(c, NCAPS(c));
}

static void rule_capture_rejected_within_4_hours(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "at the decision", ORD(AUTH, REJ, 1000, 0, 0, false), DEC, OP_CAPTURE, 1000,
          OK(CAPT, REJ, 1000, 1000, 0, false) },
        { "1 ms before 4 h", ORD(AUTH, REJ, 1000, 0, 0, false), CUT - 1, OP_CAPTURE, 500,
          OK(PART, REJ, 1000, 500, 0, false) },
        { "at 4 h: Klarna cancelled it", ORD(AUTH, REJ, 1000, 0, 0, false), CUT, OP_CAPTURE, 1,
          NO(403, CNA, "Capture not allowed") },
        { "captured in time, more later", ORD(PART, REJ, 1000, 500, 0, false), CUT + DAY,
          OP_CAPTURE, 500, OK(CAPT, REJ, 1000, 1000, 0, false) },
    };
    run_cases(c, NCAPS(c));
}

/* ---- refund ------------------------------------------------------------------------------- */

static void rule_refund_amount_is_1_to_200000000(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "0", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, 0,
          NO(400, BV, "Bad value: refunded_amount") },
        { "-1", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, -1,
          NO(400, BV, "Bad value: refunded_amount") },
        { "limit + 1", ORD(CAPT, ACC, 300000000, 300000000, 0, false), NOW, OP_REFUND,
          ORDER_AMOUNT_MAX + 1, NO(400, BV, "Bad value: refunded_amount") },
        { "bad value before state: no captures", ORD(AUTH, ACC, 1000, 0, 0, false), NOW,
          OP_REFUND, 0, NO(400, BV, "Bad value: refunded_amount") },
        { "1", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, 1,
          OK(CAPT, ACC, 1000, 1000, 1, false) },
        { "the limit", ORD(CAPT, ACC, ORDER_AMOUNT_MAX, ORDER_AMOUNT_MAX, 0, false), NOW,
          OP_REFUND, ORDER_AMOUNT_MAX,
          OK(CLSD, ACC, ORDER_AMOUNT_MAX, ORDER_AMOUNT_MAX, ORDER_AMOUNT_MAX, false) },
    };
    run_cases(c, NCAPS(c));
}

static void rule_refund_needs_captures(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "authorized", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_REFUND, 1,
          NO(403, RNA, "Order has no captures. Refund not possible") },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_REFUND, 1,
          NO(403, RNA, "Order has no captures. Refund not possible") },
        { "expired", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, OP_REFUND, 1,
          NO(403, RNA, "Order has no captures. Refund not possible") },
    };
    run_cases(c, NCAPS(c));
}

/* At most captured − refunded; status unchanged unless the money is settled (CLOSED). */
static void rule_refund_up_to_captured_minus_refunded(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "exactly captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, 1000,
          OK(CLSD, ACC, 1000, 1000, 1000, false) },
        { "captured + 1", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, 1001,
          NO(403, RNA, "Over refund is not allowed. Refund not possible.") },
        { "captured - 1", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_REFUND, 999,
          OK(CAPT, ACC, 1000, 1000, 999, false) },
        { "exactly the rest", ORD(CAPT, ACC, 1000, 1000, 400, false), NOW, OP_REFUND, 600,
          OK(CLSD, ACC, 1000, 1000, 1000, false) },
        { "the rest + 1", ORD(CAPT, ACC, 1000, 1000, 400, false), NOW, OP_REFUND, 601,
          NO(403, RNA, "Over refund is not allowed. Refund not possible.") },
        { "part captured: only what was captured", ORD(PART, ACC, 1000, 400, 0, false), NOW,
          OP_REFUND, 401, NO(403, RNA, "Over refund is not allowed. Refund not possible.") },
        { "closed: nothing left", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_REFUND, 1,
          NO(403, RNA, "Over refund is not allowed. Refund not possible.") },
        { "rejected but captured", ORD(PART, REJ, 1000, 400, 0, false), CUT + DAY, OP_REFUND,
          100, OK(PART, REJ, 1000, 400, 100, false) },
    };
    run_cases(c, NCAPS(c));
}

/* Contract 11.4: CLOSED when refunded == captured and nothing remains capturable. */
static void rule_refund_closes_settled_order(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "fully captured, fully refunded", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW,
          OP_REFUND, 1000, OK(CLSD, ACC, 1000, 1000, 1000, false) },
        { "part captured, remainder capturable: stays", ORD(PART, ACC, 1000, 400, 0, false),
          NOW, OP_REFUND, 400, OK(PART, ACC, 1000, 400, 400, false) },
        { "released, fully refunded", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_REFUND, 400,
          OK(CLSD, ACC, 1000, 400, 400, true) },
        { "released, partly refunded", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_REFUND, 399,
          OK(CAPT, ACC, 1000, 400, 399, true) },
        { "expired after a part capture, fully refunded", ORD(PART, ACC, 1000, 400, 0, false),
          EXP0, OP_REFUND, 400, OK(CLSD, ACC, 1000, 400, 400, false) },
        { "expired after a part capture, partly refunded", ORD(PART, ACC, 1000, 400, 0, false),
          EXP0, OP_REFUND, 100, OK(PART, ACC, 1000, 400, 100, false) },
        { "1 ms before expiry: remainder still capturable", ORD(PART, ACC, 1000, 400, 0, false),
          EXP0 - 1, OP_REFUND, 400, OK(PART, ACC, 1000, 400, 400, false) },
    };
    run_cases(c, NCAPS(c));
}

struct acase {
    const char *rule;
    struct capture_money before[3], after[3];
    int64_t refunded_before, amount;
};

/* Oldest capture first; a capture never gets more refund than it captured. */
static void rule_refund_allocates_oldest_capture_first(void **state)
{
    (void)state;
    static const struct acase c[] = {
        { "fits the first", { { 300, 0 }, { 500, 0 }, { 200, 0 } },
          { { 300, 300 }, { 500, 0 }, { 200, 0 } }, 0, 300 },
        { "spills one into the second", { { 300, 0 }, { 500, 0 }, { 200, 0 } },
          { { 300, 300 }, { 500, 1 }, { 200, 0 } }, 0, 301 },
        { "part of the first", { { 300, 0 }, { 500, 0 }, { 200, 0 } },
          { { 300, 1 }, { 500, 0 }, { 200, 0 } }, 0, 1 },
        { "everything", { { 300, 0 }, { 500, 0 }, { 200, 0 } },
          { { 300, 300 }, { 500, 500 }, { 200, 200 } }, 0, 1000 },
        { "continues after earlier refunds", { { 300, 300 }, { 500, 100 }, { 200, 0 } },
          { { 300, 300 }, { 500, 500 }, { 200, 50 } }, 400, 450 },
        { "skips a fully refunded capture", { { 300, 100 }, { 500, 500 }, { 200, 0 } },
          { { 300, 300 }, { 500, 500 }, { 200, 100 } }, 600, 300 },
    };
    for (size_t i = 0; i < NCAPS(c); i++) {
        struct order_state o = ORD(CAPT, ACC, 1000, 1000, c[i].refunded_before, false);
        struct capture_money caps[3];
        memcpy(caps, c[i].before, sizeof caps);
        struct kerr err;
        if (order_refund(&o, caps, 3, c[i].amount, NOW, &err) != 0)
            fail_msg("case %zu (%s): refused: %s", i, c[i].rule, err.msg);
        if (!caps_equal(caps, c[i].after, 3))
            fail_msg("case %zu (%s): allocation {%lld,%lld,%lld}", i, c[i].rule,
                     (long long)caps[0].refunded_amount, (long long)caps[1].refunded_amount,
                     (long long)caps[2].refunded_amount);
        assert_int_equal(o.refunded_amount, c[i].refunded_before + c[i].amount);
        assert_int_equal(order_invariants(&o, caps, 3, &err), 0);
    }
    /* over refund across several captures: nothing moves */
    struct order_state o = ORD(CAPT, ACC, 1000, 1000, 600, false), o0 = o;
    struct capture_money caps[3] = { { 300, 300 }, { 500, 300 }, { 200, 0 } }, caps0[3];
    memcpy(caps0, caps, sizeof caps);
    struct kerr err;
    assert_int_equal(order_refund(&o, caps, 3, 401, NOW, &err), -1);
    assert_string_equal(err.msg, "Over refund is not allowed. Refund not possible.");
    assert_null(order_diff(&o, &o0));
    assert_true(caps_equal(caps, caps0, 3));
    assert_int_equal(order_refund(&o, caps, 3, 400, NOW, &err), 0);
    assert_int_equal(o.status, CLSD);
}

/* Refund checks the invariants before allocating: an inconsistent order is a 500, untouched. */
static void rule_refund_refuses_inconsistent_order(void **state)
{
    (void)state;
    struct kerr err;
    char log[1024];
    struct order_state o = ORD(CAPT, ACC, 1000, 1000, 0, false), o0 = o;
    struct capture_money caps[2] = { { 300, 0 }, { 500, 0 } }, caps0[2]; /* Σ 800 ≠ 1000 */
    memcpy(caps0, caps, sizeof caps);
    struct logcap lc = log_begin();
    int rc = order_refund(&o, caps, 2, 100, NOW, &err);
    log_end(lc, log, sizeof log);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(log, "order invariant broken: sum of captures == captured_amount"));
    assert_int_equal(err.status, 500);
    assert_string_equal(err.code, "INTERNAL_SERVER_ERROR");
    assert_null(order_diff(&o, &o0));
    assert_true(caps_equal(caps, caps0, 2));
    /* captured money but no capture records */
    lc = log_begin();
    rc = order_refund(&o, NULL, 0, 100, NOW, &err);
    log_end(lc, log, sizeof log);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 500);
    assert_null(order_diff(&o, &o0));
}

/* ---- cancel ------------------------------------------------------------------------------- */

static void rule_cancel_only_uncaptured_open_orders(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "authorized", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_CANCEL, 0,
          OK(CANC, ACC, 1000, 0, 0, false) },
        { "pending", ORD(AUTH, PEN, 1000, 0, 0, false), NOW, OP_CANCEL, 0,
          OK(CANC, PEN, 1000, 0, 0, false) },
        { "rejected, 1 ms before 4 h", ORD(AUTH, REJ, 1000, 0, 0, false), CUT - 1, OP_CANCEL, 0,
          OK(CANC, REJ, 1000, 0, 0, false) },
        { "rejected, at 4 h: Klarna cancelled it; 204 again", ORD(AUTH, REJ, 1000, 0, 0, false),
          CUT, OP_CANCEL, 0, OK(CANC, REJ, 1000, 0, 0, false) },
        { "1 ms before expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0 - 1, OP_CANCEL, 0,
          OK(CANC, ACC, 1000, 0, 0, false) },
        { "at expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, OP_CANCEL, 0,
          NO(403, XNA, "Cancel not allowed") },
        { "cancelled twice: 204 again, unchanged", ORD(CANC, ACC, 1000, 0, 0, false), NOW,
          OP_CANCEL, 0, OK(CANC, ACC, 1000, 0, 0, false) },
        { "cancelled, past expiry: still cancelled", ORD(CANC, ACC, 1000, 0, 0, false), EXP0,
          OP_CANCEL, 0, OK(CANC, ACC, 1000, 0, 0, false) },
        { "part captured", ORD(PART, ACC, 1000, 1, 0, false), NOW, OP_CANCEL, 0,
          NO(403, XNA, "Order has previous captures. Cancel not possible.") },
        { "captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_CANCEL, 0,
          NO(403, XNA, "Order has previous captures. Cancel not possible.") },
        { "released", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_CANCEL, 0,
          NO(403, XNA, "Order has previous captures. Cancel not possible.") },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_CANCEL, 0,
          NO(403, XNA, "Order has previous captures. Cancel not possible.") },
        { "captured, then expired", ORD(PART, ACC, 1000, 400, 0, false), EXP0, OP_CANCEL, 0,
          NO(403, XNA, "Order has previous captures. Cancel not possible.") },
    };
    run_cases(c, NCAPS(c));
}

/* ---- release remaining authorization ---------------------------------------------------- */

static void rule_release_after_partial_capture_only(void **state)
{
    (void)state;
#define REL(x) "Order is " x ". Remaining authorization cannot be released."
    static const struct ocase c[] = {
        { "part captured: CAPTURED", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_RELEASE, 0,
          OK(CAPT, ACC, 1000, 400, 0, true) },
        { "1 left", ORD(PART, ACC, 1000, 999, 0, false), NOW, OP_RELEASE, 0,
          OK(CAPT, ACC, 1000, 999, 0, true) },
        { "fully refunded: CLOSED", ORD(PART, ACC, 1000, 400, 400, false), NOW, OP_RELEASE, 0,
          OK(CLSD, ACC, 1000, 400, 400, true) },
        { "1 ms before expiry", ORD(PART, ACC, 1000, 400, 0, false), EXP0 - 1, OP_RELEASE, 0,
          OK(CAPT, ACC, 1000, 400, 0, true) },
        { "at expiry", ORD(PART, ACC, 1000, 400, 0, false), EXP0, OP_RELEASE, 0,
          NO(403, NA, REL("expired")) },
        { "no captures", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_RELEASE, 0,
          NO(403, NA, "Order has no captures. Remaining authorization cannot be released.") },
        { "fully captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_RELEASE, 0,
          NO(403, NA, REL("fully captured")) },
        { "released twice", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_RELEASE, 0,
          NO(403, NA, REL("fully captured")) },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_RELEASE, 0,
          NO(403, NA, REL("cancelled")) },
        { "rejected and cancelled by Klarna", ORD(AUTH, REJ, 1000, 0, 0, false), CUT,
          OP_RELEASE, 0, NO(403, NA, REL("cancelled")) },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_RELEASE, 0,
          NO(403, NA, REL("closed")) },
    };
#undef REL
    run_cases(c, NCAPS(c));
}

/* ---- update authorization ------------------------------------------------------------------ */

static void rule_update_authorization_amount_is_0_to_200000000(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "-1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, -1,
          NO(400, BV, "Bad value: order_amount") },
        { "limit + 1", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, ORDER_AMOUNT_MAX + 1,
          NO(400, BV, "Bad value: order_amount") },
        { "bad value before state", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, -1,
          NO(400, BV, "Bad value: order_amount") },
        { "0", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, 0,
          OK(AUTH, ACC, 0, 0, 0, false) },
        { "the limit", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, ORDER_AMOUNT_MAX,
          OK(AUTH, ACC, ORDER_AMOUNT_MAX, 0, 0, false) },
        { "decrease", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, 500,
          OK(AUTH, ACC, 500, 0, 0, false) },
        { "pending may update", ORD(AUTH, PEN, 1000, 0, 0, false), NOW, OP_UPDATE, 1200,
          OK(AUTH, PEN, 1200, 0, 0, false) },
    };
    run_cases(c, NCAPS(c));
}

static void rule_update_authorization_not_below_captured(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "exactly captured: CAPTURED", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_UPDATE, 400,
          OK(CAPT, ACC, 400, 400, 0, false) },
        { "captured - 1", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_UPDATE, 399,
          NO(403, NA, "Resulting authorization amount 399 cannot be less than the captured "
                      "amount 400 for order. Order authorization cannot be updated") },
        { "0 with captures", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_UPDATE, 0,
          NO(403, NA, "Resulting authorization amount 0 cannot be less than the captured "
                      "amount 400 for order. Order authorization cannot be updated") },
        { "captured + 1", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_UPDATE, 401,
          OK(PART, ACC, 401, 400, 0, false) },
        { "increase", ORD(PART, ACC, 1000, 400, 0, false), NOW, OP_UPDATE, 2000,
          OK(PART, ACC, 2000, 400, 0, false) },
        { "down to captured, fully refunded: CLOSED", ORD(PART, ACC, 1000, 400, 400, false),
          NOW, OP_UPDATE, 400, OK(CLSD, ACC, 400, 400, 400, false) },
    };
    run_cases(c, NCAPS(c));
}

static void rule_update_authorization_refused_when_settled(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "fully captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_UPDATE, 2000,
          NO(403, NA, "Update not allowed.") },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_UPDATE, 500,
          NO(403, NA, "Update not allowed.") },
        { "released", ORD(CAPT, ACC, 1000, 400, 0, true), NOW, OP_UPDATE, 500,
          NO(403, NA, "Update not allowed.") },
        { "released, stored part captured", ORD(PART, ACC, 1000, 400, 0, true), NOW, OP_UPDATE,
          500, NO(403, NA, "Update not allowed.") },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_UPDATE, 1000,
          NO(403, NA, "Update not allowed.") },
        { "at expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, OP_UPDATE, 500,
          NO(403, NA, "Update not allowed.") },
        { "1 ms before expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0 - 1, OP_UPDATE, 500,
          OK(AUTH, ACC, 500, 0, 0, false) },
        { "rejected, cancelled by Klarna", ORD(AUTH, REJ, 1000, 0, 0, false), CUT, OP_UPDATE,
          500, NO(403, NA, "Update not allowed.") },
    };
    run_cases(c, NCAPS(c));
}

/* ---- extend authorization time ------------------------------------------------------------ */

struct ecase {
    const char *rule;
    struct order_state o;
    int64_t expires_at, now;
    const char *msg; /* NULL: success */
    int64_t want;
};

/* expires_at = max(expires_at, min(now + 28 d, created_at + 180 d)). */
static void rule_extend_authorization_28_days_capped_at_180(void **state)
{
    (void)state;
#define EXT(x) "Order is " x ". Authorization time cannot be extended."
    static const struct ecase c[] = {
        { "now + 28 days", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, T0 + 14 * DAY, NULL,
          T0 + 42 * DAY },
        { "at creation: unchanged", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, T0, NULL, EXP0 },
        { "part captured", ORD(PART, ACC, 1000, 400, 0, false), EXP0, T0 + DAY, NULL,
          T0 + 29 * DAY },
        { "pending", ORD(AUTH, PEN, 1000, 0, 0, false), EXP0, T0 + DAY, NULL, T0 + 29 * DAY },
        { "1 ms before reaching the cap", ORD(AUTH, ACC, 1000, 0, 0, false), T0 + 160 * DAY,
          T0 + 152 * DAY - 1, NULL, T0 + 180 * DAY - 1 },
        { "reaches the cap exactly", ORD(AUTH, ACC, 1000, 0, 0, false), T0 + 160 * DAY,
          T0 + 152 * DAY, NULL, T0 + 180 * DAY },
        { "1 ms past: capped", ORD(AUTH, ACC, 1000, 0, 0, false), T0 + 160 * DAY,
          T0 + 152 * DAY + 1, NULL, T0 + 180 * DAY },
        { "cap already reached: success, unchanged", ORD(AUTH, ACC, 1000, 0, 0, false),
          T0 + 180 * DAY, T0 + 170 * DAY, NULL, T0 + 180 * DAY },
        { "longer window is kept", ORD(AUTH, ACC, 1000, 0, 0, false), T0 + 100 * DAY,
          T0 + 10 * DAY, NULL, T0 + 100 * DAY },
        { "1 ms before expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, EXP0 - 1, NULL,
          EXP0 - 1 + 28 * DAY },
        { "at expiry", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, EXP0, EXT("expired"), 0 },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), EXP0, NOW, EXT("cancelled"), 0 },
        { "rejected, cancelled by Klarna", ORD(AUTH, REJ, 1000, 0, 0, false), EXP0, CUT,
          EXT("cancelled"), 0 },
        { "fully captured", ORD(CAPT, ACC, 1000, 1000, 0, false), EXP0, NOW,
          EXT("fully captured"), 0 },
        { "released", ORD(CAPT, ACC, 1000, 400, 0, true), EXP0, NOW, EXT("fully captured"), 0 },
        { "released, stored part captured", ORD(PART, ACC, 1000, 400, 0, true), EXP0, NOW,
          EXT("fully captured"), 0 },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), EXP0, NOW, EXT("closed"), 0 },
    };
#undef EXT
    for (size_t i = 0; i < NCAPS(c); i++) {
        struct order_state o = c[i].o;
        o.expires_at = c[i].expires_at;
        struct order_state o0 = o;
        struct kerr err;
        kerr_clear(&err);
        int rc = order_extend_authorization(&o, c[i].now, &err);
        if (!c[i].msg) {
            if (rc != 0)
                fail_msg("case %zu (%s): refused \"%s\"", i, c[i].rule, err.msg);
            if (o.expires_at != c[i].want)
                fail_msg("case %zu (%s): expires_at T0%+lld ms, expected T0%+lld ms", i,
                         c[i].rule, (long long)(o.expires_at - T0), (long long)(c[i].want - T0));
            o.expires_at = o0.expires_at;
            assert_null(order_diff(&o, &o0)); /* nothing else moves */
            continue;
        }
        if (rc != -1 || err.status != 403 || strcmp(err.code, NA) != 0 ||
            strcmp(err.msg, c[i].msg) != 0)
            fail_msg("case %zu (%s): got %d %d %s \"%s\"", i, c[i].rule, rc, err.status,
                     err.code, err.msg);
        assert_null(order_diff(&o, &o0));
    }
}

/* The same call at the same instant gives the same date; later calls move it on. */
static void rule_extend_authorization_is_repeatable(void **state)
{
    (void)state;
    struct order_state o = ORD(AUTH, ACC, 1000, 0, 0, false);
    struct kerr err;
    int64_t now = T0 + 20 * DAY;
    assert_int_equal(order_extend_authorization(&o, now, &err), 0);
    int64_t first = o.expires_at;
    assert_int_equal(first, now + 28 * DAY);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(order_extend_authorization(&o, now, &err), 0);
        assert_int_equal(o.expires_at, first);
    }
    /* extend every 20 days: grows to the cap and stays there */
    for (int i = 0; i < 20; i++) {
        now += 20 * DAY;
        if (now >= o.expires_at)
            break;
        assert_int_equal(order_extend_authorization(&o, now, &err), 0);
        assert_true(o.expires_at <= T0 + ORDER_MAX_LIFE_DAYS * DAY);
    }
    assert_int_equal(o.expires_at, T0 + ORDER_MAX_LIFE_DAYS * DAY);
    assert_int_equal(order_status_at(&o, T0 + 180 * DAY - 1), AUTH);
    assert_int_equal(order_status_at(&o, T0 + 180 * DAY), EXPD);
}

/* Times near the end of int64 are a 500, not an overflow, and change nothing. */
static void rule_extend_authorization_overflow_is_internal(void **state)
{
    (void)state;
    struct kerr err;
    char log[1024];
    struct order_state o = ORD(AUTH, ACC, 1000, 0, 0, false);
    o.expires_at = INT64_MAX;
    struct order_state o0 = o;
    struct logcap lc = log_begin();
    int rc = order_extend_authorization(&o, INT64_MAX - DAY, &err); /* now + 28 d */
    log_end(lc, log, sizeof log);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(log, "expiry overflows"));
    assert_null(order_diff(&o, &o0));
    o.created_at = INT64_MAX - DAY; /* created_at + 180 d */
    o0 = o;
    lc = log_begin();
    rc = order_extend_authorization(&o, T0, &err);
    log_end(lc, log, sizeof log);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 500);
    assert_null(order_diff(&o, &o0));
}

/* ---- updatable -------------------------------------------------------------------------- */

static void rule_check_updatable_refuses_cancelled(void **state)
{
    (void)state;
    static const struct ocase c[] = {
        { "authorized", ORD(AUTH, ACC, 1000, 0, 0, false), NOW, OP_UPDATABLE, 0,
          OK(AUTH, ACC, 1000, 0, 0, false) },
        { "captured", ORD(CAPT, ACC, 1000, 1000, 0, false), NOW, OP_UPDATABLE, 0,
          OK(CAPT, ACC, 1000, 1000, 0, false) },
        { "expired", ORD(AUTH, ACC, 1000, 0, 0, false), EXP0, OP_UPDATABLE, 0,
          OK(AUTH, ACC, 1000, 0, 0, false) },
        { "closed", ORD(CLSD, ACC, 1000, 1000, 1000, false), NOW, OP_UPDATABLE, 0,
          OK(CLSD, ACC, 1000, 1000, 1000, false) },
        { "rejected, 1 ms before 4 h", ORD(AUTH, REJ, 1000, 0, 0, false), CUT - 1, OP_UPDATABLE,
          0, OK(AUTH, REJ, 1000, 0, 0, false) },
        { "cancelled", ORD(CANC, ACC, 1000, 0, 0, false), NOW, OP_UPDATABLE, 0,
          NO(403, NA, "Can not update a cancelled order") },
        { "rejected, cancelled by Klarna", ORD(AUTH, REJ, 1000, 0, 0, false), CUT, OP_UPDATABLE,
          0, NO(403, NA, "Can not update a cancelled order") },
    };
    run_cases(c, NCAPS(c));
}

/* ---- invariants ---------------------------------------------------------------------------- */

struct icase {
    struct order_state o;
    struct capture_money caps[2];
    size_t n_caps;
    bool null_caps;
    const char *broken; /* NULL: holds */
};

static void rule_invariants_name_the_broken_one(void **state)
{
    (void)state;
    static const struct icase c[] = {
        { ORD(AUTH, ACC, 1000, 0, 0, false), { { 0, 0 } }, 0, false, NULL },
        { ORD(PART, ACC, 1000, 600, 150, false), { { 400, 150 }, { 200, 0 } }, 2, false, NULL },
        { ORD(CAPT, ACC, 600, 600, 600, true), { { 400, 400 }, { 200, 200 } }, 2, false, NULL },
        { ORD(CLSD, ACC, 1000, 1000, 1000, false), { { 1000, 1000 } }, 1, false, NULL },
        { ORD(PART, ACC, 1000, -1, 0, false), { { -1, -1 } }, 1, false,
          "0 <= captured_amount" },
        { ORD(PART, ACC, 1000, 1001, 0, false), { { 1001, 0 } }, 1, false,
          "captured_amount <= order_amount" },
        { ORD(PART, ACC, 1000, 400, -1, false), { { 400, -1 } }, 1, false,
          "0 <= refunded_amount" },
        { ORD(PART, ACC, 1000, 400, 401, false), { { 400, 401 } }, 1, false,
          "refunded_amount <= captured_amount" },
        { ORD(PART, ACC, 1000, 400, 0, false), { { 0, 0 } }, 1, true, "captures present" },
        { ORD(PART, ACC, 1000, 400, 0, false), { { 500, -100 }, { -100, 100 } }, 2, false,
          "0 <= capture refunded_amount" },
        { ORD(PART, ACC, 1000, 400, 100, false), { { 300, 0 }, { 100, 101 } }, 2, false,
          "capture refunded_amount <= capture captured_amount" },
        { ORD(PART, ACC, INT64_MAX, 100, 0, false), { { INT64_MAX, 0 }, { 1, 0 } }, 2, false,
          "capture sums fit in int64" },
        { ORD(PART, ACC, 1000, 400, 0, false), { { 300, 0 }, { 99, 0 } }, 2, false,
          "sum of captures == captured_amount" },
        { ORD(PART, ACC, 1000, 400, 0, false), { { 400, 0 } }, 0, false,
          "sum of captures == captured_amount" },
        { ORD(PART, ACC, 1000, 400, 100, false), { { 300, 50 }, { 100, 49 } }, 2, false,
          "sum of capture refunds == refunded_amount" },
        { ORD(CANC, ACC, 1000, 400, 0, false), { { 400, 0 } }, 1, false,
          "cancelled order has no captures" },
        { ORD(CLSD, ACC, 1000, 1000, 999, false), { { 1000, 999 } }, 1, false,
          "closed order is fully refunded" },
        { ORD(CLSD, ACC, 1000, 0, 0, false), { { 0, 0 } }, 0, false,
          "closed order is fully refunded" },
        { ORD(CAPT, ACC, 1000, 0, 0, true), { { 0, 0 } }, 0, false,
          "released order has captures" },
    };
    for (size_t i = 0; i < NCAPS(c); i++) {
        struct kerr err;
        kerr_clear(&err);
        char log[1024];
        int rc = invariants_logged(&c[i].o, c[i].null_caps ? NULL : c[i].caps, c[i].n_caps,
                                   &err, log, sizeof log);
        if (!c[i].broken) {
            if (rc != 0)
                fail_msg("case %zu: holds, but refused; log: %s", i, log);
            assert_string_equal(log, "");
            continue;
        }
        if (rc != -1 || err.status != 500 || strcmp(err.code, "INTERNAL_SERVER_ERROR") != 0 ||
            strcmp(err.msg, "Internal error") != 0)
            fail_msg("case %zu (%s): got %d %d %s \"%s\"", i, c[i].broken, rc, err.status,
                     err.code, err.msg);
        char want[256];
        snprintf(want, sizeof want, "order invariant broken: %s\n", c[i].broken);
        if (!strstr(log, want))
            fail_msg("case %zu: log \"%s\" does not name \"%s\"", i, log, c[i].broken);
        if (strstr(err.msg, c[i].broken))
            fail_msg("case %zu: the detail leaked to the client", i);
    }
}

/* ---- property: random operation sequences ---------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL; /* fixed seed: every run is the same run */

static uint64_t xorshift64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Uniform enough in lo..hi (inclusive) for a test. */
static int64_t pick(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(xorshift64() % (uint64_t)(hi - lo + 1));
}

/* An amount near a boundary of ref half the time, anywhere up to ref + 10 otherwise. */
static int64_t amount_near(int64_t ref)
{
    switch (pick(0, 11)) {
    case 0: return -1;
    case 1: return 0;
    case 2: return 1;
    case 3: return ref - 1;
    case 4: return ref;
    case 5: return ref + 1;
    case 6: return ORDER_AMOUNT_MAX + pick(0, 1);
    default: return pick(0, ref + 10);
    }
}

/* Weighted so that sequences live long enough to capture, refund and settle: cancel is rare. */
static enum op pick_op(void)
{
    static const struct { enum op op; int weight; } w[] = {
        { OP_CAPTURE, 30 }, { OP_REFUND, 25 }, { OP_UPDATE, 15 }, { OP_RELEASE, 8 },
        { OP_EXTEND, 8 },   { OP_UPDATABLE, 10 }, { OP_CANCEL, 4 },
    };
    int64_t r = pick(0, 99);
    for (size_t i = 0; i < NCAPS(w); i++) {
        if (r < w[i].weight)
            return w[i].op;
        r -= w[i].weight;
    }
    return OP_CANCEL;
}

#define SEQUENCES 10000
#define STEPS     30

static void rule_invariants_hold_after_every_random_operation(void **state)
{
    (void)state;
    unsigned long ok[OP_UPDATABLE + 1] = { 0 }, refused = 0;
    unsigned long closed = 0, expired = 0, cancelled = 0;
    for (int s = 0; s < SEQUENCES; s++) {
        int64_t amount0 = pick(0, 3) == 0 ? ORDER_AMOUNT_MAX : pick(0, 5000);
        enum order_fraud fr = pick(0, 5) == 0 ? (enum order_fraud)pick(1, 2) : ACC;
        struct order_state o = ORD(AUTH, fr, amount0, 0, 0, false);
        o.fraud_decided_at = T0 + pick(0, 2 * HOUR);
        struct capture_money caps[STEPS];
        size_t n = 0;
        int64_t now = T0;
        for (int step = 0; step < STEPS; step++) {
            if (pick(0, 4) == 0) { /* time passes: hours, days, or past the expiry */
                int64_t r = pick(0, 9);
                now += r < 5 ? pick(0, 6 * HOUR) : r < 9 ? pick(0, 10 * DAY) : 30 * DAY;
            }
            enum op op = pick_op();
            int64_t amount = 0, remaining = order_remaining(&o, now);
            enum order_status st = order_status_at(&o, now);
            int64_t refundable = o.captured_amount - o.refunded_amount;
            if (op == OP_CAPTURE)
                amount = amount_near(remaining);
            else if (op == OP_REFUND)
                amount = amount_near(refundable);
            else if (op == OP_UPDATE)
                amount = pick(0, 1) ? amount_near(o.captured_amount) : amount_near(o.order_amount);
            struct order_state before = o;
            struct capture_money caps0[STEPS];
            memcpy(caps0, caps, n * sizeof caps[0]);
            struct kerr err;
            kerr_clear(&err);
            int rc = apply(op, &o, caps, n, amount, now, &err);

            /* oracles straight from the rules, independent of the code under test */
            bool valid = amount >= 1 && amount <= ORDER_AMOUNT_MAX;
            if (op == OP_CAPTURE) {
                bool may = valid && (st == AUTH || st == PART) && before.fraud != PEN &&
                           amount <= remaining;
                if ((rc == 0) != may)
                    fail_msg("seq %d step %d: capture %lld of remaining %lld in %s: rc %d", s,
                             step, (long long)amount, (long long)remaining,
                             order_status_name(st), rc);
            }
            if (op == OP_REFUND) {
                bool may = valid && before.captured_amount > 0 && amount <= refundable;
                if ((rc == 0) != may)
                    fail_msg("seq %d step %d: refund %lld of %lld: rc %d", s, step,
                             (long long)amount, (long long)refundable, rc);
            }

            if (rc != 0) {
                refused++;
                if (err.status != 400 && err.status != 403)
                    fail_msg("seq %d step %d: op %d refused with %d %s", s, step, op,
                             err.status, err.msg);
                const char *d = order_diff(&o, &before);
                if (d || !caps_equal(caps, caps0, n))
                    fail_msg("seq %d step %d: refusal of op %d changed %s", s, step, op,
                             d ? d : "captures");
                continue;
            }
            ok[op]++;
            if (op == OP_CAPTURE) {
                assert_int_equal(o.captured_amount, before.captured_amount + amount);
                caps[n].captured_amount = amount;
                caps[n].refunded_amount = 0;
                n++;
            }
            if (op == OP_REFUND)
                assert_int_equal(o.refunded_amount, before.refunded_amount + amount);
            if (order_invariants(&o, caps, n, &err) != 0)
                fail_msg("seq %d step %d: invariants broken after op %d", s, step, op);
            int64_t r = order_remaining(&o, now);
            assert_true(r >= 0 && r <= ORDER_AMOUNT_MAX);
            assert_true(o.expires_at <= T0 + ORDER_MAX_LIFE_DAYS * DAY);
            if (order_status_at(&o, now) == CLSD)
                assert_true(o.captured_amount > 0 && o.refunded_amount == o.captured_amount);
        }
        enum order_status end = order_status_at(&o, now);
        closed += end == CLSD;
        expired += end == EXPD;
        cancelled += end == CANC;
    }
    print_message("  %d sequences: %lu capture, %lu refund, %lu cancel, %lu release, %lu update, "
                  "%lu extend, %lu updatable succeeded; %lu refused; ended %lu closed, "
                  "%lu expired, %lu cancelled\n", SEQUENCES, ok[OP_CAPTURE], ok[OP_REFUND],
                  ok[OP_CANCEL], ok[OP_RELEASE], ok[OP_UPDATE], ok[OP_EXTEND], ok[OP_UPDATABLE],
                  refused, closed, expired, cancelled);
    /* the generator reaches every operation and every terminal status */
    for (int op = 0; op <= OP_UPDATABLE; op++)
        if (ok[op] < 100)
            fail_msg("operation %d succeeded only %lu times", op, ok[op]);
    assert_true(refused > 1000);
    assert_true(closed > 100 && expired > 100 && cancelled > 100);
}

/* ---- the status as a schedule (the order list files orders by it) -------------------------- */

/* The status om_load and order_status_at show at t: a pending review with a decision time is
 * decided from then on. */
static enum order_status shown_at(struct order_state o, int64_t t)
{
    if (o.fraud == PEN && o.fraud_decided_at && t >= o.fraud_decided_at)
        o.fraud = o.fraud_result;
    return order_status_at(&o, t);
}

/* The one fraud rule: a pending review reads as its result from its decision time on (the
 * instant included), never before; settling applies it once; decided orders never change. */
static void rule_pending_review_reads_as_decided_from_its_time(void **state)
{
    (void)state;
    struct order_state p = ORD(AUTH, PEN, 1000, 0, 0, false);
    p.fraud_result = REJ;
    assert_int_equal(order_fraud_at(&p, DEC - 1), PEN);
    assert_int_equal(order_fraud_at(&p, DEC), REJ);
    assert_int_equal(order_fraud_at(&p, INT64_MAX), REJ);
    p.fraud_result = ACC;
    assert_int_equal(order_fraud_at(&p, DEC), ACC);
    struct order_state q = p;
    assert_false(order_fraud_settle(&q, DEC - 1));
    assert_int_equal(q.fraud, PEN);
    assert_true(order_fraud_settle(&q, DEC));
    assert_int_equal(q.fraud, ACC);
    assert_false(order_fraud_settle(&q, DEC));         /* once */
    struct order_state r = ORD(AUTH, REJ, 1000, 0, 0, false);
    r.fraud_result = ACC;                              /* decided: the result no longer counts */
    assert_int_equal(order_fraud_at(&r, INT64_MAX), REJ);
    assert_false(order_fraud_settle(&r, INT64_MAX));
    struct order_state z = ORD(AUTH, PEN, 1000, 0, 0, false);
    z.fraud_decided_at = 0;                            /* no decision time: stays pending */
    assert_int_equal(order_fraud_at(&z, INT64_MAX), PEN);
    for (int i = 0; i < 1000; i++) {                   /* against shown_at's reading */
        struct order_state o = ORD(AUTH, (enum order_fraud)pick(0, 2), 1000, 0, 0, false);
        o.fraud_decided_at = pick(0, 3) == 0 ? 0 : T0 + pick(-DAY, DAY);
        o.fraud_result = pick(0, 1) ? ACC : REJ;
        int64_t t = T0 + pick(-2 * DAY, 2 * DAY);
        struct order_state want = o;
        if (want.fraud == PEN && want.fraud_decided_at && t >= want.fraud_decided_at)
            want.fraud = want.fraud_result;
        assert_int_equal(order_fraud_at(&o, t), want.fraud);
    }
}

/* Named cases: the deadline that changes the status, and the status after it. */
static void rule_schedule_names_the_next_change(void **state)
{
    (void)state;
    struct order_schedule sc;
    struct order_state o = ORD(AUTH, ACC, 1000, 0, 0, false);
    order_status_schedule(&o, NOW, &sc);
    assert_int_equal(sc.status, AUTH);
    assert_int_equal(sc.until, EXP0);
    assert_int_equal(sc.after, EXPD);
    order_status_schedule(&o, EXP0, &sc);              /* at the instant: already changed */
    assert_int_equal(sc.status, EXPD);
    assert_int_equal(sc.until, INT64_MAX);
    struct order_state r = ORD(AUTH, REJ, 1000, 0, 0, false);
    order_status_schedule(&r, NOW - DAY, &sc);         /* rejected, uncaptured */
    assert_int_equal(sc.status, AUTH);
    assert_int_equal(sc.until, CUT);
    assert_int_equal(sc.after, CANC);
    struct order_state p = ORD(AUTH, PEN, 1000, 0, 0, false);
    p.fraud_result = REJ;                              /* the review will reject it at DEC */
    order_status_schedule(&p, T0, &sc);
    assert_int_equal(sc.until, CUT);
    assert_int_equal(sc.after, CANC);
    p.fraud_result = ACC;
    order_status_schedule(&p, T0, &sc);
    assert_int_equal(sc.until, EXP0);
    assert_int_equal(sc.after, EXPD);
    struct order_state f = ORD(PART, ACC, 1000, 400, 400, false);
    order_status_schedule(&f, NOW, &sc);               /* fully refunded: closes at expiry */
    assert_int_equal(sc.after, CLSD);
    struct order_state c = ORD(CAPT, ACC, 1000, 1000, 0, false);
    order_status_schedule(&c, NOW, &sc);               /* nothing changes by itself */
    assert_int_equal(sc.status, CAPT);
    assert_int_equal(sc.until, INT64_MAX);
    assert_int_equal(sc.after, CAPT);
}

/* Property: for random orders and any t >= now, the schedule says what GET order shows at t. */
static void rule_schedule_agrees_with_the_status_at_every_instant(void **state)
{
    (void)state;
    static const enum order_status sts[] = {AUTH, PART, CAPT, CANC, EXPD, CLSD};
    unsigned long changes = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t captured = pick(0, 2) == 0 ? 0 : pick(1, 1000);
        struct order_state o = {
            .status = sts[pick(0, 5)], .fraud = (enum order_fraud)pick(0, 2),
            .fraud_decided_at = pick(0, 5) == 0 ? 0 : T0 + pick(-DAY, 2 * DAY),
            .fraud_result = pick(0, 1) ? ACC : REJ, .order_amount = 1000,
            .original_order_amount = 1000, .captured_amount = captured,
            .refunded_amount = pick(0, 1) ? captured : pick(0, captured), .created_at = T0,
            .expires_at = T0 + pick(0, 3) * HOUR + pick(0, 1) * pick(0, 30 * DAY)};
        int64_t now = T0 + pick(-DAY, pick(0, 1) ? 6 * HOUR : 31 * DAY);
        struct order_schedule sc;
        order_status_schedule(&o, now, &sc);
        changes += sc.until != INT64_MAX;
        if (sc.until != INT64_MAX && (sc.until <= now || sc.after == sc.status))
            fail_msg("order %d: until %lld (now %lld), %s → %s", i, (long long)sc.until,
                     (long long)now, order_status_name(sc.status), order_status_name(sc.after));
        int64_t probes[] = {now, now + 1, o.expires_at - 1, o.expires_at, o.expires_at + 1,
                            o.fraud_decided_at, o.fraud_decided_at + 4 * HOUR - 1,
                            o.fraud_decided_at + 4 * HOUR, sc.until - 1, sc.until,
                            now + pick(0, 40 * DAY), INT64_MAX - 1};
        for (size_t k = 0; k < NCAPS(probes); k++) {
            int64_t t = probes[k];
            if (t < now)
                continue;
            enum order_status want = shown_at(o, t), got = t < sc.until ? sc.status : sc.after;
            if (want != got)
                fail_msg("order %d at now %+lld ms, t %+lld ms: schedule %s, shown %s", i,
                         (long long)(now - T0), (long long)(t - T0), order_status_name(got),
                         order_status_name(want));
        }
    }
    print_message("  20000 orders, %lu with a change ahead\n", changes);
    assert_true(changes > 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_status_and_fraud_names_round_trip),
        cmocka_unit_test(rule_status_expired_from_expires_at),
        cmocka_unit_test(rule_status_rejected_uncaptured_cancelled_after_4_hours),
        cmocka_unit_test(rule_status_earlier_deadline_wins),
        cmocka_unit_test(rule_remaining_is_uncaptured_authorization),
        cmocka_unit_test(rule_capture_amount_is_1_to_200000000),
        cmocka_unit_test(rule_capture_up_to_remaining),
        cmocka_unit_test(rule_capture_refused_unless_authorized_or_part_captured),
        cmocka_unit_test(rule_capture_refused_while_fraud_pending),
        cmocka_unit_test(rule_capture_rejected_within_4_hours),
        cmocka_unit_test(rule_refund_amount_is_1_to_200000000),
        cmocka_unit_test(rule_refund_needs_captures),
        cmocka_unit_test(rule_refund_up_to_captured_minus_refunded),
        cmocka_unit_test(rule_refund_closes_settled_order),
        cmocka_unit_test(rule_refund_allocates_oldest_capture_first),
        cmocka_unit_test(rule_refund_refuses_inconsistent_order),
        cmocka_unit_test(rule_cancel_only_uncaptured_open_orders),
        cmocka_unit_test(rule_release_after_partial_capture_only),
        cmocka_unit_test(rule_update_authorization_amount_is_0_to_200000000),
        cmocka_unit_test(rule_update_authorization_not_below_captured),
        cmocka_unit_test(rule_update_authorization_refused_when_settled),
        cmocka_unit_test(rule_extend_authorization_28_days_capped_at_180),
        cmocka_unit_test(rule_extend_authorization_is_repeatable),
        cmocka_unit_test(rule_extend_authorization_overflow_is_internal),
        cmocka_unit_test(rule_check_updatable_refuses_cancelled),
        cmocka_unit_test(rule_invariants_name_the_broken_one),
        cmocka_unit_test(rule_invariants_hold_after_every_random_operation),
        cmocka_unit_test(rule_pending_review_reads_as_decided_from_its_time),
        cmocka_unit_test(rule_schedule_names_the_next_change),
        cmocka_unit_test(rule_schedule_agrees_with_the_status_at_every_instant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
