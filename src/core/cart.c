/* cart: order-line arithmetic and the two tax models (contract 2.10 rules 3-6).
 * Owns: total_amount = quantity × unit_price − total_discount_amount per line, the per-line and
 * order-level tax tolerances of the global (EU/AU) model, the US sales-tax model, and
 * order_amount = Σ total_amount. Every product, difference and sum is overflow-checked; an
 * overflow is reported as a bad value at the field whose check overflowed. */
#include "core/cart.h"

#include <stdio.h>

#include "lib/limits.h"

static int bad_line(struct kerr *err, size_t i, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "order_lines[%zu].%s", i, field);
    return kerr_bad_value(err, path);
}

bool cart_line_tax_ok(int64_t total_amount, int64_t tax_rate, int64_t total_tax_amount)
{
    if (tax_rate < 0 || tax_rate > LIMIT_TAX_RATE_MAX)
        return false;
    /* tax = total × rate / (10000 + rate) within ±1, multiplied through by (10000 + rate). */
    int64_t denom = 10000 + tax_rate, lhs, rhs, diff;
    if (__builtin_mul_overflow(total_tax_amount, denom, &lhs) ||
        __builtin_mul_overflow(total_amount, tax_rate, &rhs) ||
        __builtin_sub_overflow(lhs, rhs, &diff))
        return false;
    return diff >= -denom && diff <= denom;
}

/* Rule 3: total_amount = quantity × unit_price − total_discount_amount. */
static int check_line_arithmetic(const struct cart_line *l, size_t i, struct kerr *err)
{
    int64_t gross, net;
    if (__builtin_mul_overflow(l->quantity, l->unit_price, &gross) ||
        __builtin_sub_overflow(gross, l->total_discount_amount, &net) || net != l->total_amount)
        return bad_line(err, i, "total_amount");
    return 0;
}

static bool has_sales_tax_line(const struct cart *c, size_t *first)
{
    for (size_t i = 0; i < c->n_lines; i++)
        if (c->lines[i].type == LINE_SALES_TAX) {
            *first = i;
            return true;
        }
    return false;
}

/* Rules 5 and 6, global model: each line's tax matches its rate within ±1, and
 * order_tax_amount is Σ line taxes within ±(number of lines). */
static int check_global_tax(const struct cart *c, struct kerr *err)
{
    for (size_t i = 0; i < c->n_lines; i++) {
        const struct cart_line *l = &c->lines[i];
        if (!cart_line_tax_ok(l->total_amount, l->tax_rate, l->total_tax_amount))
            return bad_line(err, i, "total_tax_amount");
    }
    return 0;
}

static int check_global_order_tax(const struct cart *c, struct kerr *err)
{
    int64_t sum = 0, diff;
    for (size_t i = 0; i < c->n_lines; i++)
        if (__builtin_add_overflow(sum, c->lines[i].total_tax_amount, &sum))
            return kerr_bad_value(err, "order_tax_amount");
    if (__builtin_sub_overflow(c->order_tax_amount, sum, &diff) ||
        diff < -(int64_t)c->n_lines || diff > (int64_t)c->n_lines)
        return kerr_bad_value(err, "order_tax_amount");
    return 0;
}

/* Rule 6, US model: tax lives only on sales_tax lines; product lines carry none. A sales_tax
 * line's own tax_rate/total_tax_amount are not checked (the line is the tax). */
static int check_us_tax(const struct cart *c, struct kerr *err)
{
    for (size_t i = 0; i < c->n_lines; i++)
        if (c->lines[i].type != LINE_SALES_TAX && c->lines[i].total_tax_amount != 0)
            return bad_line(err, i, "total_tax_amount");
    return 0;
}

static int check_us_order_tax(const struct cart *c, struct kerr *err)
{
    int64_t sum = 0;
    for (size_t i = 0; i < c->n_lines; i++)
        if (c->lines[i].type == LINE_SALES_TAX &&
            __builtin_add_overflow(sum, c->lines[i].total_amount, &sum))
            return kerr_bad_value(err, "order_tax_amount");
    if (c->order_tax_amount != sum)
        return kerr_bad_value(err, "order_tax_amount");
    return 0;
}

/* Rule 4: order_amount = Σ total_amount (discounts negative, sales_tax lines included). */
static int check_order_amount(const struct cart *c, struct kerr *err)
{
    int64_t sum = 0;
    for (size_t i = 0; i < c->n_lines; i++)
        if (__builtin_add_overflow(sum, c->lines[i].total_amount, &sum))
            return kerr_bad_value(err, "order_amount");
    if (sum != c->order_amount)
        return kerr_bad_value(err, "order_amount");
    return 0;
}

int cart_check(const struct cart *c, struct kerr *err)
{
    if (!c || (c->n_lines > 0 && !c->lines))
        return kerr_internal(err, "cart_check: no cart");
    size_t first_tax_line = 0;
    bool us_tax = has_sales_tax_line(c, &first_tax_line);
    /* A sales_tax line is a market rule: the sales-tax model exists only in the US. */
    if (us_tax && !c->us_model)
        return bad_line(err, first_tax_line, "type");
    for (size_t i = 0; i < c->n_lines; i++)
        if (check_line_arithmetic(&c->lines[i], i, err))
            return -1;
    if (us_tax ? check_us_tax(c, err) : check_global_tax(c, err))
        return -1;
    if (check_order_amount(c, err))
        return -1;
    return us_tax ? check_us_order_tax(c, err) : check_global_order_tax(c, err);
}
