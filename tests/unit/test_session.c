/* test_session: the Klarna Payments session rules end to end through session_from_create,
 * session_apply_update and session_validate: schema and limits with exact JSON paths, the
 * joined "missing" message, the market table, cart arithmetic and tax through the JSON form,
 * the US sales-tax model, the order of checks, and the update merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/session.h"

/* SE, 25 % VAT, a discount line and a shipping line: valid. */
static const char *base_json =
    "{\"purchase_country\":\"SE\",\"purchase_currency\":\"SEK\",\"order_amount\":9500,"
    "\"order_tax_amount\":1900,\"order_lines\":["
    "{\"type\":\"physical\",\"reference\":\"19-402\",\"name\":\"Red T-Shirt\",\"quantity\":1,"
    "\"quantity_unit\":\"pcs\",\"unit_price\":10000,\"tax_rate\":2500,\"total_amount\":10000,"
    "\"total_discount_amount\":0,\"total_tax_amount\":2000},"
    "{\"type\":\"discount\",\"name\":\"Discount\",\"quantity\":1,\"unit_price\":-1000,"
    "\"tax_rate\":2500,\"total_amount\":-1000,\"total_tax_amount\":-200},"
    "{\"type\":\"shipping_fee\",\"name\":\"Shipping\",\"quantity\":1,\"unit_price\":500,"
    "\"tax_rate\":2500,\"total_amount\":500,\"total_tax_amount\":100}],"
    "\"merchant_urls\":{\"confirmation\":\"https://shop.example/confirm\","
    "\"authorization\":\"http://localhost:8080/auth\"},"
    "\"billing_address\":{\"given_name\":\"Testperson-se\",\"family_name\":\"Approved\","
    "\"postal_code\":\"12345\",\"country\":\"SE\"}}";

/* Klarna's documented tax example (20 %), used in GB. */
static const char *doc_json =
    "{\"purchase_country\":\"GB\",\"purchase_currency\":\"GBP\",\"order_amount\":62400,"
    "\"order_tax_amount\":10400,\"order_lines\":["
    "{\"name\":\"A\",\"quantity\":1,\"unit_price\":59500,\"tax_rate\":2000,"
    "\"total_amount\":59500,\"total_tax_amount\":9917},"
    "{\"name\":\"B\",\"quantity\":1,\"unit_price\":2900,\"tax_rate\":2000,"
    "\"total_amount\":2900,\"total_tax_amount\":483}]}";

/* US sales-tax model (contract 2.10 example): 20000 + a 1000 sales_tax line. */
static const char *us_json =
    "{\"purchase_country\":\"US\",\"purchase_currency\":\"USD\",\"locale\":\"en-US\","
    "\"order_amount\":21000,\"order_tax_amount\":1000,\"order_lines\":["
    "{\"type\":\"physical\",\"name\":\"Shoes\",\"quantity\":2,\"unit_price\":10000,"
    "\"total_amount\":20000},"
    "{\"type\":\"sales_tax\",\"name\":\"Tax\",\"quantity\":1,\"unit_price\":1000,"
    "\"total_amount\":1000}]}";

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

/* Sets the value at a path like "order_lines[2].name" or "billing_address.postal_code",
 * creating objects on the way; a NULL value deletes the key. */
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
        if (!dot) {
            json_decref(value); /* only "a[i]" whole-element replacement is not needed */
            fail_msg("set_at: unsupported path %s", path);
        }
        cur = next;
        tok = dot + 1;
    }
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static json_t *str_of(char c, size_t n)
{
    char *s = repeat(c, n);
    json_t *v = json_string(s);
    free(s);
    return v;
}

static void assert_bad(const struct kerr *err, const char *path)
{
    char msg[600];
    snprintf(msg, sizeof msg, "Bad value: %s", path);
    assert_int_equal(err->status, 400);
    assert_string_equal(err->code, "BAD_VALUE");
    assert_string_equal(err->path, path);
    assert_string_equal(err->msg, msg);
}

