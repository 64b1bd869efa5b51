/* jsonw: a compact JSON writer for jansson values, used on every response and stored body.
 * jansson's own json_dumps checks for reference cycles by formatting every container's
 * address into a hash table, which made it a fifth of the cost of a create-session request;
 * Kasse's values are trees built by Kasse, so this writer walks them directly. Output matches
 * json_dumps(v, JSON_COMPACT): keys in insertion order, UTF-8 kept as is, control characters,
 * '"' and '\\' escaped, reals with 12 significant digits. */
#include "lib/jsonw.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_MAX_DEPTH 64

static int put(struct buf *b, const char *s, size_t n)
{
    return buf_append(b, s, n);
}

/* True when any of the 8 bytes of w is a control character, '"' or '\\' (bytes ≥ 0x80 are
 * UTF-8 and pass). The classic "has zero byte" test on w, w ^ '"'x8 and w ^ '\\'x8. */
static bool plain8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    uint64_t low = (w - ones * 0x20) & ~w & highs;          /* byte < 0x20 */
    uint64_t q = (quote - ones) & ~quote & highs;
    uint64_t bs = (slash - ones) & ~slash & highs;
    return (low | q | bs) == 0;
}

static int put_string(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";   /* jansson's case */
    if (put(b, "\"", 1) != 0)
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        /* Most text needs no escape: skip it eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!plain8(w))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (put(b, s + start, i - start) != 0)
            return -1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            len = 6;
        }
        if (put(b, esc, len) != 0)
            return -1;
        start = i + 1;
    }
    if (put(b, s + start, n - start) != 0)
        return -1;
    return put(b, "\"", 1);
}

static int put_int(struct buf *b, json_int_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return put(b, p, (size_t)(tmp + sizeof tmp - p));
}

static int put_real(struct buf *b, double d)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.12g", d);
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return -1;
    /* Keep it a real when read back, as jansson does. */
    if (!strpbrk(tmp, ".eE") && (size_t)n + 2 < sizeof tmp) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    return put(b, tmp, (size_t)n);
}

static int dump(const json_t *v, struct buf *b, int depth)
{
    if (depth > JSONW_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (put(b, "{", 1) != 0)
            return -1;
        const char *key;
        json_t *value;
        int first = 1;
        void *iter = json_object_iter((json_t *)v);
        while (iter) {
            key = json_object_iter_key(iter);
            value = json_object_iter_value(iter);
            if ((!first && put(b, ",", 1) != 0) || put_string(b, key, strlen(key)) != 0 ||
                put(b, ":", 1) != 0 || dump(value, b, depth + 1) != 0)
                return -1;
            first = 0;
            iter = json_object_iter_next((json_t *)v, iter);
        }
        return put(b, "}", 1);
    }
    case JSON_ARRAY: {
        if (put(b, "[", 1) != 0)
            return -1;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++)
            if ((i && put(b, ",", 1) != 0) || dump(json_array_get(v, i), b, depth + 1) != 0)
                return -1;
        return put(b, "]", 1);
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_int(b, json_integer_value(v));
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return put(b, "true", 4);
    case JSON_FALSE:
        return put(b, "false", 5);
    case JSON_NULL:
        return put(b, "null", 4);
    }
    return -1;
}

int jsonw_append(const json_t *v, struct buf *out)
{
    if (!v)
        return -1;
    size_t mark = out->len;
    if (dump(v, out, 0) != 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}

char *jsonw_dumps(const json_t *v, size_t *len)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    /* Most replies and stored bodies fit in 2 KiB: start there instead of doubling up to it. */
    if (buf_reserve(&b, 2048) != 0 || jsonw_append(v, &b) != 0 || !b.data) {
        buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}
