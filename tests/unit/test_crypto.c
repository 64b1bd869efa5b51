/* test_crypto: HMAC-SHA256 against RFC 4231, base64/base64url against RFC 4648, strict
 * decoding, constant-time equality and the random source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crypto.h"

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void hmac_sha256_matches_rfc4231_case_1(void **state)
{
    (void)state;
    uint8_t key[20];
    memset(key, 0x0b, sizeof key);
    uint8_t mac[32];
    char hex[65];
    assert_int_equal(crypto_hmac_sha256(key, sizeof key, "Hi There", 8, mac), 0);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void hmac_sha256_matches_rfc4231_case_2(void **state)
{
    (void)state;
    const char *data = "what do ya want for nothing?";
    uint8_t mac[32];
    char hex[65];
    assert_int_equal(crypto_hmac_sha256("Jefe", 4, data, strlen(data), mac), 0);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void hmac_sha256_matches_rfc4231_case_6_long_key(void **state)
{
    (void)state;
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    uint8_t mac[32];
    char hex[65];
    assert_int_equal(crypto_hmac_sha256(key, sizeof key, data, strlen(data), mac), 0);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void hmac_sha256_accepts_empty_key_and_data(void **state)
{
    (void)state;
    uint8_t mac[32];
    char hex[65];
    assert_int_equal(crypto_hmac_sha256("", 0, "", 0, mac), 0);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static const struct {
    const char *raw, *b64;
} RFC4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void b64_encodes_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
        char out[16];
        size_t n = strlen(RFC4648[i].raw);
        assert_int_equal(crypto_b64_len(n), strlen(RFC4648[i].b64));
        long w = crypto_b64_encode(RFC4648[i].raw, n, out, sizeof out);
        assert_int_equal(w, (long)strlen(RFC4648[i].b64));
        assert_string_equal(out, RFC4648[i].b64);
    }
}

static void b64_decodes_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
        char out[16];
        size_t n = strlen(RFC4648[i].b64);
        long w = crypto_b64_decode(RFC4648[i].b64, n, out, sizeof out);
        assert_int_equal(w, (long)strlen(RFC4648[i].raw));
        assert_memory_equal(out, RFC4648[i].raw, (size_t)w);
    }
}

/* base64url of the same vectors is the standard form with the padding removed. */
static void b64url_encodes_and_decodes_rfc4648_vectors_without_padding(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
        char want[16], out[16], raw[16];
        size_t n = strlen(RFC4648[i].raw);
        size_t wl = strcspn(RFC4648[i].b64, "=");
        memcpy(want, RFC4648[i].b64, wl);
        want[wl] = '\0';
        assert_int_equal(crypto_b64url_len(n), wl);
        assert_int_equal(crypto_b64url_encode(RFC4648[i].raw, n, out, sizeof out), (long)wl);
        assert_string_equal(out, want);
        long d = crypto_b64url_decode(want, wl, raw, sizeof raw);
        assert_int_equal(d, (long)n);
        assert_memory_equal(raw, RFC4648[i].raw, n);
    }
}

static void b64url_uses_dash_and_underscore(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char out[8];
    uint8_t back[8];
    assert_int_equal(crypto_b64_encode(in, 3, out, sizeof out), 4);
    assert_string_equal(out, "+/+/");
    assert_int_equal(crypto_b64url_encode(in, 3, out, sizeof out), 4);
    assert_string_equal(out, "-_-_");
    assert_int_equal(crypto_b64url_decode("-_-_", 4, back, sizeof back), 3);
    assert_memory_equal(back, in, 3);
    assert_int_equal(crypto_b64url_decode("+/+/", 4, back, sizeof back), -1);
    assert_int_equal(crypto_b64_decode("-_-_", 4, back, sizeof back), -1);
}

static void b64_round_trips_every_length_and_byte(void **state)
{
    (void)state;
    uint8_t in[256], back[256 + 3];
    char enc[400];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(255 - i);
    for (size_t n = 0; n <= sizeof in; n++) {
        long w = crypto_b64_encode(in, n, enc, sizeof enc);
        assert_true(w >= 0);
        assert_int_equal(crypto_b64_decode(enc, (size_t)w, back, sizeof back), (long)n);
        assert_memory_equal(back, in, n);
        w = crypto_b64url_encode(in, n, enc, sizeof enc);
        assert_true(w >= 0);
        assert_int_equal(crypto_b64url_decode(enc, (size_t)w, back, sizeof back), (long)n);
        assert_memory_equal(back, in, n);
    }
}