/* Creates from body; expects success (path NULL) or the error at path. Consumes body. */
static void expect_create(json_t *body, const char *path)
{
    struct kerr err;
    kerr_clear(&err);
    json_t *s = session_from_create(body, &err);
    if (!path) {
        if (!s)
            fail_msg("expected success, got \"%s\"", err.msg);
        json_decref(s);
    } else {
        if (s) {
            json_decref(s);
            json_decref(body);
            fail_msg("expected failure at %s", path);
        }
        assert_bad(&err, path);
    }
    json_decref(body);
}

struct edit {
    const char *set;      /* path to set */
    const char *value;    /* JSON text, NULL deletes */
    const char *bad_path; /* expected error path, NULL for success */
};

static void run_edits(const char *base, const struct edit *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *body = load(base);
        set_at(body, cases[i].set, cases[i].value ? load(cases[i].value) : NULL);
        struct kerr err;
        kerr_clear(&err);
        json_t *s = session_from_create(body, &err);
        bool ok = s != NULL;
        json_decref(s);
        json_decref(body);
        if (cases[i].bad_path == NULL && !ok)
            fail_msg("case %zu (%s): expected success, got \"%s\"", i, cases[i].set, err.msg);
        if (cases[i].bad_path && ok)
            fail_msg("case %zu (%s): expected failure at %s", i, cases[i].set,
                     cases[i].bad_path);
        if (cases[i].bad_path && strcmp(err.path, cases[i].bad_path) != 0)
            fail_msg("case %zu (%s): expected %s, got \"%s\"", i, cases[i].set,
                     cases[i].bad_path, err.msg);
        if (cases[i].bad_path)
            assert_bad(&err, cases[i].bad_path);
    }
}

/* A valid body is stored with defaults, without read-only or unknown keys, input untouched. */
static void rule1_create_stores_known_fields(void **state)
{
    (void)state;
    json_t *body = load(base_json);
    json_object_set_new(body, "status", json_string("complete"));
    json_object_set_new(body, "client_token", json_integer(5)); /* read-only: ignored even if wrong */
    json_object_set_new(body, "expires_at", json_string("2038-01-19T03:14:07.000Z"));
    json_object_set_new(body, "authorization_token", json_string("x"));
    json_object_set_new(body, "payment_method_categories", json_array());
    json_object_set_new(body, "surprise", json_string("dropped"));
    set_at(body, "billing_address.unknown", json_string("dropped"));
    set_at(body, "order_lines[0].unknown", json_true());
    json_object_set_new(body, "design", json_null()); /* null is absent */
    json_t *copy = json_deep_copy(body);
    struct kerr err;
    json_t *s = session_from_create(body, &err);
    assert_non_null(s);
    assert_true(json_equal(body, copy));
    static const char *const gone[] = { "status", "client_token", "expires_at",
                                        "authorization_token", "payment_method_categories",
                                        "surprise", "design" };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        assert_null(json_object_get(s, gone[i]));
    assert_null(json_object_get(json_object_get(s, "billing_address"), "unknown"));
    assert_null(json_object_get(json_array_get(json_object_get(s, "order_lines"), 0), "unknown"));
    assert_string_equal(json_string_value(json_object_get(s, "locale")), "en-SE");
    assert_string_equal(json_string_value(json_object_get(s, "intent")), "buy");
    assert_string_equal(json_string_value(json_object_get(s, "acquiring_channel")), "ECOMMERCE");
    assert_int_equal(json_integer_value(json_object_get(s, "order_amount")), 9500);
    assert_int_equal(json_array_size(json_object_get(s, "order_lines")), 3);
    assert_int_equal(session_validate(s, &err), 0);
    json_decref(s);
    json_decref(copy);
    json_decref(body);
}

