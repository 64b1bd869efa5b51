/* cart: order-line arithmetic and tax tolerance (contract 2.10 rules 3-6).
 * All money is int64 minor units; every product and sum is overflow-checked. */
#ifndef KASSE_CORE_CART_H
#define KASSE_CORE_CART_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/kerr.h"

enum line_type {
    LINE_PHYSICAL, LINE_DISCOUNT, LINE_SHIPPING_FEE, LINE_SALES_TAX, LINE_DIGITAL,
    LINE_GIFT_CARD, LINE_STORE_CREDIT, LINE_SURCHARGE
};

struct cart_line {
    enum line_type type;
    int64_t quantity;
    int64_t unit_price;
    int64_t total_amount;
    int64_t total_discount_amount; /* 0 when absent */
    int64_t tax_rate;              /* 0 when absent */
    int64_t total_tax_amount;      /* 0 when absent */
    bool has_tax_rate, has_total_tax_amount;
};

struct cart {
    const struct cart_line *lines;
    size_t n_lines;
    int64_t order_amount;
    int64_t order_tax_amount;      /* 0 when absent */
    bool has_order_tax_amount;
    bool us_model;                 /* purchase_country is US: sales_tax lines allowed */
};

/* Checks rules 3-6 in this order and returns 0, or -1 with err filled (400 BAD_VALUE) at the
 * first failure:
 *   0. a sales_tax line outside the US (us_model false)    → order_lines[i].type
 *   1. each line: quantity × unit_price − total_discount_amount == total_amount, no overflow
 *                                                          → order_lines[i].total_amount
 *   2. tax per line. Global model (no sales_tax line, any country, US included): the tax is
 *      total × rate / (10000 + rate) within ±1 (cart_line_tax_ok). US model (some line has
 *      type sales_tax): every other line has total_tax_amount 0
 *                                                          → order_lines[i].total_tax_amount
 *   3. order_amount == Σ total_amount, no overflow          → order_amount
 *   4. global: |order_tax_amount − Σ total_tax_amount| ≤ n_lines; US: order_tax_amount ==
 *      Σ total_amount of the sales_tax lines               → order_tax_amount
 * Field limits (ranges, line count) are the schema's job (session.c) and are not repeated. */
int cart_check(const struct cart *c, struct kerr *err);

/* Per-line tax tolerance alone: |tax*(10000+rate) - total*rate| <= 10000+rate, i.e. tax within
 * ±1 of total - total*10000/(10000+rate). False on overflow or a rate outside 0..10000. */
bool cart_line_tax_ok(int64_t total_amount, int64_t tax_rate, int64_t total_tax_amount);

#endif