static void b64_decode_rejects_bad_characters_and_padding(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg=",       /* length not a multiple of 4 */
        "Zg",        /* padding missing */
        "Zm9",       /* padding missing */
        "Z===",      /* too much padding */
        "====",      /* only padding */
        "Zg=A",      /* padding then data */
        "Zm=v",      /* padding in the middle of a quantum */
        "Zg==Zm9v",  /* padding before the end */
        "Zm9v ",     /* whitespace */
        " Zm9v",
        "Zm9\nv",
        "Zm9*",      /* outside the alphabet */
        "Zm9-",      /* base64url character */
        "Zm9_",
        "Zh==",      /* non-canonical trailing bits ('h' leaves 4 nonzero unused bits) */
        "Zm9=",      /* non-canonical trailing bits ('9' has low 2 bits set) */
        "Z",
    };
    uint8_t out[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long r = crypto_b64_decode(bad[i], strlen(bad[i]), out, sizeof out);
        if (r != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* A NUL inside the counted length is not in the alphabet either. */
    assert_int_equal(crypto_b64_decode("Zm\0v", 4, out, sizeof out), -1);
}

static void b64url_decode_rejects_bad_characters_and_padding(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg==",  /* padding is never accepted */
        "Zm8=",
        "Z",     /* one leftover character cannot be produced by an encoder */
        "Zm9vY",
        "Zm9+",  /* standard-alphabet characters */
        "Zm9/",
        "Zm 9",
        "Zm9.",
        "Zh",    /* non-canonical trailing bits */
        "Zm9",
    };
    uint8_t out[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long r = crypto_b64url_decode(bad[i], strlen(bad[i]), out, sizeof out);
        if (r != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void encoders_and_decoders_respect_capacity(void **state)
{
    (void)state;
    char out[9];
    uint8_t raw[6];
    /* "foobar" needs 8 characters plus the NUL. */
    assert_int_equal(crypto_b64_encode("foobar", 6, out, 8), -1);
    assert_int_equal(crypto_b64_encode("foobar", 6, out, 9), 8);
    assert_int_equal(crypto_b64url_encode("fooba", 5, out, 7), -1);
    assert_int_equal(crypto_b64url_encode("fooba", 5, out, 8), 7);
    assert_int_equal(crypto_b64_decode("Zm9vYmFy", 8, raw, 5), -1);
    assert_int_equal(crypto_b64_decode("Zm9vYmFy", 8, raw, 6), 6);
    assert_int_equal(crypto_b64url_decode("Zm9vYmE", 7, raw, 4), -1);
    assert_int_equal(crypto_b64url_decode("Zm9vYmE", 7, raw, 5), 5);
}

static void crypto_equal_compares_all_bytes(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(crypto_equal(a, b, sizeof a));
    assert_true(crypto_equal(a, b, 0));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 1;
        assert_false(crypto_equal(a, b, sizeof a));
        b[i] ^= 1;
    }
}

static void crypto_random_fills_and_differs(void **state)
{
    (void)state;
    uint8_t a[32], b[32], zero[32] = {0};
    assert_int_equal(crypto_random(a, sizeof a), 0);
    assert_int_equal(crypto_random(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_int_equal(crypto_random(a, 0), 0);
}

static void crypto_wipe_zeroes(void **state)
{
    (void)state;
    uint8_t a[16], zero[16] = {0};
    memset(a, 0xff, sizeof a);
    crypto_wipe(a, sizeof a);
    assert_memory_equal(a, zero, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_sha256_matches_rfc4231_case_1),
        cmocka_unit_test(hmac_sha256_matches_rfc4231_case_2),
        cmocka_unit_test(hmac_sha256_matches_rfc4231_case_6_long_key),
        cmocka_unit_test(hmac_sha256_accepts_empty_key_and_data),
        cmocka_unit_test(b64_encodes_rfc4648_vectors),
        cmocka_unit_test(b64_decodes_rfc4648_vectors),
        cmocka_unit_test(b64url_encodes_and_decodes_rfc4648_vectors_without_padding),
        cmocka_unit_test(b64url_uses_dash_and_underscore),
        cmocka_unit_test(b64_round_trips_every_length_and_byte),
        cmocka_unit_test(b64_decode_rejects_bad_characters_and_padding),
        cmocka_unit_test(b64url_decode_rejects_bad_characters_and_padding),
        cmocka_unit_test(encoders_and_decoders_respect_capacity),
        cmocka_unit_test(crypto_equal_compares_all_bytes),
        cmocka_unit_test(crypto_random_fills_and_differs),
        cmocka_unit_test(crypto_wipe_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
