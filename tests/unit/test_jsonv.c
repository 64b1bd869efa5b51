/* test_jsonv: the rule-table engine on a small made-up schema: types, required fields, lengths,
 * ranges, enums, patterns, nested paths, arrays, the joined "missing" message, partial mode and
 * the filtered copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/jsonv.h"

static const char *const colors[] = { "red", "green", NULL };

static const struct jv_rule inner_rules[] = {
    { .name = "code", .type = JV_STRING, .flags = JV_REQUIRED, .max_len = 4 },
    { .name = "shade", .type = JV_STRING, .enums = colors },
    { .name = "n", .type = JV_INT, .flags = JV_MIN | JV_MAX, .min = -5, .max = 5 },
    { .name = NULL },
};
static const struct jv_rule inner_item = { .type = JV_OBJECT, .fields = inner_rules };
static const struct jv_rule tag_item = { .type = JV_STRING, .max_len = 3 };

static const struct jv_rule root_rules[] = {
    { .name = "a", .type = JV_STRING, .flags = JV_REQUIRED, .min_len = 1, .max_len = 5 },
    { .name = "b", .type = JV_INT, .flags = JV_REQUIRED | JV_MIN, .min = 0 },
    { .name = "flag", .type = JV_BOOL },
    { .name = "color", .type = JV_STRING, .enums = colors },
    { .name = "inner", .type = JV_OBJECT, .fields = inner_rules },
    { .name = "items", .type = JV_ARRAY, .flags = JV_REQUIRED, .item = &inner_item,
      .min_items = 1, .max_items = 3 },
    { .name = "tags", .type = JV_ARRAY, .item = &tag_item },
    { .name = "when", .type = JV_STRING, .pattern = JV_PAT_DATE },
    { .name = NULL },
};

static const char *valid_json =
    "{\"a\":\"abc\",\"b\":1,\"flag\":true,\"color\":\"red\",\"inner\":{\"code\":\"X1\",\"n\":5},"
    "\"items\":[{\"code\":\"A\"},{\"code\":\"B\",\"n\":-5}],\"tags\":[\"x\",\"yz\"],"
    "\"when\":\"2024-02-29\",\"unknown\":{\"deep\":[1,2]}}";

/* Parses valid_json, sets key (dotted top-level only) to the JSON text value, checks. */
static json_t *with(const char *key, const char *value)
{
    json_error_t e;
    json_t *o = json_loads(valid_json, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(o);
    if (key) {
        if (value) {
            json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            if (!v)
                fail_msg("bad test value %s: %s", value, e.text);
            json_object_set_new(o, key, v);
        } else {
            json_object_del(o, key);
        }
    }
    return o;
}

static void expect_path(const json_t *o, unsigned flags, const char *path)
{
    struct kerr err;
    kerr_clear(&err);
    int rc = jv_check(o, root_rules, flags, &err);
    if (!path) {
        if (rc != 0)
            fail_msg("expected success, got \"%s\"", err.msg);
        return;
    }
    if (rc != -1)
        fail_msg("expected failure at %s", path);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "BAD_VALUE");
    assert_string_equal(err.path, path);
    char msg[300];
    snprintf(msg, sizeof msg, "Bad value: %s", path);
    assert_string_equal(err.msg, msg);
}

/* Sets key to value in the valid document and expects the error at path (NULL: accepted). */
static void case_at(const char *key, const char *value, const char *path)
{
    json_t *o = with(key, value);
    expect_path(o, 0, path);
    json_decref(o);
}

static void valid_document_passes(void **state)
{
    (void)state;
    case_at(NULL, NULL, NULL);
}

