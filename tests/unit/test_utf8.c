/* Unit tests for lib/utf8: strict sequence decoding (RFC 3629) and repair with U+FFFD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/utf8.h"

/* Rule: valid UTF-8 is accepted; overlongs, surrogates, > U+10FFFF, stray continuation bytes
 * and truncated sequences are not. */
static void test_valid_and_invalid_sequences(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        bool ok;
    } cases[] = {
        {"plain ascii", 11, true},
        {"\xc3\xa5\xc3\xa4\xc3\xb6", 6, true},          /* åäö */
        {"\xe2\x82\xac", 3, true},                      /* € */
        {"\xf0\x9f\x98\x80", 4, true},                  /* 😀 */
        {"\xf4\x8f\xbf\xbf", 4, true},                  /* U+10FFFF */
        {"\xc0\xaf", 2, false},                         /* overlong '/' */
        {"\xe0\x80\xaf", 3, false},                     /* overlong */
        {"\xed\xa0\x80", 3, false},                     /* surrogate D800 */
        {"\xf4\x90\x80\x80", 4, false},                 /* U+110000 */
        {"\x80", 1, false},                             /* stray continuation */
        {"\xc3", 1, false},                             /* truncated */
        {"\xc3\x28", 2, false},                         /* bad continuation */
        {"\xff", 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(utf8_valid(cases[i].s, cases[i].n), cases[i].ok);
}

/* Rule: repair keeps valid text and turns each bad byte (and NUL) into U+FFFD. */
static void test_repair(void **state)
{
    (void)state;
    char *r = utf8_repair("a\xc3\x28z", 4);
    assert_string_equal(r, "a\xef\xbf\xbd(z");
    free(r);
    r = utf8_repair("x\0y", 3);
    assert_string_equal(r, "x\xef\xbf\xbdy");
    free(r);
    r = utf8_repair("\xe2\x82\xac", 3);
    assert_string_equal(r, "\xe2\x82\xac");
    free(r);
    r = utf8_repair("", 0);
    assert_string_equal(r, "");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_invalid_sequences),
        cmocka_unit_test(test_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
