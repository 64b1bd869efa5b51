/* test_jsonp: jsonp_parse against jansson's json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY), one table per rule of jsonp.h. Every case states whether the text is JSON;
 * both parsers must agree with it, and accepted values must be identical (types, integers,
 * reals bit for bit, strings byte for byte, object keys in the same order). The documented
 * differences (max_depth, NUL after a token) have their own tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonp.h"
#include "lib/mem.h"

#define DEPTH JSONP_JANSSON_MAX_DEPTH

struct tcase {
    const char *s;
    size_t n;
    bool ok;
};
/* Length from the literal so cases may hold NUL bytes. */
#define OK(lit)  { lit, sizeof(lit) - 1, true }
#define BAD(lit) { lit, sizeof(lit) - 1, false }

/* Same value, stricter than json_equal: key order and the bits of reals count too. */
static bool same(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
                         ib = json_object_iter_next((json_t *)b, ib)) {
            if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
                !same(json_object_iter_value(ia), json_object_iter_value(ib)))
                return false;
        }
        return !ia && !ib;
    }
    default:
        return true;
    }
}

/* Both parsers on s[0..n) with a depth limit that changes nothing; both must say `ok`. */
static void check_one(const char *s, size_t n, bool ok)
{
    json_error_t je;
    json_t *want = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    char err[160];
    memset(err, 'x', sizeof err);
    json_t *got = jsonp_parse(s, n, DEPTH, err, sizeof err);
    if ((want != NULL) != ok || (got != NULL) != ok) {
        print_error("case '%.*s' (%zu bytes): expected %s, jansson %s (%s), jsonp %s (%s)\n",
                    (int)(n > 60 ? 60 : n), s, n, ok ? "accept" : "reject",
                    want ? "accepts" : "rejects", want ? "" : je.text,
                    got ? "accepts" : "rejects", got ? "" : err);
        fail();
    }
    if (ok) {
        assert_true(json_equal(want, got));
        assert_true(same(want, got));
        assert_int_equal(err[0], '\0');
    } else {
        assert_true(err[0] != '\0');
        assert_non_null(memchr(err, '\0', sizeof err));
        assert_non_null(strstr(err, "(line "));
    }
    json_decref(want);
    json_decref(got);
}

static void check_table(const struct tcase *t, size_t count)
{
    for (size_t i = 0; i < count; i++)
        check_one(t[i].s, t[i].n, t[i].ok);
}
#define CHECK_TABLE(t) check_table(t, sizeof(t) / sizeof(t[0]))

static void test_grammar_rfc8259(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("{}"), OK("[]"), OK("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}"), OK("[[],{},[{}]]"),
        OK("\"top-level string\""), OK("42"),
        BAD("{\"a\"}"), BAD("{\"a\":}"), BAD("{\"a\" 1}"), BAD("{1:2}"), BAD("{a:1}"),
        BAD("{'a':1}"), BAD("[1,]"), BAD("{\"a\":1,}"), BAD("[,1]"), BAD("[1 2]"),
        BAD("[1,,2]"), BAD("["), BAD("{"), BAD("]"), BAD("{\"a\":1"), BAD("[1}"),
        BAD("{\"a\":1]"), BAD(":"), BAD(","), BAD("/* c */ 1"), BAD("[1] // c"),
    };
    CHECK_TABLE(t);
}

static void test_literals(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("true"), OK("false"), OK("null"), OK("[true,false,null]"),
        BAD("tru"), BAD("True"), BAD("NULL"), BAD("nul"), BAD("truex"), BAD("true1"),
        BAD("nan"), BAD("NaN"), BAD("Infinity"), BAD("-Infinity"), BAD("undefined"),
    };
    CHECK_TABLE(t);
}

static void test_whitespace_only_space_tab_lf_cr(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK(" \t\r\n[ 1 , 2 ]\n\t\r "), OK("{ \"a\" :\n1 }"), OK("\n1\n"),
        BAD("\f1"), BAD("\v1"), BAD("1\xc2\xa0"), BAD("\xef\xbb\xbf{}"),   /* BOM */
        BAD("[1,\f2]"),
    };
    CHECK_TABLE(t);
}

