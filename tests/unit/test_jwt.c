/* test_jwt: HS256 sign/verify round trip, the jwt.io reference token, and every way a token
 * must be rejected (tampering, foreign algorithms, wrong structure, wrong key, size). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/jwt.h"
#include "lib/limits.h"

static const uint8_t KEY[] = "test-signing-key-0123456789abcdef";
#define KEY_LEN (sizeof KEY - 1)

/* jwt.io's HS256 example, secret "your-256-bit-secret". */
static const char JWTIO_TOKEN[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
static const char JWTIO_SECRET[] = "your-256-bit-secret";

/* Builds b64url(header).b64url(payload).b64url(HMAC-SHA256(key, first two parts)) from the
 * exact bytes given, so header checks are tested with a signature that is otherwise valid.
 * The caller frees the result. */
static char *make_token(const char *header, const char *payload, const void *key,
                        size_t key_len)
{
    size_t hl = strlen(header), pl = strlen(payload);
    size_t cap = crypto_b64url_len(hl) + crypto_b64url_len(pl) + crypto_b64url_len(32) + 3;
    char *t = malloc(cap);
    assert_non_null(t);
    size_t o = 0;
    long w = crypto_b64url_encode(header, hl, t, cap);
    assert_true(w >= 0);
    o += (size_t)w;
    t[o++] = '.';
    w = crypto_b64url_encode(payload, pl, t + o, cap - o);
    assert_true(w >= 0);
    o += (size_t)w;
    uint8_t mac[32];
    assert_int_equal(crypto_hmac_sha256(key, key_len, t, o, mac), 0);
    t[o++] = '.';
    w = crypto_b64url_encode(mac, sizeof mac, t + o, cap - o);
    assert_true(w >= 0);
    return t;
}

static void expect_rejected(const char *token, const void *key, size_t key_len)
{
    json_t *c = jwt_verify_hs256(token, key, key_len);
    if (c) {
        json_decref(c);
        fail_msg("accepted \"%s\"", token);
    }
}

static void sign_then_verify_round_trips_claims(void **state)
{
    (void)state;
    json_t *claims = json_pack("{s:s, s:I, s:s, s:{s:b}}", "session_id",
                               "068df369-13a7-4d47-a564-62f8408bb760", "exp",
                               (json_int_t)4102444800, "name", "Åsa \"q\" \\ ü",
                               "nested", "ok", 1);
    assert_non_null(claims);
    char *tok = jwt_sign_hs256(claims, KEY, KEY_LEN);
    assert_non_null(tok);
    json_t *back = jwt_verify_hs256(tok, KEY, KEY_LEN);
    assert_non_null(back);
    assert_true(json_equal(claims, back));
    json_decref(back);
    json_decref(claims);
    free(tok);
}

static void sign_uses_fixed_hs256_header(void **state)
{
    (void)state;
    json_t *claims = json_object();
    char *tok = jwt_sign_hs256(claims, KEY, KEY_LEN);
    assert_non_null(tok);
    /* base64url of {"alg":"HS256","typ":"JWT"}, then b64url("{}") = "e30" */
    assert_int_equal(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.", 41), 0);
    assert_int_equal(strlen(tok), 41 + 43);
    json_decref(claims);
    free(tok);
}

static void sign_produces_jwtio_token_for_same_claims(void **state)
{
    (void)state;
    json_t *claims = json_pack("{s:s, s:s, s:I}", "sub", "1234567890", "name", "John Doe",
                               "iat", (json_int_t)1516239022);
    char *tok = jwt_sign_hs256(claims, (const uint8_t *)JWTIO_SECRET, strlen(JWTIO_SECRET));
    assert_non_null(tok);
    assert_string_equal(tok, JWTIO_TOKEN);
    json_decref(claims);
    free(tok);
}

static void sign_rejects_non_object_claims(void **state)
{
    (void)state;
    json_t *arr = json_array();
    assert_null(jwt_sign_hs256(arr, KEY, KEY_LEN));
    assert_null(jwt_sign_hs256(NULL, KEY, KEY_LEN));
    json_decref(arr);
}

static void verify_accepts_jwtio_example_token(void **state)
{
    (void)state;
    json_t *c = jwt_verify_hs256(JWTIO_TOKEN, (const uint8_t *)JWTIO_SECRET,
                                 strlen(JWTIO_SECRET));
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "1234567890");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "John Doe");
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1516239022);
    json_decref(c);
}

