/* Unit tests for lib/jsonw: output identical to jansson's json_dumps(JSON_COMPACT) for every
 * non-real value (escapes, UTF-8, int64 bounds, nesting, key order), reals kept as reals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/jsonw.h"

static void same_as_jansson(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = jsonw_dumps(v, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
    json_decref(v);
}

/* Rule: compact output, insertion-ordered keys, exactly as json_dumps(JSON_COMPACT). */
static void test_matches_jansson_compact(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}", "[]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "{\"z\":1,\"a\":2,\"m\":3}",
        "[9223372036854775807,-9223372036854775808,0,-1]",
        "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
        "\"ctl \\u0001 \\u001f del \\u007f\"",
        "\"unicode \\u00e5\\u00e4\\u00f6 \\u20ac \\ud83d\\ude00\"",
        "[[[[[[[[[[\"deep\"]]]]]]]]]]",
        "{\"order_lines\":[{\"name\":\"Battery Power Pack\",\"quantity\":1}]}",
        "\"\"", "true", "null", "42",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        same_as_jansson(docs[i]);
}

/* Rule: escapes are found wherever they sit relative to the eight-byte fast path. */
static void test_escapes_at_every_position(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, (char)0xc3};
    for (size_t len = 1; len <= 40; len++)
        for (size_t pos = 0; pos < len; pos++)
            for (size_t k = 0; k < sizeof specials; k++) {
                char text[48];
                memset(text, 'a', len);
                text[pos] = specials[k];
                if ((unsigned char)specials[k] == 0xc3) {   /* keep valid UTF-8: "é" */
                    if (pos + 1 >= len)
                        continue;
                    text[pos + 1] = (char)0xa9;
                }
                json_t *v = json_stringn(text, len);
                assert_non_null(v);
                char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                char *got = jsonw_dumps(v, NULL);
                assert_string_equal(got, want);
                free(want);
                free(got);
                json_decref(v);
            }
}

/* Rule: reals are written with a decimal point or exponent, so they read back as reals. */
static void test_reals_stay_reals(void **state)
{
    (void)state;
    json_t *v = json_pack("[f,f,f]", 1.0, 0.796, 2.5e-7);
    char *got = jsonw_dumps(v, NULL);
    assert_string_equal(got, "[1.0,0.796,2.5e-07]");
    json_t *back = json_loads(got, 0, NULL);
    assert_true(json_is_real(json_array_get(back, 0)));
    free(got);
    json_decref(back);
    json_decref(v);
}

/* Rule: a value nested deeper than the writer's limit is refused, not overflowed. */
static void test_depth_limit(void **state)
{
    (void)state;
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 100; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    assert_null(jsonw_dumps(root, NULL));
    json_decref(root);
}

/* Rule: appending respects the buffer's maximum and leaves it unchanged on failure. */
static void test_append_bounded(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "ab", 2), 0);
    json_t *v = json_string("too long for the buffer");
    assert_int_equal(jsonw_append(v, &b), -1);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    json_decref(v);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_jansson_compact),
        cmocka_unit_test(test_escapes_at_every_position),
        cmocka_unit_test(test_reals_stay_reals),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_append_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
