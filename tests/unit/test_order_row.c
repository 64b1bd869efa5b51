/* test_order_row: the one translation between an order and its stored row (core/order_row):
 * a row as stored before the refactoring reads as its state; writing derives every column
 * from the state (the status as read at the save, the list's schedule) and keeps the body's
 * format; reading back what was written gives the same state; an unreadable row is a 500. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/order_row.h"

#define HOUR (3600 * 1000LL)
#define T0   1700000000000LL

/* A pending review (rejects at T0 + 1 h), one capture of 3000 with 1000 refunded, in the body
 * format Kasse has always stored. */
static const char old_body[] =
    "{\"order_id\":\"o-1\",\"status\":\"PART_CAPTURED\",\"fraud_status\":\"PENDING\","
    "\"order_amount\":8500,\"original_order_amount\":9000,\"captured_amount\":3000,"
    "\"refunded_amount\":1000,\"remaining_authorized_amount\":5500,\"klarna_reference\":\"R\","
    "\"expires_at\":\"x\",\"captures\":[{\"capture_id\":\"c\",\"captured_amount\":3000,"
    "\"refunded_amount\":1000}],\"refunds\":[],"
    "\"_kasse\":{\"session_id\":\"s\",\"fraud_decides_at\":1700003600000,"
    "\"fraud_result\":\"REJECTED\"}}";

static struct order_row old_row(void)
{
    struct order_row r = {.merchant_id = 7, .order_amount = 8500, .captured_amount = 3000,
                          .refunded_amount = 1000, .created_at = T0,
                          .expires_at = T0 + 672 * HOUR, .list_until = INT64_MAX};
    snprintf(r.id, sizeof r.id, "o-1");
    snprintf(r.session_id, sizeof r.session_id, "s");
    snprintf(r.status, sizeof r.status, "PART_CAPTURED");
    snprintf(r.fraud_status, sizeof r.fraud_status, "PENDING");
    snprintf(r.list_status, sizeof r.list_status, "PART_CAPTURED");
    r.body = (char *)old_body;
    return r;
}

static void rule_a_stored_row_reads_as_its_state(void **state)
{
    (void)state;
    struct order_row r = old_row();
    struct order o;
    struct kerr err = {0};
    assert_int_equal(order_from_row(&o, &r, &err), 0);
    assert_string_equal(o.id, "o-1");
    assert_int_equal(o.merchant_id, 7);
    assert_string_equal(o.session_id, "s");
    assert_int_equal(o.st.status, ORDER_PART_CAPTURED);
    assert_int_equal(o.st.fraud, ORDER_FRAUD_PENDING);     /* as stored: not settled here */
    assert_int_equal(o.st.fraud_decided_at, T0 + HOUR);
    assert_int_equal(o.st.fraud_result, ORDER_FRAUD_REJECTED);
    assert_int_equal(o.st.order_amount, 8500);
    assert_int_equal(o.st.original_order_amount, 9000);
    assert_int_equal(o.st.captured_amount, 3000);
    assert_int_equal(o.st.refunded_amount, 1000);
    assert_false(o.st.released);
    assert_int_equal(o.n_caps, 1);
    assert_int_equal(o.caps[0].captured_amount, 3000);
    assert_int_equal(o.caps[0].refunded_amount, 1000);
    assert_non_null(o.kasse);
    assert_non_null(o.captures);
    order_free(&o);
}

/* Columns come from the state only; the body keeps its keys and gets the state's values; read
 * back, the state is the same. */
static void rule_columns_are_derived_from_the_state(void **state)
{
    (void)state;
    struct order_row r = old_row();
    struct order o;
    struct kerr err = {0};
    assert_int_equal(order_from_row(&o, &r, &err), 0);
    int64_t now = T0 + 2 * HOUR;
    assert_true(order_fraud_settle(&o.st, now));           /* rejected at T0 + 1 h */
    o.st.refunded_amount = 1500;
    o.caps[0].refunded_amount = 1500;
    struct order_row w;
    assert_int_equal(order_to_row(&o, now, &w, &err), 0);
    assert_string_equal(w.id, "o-1");
    assert_int_equal(w.merchant_id, 7);
    assert_string_equal(w.status, "PART_CAPTURED");
    assert_string_equal(w.fraud_status, "REJECTED");
    assert_int_equal(w.refunded_amount, 1500);
    assert_int_equal(w.created_at, T0);
    assert_int_equal(w.expires_at, T0 + 672 * HOUR);
    struct order_schedule sc;
    order_status_schedule(&o.st, now, &sc);
    assert_string_equal(w.list_status, order_status_name(sc.status));
    assert_int_equal(w.list_until, sc.until);
    assert_string_equal(w.list_after, sc.until == INT64_MAX ? "" : order_status_name(sc.after));
    /* The body: the same top-level keys in the same order, the state's values written in. */
    json_t *b = json_loads(w.body, 0, NULL);
    assert_non_null(b);
    static const char *const keys[] = {"order_id", "status", "fraud_status", "order_amount",
                                       "original_order_amount", "captured_amount",
                                       "refunded_amount", "remaining_authorized_amount",
                                       "klarna_reference", "expires_at", "captures", "refunds",
                                       "_kasse"};
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) {
        assert_true(i < sizeof keys / sizeof keys[0]);
        assert_string_equal(key, keys[i++]);
    }
    assert_int_equal(i, sizeof keys / sizeof keys[0]);
    assert_string_equal(json_string_value(json_object_get(b, "fraud_status")), "REJECTED");
    assert_int_equal(json_integer_value(json_object_get(b, "refunded_amount")), 1500);
    assert_int_equal(json_integer_value(json_object_get(b, "remaining_authorized_amount")),
                     order_remaining(&o.st, now));
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(b, "captures"), 0), "refunded_amount")),
                     1500);
    json_t *k = json_object_get(b, "_kasse");
    assert_string_equal(json_string_value(json_object_get(k, "fraud_result")), "REJECTED");
    assert_int_equal(json_integer_value(json_object_get(k, "fraud_decides_at")), T0 + HOUR);
    json_decref(b);
    /* Read back: the same state. */
    struct order back;
    assert_int_equal(order_from_row(&back, &w, &err), 0);
    assert_memory_equal(&back.st, &o.st, sizeof o.st);
    assert_int_equal(back.n_caps, 1);
    assert_int_equal(back.caps[0].refunded_amount, 1500);
    order_free(&back);
    order_row_free(&w);
    order_free(&o);
}

static void rule_an_unreadable_row_is_a_500(void **state)
{
    (void)state;
    struct order_row r = old_row();
    struct order o;
    struct kerr err = {0};
    r.body = (char *)"[]";
    assert_int_equal(order_from_row(&o, &r, &err), -1);
    assert_int_equal(err.status, 500);
    r = old_row();
    snprintf(r.status, sizeof r.status, "NOPE");
    kerr_clear(&err);
    assert_int_equal(order_from_row(&o, &r, &err), -1);
    assert_int_equal(err.status, 500);
    /* A body without _kasse or captures (rows of the first migrations) still reads. */
    r = old_row();
    r.body = (char *)"{}";
    assert_int_equal(order_from_row(&o, &r, &err), 0);
    assert_int_equal(o.n_caps, 0);
    assert_int_equal(o.st.fraud_decided_at, 0);
    order_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_a_stored_row_reads_as_its_state),
        cmocka_unit_test(rule_columns_are_derived_from_the_state),
        cmocka_unit_test(rule_an_unreadable_row_is_a_500),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
