/* crypto: random bytes, HMAC-SHA256 and constant-time comparison on OpenSSL 3, plus base64
 * (RFC 4648 section 4, padded) and base64url (section 5, unpadded) codecs (see crypto.h).
 *
 * Decoding is strict: any character outside the alphabet (whitespace included), '=' anywhere
 * but the padded tail of standard base64, a length that cannot come from the encoder, and
 * non-canonical trailing bits (unused low bits of the last character not zero, RFC 4648
 * section 3.5) are all rejected. So every accepted string is exactly what our encoder
 * produces for the decoded bytes. */
#include "lib/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "lib/log.h"

static int random_bytes(unsigned char *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1) {
            log_error("crypto: RAND_bytes failed");
            return -1;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

/* Small requests (ids: 16 bytes) are served from a per-thread pool refilled 512 bytes at a
 * time: RAND_bytes takes a lock and runs the DRBG on every call, which showed up on every
 * request's correlation id. Bytes handed out are wiped from the pool. */
#define RANDOM_POOL 512
static _Thread_local unsigned char random_pool[RANDOM_POOL];
static _Thread_local size_t random_avail;

int crypto_random(void *out, size_t n)
{
    if (n > RANDOM_POOL / 4)
        return random_bytes(out, n);
    if (random_avail < n) {
        if (random_bytes(random_pool, RANDOM_POOL) != 0)
            return -1;
        random_avail = RANDOM_POOL;
    }
    unsigned char *src = random_pool + (RANDOM_POOL - random_avail);
    memcpy(out, src, n);
    OPENSSL_cleanse(src, n);
    random_avail -= n;
    return 0;
}

/* SHA-256 is fetched from the provider once: OpenSSL 3's one-shot HMAC() fetches it on every
 * call, which cost more than the hashing itself on Kasse's hot path (two HMACs per request). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int digest_parts(EVP_MD_CTX *ctx, const void *a, size_t a_len, const void *b, size_t b_len,
                        uint8_t out[32])
{
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, a, a_len) != 1 ||
        (b_len && EVP_DigestUpdate(ctx, b, b_len) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1)
        return -1;
    return len == 32 ? 0 : -1;
}

/* HMAC (RFC 2104) over SHA-256: H((K ^ opad) || H((K ^ ipad) || m)), block size 64. */
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                       uint8_t out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = sha256_md ? EVP_MD_CTX_new() : NULL;
    if (!ctx) {
        log_error("crypto: SHA-256 unavailable");
        return -1;
    }
    uint8_t k[64] = {0}, pad[64], inner[32];
    int rc = 0;
    if (key_len > sizeof k)
        rc = digest_parts(ctx, key, key_len, NULL, 0, k);   /* long keys are hashed first */
    else if (key_len)
        memcpy(k, key, key_len);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    if (rc == 0)
        rc = digest_parts(ctx, pad, sizeof pad, data ? data : "", data ? data_len : 0, inner);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    if (rc == 0)
        rc = digest_parts(ctx, pad, sizeof pad, inner, sizeof inner, out);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    if (rc != 0)
        log_error("crypto: HMAC-SHA256 failed");
    return rc;
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_wipe(void *p, size_t n)
{
    if (p && n > 0)
        OPENSSL_cleanse(p, n);
}

/* ---- base64 ---------------------------------------------------------------------------- */

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t crypto_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t crypto_b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

static long b64_encode(const char *alphabet, bool pad, const void *in, size_t n, char *out,
                       size_t out_cap)
{
    const unsigned char *p = in;
    size_t need = pad ? crypto_b64_len(n) : crypto_b64url_len(n);
    if (!out || out_cap < need + 1 || need > (size_t)LONG_MAX)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    size_t rem = n - i;
    if (rem > 0) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (rem == 2)
            v |= (uint32_t)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (rem == 2)
            out[o++] = alphabet[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

long crypto_b64_encode(const void *in, size_t n, char *out, size_t out_cap)
{
    return b64_encode(B64_STD, true, in, n, out, out_cap);
}

long crypto_b64url_encode(const void *in, size_t n, char *out, size_t out_cap)
{
    return b64_encode(B64_URL, false, in, n, out, out_cap);
}

/* Value of c in the alphabet, or -1. Written out rather than table-driven so that the two
 * alphabets differ only in characters 62 and 63. */
static int b64_value(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes n alphabet characters (no padding); n % 4 != 1. */
static long b64_decode_core(const char *in, size_t n, bool url, unsigned char *out,
                            size_t out_cap)
{
    if (n % 4 == 1)
        return -1;
    size_t need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (need > out_cap || need > (size_t)LONG_MAX)
        return -1;
    if (n > 0 && !out)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = b64_value(in[i + k], url);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    size_t rem = n - i;
    if (rem > 0) {
        uint32_t v = 0;
        for (size_t k = 0; k < rem; k++) {
            int d = b64_value(in[i + k], url);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        if (rem == 2) {               /* 12 bits: 8 data + 4 that must be zero */
            if (v & 0xF)
                return -1;
            out[o++] = (unsigned char)(v >> 4);
        } else {                      /* rem == 3, 18 bits: 16 data + 2 that must be zero */
            if (v & 0x3)
                return -1;
            out[o++] = (unsigned char)(v >> 10);
            out[o++] = (unsigned char)(v >> 2);
        }
    }
    return (long)o;
}

long crypto_b64_decode(const char *in, size_t n, void *out, size_t out_cap)
{
    if (n > 0 && !in)
        return -1;
    if (n % 4 != 0)
        return -1;
    size_t body = n;
    if (n >= 4) {
        if (in[n - 1] == '=') {
            body--;
            if (in[n - 2] == '=')
                body--;
        }
    }
    /* Any '=' left in the body (e.g. "a===" or "=" mid-string) fails b64_value. */
    return b64_decode_core(in, body, false, out, out_cap);
}

long crypto_b64url_decode(const char *in, size_t n, void *out, size_t out_cap)
{
    if (n > 0 && !in)
        return -1;
    return b64_decode_core(in, n, true, out, out_cap);
}

void crypto_hex(const void *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *b = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}