static void test_empty_input_is_an_error(void **state)
{
    (void)state;
    static const struct tcase t[] = { BAD(""), BAD(" "), BAD(" \n\t\r ") };
    CHECK_TABLE(t);
    char err[80];
    assert_null(jsonp_parse(NULL, 0, DEPTH, err, sizeof err));
    assert_true(err[0] != '\0');
}

static void test_trailing_garbage_rejected(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        BAD("{}x"), BAD("{} {}"), BAD("1 2"), BAD("[1]]"), BAD("\"a\"\"b\""), BAD("nullnull"),
        BAD("{},"), BAD("1\x01"), BAD("true\xff"),
    };
    CHECK_TABLE(t);
}

static void test_strings_valid_utf8(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("\"caf\xc3\xa9\""),                 /* U+00E9 */
        OK("\"\xc2\x80\""),                    /* U+0080, smallest 2-byte */
        OK("\"\xdf\xbf\""),                    /* U+07FF */
        OK("\"\xe0\xa0\x80\""),                /* U+0800, smallest 3-byte */
        OK("\"\xed\x9f\xbf\""),                /* U+D7FF, just below the surrogates */
        OK("\"\xee\x80\x80\""),                /* U+E000, just above */
        OK("\"\xef\xbf\xbf\""),                /* U+FFFF */
        OK("\"\xf0\x90\x80\x80\""),            /* U+10000 */
        OK("\"\xf4\x8f\xbf\xbf\""),            /* U+10FFFF */
        OK("\"0123456789abcdef\xe2\x82\xac 0123456789abcdef\""),   /* past the 8-byte loop */
        OK("\"\x7f\""),                        /* DEL is not a control character here */
        BAD("\"\xc0\xaf\""), BAD("\"\xc1\xbf\""),                  /* overlong 2-byte */
        BAD("\"\xe0\x80\xaf\""), BAD("\"\xe0\x9f\xbf\""),          /* overlong 3-byte */
        BAD("\"\xf0\x80\x80\xaf\""), BAD("\"\xf0\x8f\xbf\xbf\""),  /* overlong 4-byte */
        BAD("\"\xed\xa0\x80\""), BAD("\"\xed\xbf\xbf\""),          /* UTF-8 surrogates */
        BAD("\"\xed\xa0\xbd\xed\xb8\x80\""),                       /* CESU-8 pair */
        BAD("\"\xf4\x90\x80\x80\""), BAD("\"\xf5\x80\x80\x80\""),  /* above U+10FFFF */
        BAD("\"\xf8\x88\x80\x80\x80\""), BAD("\"\xff\""), BAD("\"\xfe\""),
        BAD("\"\x80\""), BAD("\"\xbf\""),                          /* stray continuation */
        BAD("\"\xc3\""), BAD("\"\xe2\x82\""), BAD("\"\xf0\x9f\x98\""),   /* truncated */
        BAD("\"\xc3"), BAD("\"\xe2\x82"),                          /* truncated at the end */
        BAD("\"\xc3\x28\""), BAD("\"\xe2\x28\xa1\""),              /* bad continuation */
        BAD("\"0123456789abcdef0123456789\xc3\""),
    };
    CHECK_TABLE(t);
}

static void test_control_characters_rejected(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        BAD("\"a\x01\""), BAD("\"\x1f\""), BAD("\"a\nb\""), BAD("\"a\tb\""), BAD("\"\r\""),
        BAD("\"abcdefgh\x02ijklmnop\""),
        OK("\"a\\tb\\n\\u001f\""),
    };
    CHECK_TABLE(t);
}

static void test_escapes(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""), OK("\"\\u0041\\u00e9\\u20AC\\uFFFF\""),
        OK("\"\\u0001\""), OK("\"x\\u007Fy\""), OK("{\"k\\u00e9y\":\"v\\n\"}"),
        OK("\"a very long string that is not short at all, with one escape\\n at the "
           "end of more than one hundred and twenty-eight bytes of text.............\""),
        BAD("\"\\a\""), BAD("\"\\x41\""), BAD("\"\\'\""), BAD("\"\\U0041\""), BAD("\"\\u12\""),
        BAD("\"\\u12G4\""), BAD("\"\\u"), BAD("\"\\"), BAD("\"abc"), BAD("\"\\u004"),
        BAD("\"\\0\""),
    };
    CHECK_TABLE(t);
}