/* Rule 1: missing required top-level fields are reported together, in schema order. */
static void rule1_missing_required_joined(void **state)
{
    (void)state;
    expect_create(json_object(),
                  "purchase_country, purchase_currency, order_amount, order_lines");
    expect_create(json_pack("{s:s}", "purchase_country", "SE"),
                  "purchase_currency, order_amount, order_lines");
    expect_create(json_pack("{s:s,s:i}", "purchase_currency", "SEK", "order_amount", 1),
                  "purchase_country, order_lines");
    json_t *b = load(base_json);
    json_object_del(b, "order_amount");
    expect_create(b, "order_amount");
    /* NULL and JSON null are empty bodies */
    struct kerr err;
    assert_null(session_from_create(NULL, &err));
    assert_bad(&err, "purchase_country, purchase_currency, order_amount, order_lines");
    expect_create(json_null(), "purchase_country, purchase_currency, order_amount, order_lines");
    /* a body that is not an object at all */
    json_t *arr = json_array();
    assert_null(session_from_create(arr, &err));
    assert_string_equal(err.msg, "Bad value: body");
    json_decref(arr);
}

/* Rule 1: field limits and types, with the path of the first bad field. */
static void rule1_field_paths(void **state)
{
    (void)state;
    char *name256 = repeat('n', 256), *pc11 = repeat('1', 11), *url2001 = repeat('u', 1993);
    char v_name[300], v_pc[40], v_url[2100];
    snprintf(v_name, sizeof v_name, "\"%s\"", name256);
    snprintf(v_pc, sizeof v_pc, "\"%s\"", pc11);
    snprintf(v_url, sizeof v_url, "\"https://%s\"", url2001); /* 8 + 1993 = 2001 */
    const struct edit cases[] = {
        { "order_lines[2].name", v_name, "order_lines[2].name" },
        { "billing_address.postal_code", v_pc, "billing_address.postal_code" },
        { "merchant_urls.confirmation", v_url, "merchant_urls.confirmation" },
        { "customer.date_of_birth", "\"2020-02-30\"", "customer.date_of_birth" },
        { "customer.date_of_birth", "\"2020-02-29\"", NULL },
        /* reals where integers are expected, strings where numbers are expected */
        { "order_amount", "9500.0", "order_amount" },
        { "order_lines[1].quantity", "1.0", "order_lines[1].quantity" },
        { "order_lines[0].unit_price", "\"10000\"", "order_lines[0].unit_price" },
        { "order_tax_amount", "true", "order_tax_amount" },
        { "order_lines[0].tax_rate", "2500.0", "order_lines[0].tax_rate" },
        { "purchase_country", "46", "purchase_country" },
        { "order_lines", "{}", "order_lines" },
        { "order_lines", "[]", "order_lines" },
        { "order_lines", "[1]", "order_lines[0]" },
        { "billing_address", "\"x\"", "billing_address" },
        /* ranges */
        { "order_amount", "-1", "order_amount" },
        { "order_tax_amount", "-1", "order_tax_amount" },
        { "order_lines[0].quantity", "-1", "order_lines[0].quantity" },
        { "order_lines[0].tax_rate", "10001", "order_lines[0].tax_rate" },
        { "order_lines[0].tax_rate", "-1", "order_lines[0].tax_rate" },
        { "order_lines[0].unit_price", "200000001", "order_lines[0].unit_price" },
        { "order_lines[0].unit_price", "-200000001", "order_lines[0].unit_price" },
        { "order_lines[0].total_amount", "200000001", "order_lines[0].total_amount" },
        { "order_lines[0].total_discount_amount", "-1", "order_lines[0].total_discount_amount" },
        { "order_lines[0].name", "\"\"", "order_lines[0].name" },
        { "order_lines[0].name", NULL, "order_lines[0].name" },
        { "order_lines[0].quantity_unit", "\"kilograms\"", "order_lines[0].quantity_unit" },
        { "order_lines[0].quantity_unit", "\"\"", NULL },   /* "" accepted (Klarna, recorded) */
        { "order_lines[0].reference", v_name, "order_lines[0].reference" },
        /* enums */
        { "order_lines[0].type", "\"PHYSICAL\"", NULL },  /* any case; stored "physical" */
        { "order_lines[0].type", "\"return_fee\"", "order_lines[0].type" },
        { "order_lines[0].type", NULL, NULL }, /* absent = physical */
        { "intent", "\"buy_and_link\"", NULL },
        { "intent", "\"buy_and_default_tokenize\"", NULL },
        { "intent", "\"rent\"", "intent" },
        { "acquiring_channel", "\"IN_STORE\"", NULL },
        { "acquiring_channel", "\"ecommerce\"", NULL },  /* any case (Klarna, recorded) */
        { "acquiring_channel", "\"online\"", "acquiring_channel" },
        /* address */
        { "billing_address.title", "\"123456789012345678901\"", "billing_address.title" },
        { "billing_address.country", "\"SWE\"", "billing_address.country" },
        { "shipping_address.city", v_name, "shipping_address.city" },
        { "billing_address.country", "\"DE\"", NULL }, /* purchase_country decides the market */
        /* customer */
        { "customer.gender", "\"other\"", "customer.gender" },
        { "customer.type", "\"company\"", "customer.type" },
        { "customer.type", "\"organization\"", NULL },
        { "customer.last_four_ssn", "\"12345\"", "customer.last_four_ssn" },
        { "customer.last_four_ssn", "\"123456789\"", NULL },
        { "customer.organization_entity_type", "\"LLC\"", "customer.organization_entity_type" },
        { "customer.organization_entity_type", "\"SOLE_TRADER\"", NULL },
        /* merchant fields */
        { "merchant_urls.push", "\"ftp://x\"", "merchant_urls.push" },
        { "merchant_urls.notification", "\"http://shop.example/n\"", NULL },
        { "merchant_urls.app_return_url", "\"https://x\"", "merchant_urls.app_return_url" },
        { "merchant_urls.app_return_url", "\"shopapp://done\"", NULL },
        { "merchant_reference1", v_name, "merchant_reference1" },
        { "merchant_reference2", "\"ref-2\"", NULL },
        { "attachment", "{\"body\":\"{}\"}", "attachment.content_type" },
        { "attachment", "{\"content_type\":\"x\",\"body\":1}", "attachment.body" },
        { "attachment",
          "{\"content_type\":\"application/vnd.klarna.internal.emd-v2+json\",\"body\":\"{}\"}",
          NULL },
        { "options.color_border", "\"#12345G\"", "options.color_border" },
        { "options.color_text", "\"#aBcDeF\"", NULL },
        { "custom_payment_method_ids", "[\"a\",2]", "custom_payment_method_ids[1]" },
        { "custom_payment_method_ids", "\"a\"", "custom_payment_method_ids" },
        { "design", "5", "design" },
        { "locale", "\"sv_SE\"", "locale" },
        /* product identifiers and subscription */
        { "order_lines[1].product_identifiers.brand",
          "\"12345678901234567890123456789012345678901234567890123456789012345678901\"",
          "order_lines[1].product_identifiers.brand" },
        { "order_lines[0].subscription", "{\"name\":\"S\",\"interval\":\"MONTH\"}",
          "order_lines[0].subscription.interval_count" },
        { "order_lines[0].subscription",
          "{\"name\":\"S\",\"interval\":\"MONTH\",\"interval_count\":0}",
          "order_lines[0].subscription.interval_count" },
        { "order_lines[0].subscription",
          "{\"name\":\"S\",\"interval\":\"FORTNIGHT\",\"interval_count\":1}",
          "order_lines[0].subscription.interval" },
        { "order_lines[0].subscription",
          "{\"name\":\"S\",\"interval\":\"MONTH\",\"interval_count\":1}", NULL },
    };
    run_edits(base_json, cases, sizeof cases / sizeof cases[0]);
    free(name256);
    free(pc11);
    free(url2001);
}