/* Header keys in another order, whitespace in both parts: the signature covers the token's
 * bytes as sent, so verify must not re-serialize anything. */
static void verify_signs_over_token_bytes_not_reserialized_json(void **state)
{
    (void)state;
    char *tok = make_token("{ \"typ\": \"JWT\", \"alg\": \"HS256\" }",
                           "{\"b\": 2,   \"a\":1}", KEY, KEY_LEN);
    json_t *c = jwt_verify_hs256(tok, KEY, KEY_LEN);
    assert_non_null(c);
    assert_int_equal(json_integer_value(json_object_get(c, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "b")), 2);
    json_decref(c);
    free(tok);
}

static void verify_rejects_tampered_payload(void **state)
{
    (void)state;
    /* Same signature, payload with "sub":"1234567891". */
    char *tok = strdup(JWTIO_TOKEN);
    assert_non_null(tok);
    char payload64[128];
    const char *p = "{\"sub\":\"1234567891\",\"name\":\"John Doe\",\"iat\":1516239022}";
    assert_true(crypto_b64url_encode(p, strlen(p), payload64, sizeof payload64) > 0);
    char *dot1 = strchr(tok, '.');
    memcpy(dot1 + 1, payload64, strlen(payload64)); /* same length as the original part */
    expect_rejected(tok, JWTIO_SECRET, strlen(JWTIO_SECRET));

    /* And every single-character change anywhere in the token. */
    size_t n = strlen(JWTIO_TOKEN);
    for (size_t i = 0; i < n; i++) {
        memcpy(tok, JWTIO_TOKEN, n + 1);
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        expect_rejected(tok, JWTIO_SECRET, strlen(JWTIO_SECRET));
    }
    free(tok);
}

static void verify_rejects_wrong_key(void **state)
{
    (void)state;
    expect_rejected(JWTIO_TOKEN, "your-256-bit-secreT", strlen(JWTIO_SECRET));
    expect_rejected(JWTIO_TOKEN, JWTIO_SECRET, strlen(JWTIO_SECRET) - 1);
    expect_rejected(JWTIO_TOKEN, "", 0);
}

static void verify_rejects_alg_none(void **state)
{
    (void)state;
    /* The classic form: alg none, empty signature. */
    char h[64], p[64], tok[256];
    const char *hj = "{\"alg\":\"none\",\"typ\":\"JWT\"}", *pj = "{\"sub\":\"x\"}";
    assert_true(crypto_b64url_encode(hj, strlen(hj), h, sizeof h) > 0);
    assert_true(crypto_b64url_encode(pj, strlen(pj), p, sizeof p) > 0);
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    expect_rejected(tok, KEY, KEY_LEN);
    /* And with a signature that would otherwise be valid. */
    char *t = make_token(hj, pj, KEY, KEY_LEN);
    expect_rejected(t, KEY, KEY_LEN);
    free(t);
    t = make_token("{\"alg\":\"None\"}", pj, KEY, KEY_LEN);
    expect_rejected(t, KEY, KEY_LEN);
    free(t);
}

static void verify_rejects_alg_rs256(void **state)
{
    (void)state;
    char *t = make_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{\"sub\":\"x\"}", KEY, KEY_LEN);
    expect_rejected(t, KEY, KEY_LEN);
    free(t);
}

static void verify_rejects_missing_or_odd_alg(void **state)
{
    (void)state;
    static const char *headers[] = {
        "{\"typ\":\"JWT\"}",
        "{}",
        "{\"alg\":\"hs256\"}",
        "{\"alg\":\"HS384\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"HS256\\u0000\"}",
        "{\"alg\":null}",
        "{\"alg\":256}",
        "{\"alg\":[\"HS256\"]}",
        "{\"alg\":\"HS256\",\"alg\":\"none\"}",          /* duplicate keys */
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",        /* unknown critical extension */
        "[\"HS256\"]",                                   /* not an object */
        "\"HS256\"",
        "",
        "not json",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *t = make_token(headers[i], "{\"sub\":\"x\"}", KEY, KEY_LEN);
        expect_rejected(t, KEY, KEY_LEN);
        free(t);
    }
}