static void test_surrogate_pairs(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("\"\\ud83d\\ude00\""), OK("\"\\uD800\\uDC00\""), OK("\"\\uDBFF\\uDFFF\""),
        BAD("\"\\ud800\""), BAD("\"\\udc00\""), BAD("\"\\udfff\\ud800\""),
        BAD("\"\\ud800x\""), BAD("\"\\ud800\\n\""), BAD("\"\\ud800\\u0041\""),
        BAD("\"\\ud800\\ud800\""), BAD("\"\\ud800\\u\""), BAD("\"\\ud800\\"),
        BAD("{\"\\ud800\":1}"),
    };
    CHECK_TABLE(t);
}

static void test_u0000_rejected(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        BAD("\"\\u0000\""), BAD("\"a\\u0000b\""), BAD("{\"\\u0000\":1}"),
        BAD("\"a\0b\""), BAD("\0"), BAD("[\0]"),
    };
    CHECK_TABLE(t);
}

static void test_integers_int64(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("0"), OK("-0"), OK("1"), OK("-1"), OK("9500"),
        OK("9223372036854775807"), OK("-9223372036854775808"),
        OK("123"), OK("[9223372036854775807,-9223372036854775808]"),
        BAD("9223372036854775808"), BAD("-9223372036854775809"),
        BAD("18446744073709551616"), BAD("99999999999999999999999"),
        BAD("01"), BAD("-01"), BAD("00"), BAD("+1"), BAD("-"), BAD("--1"), BAD("0x10"),
        BAD("1_000"), BAD(".5"),
    };
    CHECK_TABLE(t);
    json_t *v = jsonp_parse("-0", 2, DEPTH, NULL, 0);
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 0);
    json_decref(v);
    v = jsonp_parse("-9223372036854775808", 20, DEPTH, NULL, 0);
    assert_true(json_integer_value(v) == INT64_MIN);
    json_decref(v);
}

static void test_reals_strtod(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        OK("0.0"), OK("-0.0"), OK("1.5"), OK("1e5"), OK("1E5"), OK("1e+5"), OK("1e-5"),
        OK("-1.25e-3"), OK("0.1"), OK("3.141592653589793238462643383279"),
        OK("1.7976931348623157e308"), OK("4.9e-324"), OK("1e-400"), OK("-1e-400"),
        OK("123456789012345678901234567890.5"), OK("9223372036854775808.0"),
        OK("1e0000000000000000000000001"), OK("0e999999"), OK("2.2250738585072011e-308"),
        BAD("1E400"), BAD("-1e400"), BAD("1.8e308"), BAD("1e999999999999999999"),
        BAD("1."), BAD("1.e5"), BAD("1e"), BAD("1e+"), BAD("1e-"), BAD("1.5e3.2"),
        BAD("-.5"), BAD("1.5.3"), BAD("01.5"),
    };
    CHECK_TABLE(t);
    json_t *v = jsonp_parse("1.0", 3, DEPTH, NULL, 0);
    assert_true(json_is_real(v));
    json_decref(v);
}

static void test_duplicate_keys_rejected(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        BAD("{\"a\":1,\"a\":1}"), BAD("{\"a\":1,\"b\":2,\"a\":3}"),
        BAD("{\"x\":{\"a\":1,\"a\":2}}"), BAD("[{\"a\":[{\"b\":1,\"b\":1}]}]"),
        BAD("{\"a\":1,\"\\u0061\":2}"),            /* same key after decoding */
        BAD("{\"\":1,\"\":2}"),
        OK("{\"a\":{\"a\":{\"a\":1}}}"), OK("[{\"a\":1},{\"a\":1}]"), OK("{\"a\":1,\"A\":2}"),
        OK("{\"\":1}"), OK("{\"b\":1,\"a\":2,\"c\":3}"),
    };
    CHECK_TABLE(t);
}

/* "[[...]]" n deep around leaf. */
static char *nest(int n, const char *leaf, size_t *len)
{
    size_t l = strlen(leaf);
    *len = 2 * (size_t)n + l;
    char *b = malloc(*len + 1);
    assert_non_null(b);
    memset(b, '[', (size_t)n);
    memcpy(b + n, leaf, l);
    memset(b + n + l, ']', (size_t)n);
    b[*len] = '\0';
    return b;
}

