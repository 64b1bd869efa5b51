/* test_matching: create-order data against the authorized snapshot (core/matching): every
 * compared field kind (integers with and without a default, exact and case-insensitive
 * strings, the line type default), the line count message, absent and empty addresses on
 * either side, the stable order of the mismatch list, and the message cap. Table-driven: each
 * case edits the snapshot and/or the request and names the exact expected message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/matching.h"

/* Two lines, both addresses: the snapshot and, unedited, a matching request. */
static const char *base_json =
    "{\"purchase_country\":\"SE\",\"purchase_currency\":\"SEK\",\"order_amount\":11000,"
    "\"order_tax_amount\":2200,\"order_lines\":["
    "{\"type\":\"physical\",\"reference\":\"19-402\",\"name\":\"Red T-Shirt\",\"quantity\":1,"
    "\"unit_price\":10000,\"tax_rate\":2500,\"total_amount\":10000,"
    "\"total_discount_amount\":0,\"total_tax_amount\":2000},"
    "{\"name\":\"Socks\",\"quantity\":2,\"unit_price\":500,"
    "\"tax_rate\":2500,\"total_amount\":1000,\"total_tax_amount\":200}],"
    "\"billing_address\":{\"given_name\":\"Testperson-se\",\"family_name\":\"Approved\","
    "\"email\":\"customer@email.se\",\"street_address\":\"Stårgatan 1\","
    "\"postal_code\":\"12345\",\"city\":\"Ankeborg\",\"country\":\"SE\"},"
    "\"shipping_address\":{\"given_name\":\"Testperson-se\",\"family_name\":\"Approved\","
    "\"postal_code\":\"12345\",\"city\":\"Ankeborg\",\"country\":\"se\"}}";

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v)
        fail_msg("bad test JSON: %s (%s)", e.text, text);
    return v;
}

/* Sets the value at "a", "a.b" or "a[i].b" (objects created on the way); NULL deletes. */
static void set_at(json_t *root, const char *path, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = root;
    char *tok = buf;
    for (;;) {
        char *dot = strchr(tok, '.');
        if (dot)
            *dot = '\0';
        char *br = strchr(tok, '[');
        long idx = -1;
        if (br) {
            *br = '\0';
            idx = strtol(br + 1, NULL, 10);
        }
        if (!dot && idx < 0) {
            if (value)
                json_object_set_new(cur, tok, value);
            else
                json_object_del(cur, tok);
            return;
        }
        json_t *next = json_object_get(cur, tok);
        if (!next) {
            next = json_object();
            json_object_set_new(cur, tok, next);
        }
        if (idx >= 0)
            next = json_array_get(next, (size_t)idx);
        assert_non_null(next);
        assert_non_null(dot);
        cur = next;
        tok = dot + 1;
    }
}

struct edit {
    char side;          /* 'a': authorized snapshot, 'r': request */
    const char *path;
    const char *value;  /* JSON text; NULL deletes */
};

struct mcase {
    struct edit edits[5]; /* up to 4, ended by side 0 */
    const char *msg;      /* expected message; NULL: match */
    const char *path;     /* expected err.path when msg is set */
};

static void run_cases(const struct mcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *a = load(base_json), *r = load(base_json);
        for (const struct edit *e = c[i].edits; e->side; e++)
            set_at(e->side == 'a' ? a : r, e->path, e->value ? load(e->value) : NULL);
        json_t *a_copy = json_deep_copy(a), *r_copy = json_deep_copy(r);
        struct kerr err;
        kerr_clear(&err);
        int rc = matching_check(a, r, &err);
        assert_true(json_equal(a, a_copy) && json_equal(r, r_copy)); /* inputs untouched */
        json_decref(a_copy);
        json_decref(r_copy);
        json_decref(a);
        json_decref(r);
        const char *what = c[i].edits[0].side ? c[i].edits[0].path : "(no edit)";
        if (!c[i].msg) {
            if (rc != 0)
                fail_msg("case %zu (%s): expected a match, got \"%s\"", i, what, err.msg);
            continue;
        }
        if (rc != -1)
            fail_msg("case %zu (%s): expected \"%s\", got a match", i, what, c[i].msg);
        if (strcmp(err.msg, c[i].msg) != 0)
            fail_msg("case %zu (%s): expected \"%s\", got \"%s\"", i, what, c[i].msg, err.msg);
        assert_int_equal(err.status, 409);
        assert_string_equal(err.code, "BAD_VALUE");
        assert_string_equal(err.path, c[i].path);
    }
}