static void verify_rejects_payload_that_is_not_a_json_object(void **state)
{
    (void)state;
    static const char *payloads[] = {
        "[1,2]", "\"sub\"", "42", "null", "", "{\"a\":1", "{\"a\":1}x", "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i], KEY, KEY_LEN);
        expect_rejected(t, KEY, KEY_LEN);
        free(t);
    }
}

static void verify_rejects_two_part_and_four_part_tokens(void **state)
{
    (void)state;
    char buf[512];
    const char *dot2 = strrchr(JWTIO_TOKEN, '.');
    size_t two = (size_t)(dot2 - JWTIO_TOKEN);
    snprintf(buf, sizeof buf, "%.*s", (int)two, JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, "%.*s.", (int)two, JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, "%s.", JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, "%s.e30", JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
}

static void verify_rejects_garbage(void **state)
{
    (void)state;
    static const char *garbage[] = {
        "", ".", "..", "...", "a.b.c", "garbage", "\xff\xfe.\x01.\x02",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        expect_rejected(garbage[i], KEY, KEY_LEN);
    assert_null(jwt_verify_hs256(NULL, KEY, KEY_LEN));
}

static void verify_rejects_padded_or_standard_alphabet_parts(void **state)
{
    (void)state;
    char buf[512];
    snprintf(buf, sizeof buf, "%s=", JWTIO_TOKEN);               /* padded signature */
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, "%s", JWTIO_TOKEN);
    char *u = strchr(strrchr(buf, '.'), '_');
    assert_non_null(u);
    *u = '/';                                                    /* base64, not base64url */
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, " %s", JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
    snprintf(buf, sizeof buf, "%s\n", JWTIO_TOKEN);
    expect_rejected(buf, JWTIO_SECRET, strlen(JWTIO_SECRET));
}

static void verify_rejects_token_longer_than_limit(void **state)
{
    (void)state;
    /* Largest payload that keeps the token within LIMIT_JWT_BYTES is accepted; one more
     * character of token is rejected before any parsing. */
    const char *hj = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t fixed = crypto_b64url_len(strlen(hj)) + 2 + crypto_b64url_len(32);
    size_t pay_chars = LIMIT_JWT_BYTES - fixed;         /* base64url chars left for payload */
    size_t raw = pay_chars / 4 * 3;                     /* raw bytes that encode to <= that */
    char *pj = malloc(raw + 1);
    assert_non_null(pj);
    memset(pj, ' ', raw);
    pj[0] = '{';
    pj[raw - 1] = '}';
    pj[raw] = '\0';
    char *t = make_token(hj, pj, KEY, KEY_LEN);
    assert_true(strlen(t) <= LIMIT_JWT_BYTES);
    json_t *c = jwt_verify_hs256(t, KEY, KEY_LEN);
    assert_non_null(c);
    json_decref(c);
    free(t);

    pj = realloc(pj, LIMIT_JWT_BYTES + 1);
    assert_non_null(pj);
    memset(pj, ' ', LIMIT_JWT_BYTES);
    pj[0] = '{';
    pj[LIMIT_JWT_BYTES - 1] = '}';
    pj[LIMIT_JWT_BYTES] = '\0';
    t = make_token(hj, pj, KEY, KEY_LEN);
    assert_true(strlen(t) > LIMIT_JWT_BYTES);
    expect_rejected(t, KEY, KEY_LEN);
    free(t);
    free(pj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_then_verify_round_trips_claims),
        cmocka_unit_test(sign_uses_fixed_hs256_header),
        cmocka_unit_test(sign_produces_jwtio_token_for_same_claims),
        cmocka_unit_test(sign_rejects_non_object_claims),
        cmocka_unit_test(verify_accepts_jwtio_example_token),
        cmocka_unit_test(verify_signs_over_token_bytes_not_reserialized_json),
        cmocka_unit_test(verify_rejects_tampered_payload),
        cmocka_unit_test(verify_rejects_wrong_key),
        cmocka_unit_test(verify_rejects_alg_none),
        cmocka_unit_test(verify_rejects_alg_rs256),
        cmocka_unit_test(verify_rejects_missing_or_odd_alg),
        cmocka_unit_test(verify_rejects_payload_that_is_not_a_json_object),
        cmocka_unit_test(verify_rejects_two_part_and_four_part_tokens),
        cmocka_unit_test(verify_rejects_garbage),
        cmocka_unit_test(verify_rejects_padded_or_standard_alphabet_parts),
        cmocka_unit_test(verify_rejects_token_longer_than_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
