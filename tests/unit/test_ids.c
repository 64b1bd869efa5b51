/* test_ids: UUID v4 format and uniqueness, the ids_is_uuid accept/reject table, and the
 * alphabets and spread of ids_upper_alnum / ids_alnum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/ids.h"

#define N_UUIDS 1000

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void uuid4_is_lowercase_version_4_variant_rfc4122(void **state)
{
    (void)state;
    for (int i = 0; i < N_UUIDS; i++) {
        char u[IDS_UUID_LEN + 1];
        memset(u, 'x', sizeof u);
        assert_int_equal(ids_uuid4(u), 0);
        assert_int_equal(strlen(u), IDS_UUID_LEN);
        for (size_t k = 0; k < IDS_UUID_LEN; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                assert_int_equal(u[k], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[k]));
        }
        assert_int_equal(u[14], '4');                 /* version nibble */
        assert_non_null(strchr("89ab", u[19]));       /* variant 10xx */
        assert_true(ids_is_uuid(u));
    }
}

static void uuid4_values_are_unique(void **state)
{
    (void)state;
    char (*u)[IDS_UUID_LEN + 1] = calloc(N_UUIDS, sizeof *u);
    assert_non_null(u);
    for (int i = 0; i < N_UUIDS; i++)
        assert_int_equal(ids_uuid4(u[i]), 0);
    qsort(u, N_UUIDS, sizeof *u, cmp_str);
    for (int i = 1; i < N_UUIDS; i++)
        assert_string_not_equal(u[i - 1], u[i]);
    free(u);
}

static void is_uuid_accepts_canonical_forms_in_either_case(void **state)
{
    (void)state;
    static const char *good[] = {
        "068df369-13a7-4d47-a564-62f8408bb760",
        "068DF369-13A7-4D47-A564-62F8408BB760",
        "068dF369-13a7-4D47-a564-62f8408Bb760",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "123e4567-e89b-12d3-a456-426614174000", /* any version: format only */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!ids_is_uuid(good[i]))
            fail_msg("rejected \"%s\"", good[i]);
}

static void is_uuid_rejects_non_canonical_forms(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "068df369-13a7-4d47-a564-62f8408bb76",    /* one digit short */
        "068df369-13a7-4d47-a564-62f8408bb7600",  /* one digit long */
        "068df36913a74d47a56462f8408bb760",       /* no hyphens */
        "{068df369-13a7-4d47-a564-62f8408bb760}", /* braces */
        "urn:uuid:068df369-13a7-4d47-a564-62f8408bb760",
        "068df369-13a7-4d47-a564-62f8408bb76g",   /* not hex */
        "068df369_13a7-4d47-a564-62f8408bb760",   /* wrong separator */
        "068df3691-3a7-4d47-a564-62f8408bb760",   /* hyphen moved */
        "068df369-13a7-4d47-a564 62f8408bb760",
        " 068df369-13a7-4d47-a564-62f8408bb760",
        "068df369-13a7-4d47-a564-62f8408bb760 ",
        "068df369-13a7-4d47-a564-62f8408bb760\n",
        "------------------------------------",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ids_is_uuid(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(ids_is_uuid(NULL));
}

static void upper_alnum_uses_only_A_to_Z_and_digits_and_all_of_them(void **state)
{
    (void)state;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char s[4001];
    int seen[256] = {0};
    assert_int_equal(ids_upper_alnum(s, sizeof s - 1), 0);
    assert_int_equal(strlen(s), sizeof s - 1);
    for (size_t i = 0; s[i]; i++) {
        assert_non_null(strchr(alphabet, s[i]));
        seen[(unsigned char)s[i]]++;
    }
    /* 4000 draws over 36 symbols: each expected ~111 times; missing one is ~1e-48. */
    for (size_t i = 0; alphabet[i]; i++)
        assert_true(seen[(unsigned char)alphabet[i]] > 0);
}

static void alnum_uses_only_letters_and_digits_and_all_of_them(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char s[6201];
    int seen[256] = {0};
    assert_int_equal(ids_alnum(s, sizeof s - 1), 0);
    assert_int_equal(strlen(s), sizeof s - 1);
    for (size_t i = 0; s[i]; i++) {
        assert_non_null(strchr(alphabet, s[i]));
        seen[(unsigned char)s[i]]++;
    }
    for (size_t i = 0; alphabet[i]; i++)
        assert_true(seen[(unsigned char)alphabet[i]] > 0);
}

/* A modulo-biased draw (byte % 36) would give the first 4 symbols 8/256 instead of 7/256,
 * +14%. With 360,000 draws each symbol expects 10,000 (sd ~98); a 7% band around it
 * accepts the uniform draw essentially always and catches that bias. */
static void upper_alnum_has_no_modulo_bias(void **state)
{
    (void)state;
    enum { N = 360000 };
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *s = malloc(N + 1);
    assert_non_null(s);
    long seen[256] = {0};
    assert_int_equal(ids_upper_alnum(s, N), 0);
    for (size_t i = 0; i < N; i++)
        seen[(unsigned char)s[i]]++;
    for (size_t i = 0; alphabet[i]; i++) {
        long c = seen[(unsigned char)alphabet[i]];
        if (c < 9300 || c > 10700)
            fail_msg("'%c' drawn %ld times of %d", alphabet[i], c, N);
    }
    free(s);
}

static void alnum_of_length_zero_is_empty_string(void **state)
{
    (void)state;
    char s[1] = {'x'};
    assert_int_equal(ids_alnum(s, 0), 0);
    assert_string_equal(s, "");
    s[0] = 'x';
    assert_int_equal(ids_upper_alnum(s, 0), 0);
    assert_string_equal(s, "");
}

/* Rule (RFC 9562): a v7 UUID carries the millisecond time in its first 48 bits, version 7,
 * variant 10xx, and ids made later sort after ids made earlier. */
static void uuid7_encodes_time_version_and_sorts_by_time(void **state)
{
    (void)state;
    char a[IDS_UUID_LEN + 1], b[IDS_UUID_LEN + 1];
    assert_int_equal(ids_uuid7(0x0123456789abLL, a), 0);
    assert_true(ids_is_uuid(a));
    assert_memory_equal(a, "01234567-89ab-7", 15);
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_int_equal(ids_uuid7(0x0123456789acLL, b), 0);
    assert_true(strcmp(a, b) < 0);
    assert_int_equal(ids_uuid7(-1, a), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uuid4_is_lowercase_version_4_variant_rfc4122),
        cmocka_unit_test(uuid4_values_are_unique),
        cmocka_unit_test(uuid7_encodes_time_version_and_sorts_by_time),
        cmocka_unit_test(is_uuid_accepts_canonical_forms_in_either_case),
        cmocka_unit_test(is_uuid_rejects_non_canonical_forms),
        cmocka_unit_test(upper_alnum_uses_only_A_to_Z_and_digits_and_all_of_them),
        cmocka_unit_test(alnum_uses_only_letters_and_digits_and_all_of_them),
        cmocka_unit_test(upper_alnum_has_no_modulo_bias),
        cmocka_unit_test(alnum_of_length_zero_is_empty_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