#define NM(x) "Not matching fields: [" x "]"

static void rule_identical_matches(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 0 } }, NULL, NULL },
        /* keys the comparison does not cover are free to differ */
        { { { 'r', "locale", "\"sv-SE\"" }, { 'r', "merchant_reference1", "\"45aa52f387871e3a\"" },
            { 'r', "order_lines[0].product_url", "\"https://x\"" },
            { 'r', "billing_address.unknown", "1" } }, NULL, NULL },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_top_level_fields(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 'r', "order_amount", "11001" } }, NM("order_amount"), "order_amount" },
        { { { 'r', "order_tax_amount", "2201" } }, NM("order_tax_amount"), "order_tax_amount" },
        { { { 'r', "purchase_currency", "\"EUR\"" } }, NM("purchase_currency"),
          "purchase_currency" },
        { { { 'r', "purchase_country", "\"NO\"" } }, NM("purchase_country"),
          "purchase_country" },
        /* case-insensitive currency and country */
        { { { 'r', "purchase_currency", "\"sek\"" }, { 'r', "purchase_country", "\"se\"" } },
          NULL, NULL },
        /* order_tax_amount: absent = 0 */
        { { { 'a', "order_tax_amount", "0" }, { 'r', "order_tax_amount", NULL } }, NULL, NULL },
        { { { 'a', "order_tax_amount", NULL }, { 'r', "order_tax_amount", "0" } }, NULL, NULL },
        { { { 'a', "order_tax_amount", "null" }, { 'r', "order_tax_amount", "0" } }, NULL, NULL },
        { { { 'r', "order_tax_amount", NULL } }, NM("order_tax_amount"), "order_tax_amount" },
        /* an integer is not the same as a real or a string */
        { { { 'r', "order_amount", "11000.0" } }, NM("order_amount"), "order_amount" },
        { { { 'r', "order_amount", "\"11000\"" } }, NM("order_amount"), "order_amount" },
        /* all four, in the stable order */
        { { { 'r', "purchase_country", "\"DK\"" }, { 'r', "purchase_currency", "\"DKK\"" },
            { 'r', "order_tax_amount", "1" }, { 'r', "order_amount", "1" } },
          NM("order_amount, order_tax_amount, purchase_currency, purchase_country"),
          "order_amount" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_line_fields(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 'r', "order_lines[0].name", "\"Blue T-Shirt\"" } }, NM("order_lines[0].name"),
          "order_lines[0].name" },
        { { { 'r', "order_lines[0].name", "\"red t-shirt\"" } }, NM("order_lines[0].name"),
          "order_lines[0].name" }, /* names are exact */
        { { { 'r', "order_lines[1].quantity", "3" } }, NM("order_lines[1].quantity"),
          "order_lines[1].quantity" },
        { { { 'r', "order_lines[0].unit_price", "9999" } }, NM("order_lines[0].unit_price"),
          "order_lines[0].unit_price" },
        { { { 'r', "order_lines[0].total_amount", "9999" } }, NM("order_lines[0].total_amount"),
          "order_lines[0].total_amount" },
        { { { 'r', "order_lines[0].total_discount_amount", "1" } },
          NM("order_lines[0].total_discount_amount"), "order_lines[0].total_discount_amount" },
        { { { 'r', "order_lines[0].tax_rate", "2000" } }, NM("order_lines[0].tax_rate"),
          "order_lines[0].tax_rate" },
        { { { 'r', "order_lines[0].total_tax_amount", "1" } },
          NM("order_lines[0].total_tax_amount"), "order_lines[0].total_tax_amount" },
        { { { 'r', "order_lines[0].type", "\"digital\"" } }, NM("order_lines[0].type"),
          "order_lines[0].type" },
        { { { 'r', "order_lines[0].reference", "\"19-403\"" } }, NM("order_lines[0].reference"),
          "order_lines[0].reference" },
        /* reference: absent on one side only is a mismatch */
        { { { 'r', "order_lines[0].reference", NULL } }, NM("order_lines[0].reference"),
          "order_lines[0].reference" },
        { { { 'r', "order_lines[1].reference", "\"x\"" } }, NM("order_lines[1].reference"),
          "order_lines[1].reference" },
        { { { 'r', "order_lines[0].reference", "null" }, { 'a', "order_lines[0].reference",
            NULL } }, NULL, NULL },
        /* type: absent = physical */
        { { { 'r', "order_lines[0].type", NULL } }, NULL, NULL },
        { { { 'r', "order_lines[1].type", "\"physical\"" } }, NULL, NULL },
        { { { 'r', "order_lines[1].type", "\"shipping_fee\"" } }, NM("order_lines[1].type"),
          "order_lines[1].type" },
        { { { 'r', "order_lines[0].type", "\"PHYSICAL\"" } }, NM("order_lines[0].type"),
          "order_lines[0].type" },
        /* integer line fields with a default: absent = 0 */
        { { { 'r', "order_lines[0].total_discount_amount", NULL } }, NULL, NULL },
        { { { 'r', "order_lines[1].total_discount_amount", "0" } }, NULL, NULL },
        { { { 'a', "order_lines[1].tax_rate", "0" }, { 'a', "order_lines[1].total_tax_amount",
            "0" }, { 'r', "order_lines[1].tax_rate", NULL },
            { 'r', "order_lines[1].total_tax_amount", NULL } }, NULL, NULL },
        { { { 'r', "order_lines[1].tax_rate", NULL } }, NM("order_lines[1].tax_rate"),
          "order_lines[1].tax_rate" },
        /* several, line by line, fields in table order */
        { { { 'r', "order_lines[1].name", "\"Hat\"" }, { 'r', "order_lines[0].reference",
            "\"z\"" }, { 'r', "order_lines[0].quantity", "2" },
            { 'r', "order_lines[1].unit_price", "1" } },
          NM("order_lines[0].quantity, order_lines[0].reference, order_lines[1].name, "
             "order_lines[1].unit_price"), "order_lines[0].quantity" },
        /* lines are an ordered list: swapping two lines is a mismatch */
        { { { 'r', "order_lines", "[{\"name\":\"Socks\",\"quantity\":2,\"unit_price\":500,"
                                  "\"tax_rate\":2500,\"total_amount\":1000,"
                                  "\"total_tax_amount\":200},"
                                  "{\"type\":\"physical\",\"reference\":\"19-402\","
                                  "\"name\":\"Red T-Shirt\",\"quantity\":1,"
                                  "\"unit_price\":10000,\"tax_rate\":2500,"
                                  "\"total_amount\":10000,\"total_discount_amount\":0,"
                                  "\"total_tax_amount\":2000}]" } },
          NM("order_lines[0].name, order_lines[0].quantity, order_lines[0].unit_price, "
             "order_lines[0].total_amount, order_lines[0].total_tax_amount, "
             "order_lines[0].reference, order_lines[1].name, order_lines[1].quantity, "
             "order_lines[1].unit_price, order_lines[1].total_amount, "
             "order_lines[1].total_tax_amount, order_lines[1].reference"),
          "order_lines[0].name" },
        /* a line that is not an object (only in a damaged snapshot) */
        { { { 'a', "order_lines", "[1, {}]" }, { 'r', "order_lines", "[1, {}]" } }, NULL,
          NULL },
        { { { 'a', "order_lines", "[1, 2]" }, { 'r', "order_lines", "[1, {}]" } },
          NM("order_lines[1]"), "order_lines[1]" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* A different count is reported alone, whatever else differs. */
static void rule_line_count(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 'r', "order_lines", "[{\"name\":\"a\",\"quantity\":1,\"unit_price\":1,"
                                  "\"total_amount\":1}]" } },
          NM("Incorrect number of items in the cart. Expected: 2, Actual: 1"), "order_lines" },
        { { { 'a', "order_lines", "[{\"name\":\"a\",\"quantity\":1,\"unit_price\":1,"
                                  "\"total_amount\":1}]" },
            { 'r', "order_amount", "1" }, { 'r', "billing_address.city", "\"X\"" } },
          NM("Incorrect number of items in the cart. Expected: 1, Actual: 2"), "order_lines" },
        { { { 'r', "order_lines", "[{},{},{}]" } },
          NM("Incorrect number of items in the cart. Expected: 2, Actual: 3"), "order_lines" },
        { { { 'r', "order_lines", NULL } },
          NM("Incorrect number of items in the cart. Expected: 2, Actual: 0"), "order_lines" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void rule_address_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {
        "attention", "city", "email", "family_name", "given_name", "organization_name",
        "phone", "postal_code", "region", "street_address", "street_address2", "title",
    };
    /* Every string field: a different value, and present on one side only. */
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        for (int who = 0; who < 2; who++) {
            const char *addr = who ? "shipping_address" : "billing_address";
            char path[96], msg[160];
            snprintf(path, sizeof path, "%s.%s", addr, fields[k]);
            snprintf(msg, sizeof msg, NM("%s"), path);
            const struct mcase c[] = {
                { { { 'a', path, "\"Value\"" }, { 'r', path, "\"Other\"" } }, msg, path },
                { { { 'a', path, "\"Value\"" }, { 'r', path, "\"value\"" } }, msg, path },
                { { { 'a', path, "\"Value\"" }, { 'r', path, "\"Value \"" } }, msg, path },
                { { { 'a', path, "\"Value\"" }, { 'r', path, NULL } }, msg, path },
                { { { 'a', path, "\"Value\"" }, { 'r', path, "null" } }, msg, path },
                { { { 'a', path, NULL }, { 'r', path, "\"Value\"" } }, msg, path },
                { { { 'a', path, "\"Value\"" }, { 'r', path, "\"Value\"" } }, NULL, NULL },
                { { { 'a', path, "null" }, { 'r', path, NULL } }, NULL, NULL },
            };
            run_cases(c, sizeof c / sizeof c[0]);
        }
    }
    static const struct mcase c[] = {
        /* country: case-insensitive */
        { { { 'r', "billing_address.country", "\"se\"" },
            { 'r', "shipping_address.country", "\"SE\"" } }, NULL, NULL },
        { { { 'r', "billing_address.country", "\"NO\"" } }, NM("billing_address.country"),
          "billing_address.country" },
        { { { 'r', "shipping_address.country", NULL } }, NM("shipping_address.country"),
          "shipping_address.country" },
        /* non-ASCII compared byte for byte */
        { { { 'r', "billing_address.street_address", "\"St\\u00e5rgatan 1\"" } }, NULL, NULL },
        { { { 'r', "billing_address.street_address", "\"Stargatan 1\"" } },
          NM("billing_address.street_address"), "billing_address.street_address" },
        /* alphabetical within an address, billing before shipping */
        { { { 'r', "shipping_address.city", "\"B\"" }, { 'r', "billing_address.postal_code",
            "\"1\"" }, { 'r', "billing_address.city", "\"A\"" },
            { 'r', "billing_address.title", "\"Dr\"" } },
          NM("billing_address.city, billing_address.postal_code, billing_address.title, "
             "shipping_address.city"), "billing_address.city" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* An absent or empty authorized address matches anything; an omitted request address matches
 * the snapshot's (the order uses the authorized one). */
static void rule_empty_addresses(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 'a', "billing_address", NULL }, { 'r', "billing_address.city", "\"Elsewhere\"" } },
          NULL, NULL },
        { { { 'a', "billing_address", "null" }, { 'r', "billing_address.city", "\"X\"" } },
          NULL, NULL },
        { { { 'a', "billing_address", "{}" }, { 'r', "billing_address.city", "\"X\"" } },
          NULL, NULL },
        { { { 'a', "billing_address", "{\"unknown\":1}" },
            { 'r', "billing_address.city", "\"X\"" } }, NULL, NULL },
        { { { 'a', "shipping_address", NULL }, { 'r', "shipping_address.city", "\"X\"" } },
          NULL, NULL },
        { { { 'a', "billing_address", NULL }, { 'a', "shipping_address", NULL } }, NULL, NULL },
        { { { 'r', "billing_address", NULL } }, NULL, NULL },
        { { { 'r', "shipping_address", "null" } }, NULL, NULL },
        { { { 'r', "billing_address", "{}" }, { 'r', "shipping_address", NULL } }, NULL, NULL },
        /* only the empty one is skipped: the other is still compared */
        { { { 'a', "billing_address", NULL }, { 'r', "shipping_address.city", "\"X\"" } },
          NM("shipping_address.city"), "shipping_address.city" },
        /* a request address with one field still compares every field */
        { { { 'r', "billing_address", "{\"city\":\"Ankeborg\"}" } },
          NM("billing_address.country, billing_address.email, billing_address.family_name, "
             "billing_address.given_name, billing_address.postal_code, "
             "billing_address.street_address"), "billing_address.country" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Top level first, then lines, then addresses; err->path is the first. */
static void rule_stable_order(void **state)
{
    (void)state;
    static const struct mcase c[] = {
        { { { 'r', "shipping_address.postal_code", "\"1\"" },
            { 'r', "order_lines[1].quantity", "3" }, { 'r', "billing_address.city", "\"X\"" },
            { 'r', "purchase_currency", "\"EUR\"" } },
          NM("purchase_currency, order_lines[1].quantity, billing_address.city, "
             "shipping_address.postal_code"), "purchase_currency" },
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Many mismatches: the message stays within kerr.msg and ends with ", ...]". */
static void rule_message_cap(void **state)
{
    (void)state;
    json_t *a = json_object(), *r = json_object();
    json_t *al = json_array(), *rl = json_array();
    for (int i = 0; i < 200; i++) {
        json_array_append_new(al, load("{\"name\":\"a\",\"quantity\":1,\"unit_price\":1,"
                                       "\"total_amount\":1}"));
        json_array_append_new(rl, load("{\"name\":\"b\",\"quantity\":1,\"unit_price\":1,"
                                       "\"total_amount\":1}"));
    }
    json_object_set_new(a, "order_lines", al);
    json_object_set_new(r, "order_lines", rl);
    struct kerr err;
    kerr_clear(&err);
    assert_int_equal(matching_check(a, r, &err), -1);
    size_t n = strlen(err.msg);
    assert_true(n < sizeof err.msg);
    assert_true(n > 400);
    assert_string_equal(err.msg + n - 6, ", ...]");
    assert_true(strncmp(err.msg, NM("order_lines[0].name, order_lines[1].name"),
                        strlen(NM("order_lines[0].name, order_lines[1].name")) - 1) == 0);
    assert_string_equal(err.path, "order_lines[0].name");
    assert_int_equal(matching_check(a, r, NULL), -1); /* NULL err is allowed */
    json_decref(a);
    json_decref(r);
    /* NULL and non-object inputs: no lines on either side, nothing to compare */
    assert_int_equal(matching_check(NULL, NULL, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_identical_matches),
        cmocka_unit_test(rule_top_level_fields),
        cmocka_unit_test(rule_line_fields),
        cmocka_unit_test(rule_line_count),
        cmocka_unit_test(rule_address_fields),
        cmocka_unit_test(rule_empty_addresses),
        cmocka_unit_test(rule_stable_order),
        cmocka_unit_test(rule_message_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
