/* ids: random identifiers (see ids.h): RFC 4122 version-4 and RFC 9562 version-7 UUIDs and [A-Z0-9] / [A-Za-z0-9]
 * strings. All randomness comes from crypto_random; alphabet characters are drawn by
 * rejection sampling so every character is equally likely (no modulo bias). */
#include "lib/ids.h"

#include <stdint.h>

#include "lib/crypto.h"

static void format_uuid(const uint8_t b[16], char out[IDS_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0xF];
    }
    out[o] = '\0';
}

int ids_uuid4(char out[IDS_UUID_LEN + 1])
{
    uint8_t b[16];
    if (crypto_random(b, sizeof b) != 0)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80); /* variant 10xx (RFC 4122) */
    format_uuid(b, out);
    return 0;
}

int ids_uuid7(int64_t unix_ms, char out[IDS_UUID_LEN + 1])
{
    uint8_t b[16];
    if (unix_ms < 0 || crypto_random(b, sizeof b) != 0)
        return -1;
    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)                /* 48-bit big-endian timestamp */
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x70);    /* version 7 */
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);    /* variant 10xx */
    format_uuid(b, out);
    return 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool ids_is_uuid(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < IDS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!is_hex(s[i])) {
            return false;     /* also stops at an early NUL */
        }
    }
    return s[IDS_UUID_LEN] == '\0';
}

/* n characters drawn uniformly from alphabet (len <= 256), NUL-terminated. A random byte is
 * used only when it is below the largest multiple of len that fits in 256. */
static int random_from(const char *alphabet, unsigned len, char *out, size_t n)
{
    const unsigned limit = 256 / len * len;
    uint8_t pool[64];
    size_t used = sizeof pool;
    size_t o = 0;
    while (o < n) {
        if (used == sizeof pool) {
            if (crypto_random(pool, sizeof pool) != 0) {
                crypto_wipe(out, o);
                out[0] = '\0';
                return -1;
            }
            used = 0;
        }
        unsigned v = pool[used++];
        if (v < limit)
            out[o++] = alphabet[v % len];
    }
    out[o] = '\0';
    crypto_wipe(pool, sizeof pool); /* the pool may have formed a secret */
    return 0;
}

int ids_upper_alnum(char *out, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    return random_from(a, (unsigned)(sizeof a - 1), out, n);
}

int ids_alnum(char *out, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return random_from(a, (unsigned)(sizeof a - 1), out, n);
}

void ids_lowercase(char *uuid)
{
    for (char *c = uuid; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
}