static void test_depth_max_depth(void **state)
{
    (void)state;
    size_t n;
    char err[160];
    char *s = nest(32, "1", &n);            /* 32 containers and a scalar: depth 32 */
    json_t *v = jsonp_parse(s, n, 32, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    free(s);

    s = nest(33, "", &n);                   /* one past: rejected, jansson would accept */
    assert_null(jsonp_parse(s, n, 32, err, sizeof err));
    assert_non_null(strstr(err, "depth"));
    free(s);

    /* objects count too, mixed with arrays */
    const char *ok3 = "{\"a\":[{\"b\":1}]}", *bad4 = "{\"a\":[{\"b\":[]}]}";
    v = jsonp_parse(ok3, strlen(ok3), 3, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    assert_null(jsonp_parse(bad4, strlen(bad4), 3, err, sizeof err));
    assert_null(jsonp_parse("[]", 2, 0, err, sizeof err));
    v = jsonp_parse("7", 1, 0, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
}

static void test_depth_jansson_limit(void **state)
{
    (void)state;
    size_t n;
    /* jansson counts every value: 2048 empty arrays pass, a scalar inside them does not. */
    char *s = nest(DEPTH, "", &n);
    check_one(s, n, true);
    free(s);
    s = nest(DEPTH - 2, "{\"k\":1}", &n);  /* 2046 + object + scalar */
    check_one(s, n, true);
    free(s);
    s = nest(DEPTH, "1", &n);
    check_one(s, n, false);
    free(s);
    s = nest(DEPTH + 1, "", &n);
    check_one(s, n, false);
    free(s);
    s = nest(100000, "", &n);               /* no deep recursion: refused at the cap */
    json_t *v = jsonp_parse(s, n, 1 << 30, NULL, 0);
    assert_null(v);
    free(s);
}

/* jansson 2.14 skips one NUL right after a number or literal; jsonp does not (jsonp.h). */
static void test_nul_after_token_differs_from_jansson(void **state)
{
    (void)state;
    static const struct tcase t[] = {
        { "1\0", 2, true }, { "true\0", 5, true }, { "[1\0,2]", 6, true },
        { "{\"a\":null\0}", 11, true }, { "1.5\0 ", 5, true },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *j = json_loadb(t[i].s, t[i].n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        assert_non_null(j);                 /* if jansson is fixed, update jsonp.h */
        json_decref(j);
        char err[160];
        assert_null(jsonp_parse(t[i].s, t[i].n, DEPTH, err, sizeof err));
        assert_true(err[0] != '\0');
    }
}

static void test_error_message(void **state)
{
    (void)state;
    char err[160];
    const char *s = "{\n  \"a\": tru\n}";
    assert_null(jsonp_parse(s, strlen(s), DEPTH, err, sizeof err));
    assert_string_equal(err, "invalid token near 'tru' (line 2, column 8)");
    s = "[1,";
    assert_null(jsonp_parse(s, strlen(s), DEPTH, err, sizeof err));
    assert_string_equal(err, "unexpected token near end of file (line 1, column 4)");
    s = "\"\xff\xfe\"";                         /* context stays printable ASCII */
    assert_null(jsonp_parse(s, strlen(s), DEPTH, err, sizeof err));
    assert_string_equal(err, "unable to decode byte 0xff near '??\"' (line 1, column 2)");
    char tiny[8];                           /* truncated, still terminated */
    assert_null(jsonp_parse("x", 1, DEPTH, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_null(jsonp_parse("x", 1, DEPTH, NULL, 0));
}

/* Reals are read in the "C" locale whatever the process locale is (where one with a decimal
 * comma is installed). */
static void test_reals_locale_independent(void **state)
{
    (void)state;
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
        skip();
    json_t *v = jsonp_parse("[1.5,2e-1]", 10, DEPTH, NULL, 0);
    setlocale(LC_NUMERIC, saved);
    assert_non_null(v);
    assert_true(json_real_value(json_array_get(v, 0)) == 1.5);
    assert_true(json_real_value(json_array_get(v, 1)) == 0.2);
    json_decref(v);
}

/* The request body Kasse sees most, with escapes and a long key added. */
static void test_create_session_body(void **state)
{
    (void)state;
    const char *s =
        "{\"acquiring_channel\":\"ECOMMERCE\",\"intent\":\"buy\",\"purchase_country\":\"SE\","
        "\"purchase_currency\":\"SEK\",\"locale\":\"en-SE\",\"order_amount\":9500,"
        "\"order_tax_amount\":1900,\"order_lines\":[{\"type\":\"physical\",\"reference\":"
        "\"19-402\",\"name\":\"Battery Power Pack \\u00e9\\ud83d\\ude00\",\"quantity\":1,"
        "\"unit_price\":10000,\"tax_rate\":2500,\"total_amount\":9500,"
        "\"total_discount_amount\":500,\"total_tax_amount\":1900,\"image_url\":"
        "\"https:\\/\\/www.exampleobjects.com\\/logo.png\",\"product_url\":"
        "\"https://www.estore.com/products/f2a8d7e34\"}],\"merchant_urls\":{\"authorization\":"
        "\"https://example-url.com/authorization\"},\"a_key_longer_than_the_small_buffer_of_"
        "one_hundred_and_twenty_eight_bytes_so_that_the_scratch_copy_is_used_\\u00e9_xxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxx\":[0.5,-2e-3,true,false,null,{}]}";
    check_one(s, strlen(s), true);
}

/* Rule: a number out of range (valid JSON Kasse cannot hold) is reported with the JSON path
 * of the field, so clients get "Bad value: <path>" rather than a syntax error. */
static void test_out_of_range_reports_path(void **state)
{
    (void)state;
    static const struct {
        const char *text, *path;
    } cases[] = {
        {"{\"order_amount\":9223372036854775808}", "order_amount"},
        {"{\"order_lines\":[{\"name\":\"a\"},{\"quantity\":-9223372036854775809}]}",
         "order_lines[1].quantity"},
        {"{\"a\":{\"b\":[1,2,[3,1e400]]}}", "a.b[2][1]"},
        {"{\"k\\u00e5y\":99999999999999999999}", "k\xc3\xa5y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct jsonp_error where;
        char msg[128];
        assert_null(jsonp_parse_at(cases[i].text, strlen(cases[i].text), 32, msg, sizeof msg,
                                   &where));
        assert_int_equal(where.out_of_range, 1);
        assert_string_equal(where.path, cases[i].path);
    }
    struct jsonp_error where;
    assert_null(jsonp_parse_at("{\"a\":tru}", 10, 32, NULL, 0, &where));
    assert_int_equal(where.out_of_range, 0);
    assert_string_equal(where.path, "");
}

/* Rule: a parse that runs out of memory says so (the body was fine: a 500, not a 400), at
 * every allocation of the parse; with memory, the same text parses. */
static void test_out_of_memory_reported(void **state)
{
    (void)state;
    static const char text[] = "{\"a\":[1,2.5,\"x\\n\"],\"k\\u00e5y\":{\"b\":null}}";
    mem_install();
    long n = 1;
    for (;; n++) {
        struct jsonp_error where;
        char msg[128];
        mem_fail_after(n);
        json_t *v = jsonp_parse_at(text, strlen(text), 32, msg, sizeof msg, &where);
        bool fired = mem_fail_stop();
        if (!fired) {
            assert_non_null(v);
            json_decref(v);
            break;
        }
        assert_null(v);
        assert_int_equal(where.out_of_memory, 1);
        assert_int_equal(where.out_of_range, 0);
    }
    assert_true(n > 5);
    struct jsonp_error where;
    assert_null(jsonp_parse_at("{\"a\":tru}", 10, 32, NULL, 0, &where));
    assert_int_equal(where.out_of_memory, 0);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_range_reports_path),
        cmocka_unit_test(test_out_of_memory_reported),
        cmocka_unit_test(test_grammar_rfc8259),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_whitespace_only_space_tab_lf_cr),
        cmocka_unit_test(test_empty_input_is_an_error),
        cmocka_unit_test(test_trailing_garbage_rejected),
        cmocka_unit_test(test_strings_valid_utf8),
        cmocka_unit_test(test_control_characters_rejected),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_surrogate_pairs),
        cmocka_unit_test(test_u0000_rejected),
        cmocka_unit_test(test_integers_int64),
        cmocka_unit_test(test_reals_strtod),
        cmocka_unit_test(test_reals_locale_independent),
        cmocka_unit_test(test_duplicate_keys_rejected),
        cmocka_unit_test(test_depth_max_depth),
        cmocka_unit_test(test_depth_jansson_limit),
        cmocka_unit_test(test_nul_after_token_differs_from_jansson),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_create_session_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
