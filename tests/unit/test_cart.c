/* test_cart: order-line arithmetic, the global tax tolerance, the US sales-tax model and the
 * order totals (contract 2.10 rules 3-6), each case asserting the exact error path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/cart.h"

static struct cart_line line(int64_t qty, int64_t unit, int64_t total, int64_t rate, int64_t tax)
{
    return (struct cart_line){ .type = LINE_PHYSICAL, .quantity = qty, .unit_price = unit,
                               .total_amount = total, .tax_rate = rate, .total_tax_amount = tax,
                               .has_tax_rate = true, .has_total_tax_amount = true };
}

/* Runs cart_check and asserts success (path NULL) or the exact 400 BAD_VALUE path. */
static void expect(const struct cart *c, const char *path)
{
    struct kerr err;
    kerr_clear(&err);
    int rc = cart_check(c, &err);
    if (!path) {
        if (rc != 0)
            fail_msg("expected success, got \"%s\"", err.msg);
        return;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "BAD_VALUE");
    assert_string_equal(err.path, path);
    char msg[300];
    snprintf(msg, sizeof msg, "Bad value: %s", path);
    assert_string_equal(err.msg, msg);
}

/* Rule 4: Klarna's documented example (20 % VAT) is accepted. */
static void rule4_documented_example_accepted(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, 59500, 59500, 2000, 9917), line(1, 2900, 2900, 2000, 483) };
    struct cart c = { l, 2, 62400, 10400, true, false };
    expect(&c, NULL);
}

/* Rule 4: the same amounts declared at 25 % fail at the first line's tax. */
static void rule4_documented_example_25pct_rejected(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, 59500, 59500, 2500, 9917), line(1, 2900, 2900, 2500, 483) };
    struct cart c = { l, 2, 62400, 10400, true, false };
    expect(&c, "order_lines[0].total_tax_amount");
}

/* Rule 4: the tolerance is exactly ±1 of total × rate / (10000 + rate). */
static void rule4_tax_tolerance_table(void **state)
{
    (void)state;
    static const struct { int64_t total, rate, tax; bool ok; } cases[] = {
        { 10000, 2500, 2000, true },   /* exact: 10000 × 2500 / 12500 */
        { 10000, 2500, 2001, true },   /* +1 */
        { 10000, 2500, 1999, true },   /* −1 */
        { 10000, 2500, 2002, false },  /* +2 */
        { 10000, 2500, 1998, false },  /* −2 */
        { 59500, 2000, 9917, true },   /* exact 9916.67: 9915.67..9917.67 */
        { 59500, 2000, 9916, true },
        { 59500, 2000, 9918, false },
        { 59500, 2000, 9915, false },
        { -1000, 2500, -200, true },   /* discount lines carry negative tax */
        { -1000, 2500, 200, false },
        { 5000, 0, 0, true },
        { 5000, 0, 1, true },
        { 5000, 0, 2, false },
        { 0, 10000, 0, true },
        { 20000, 10000, 10000, true }, /* 100 % */
        { 100, -1, 0, false },         /* rate out of range */
        { 100, 10001, 50, false },
        { 100, 2500, INT64_MAX, false },  /* overflow is a failure, not UB */
        { 100, 2500, INT64_MIN, false },
        { INT64_MAX, 10000, 0, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cart_line_tax_ok(cases[i].total, cases[i].rate, cases[i].tax) != cases[i].ok)
            fail_msg("case %zu: total %lld rate %lld tax %lld", i, (long long)cases[i].total,
                     (long long)cases[i].rate, (long long)cases[i].tax);
}

/* Rule 3: total_amount = quantity × unit_price − total_discount_amount. */
static void rule3_line_arithmetic(void **state)
{
    (void)state;
    struct cart_line l[] = { line(2, 1000, 1500, 0, 0), line(3, 100, 300, 0, 0) };
    l[0].total_discount_amount = 500;
    struct cart c = { l, 2, 1800, 0, false, false };
    expect(&c, NULL);
    l[1].total_amount = 299;
    expect(&c, "order_lines[1].total_amount");
    l[1].total_amount = 300;
    l[0].total_discount_amount = 0;
    expect(&c, "order_lines[0].total_amount");
}

/* Rule 3: quantity 2^62 × unit_price overflows int64: a bad total, not UB. */
static void rule3_overflow(void **state)
{
    (void)state;
    struct cart_line l[] = { line(INT64_C(1) << 62, 4, 0, 0, 0) };
    struct cart c = { l, 1, 0, 0, false, false };
    expect(&c, "order_lines[0].total_amount");
    /* the subtraction overflows too */
    l[0] = line(1, INT64_MIN + 1, 0, 0, 0);
    l[0].total_discount_amount = 2;
    expect(&c, "order_lines[0].total_amount");
}

/* Rule 5: order_amount is the sum of line totals (discount lines negative). */
static void rule5_order_amount(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, 10000, 10000, 2500, 2000), line(1, -1000, -1000, 2500, -200),
                             line(1, 500, 500, 2500, 100) };
    l[1].type = LINE_DISCOUNT;
    l[2].type = LINE_SHIPPING_FEE;
    struct cart c = { l, 3, 9500, 1900, true, false };
    expect(&c, NULL);
    c.order_amount = 9501;
    expect(&c, "order_amount");
    c.order_amount = 10500;
    expect(&c, "order_amount");
}