/* Rule 1: wrong JSON types are bad values at their path; reals are not integers. */
static void rule1_types(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        { "a", "5", "a" },
        { "a", "true", "a" },
        { "b", "1.0", "b" },
        { "b", "100.5", "b" },
        { "b", "\"1\"", "b" },
        { "flag", "1", "flag" },
        { "flag", "\"true\"", "flag" },
        { "inner", "[]", "inner" },
        { "inner", "\"x\"", "inner" },
        { "items", "{}", "items" },
        { "tags", "\"x\"", "tags" },
        { "tags", "[1]", "tags[0]" },
        { "items", "[{\"code\":\"A\"},[]]", "items[1]" },
        { "items", "[{\"code\":\"A\"},null]", "items[1]" },
        { "inner", "{\"code\":\"X\",\"n\":2.0}", "inner.n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        case_at(cases[i][0], cases[i][1], cases[i][2]);
}

/* Rule 1: lengths count code points, ranges are inclusive, enums exact. */
static void rule1_limits(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        { "a", "\"\"", "a" },                    /* min_len 1 */
        { "a", "\"abcde\"", NULL },              /* max_len 5 */
        { "a", "\"abcdef\"", "a" },
        { "a", "\"\\u00e5\\u00e4\\u00f6\\u00e5\\u00e4\"", NULL }, /* 5 code points, 10 bytes */
        { "a", "\"ab\\u0000c\"", "a" },          /* embedded NUL */
        { "b", "0", NULL },
        { "b", "-1", "b" },
        { "b", "9223372036854775807", NULL },
        { "color", "\"green\"", NULL },
        { "color", "\"Green\"", NULL },      /* enums match in any case (Klarna, recorded) */
        { "color", "\"blue\"", "color" },
        { "color", "\"blue\"", "color" },
        { "inner", "{\"code\":\"X\",\"n\":6}", "inner.n" },
        { "inner", "{\"code\":\"X\",\"n\":-6}", "inner.n" },
        { "inner", "{\"code\":\"ABCDE\"}", "inner.code" },
        { "items", "[]", "items" },              /* min_items 1 */
        { "items", "[{\"code\":\"A\"},{\"code\":\"A\"},{\"code\":\"A\"}]", NULL },
        { "items", "[{\"code\":\"A\"},{\"code\":\"A\"},{\"code\":\"A\"},{\"code\":\"A\"}]",
          "items" },                             /* max_items 3 */
        { "items", "[{\"code\":\"A\"},{\"code\":\"A\"},{\"code\":\"ABCDEF\"}]", "items[2].code" },
        { "items", "[{\"code\":\"A\"},{\"n\":1}]", "items[1].code" }, /* nested required */
        { "tags", "[\"abc\",\"abcd\"]", "tags[1]" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        case_at(cases[i][0], cases[i][1], cases[i][2]);
}

/* Rule 1: null is the same as absent; a null required field is missing. */
static void rule1_null_is_absent(void **state)
{
    (void)state;
    case_at("flag", "null", NULL);
    case_at("inner", "null", NULL);
    case_at("b", "null", "b");
    case_at("items", "null", "items");
}

/* Rule 1: several missing required root fields are named together, in table order. */
static void rule1_missing_joined(void **state)
{
    (void)state;
    json_t *o = json_object();
    struct kerr err;
    assert_int_equal(jv_check(o, root_rules, JV_JOIN_MISSING, &err), -1);
    assert_string_equal(err.msg, "Bad value: a, b, items");
    assert_string_equal(err.path, "a, b, items");
    assert_int_equal(err.status, 400);
    /* without the flag: the first one only */
    expect_path(o, 0, "a");
    /* partial mode: none required, so an empty object is fine */
    expect_path(o, JV_PARTIAL, NULL);
    json_decref(o);
    /* one missing: the same as the single message */
    o = with("b", NULL);
    assert_int_equal(jv_check(o, root_rules, JV_JOIN_MISSING, &err), -1);
    assert_string_equal(err.msg, "Bad value: b");
    json_decref(o);
    /* joined missing names come before other errors */
    o = with("b", NULL);
    json_object_set_new(o, "a", json_integer(3));
    assert_int_equal(jv_check(o, root_rules, JV_JOIN_MISSING, &err), -1);
    assert_string_equal(err.msg, "Bad value: b");
    json_decref(o);
}

/* Rule 1: partial mode still checks the fields that are there, and nested required fields. */
static void rule1_partial(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:i}", "b", -3);
    expect_path(o, JV_PARTIAL, "b");
    json_decref(o);
    o = json_pack("{s:{s:i}}", "inner", "n", 1);
    expect_path(o, JV_PARTIAL, "inner.code");
    json_decref(o);
}

/* A root that is not an object, or NULL, is a bad body; never a crash. */
static void robustness_root(void **state)
{
    (void)state;
    struct kerr err;
    json_t *a = json_array();
    assert_int_equal(jv_check(a, root_rules, 0, &err), -1);
    assert_string_equal(err.msg, "Bad value: body");
    assert_string_equal(err.path, "");
    assert_int_equal(jv_check(NULL, root_rules, JV_JOIN_MISSING, &err), -1);
    assert_int_equal(jv_check(a, root_rules, 0, NULL), -1);
    assert_null(jv_filter(a, root_rules));
    assert_null(jv_filter(NULL, root_rules));
    json_decref(a);
    /* A huge array is rejected on its size before any item is looked at. */
    json_t *big = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(big, json_integer(i));
    json_t *o = with("items", NULL);
    json_object_set_new(o, "items", big);
    expect_path(o, 0, "items");
    json_decref(o);
}

static void patterns(void **state)
{
    (void)state;
    static const struct { enum jv_pattern k; const char *s; bool ok; } cases[] = {
        { JV_PAT_COUNTRY2, "SE", true }, { JV_PAT_COUNTRY2, "se", true },
        { JV_PAT_COUNTRY2, "S", false }, { JV_PAT_COUNTRY2, "SWE", false },
        { JV_PAT_COUNTRY2, "S1", false }, { JV_PAT_COUNTRY2, "", false },
        { JV_PAT_CURRENCY3, "SEK", true }, { JV_PAT_CURRENCY3, "sek", true },
        { JV_PAT_CURRENCY3, "SE", false }, { JV_PAT_CURRENCY3, "SEKK", false },
        { JV_PAT_CURRENCY3, "SE1", false },
        { JV_PAT_LOCALE, "sv-SE", true }, { JV_PAT_LOCALE, "en", true },
        { JV_PAT_LOCALE, "EN-se", true }, { JV_PAT_LOCALE, "en-US-xx", true },
        { JV_PAT_LOCALE, "en_US", false }, { JV_PAT_LOCALE, "en-", false },
        { JV_PAT_LOCALE, "eng-US", false }, { JV_PAT_LOCALE, "e", false },
        { JV_PAT_LOCALE, "", false },
        { JV_PAT_DATE, "2020-02-29", true }, { JV_PAT_DATE, "2000-02-29", true },
        { JV_PAT_DATE, "1999-12-31", true }, { JV_PAT_DATE, "2020-02-30", false },
        { JV_PAT_DATE, "2019-02-29", false }, { JV_PAT_DATE, "1900-02-29", false },
        { JV_PAT_DATE, "2020-04-31", false }, { JV_PAT_DATE, "2020-13-01", false },
        { JV_PAT_DATE, "2020-00-10", false }, { JV_PAT_DATE, "2020-01-00", false },
        { JV_PAT_DATE, "0000-01-01", false }, { JV_PAT_DATE, "2020-1-01", false },
        { JV_PAT_DATE, "2020-01-01T00:00", false }, { JV_PAT_DATE, "20200101", false },
        { JV_PAT_HEXCOLOR, "#0aF9c3", true }, { JV_PAT_HEXCOLOR, "#0aF9c", false },
        { JV_PAT_HEXCOLOR, "#0aF9c3a", false }, { JV_PAT_HEXCOLOR, "0aF9c3", false },
        { JV_PAT_HEXCOLOR, "#0aG9c3", false },
        { JV_PAT_DIGITS4OR9, "1234", true }, { JV_PAT_DIGITS4OR9, "123456789", true },
        { JV_PAT_DIGITS4OR9, "12345", false }, { JV_PAT_DIGITS4OR9, "12a4", false },
        { JV_PAT_HTTP_URL, "https://shop.example/c", true },
        { JV_PAT_HTTP_URL, "http://localhost:8080/c", true },
        { JV_PAT_HTTP_URL, "HTTPS://x", true }, { JV_PAT_HTTP_URL, "ftp://x", false },
        { JV_PAT_HTTP_URL, "shop.example", false },
        { JV_PAT_APP_URL, "myapp://return", true }, { JV_PAT_APP_URL, "my.app-1+x://r", true },
        { JV_PAT_APP_URL, "https://x", false }, { JV_PAT_APP_URL, "Http://x", false },
        { JV_PAT_APP_URL, "1app://x", false }, { JV_PAT_APP_URL, "myapp:return", false },
        { JV_PAT_NONE, "anything", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (jv_pattern_ok(cases[i].k, cases[i].s) != cases[i].ok)
            fail_msg("pattern %d \"%s\" should be %s", (int)cases[i].k, cases[i].s,
                     cases[i].ok ? "accepted" : "rejected");
    assert_false(jv_pattern_ok(JV_PAT_DATE, NULL));
    case_at("when", "\"2020-02-30\"", "when");
}

/* Unknown keys and nulls are dropped by jv_filter, recursively; input untouched. */
static void filter_drops_unknown(void **state)
{
    (void)state;
    json_t *o = with(NULL, NULL);
    json_object_set_new(o, "flag", json_null());
    json_t *items = json_object_get(o, "items");
    json_object_set_new(json_array_get(items, 0), "extra", json_string("x"));
    json_t *before = json_deep_copy(o);
    json_t *f = jv_filter(o, root_rules);
    assert_non_null(f);
    assert_true(json_equal(o, before));
    assert_null(json_object_get(f, "unknown"));
    assert_null(json_object_get(f, "flag"));
    assert_null(json_object_get(json_array_get(json_object_get(f, "items"), 0), "extra"));
    json_t *expect = json_loads(
        "{\"a\":\"abc\",\"b\":1,\"color\":\"red\",\"inner\":{\"code\":\"X1\",\"n\":5},"
        "\"items\":[{\"code\":\"A\"},{\"code\":\"B\",\"n\":-5}],\"tags\":[\"x\",\"yz\"],"
        "\"when\":\"2024-02-29\"}", 0, NULL);
    assert_true(json_equal(f, expect));
    /* the copy shares nothing with the input */
    json_object_set_new(json_object_get(f, "inner"), "code", json_string("Z"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "inner"), "code")),
                        "X1");
    json_decref(expect);
    json_decref(f);
    json_decref(before);
    json_decref(o);
}

/* jv_check_value names the value by the path it is given. */
static void check_value_path(void **state)
{
    (void)state;
    struct kerr err;
    json_t *v = json_pack("{s:s}", "code", "TOOLONG");
    assert_int_equal(jv_check_value(v, &inner_item, "x[4]", &err), -1);
    assert_string_equal(err.path, "x[4].code");
    json_decref(v);
    assert_int_equal(jv_check_value(NULL, &inner_item, "x", &err), -1);
    assert_string_equal(err.path, "x");
}

/* Rule: enums match in any case; jv_filter and jv_canonicalize keep the table's spelling, at
 * every depth, and change nothing else. */
static void rule_enum_canonical_spelling(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"a\":\"abc\",\"b\":1,\"color\":\"GREEN\",\"x\":\"RED\","
                           "\"inner\":{\"code\":\"c\",\"shade\":\"Red\"},"
                           "\"items\":[{\"code\":\"A\",\"shade\":\"gReEn\"}]}", 0, NULL);
    assert_non_null(o);
    struct kerr err = {0};
    assert_int_equal(jv_check(o, root_rules, 0, &err), 0);
    json_t *f = jv_filter(o, root_rules);
    assert_string_equal(json_string_value(json_object_get(f, "color")), "green");
    json_decref(f);
    jv_canonicalize(o, root_rules);
    assert_string_equal(json_string_value(json_object_get(o, "color")), "green");
    assert_string_equal(json_string_value(json_object_get(o, "x")), "RED");   /* not in table */
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "inner"), "shade")),
                        "red");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "items"), 0), "shade")),
                        "green");
    jv_canonicalize(o, NULL);                 /* no table: nothing to do */
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_document_passes),
        cmocka_unit_test(rule_enum_canonical_spelling),
        cmocka_unit_test(rule1_types),
        cmocka_unit_test(rule1_limits),
        cmocka_unit_test(rule1_null_is_absent),
        cmocka_unit_test(rule1_missing_joined),
        cmocka_unit_test(rule1_partial),
        cmocka_unit_test(robustness_root),
        cmocka_unit_test(patterns),
        cmocka_unit_test(filter_drops_unknown),
        cmocka_unit_test(check_value_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