/* Rule 1: a merchant URL of exactly 2000 characters, merchant_data 6000/6001. */
static void rule1_length_boundaries(void **state)
{
    (void)state;
    json_t *b = load(base_json);
    char *u = repeat('u', 1992);
    char url[2100];
    snprintf(url, sizeof url, "https://%s", u);
    set_at(b, "merchant_urls.confirmation", json_string(url));
    set_at(b, "merchant_data", str_of('m', 6000));
    expect_create(b, NULL);
    b = load(base_json);
    set_at(b, "merchant_data", str_of('m', 6001));
    expect_create(b, "merchant_data");
    free(u);
}

/* Rule 1: order_lines holds 1..1000 lines. */
static void rule1_order_line_count(void **state)
{
    (void)state;
    for (size_t n = 1000; n <= 1001; n++) {
        json_t *b = load(base_json);
        json_t *lines = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(lines, json_pack("{s:s,s:i,s:i,s:i}", "name", "x", "quantity",
                                                   1, "unit_price", 10, "total_amount", 10));
        json_object_set_new(b, "order_lines", lines);
        json_object_set_new(b, "order_amount", json_integer((json_int_t)n * 10));
        json_object_del(b, "order_tax_amount");
        expect_create(b, n == 1000 ? NULL : "order_lines");
    }
}

