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
    bool us_model;                 /* purchase_country is US */
};

/* Checks rules 3-6; on failure fills err with "Bad value: order_lines[i].<field>",
 * "Bad value: order_amount" or "Bad value: order_tax_amount" and returns -1. */
int cart_check(const struct cart *c, struct kerr *err);

/* Per-line tax tolerance alone: |tax*(10000+rate) - total*rate| <= 10000+rate. */
bool cart_line_tax_ok(int64_t total_amount, int64_t tax_rate, int64_t total_tax_amount);

#endif
