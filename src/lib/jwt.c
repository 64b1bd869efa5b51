/* jwt: signing and verifying HS256 JSON Web Tokens (RFC 7519 / RFC 7515 compact form).
 *
 * The algorithm is Kasse's choice, never the token's: verify rejects any header whose alg is
 * not exactly "HS256" (so "none", "RS256", a missing alg, ...), and any header with "crit"
 * (RFC 7515 section 4.1.11: we understand no extensions). The signature is computed over the
 * token's own header.payload bytes, never over a re-serialization, and compared in constant
 * time. Registered claims (exp, nbf, ...) are the caller's to check. */
#include "lib/jwt.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/limits.h"
#include "lib/jsonw.h"
#include "lib/log.h"
#include "lib/mem.h"

#define JWT_HEADER_JSON "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_SIG_LEN 32
/* Decoded size of any part of a token within LIMIT_JWT_BYTES (see crypto_b64url_decode). */
#define JWT_PART_MAX (LIMIT_JWT_BYTES / 4 * 3 + 3)

char *jwt_sign_hs256(const json_t *claims, const uint8_t *key, size_t key_len)
{
    if (!json_is_object(claims) || (!key && key_len > 0))
        return NULL;
    char *payload = jsonw_dumps(claims, NULL);
    if (!payload)
        return NULL;
    size_t payload_len = strlen(payload);
    const size_t header_len = sizeof JWT_HEADER_JSON - 1;

    size_t h64 = crypto_b64url_len(header_len);
    size_t p64 = crypto_b64url_len(payload_len);
    size_t s64 = crypto_b64url_len(JWT_SIG_LEN);
    size_t total = h64 + 1 + p64 + 1 + s64;   /* fits: payload_len came from a real string */
    char *tok = mem_malloc(total + 1);
    if (!tok) {
        free(payload);
        return NULL;
    }
    size_t o = 0;
    long w = crypto_b64url_encode(JWT_HEADER_JSON, header_len, tok + o, total + 1 - o);
    if (w < 0)
        goto fail;
    o += (size_t)w;
    tok[o++] = '.';
    w = crypto_b64url_encode(payload, payload_len, tok + o, total + 1 - o);
    if (w < 0)
        goto fail;
    o += (size_t)w;

    uint8_t sig[JWT_SIG_LEN];
    if (crypto_hmac_sha256(key, key_len, tok, o, sig) != 0)
        goto fail;
    tok[o++] = '.';
    w = crypto_b64url_encode(sig, sizeof sig, tok + o, total + 1 - o);
    if (w < 0)
        goto fail;
    free(payload);
    return tok;

fail:
    free(payload);
    free(tok);
    return NULL;
}

/* Decodes a base64url part into buf and parses it as a JSON object; NULL otherwise. */
static json_t *decode_object(const char *part, size_t len, uint8_t *buf, size_t cap)
{
    if (len == 0)
        return NULL;
    long n = crypto_b64url_decode(part, len, buf, cap);
    if (n <= 0)
        return NULL;
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return NULL;
    if (!json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static bool header_ok(const char *part, size_t len, uint8_t *buf, size_t cap)
{
    json_t *h = decode_object(part, len, buf, cap);
    if (!h)
        return false;
    const json_t *alg = json_object_get(h, "alg");
    /* Length first: "HS256\u0000x" must not pass as "HS256". */
    bool ok = json_is_string(alg) && json_string_length(alg) == 5 &&
              memcmp(json_string_value(alg), "HS256", 5) == 0 && !json_object_get(h, "crit");
    json_decref(h);
    return ok;
}

json_t *jwt_verify_hs256(const char *token, const uint8_t *key, size_t key_len)
{
    if (!token || (!key && key_len > 0))
        return NULL;
    size_t len = strnlen(token, (size_t)LIMIT_JWT_BYTES + 1);
    if (len > LIMIT_JWT_BYTES)
        return NULL;

    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return NULL;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2)
        return NULL;
    const char *sig64 = dot2 + 1;
    size_t sig64_len = len - (size_t)(sig64 - token);
    if (memchr(sig64, '.', sig64_len))
        return NULL;                  /* more than three parts (e.g. a JWE) */

    uint8_t *buf = mem_malloc(JWT_PART_MAX);
    if (!buf)
        return NULL;
    json_t *claims = NULL;

    if (!header_ok(token, (size_t)(dot1 - token), buf, JWT_PART_MAX))
        goto out;

    uint8_t sig[JWT_SIG_LEN];
    if (crypto_b64url_decode(sig64, sig64_len, sig, sizeof sig) != JWT_SIG_LEN)
        goto out;
    uint8_t want[JWT_SIG_LEN];
    if (crypto_hmac_sha256(key, key_len, token, (size_t)(dot2 - token), want) != 0)
        goto out;
    if (!crypto_equal(sig, want, sizeof want))
        goto out;

    claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, JWT_PART_MAX);

out:
    free(buf);
    return claims;
}