/* Rule 2: market table through the session: currency, locale, country, case. */
static void rule2_market(void **state)
{
    (void)state;
    const struct edit cases[] = {
        { "purchase_currency", "\"EUR\"", "purchase_currency" },
        { "purchase_currency", "\"sek\"", NULL },
        { "purchase_country", "\"se\"", NULL },
        { "purchase_country", "\"JP\"", "purchase_country" },
        { "purchase_country", "\"FI\"", "purchase_currency" },
        { "locale", "\"en-US\"", "locale" },
        { "locale", "\"sv-FI\"", "locale" },
        { "locale", "\"EN-se\"", NULL },
        { "locale", "\"sv-SE\"", NULL },
    };
    run_edits(base_json, cases, sizeof cases / sizeof cases[0]);
    /* default locale is en-<COUNTRY> uppercase, even for a lowercase country */
    json_t *b = load(base_json);
    json_object_set_new(b, "purchase_country", json_string("se"));
    struct kerr err;
    json_t *s = session_from_create(b, &err);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "locale")), "en-SE");
    assert_string_equal(json_string_value(json_object_get(s, "purchase_country")), "se");
    json_decref(s);
    json_decref(b);
}

/* Rules 3, 5, 6 through the JSON form. */
static void rules3_to_6_through_json(void **state)
{
    (void)state;
    const struct edit cases[] = {
        { "order_lines[2].total_amount", "499", "order_lines[2].total_amount" },
        { "order_lines[0].quantity", "4611686018427387904", "order_lines[0].total_amount" },
        { "order_lines[0].total_tax_amount", "2002", "order_lines[0].total_tax_amount" },
        { "order_lines[0].total_tax_amount", "2001", NULL },
        { "order_amount", "9501", "order_amount" },
        { "order_tax_amount", "1904", "order_tax_amount" },
        { "order_tax_amount", "1903", NULL },
        { "order_tax_amount", NULL, "order_tax_amount" }, /* absent = 0 */
    };
    run_edits(base_json, cases, sizeof cases / sizeof cases[0]);
}

/* Rule 4: Klarna's documented example passes; the same at 25 % fails at line 0. */
static void rule4_documented_example(void **state)
{
    (void)state;
    expect_create(load(doc_json), NULL);
    json_t *b = load(doc_json);
    set_at(b, "order_lines[0].tax_rate", json_integer(2500));
    set_at(b, "order_lines[1].tax_rate", json_integer(2500));
    expect_create(b, "order_lines[0].total_tax_amount");
}