/* Rule 5: a sum that overflows int64 is a bad order_amount. */
static void rule5_sum_overflow(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, INT64_MAX, INT64_MAX, 0, 0), line(1, 1, 1, 0, 0) };
    struct cart c = { l, 2, 0, 0, false, false };
    expect(&c, "order_amount");
}

/* Rule 6: order_tax_amount within ±(number of lines) of Σ line taxes; absent means 0. */
static void rule6_order_tax_tolerance(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, 59500, 59500, 2000, 9917), line(1, 2900, 2900, 2000, 483) };
    struct cart c = { l, 2, 62400, 10400, true, false };
    static const struct { int64_t tax; bool ok; } cases[] = {
        { 10400, true }, { 10402, true }, { 10398, true }, { 10403, false }, { 10397, false },
        { 0, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c.order_tax_amount = cases[i].tax;
        expect(&c, cases[i].ok ? NULL : "order_tax_amount");
    }
}

/* Rule 7: US sales-tax model accepted: product lines without tax, one sales_tax line,
 * order_tax_amount = the sales_tax total, order_amount includes it (contract example). */
static void rule7_us_sales_tax_accepted(void **state)
{
    (void)state;
    struct cart_line l[] = { line(2, 10000, 20000, 0, 0), line(1, 1000, 1000, 0, 0) };
    l[0].has_tax_rate = l[0].has_total_tax_amount = false;
    l[1].type = LINE_SALES_TAX;
    struct cart c = { l, 2, 21000, 1000, true, true };
    expect(&c, NULL);
    /* several sales_tax lines add up */
    struct cart_line l3[] = { l[0], l[1], l[1] };
    struct cart c3 = { l3, 3, 22000, 2000, true, true };
    expect(&c3, NULL);
}

/* Rule 7: US sales-tax model rejections, each at its exact path. */
static void rule7_us_sales_tax_rejected(void **state)
{
    (void)state;
    struct cart_line l[] = { line(2, 10000, 20000, 0, 0), line(1, 1000, 1000, 0, 0) };
    l[1].type = LINE_SALES_TAX;
    struct cart c = { l, 2, 21000, 1000, true, true };
    c.order_tax_amount = 999; /* exact equality, no tolerance */
    expect(&c, "order_tax_amount");
    c.order_tax_amount = 1000;
    l[0].total_tax_amount = 4000; /* tax on a product line */
    l[0].tax_rate = 2500;
    expect(&c, "order_lines[0].total_tax_amount");
    l[0].total_tax_amount = 0;
    c.us_model = false; /* a sales_tax line outside the US */
    expect(&c, "order_lines[1].type");
}

/* Rule 7: without sales_tax lines the global model applies in the US too. */
static void rule7_us_global_model(void **state)
{
    (void)state;
    struct cart_line l[] = { line(1, 12500, 12500, 2500, 2500) };
    struct cart c = { l, 1, 12500, 2500, true, true };
    expect(&c, NULL);
    l[0].total_tax_amount = 0;
    expect(&c, "order_lines[0].total_tax_amount");
}

/* Rule 8: arithmetic is checked before tax, tax before order totals. */
static void rule8_check_order(void **state)
{
    (void)state;
    /* line 1 has a bad total and line 0 a bad tax: arithmetic (all lines) comes first */
    struct cart_line l[] = { line(1, 100, 100, 2500, 50), line(1, 100, 99, 0, 0) };
    struct cart c = { l, 2, 1, 1000, true, false };
    expect(&c, "order_lines[1].total_amount");
    l[1].total_amount = 100;
    expect(&c, "order_lines[0].total_tax_amount");
    l[0].total_tax_amount = 20;
    expect(&c, "order_amount");
    c.order_amount = 200;
    expect(&c, "order_tax_amount");
    c.order_tax_amount = 20;
    expect(&c, NULL);
}

/* Never crash: NULL cart, NULL lines, NULL err. */
static void robustness_null(void **state)
{
    (void)state;
    struct kerr err;
    assert_int_equal(cart_check(NULL, &err), -1);
    assert_int_equal(err.status, 500);
    struct cart c = { NULL, 3, 0, 0, false, false };
    assert_int_equal(cart_check(&c, &err), -1);
    struct cart_line l[] = { line(1, 1, 2, 0, 0) };
    struct cart c1 = { l, 1, 2, 0, false, false };
    assert_int_equal(cart_check(&c1, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule4_documented_example_accepted),
        cmocka_unit_test(rule4_documented_example_25pct_rejected),
        cmocka_unit_test(rule4_tax_tolerance_table),
        cmocka_unit_test(rule3_line_arithmetic),
        cmocka_unit_test(rule3_overflow),
        cmocka_unit_test(rule5_order_amount),
        cmocka_unit_test(rule5_sum_overflow),
        cmocka_unit_test(rule6_order_tax_tolerance),
        cmocka_unit_test(rule7_us_sales_tax_accepted),
        cmocka_unit_test(rule7_us_sales_tax_rejected),
        cmocka_unit_test(rule7_us_global_model),
        cmocka_unit_test(rule8_check_order),
        cmocka_unit_test(robustness_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