/* Rule 7: the US sales-tax model. */
static void rule7_us_sales_tax(void **state)
{
    (void)state;
    const struct edit cases[] = {
        { "order_tax_amount", "1000", NULL },
        { "order_tax_amount", "999", "order_tax_amount" },
        { "order_tax_amount", NULL, NULL },   /* derived from the sales_tax lines (Klarna) */
        { "order_lines[0].total_tax_amount", "0", NULL },
        { "order_lines[0].total_tax_amount", "100", "order_lines[0].total_tax_amount" },
        { "order_amount", "20000", "order_amount" }, /* the sales_tax line counts */
        { "purchase_country", "\"us\"", NULL },
    };
    run_edits(us_json, cases, sizeof cases / sizeof cases[0]);
    /* without order_tax_amount it is derived: the sum of the sales_tax lines */
    json_t *b = load(us_json);
    json_object_del(b, "order_tax_amount");
    struct kerr derr = {0};
    json_t *made = session_from_create(b, &derr);
    assert_non_null(made);
    assert_int_equal(json_integer_value(json_object_get(made, "order_tax_amount")), 1000);
    json_decref(made);
    json_decref(b);
    /* enums in any case are stored in Klarna's spelling */
    b = load(base_json);
    json_object_set_new(b, "acquiring_channel", json_string("ecommerce"));
    set_at(b, "order_lines[0].type", json_string("PHYSICAL"));
    made = session_from_create(b, &derr);
    assert_non_null(made);
    assert_string_equal(json_string_value(json_object_get(made, "acquiring_channel")), "ECOMMERCE");
    assert_string_equal(json_string_value(json_object_get(
        json_array_get(json_object_get(made, "order_lines"), 0), "type")), "physical");
    json_decref(made);
    json_decref(b);
    /* a sales_tax line outside the US */
    b = load(base_json);
    set_at(b, "order_lines[2].type", json_string("sales_tax"));
    expect_create(b, "order_lines[2].type");
    /* without a sales_tax line the global model applies in the US too */
    b = load(us_json);
    set_at(b, "order_lines[1].type", json_string("shipping_fee"));
    expect_create(b, "order_tax_amount"); /* Σ line taxes 0, order_tax_amount 1000 */
}

/* Rule 8: schema before market before arithmetic before tax before totals. */
static void rule8_order_of_checks(void **state)
{
    (void)state;
    json_t *b = load(base_json);
    set_at(b, "order_lines[2].total_amount", json_integer(1));   /* arithmetic */
    set_at(b, "order_lines[0].total_tax_amount", json_integer(0)); /* tax */
    set_at(b, "order_amount", json_integer(1));                  /* total */
    set_at(b, "order_tax_amount", json_integer(0));              /* order tax */
    set_at(b, "purchase_currency", json_string("EUR"));          /* market */
    set_at(b, "billing_address.postal_code", str_of('9', 11));   /* schema */
    static const char *const expected[] = {
        "billing_address.postal_code", "purchase_currency", "order_lines[2].total_amount",
        "order_lines[0].total_tax_amount", "order_amount", "order_tax_amount",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        struct kerr err;
        json_t *s = session_from_create(b, &err);
        assert_null(s);
        assert_bad(&err, expected[i]);
        /* fix the reported problem and go on */
        switch (i) {
        case 0: set_at(b, "billing_address.postal_code", json_string("12345")); break;
        case 1: set_at(b, "purchase_currency", json_string("SEK")); break;
        case 2: set_at(b, "order_lines[2].total_amount", json_integer(500)); break;
        case 3: set_at(b, "order_lines[0].total_tax_amount", json_integer(2000)); break;
        case 4: set_at(b, "order_amount", json_integer(9500)); break;
        case 5: set_at(b, "order_tax_amount", json_integer(1900)); break;
        }
    }
    expect_create(b, NULL);
}

static json_t *create_ok(const char *text)
{
    json_t *b = load(text);
    struct kerr err;
    json_t *s = session_from_create(b, &err);
    json_decref(b);
    if (!s)
        fail_msg("create failed: %s", err.msg);
    return s;
}

/* Rule 9: update replaces top-level keys, never touches stored or update, returns new. */
static void rule9_update_merges_without_mutating(void **state)
{
    (void)state;
    json_t *stored = create_ok(base_json);
    json_t *stored_copy = json_deep_copy(stored);
    json_t *upd = load("{\"order_amount\":10000,\"order_tax_amount\":2000,\"order_lines\":["
                       "{\"name\":\"One\",\"quantity\":2,\"unit_price\":5000,\"tax_rate\":2500,"
                       "\"total_amount\":10000,\"total_tax_amount\":2000}],"
                       "\"billing_address\":{\"given_name\":\"New\"},"
                       "\"status\":\"complete\",\"merchant_reference1\":\"R1\",\"zzz\":1}");
    json_t *upd_copy = json_deep_copy(upd);
    struct kerr err;
    json_t *merged = session_apply_update(stored, upd, &err);
    assert_non_null(merged);
    assert_true(merged != stored);
    assert_true(json_equal(stored, stored_copy));
    assert_true(json_equal(upd, upd_copy));
    assert_int_equal(json_array_size(json_object_get(merged, "order_lines")), 1);
    json_t *ba = json_object_get(merged, "billing_address");
    assert_string_equal(json_string_value(json_object_get(ba, "given_name")), "New");
    assert_null(json_object_get(ba, "family_name")); /* replaced as a whole */
    assert_string_equal(json_string_value(json_object_get(merged, "merchant_reference1")), "R1");
    assert_null(json_object_get(merged, "status"));
    assert_null(json_object_get(merged, "zzz"));
    assert_true(json_equal(json_object_get(merged, "merchant_urls"),
                           json_object_get(stored, "merchant_urls"))); /* kept */
    /* the result shares nothing with stored */
    json_object_set_new(json_object_get(merged, "merchant_urls"), "push",
                        json_string("https://x"));
    assert_true(json_equal(stored, stored_copy));
    json_decref(merged);
    json_decref(upd);
    json_decref(upd_copy);
    json_decref(stored);
    json_decref(stored_copy);
}

/* Rule 9: the merged result is validated as a whole session; failures leave stored alone. */
static void rule9_update_revalidates(void **state)
{
    (void)state;
    json_t *stored = create_ok(base_json);
    json_t *stored_copy = json_deep_copy(stored);
    static const struct { const char *update, *path; } cases[] = {
        { "{\"order_amount\":9000}", "order_amount" },          /* no longer the line sum */
        { "{\"purchase_currency\":\"EUR\"}", "purchase_currency" },
        { "{\"purchase_country\":\"FI\"}", "purchase_currency" },
        { "{\"order_amount\":1.5}", "order_amount" },           /* paths are the update's */
        { "{\"order_lines\":[]}", "order_lines" },
        { "{\"billing_address\":{\"postal_code\":\"12345678901\"}}",
          "billing_address.postal_code" },
        { "{\"order_lines\":[{\"name\":\"x\",\"quantity\":1,\"unit_price\":9500,"
          "\"total_amount\":9500}]}", "order_tax_amount" }, /* stored 1900 vs no line tax */
        { "{\"locale\":\"de-DE\"}", "locale" },
        { "[]", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *u = load(cases[i].update);
        struct kerr err;
        kerr_clear(&err);
        json_t *m = session_apply_update(stored, u, &err);
        json_decref(u);
        if (m) {
            json_decref(m);
            fail_msg("update %zu should fail", i);
        }
        if (cases[i].path)
            assert_bad(&err, cases[i].path);
        else
            assert_string_equal(err.msg, "Bad value: body");
        assert_true(json_equal(stored, stored_copy));
    }
    json_decref(stored);
    json_decref(stored_copy);
}

/* Rule 9: nulls keep the stored value; an empty or NULL update revalidates and copies. */
static void rule9_update_edge_cases(void **state)
{
    (void)state;
    json_t *stored = create_ok(base_json);
    struct kerr err;
    json_t *u = load("{\"locale\":null,\"order_lines\":null,\"design\":\"d1\"}");
    json_t *m = session_apply_update(stored, u, &err);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "locale")), "en-SE");
    assert_int_equal(json_array_size(json_object_get(m, "order_lines")), 3);
    assert_string_equal(json_string_value(json_object_get(m, "design")), "d1");
    json_decref(m);
    json_decref(u);
    m = session_apply_update(stored, NULL, &err);
    assert_non_null(m);
    assert_true(json_equal(m, stored));
    json_decref(m);
    assert_null(session_apply_update(NULL, NULL, &err));
    assert_int_equal(err.status, 500);
    json_decref(stored);
}

/* Rule 9 [INF]: a defaulted locale follows a country change; a chosen one is kept. */
static void rule9_update_country_moves_default_locale(void **state)
{
    (void)state;
    json_t *stored = create_ok(base_json); /* locale defaulted to en-SE */
    json_t *u = load("{\"purchase_country\":\"DE\",\"purchase_currency\":\"EUR\"}");
    struct kerr err;
    json_t *m = session_apply_update(stored, u, &err);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "locale")), "en-DE");
    json_decref(m);
    json_decref(stored);
    json_t *b = load(base_json);
    json_object_set_new(b, "locale", json_string("sv-SE"));
    stored = session_from_create(b, &err);
    json_decref(b);
    assert_non_null(stored);
    assert_null(session_apply_update(stored, u, &err));
    assert_bad(&err, "locale");
    json_decref(u);
    json_decref(stored);
}

/* Rule 10: wrong types everywhere never crash and never leak. */
static void rule10_robustness(void **state)
{
    (void)state;
    static const char *const values[] = {
        "null", "true", "0", "-1", "1.5", "\"\"", "\"x\"", "[]", "{}", "[null]", "[[]]",
        "[{}]", "{\"a\":{}}", "9223372036854775807", "-9223372036854775808",
    };
    static const char *const keys[] = {
        "purchase_country", "purchase_currency", "locale", "order_amount", "order_tax_amount",
        "order_lines", "billing_address", "customer", "merchant_urls", "attachment", "options",
        "custom_payment_method_ids", "order_lines[0].quantity", "order_lines[1].unit_price",
        "order_lines[0].subscription", "order_lines[2].product_identifiers",
        "billing_address.country", "customer.date_of_birth", "order_lines[0].total_tax_amount",
        "order_lines[0].type",
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            json_t *b = load(base_json);
            set_at(b, keys[k], load(values[v]));
            struct kerr err;
            json_t *s = session_from_create(b, &err);
            json_decref(s);
            json_t *stored = create_ok(base_json);
            json_t *m = session_apply_update(stored, b, &err);
            json_decref(m);
            assert_int_equal(session_validate(b, NULL) == 0, session_validate(b, &err) == 0);
            json_decref(stored);
            json_decref(b);
        }
    struct kerr err;
    assert_int_equal(session_validate(NULL, &err), -1);
    assert_null(session_from_create(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule1_create_stores_known_fields),
        cmocka_unit_test(rule1_missing_required_joined),
        cmocka_unit_test(rule1_field_paths),
        cmocka_unit_test(rule1_length_boundaries),
        cmocka_unit_test(rule1_order_line_count),
        cmocka_unit_test(rule2_market),
        cmocka_unit_test(rules3_to_6_through_json),
        cmocka_unit_test(rule4_documented_example),
        cmocka_unit_test(rule7_us_sales_tax),
        cmocka_unit_test(rule8_order_of_checks),
        cmocka_unit_test(rule9_update_merges_without_mutating),
        cmocka_unit_test(rule9_update_revalidates),
        cmocka_unit_test(rule9_update_edge_cases),
        cmocka_unit_test(rule9_update_country_moves_default_locale),
        cmocka_unit_test(rule10_robustness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
