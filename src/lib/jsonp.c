/* jsonp: the strict JSON parser of jsonp.h. It owns the grammar, the UTF-8 and escape checks,
 * number conversion and the error message; jansson owns the values it builds.
 * One pass over the buffer, recursive descent bounded by max_depth. Strings are checked in
 * place (8 bytes at a time while they are plain ASCII); a string without escapes is handed to
 * json_stringn_nocheck as is, one with escapes is decoded once into a scratch buffer (decoded
 * text is never longer than its source, so one buffer of n + 1 bytes, taken on first need,
 * serves the whole parse). Object keys go to json_object_setn_new_nocheck
 * by pointer and length (they cannot hold NUL: \u0000 and raw control bytes are rejected). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* strtod_l, newlocale */
#endif
#include "lib/jsonp.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

_Static_assert(sizeof(json_int_t) == 8 && (json_int_t)-1 < 0, "json_int_t is int64");
#define JP_INT_MAX ((uint64_t)LLONG_MAX)

struct jp {
    const unsigned char *start, *p, *end;
    int max_depth;         /* containers; already capped at JSONP_JANSSON_MAX_DEPTH */
    int depth;             /* open values, counted as jansson counts them (scalars too) */
    char *err;
    size_t err_cap;
    char *scratch;         /* n + 1 bytes, allocated on first need */
    char small[128];       /* short escaped strings and keys, number text */
    struct jsonp_error *where; /* NULL, or where an out-of-range number lies */
    size_t path_at;        /* where->path is filled from the right while unwinding */
};

/* Unwinding from an out-of-range number: put ".key" or "[i]" in front of the path so far. */
static void path_prepend(struct jp *ps, const char *text, size_t len)
{
    if (!ps->where || !ps->where->out_of_range || ps->path_at == 0)
        return;
    if (len > ps->path_at) {           /* too long to name: keep what fits, mark the cut */
        ps->path_at = 0;
        ps->where->truncated = 1;
        return;
    }
    ps->path_at -= len;
    memcpy(ps->where->path + ps->path_at, text, len);
}

/* ---- errors ---- */

static json_t *fail(struct jp *ps, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *fail(struct jp *ps, const unsigned char *at, const char *fmt, ...)
{
    if (!ps->err || ps->err_cap == 0)
        return NULL;
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    /* Line and column (in characters) of the offending byte. */
    int line = 1, col = 1;
    for (const unsigned char *q = ps->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if ((*q & 0xC0) != 0x80) {
            col++;
        }
    }
    /* Context: up to 20 bytes from the offending one, printable ASCII only so the message is
     * always safe to put in a JSON response. */
    char near[24];
    size_t k = 0;
    for (const unsigned char *q = at; q < ps->end && k < 20 && *q != '\n'; q++)
        near[k++] = (*q >= 0x20 && *q < 0x7F) ? (char)*q : '?';
    near[k] = '\0';
    if (at >= ps->end)
        snprintf(ps->err, ps->err_cap, "%s near end of file (line %d, column %d)", msg, line,
                 col);
    else
        snprintf(ps->err, ps->err_cap, "%s near '%s' (line %d, column %d)", msg, near, line,
                 col);
    return NULL;
}

static char *scratch(struct jp *ps, size_t need)
{
    if (need <= sizeof ps->small)
        return ps->small;
    if (!ps->scratch)
        ps->scratch = mem_malloc((size_t)(ps->end - ps->start) + 1);
    return ps->scratch;
}

/* Running out of memory is not the text's fault: where says so, so the caller can answer 5xx. */
static json_t *oom(struct jp *ps, const unsigned char *at)
{
    if (ps->where)
        ps->where->out_of_memory = 1;
    return fail(ps, at, "out of memory");
}

/* ---- lexical helpers ---- */

static inline void skip_ws(struct jp *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the well-formed UTF-8 sequence (2 to 4 bytes) at p, or 0 (RFC 3629 table 3-7). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0xC2)                       /* ASCII, stray continuation, C0/C1 overlong */
        return 0;
    if (c < 0xE0)
        return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;                   /* overlong; UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;                   /* overlong; above U+10FFFF */
        return 4;
    }
    return 0;
}

/* The four hex digits at p as a number, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* Bit 7 of each byte of the result is set where that byte is '"', '\\', below 0x20 or above
 * 0x7F; a byte above a real hit may be flagged too (borrow), so only the lowest flag is exact,
 * and that is the one used. */
static inline uint64_t swar_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"');
    uint64_t b = v ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | (v - ones * 0x20) | v) & highs;
}

/* Moves p to the first byte that is not plain printable ASCII (or to end). */
static inline const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        uint64_t m = swar_special(v);
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

struct span {
    const unsigned char *s;
    size_t len;
    bool escaped;
};

/* Checks the string whose opening quote is at ps->p; leaves ps->p after the closing quote. */
static int scan_string(struct jp *ps, struct span *out)
{
    const unsigned char *p = ps->p + 1, *end = ps->end;
    const unsigned char *s = p;
    bool escaped = false;
    for (;;) {
        p = skip_plain(p, end);
        if (p >= end) {
            fail(ps, p, "premature end of input");
            return -1;
        }
        unsigned c = *p;
        if (c == '"')
            break;
        if (c >= 0x80) {
            size_t k = utf8_seq(p, end);
            if (k == 0) {
                fail(ps, p, "unable to decode byte 0x%x", c);
                return -1;
            }
            p += k;
        } else if (c == '\\') {
            const unsigned char *esc = p;
            escaped = true;
            if (++p >= end) {
                fail(ps, p, "premature end of input");
                return -1;
            }
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p++;
                break;
            case 'u': {
                long cp = hex4(p + 1, end);
                if (cp < 0) {
                    fail(ps, esc, "invalid escape");
                    return -1;
                }
                p += 5;
                if (cp == 0) {
                    fail(ps, esc, "\\u0000 is not allowed");
                    return -1;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail(ps, esc, "invalid Unicode '\\u%04lX'", cp);
                    return -1;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                        fail(ps, esc, "invalid Unicode '\\u%04lX'", cp);
                        return -1;
                    }
                    long lo = hex4(p + 2, end);
                    if (lo < 0) {
                        fail(ps, p, "invalid escape");
                        return -1;
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        fail(ps, esc, "invalid Unicode '\\u%04lX\\u%04lX'", cp, lo);
                        return -1;
                    }
                    p += 6;
                }
                break;
            }
            default:
                fail(ps, esc, "invalid escape");
                return -1;
            }
        } else if (c < 0x20) {
            fail(ps, p, c == '\n' ? "unexpected newline" : "control character 0x%x", c);
            return -1;
        } else {
            p++;                        /* not reached: skip_plain stops only on these */
        }
    }
    out->s = s;
    out->len = (size_t)(p - s);
    out->escaped = escaped;
    ps->p = p + 1;
    return 0;
}

/* Decodes a string scan_string accepted into dst (at least sp->len bytes); returns length. */
static size_t decode_string(const struct span *sp, char *dst)
{
    const unsigned char *p = sp->s, *end = sp->s + sp->len;
    char *t = dst;
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t plain = (size_t)((bs ? bs : end) - p);
        memcpy(t, p, plain);
        t += plain;
        p += plain;
        if (!bs)
            break;
        p++;
        unsigned e = *p++;
        switch (e) {
        case 'b': *t++ = '\b'; break;
        case 'f': *t++ = '\f'; break;
        case 'n': *t++ = '\n'; break;
        case 'r': *t++ = '\r'; break;
        case 't': *t++ = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(p, end);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(p + 2, end);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80) {
                *t++ = (char)cp;
            } else if (cp < 0x800) {
                *t++ = (char)(0xC0 | (cp >> 6));
                *t++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *t++ = (char)(0xE0 | (cp >> 12));
                *t++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *t++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *t++ = (char)(0xF0 | (cp >> 18));
                *t++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *t++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *t++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: *t++ = (char)e; break;   /* '"', '\\', '/' */
        }
    }
    return (size_t)(t - dst);
}

/* The text of sp, decoded if needed; NULL when out of memory. */
static const char *span_text(struct jp *ps, const struct span *sp, size_t *len)
{
    if (!sp->escaped) {
        *len = sp->len;
        return (const char *)sp->s;
    }
    char *dst = scratch(ps, sp->len);
    if (!dst)
        return NULL;
    *len = decode_string(sp, dst);
    return dst;
}

/* ---- values ---- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static json_t *parse_number(struct jp *ps)
{
    const unsigned char *s = ps->p, *p = s, *end = ps->end;
    bool neg = false, real = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return fail(ps, s, "invalid token");
    const unsigned char *digits = p;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail(ps, s, "invalid token");
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    const unsigned char *int_end = p;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return fail(ps, s, "invalid token");
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return fail(ps, s, "invalid token");
        while (p < end && is_digit(*p))
            p++;
        real = true;
    }
    ps->p = p;

    if (!real) {
        uint64_t limit = neg ? JP_INT_MAX + 1 : JP_INT_MAX, v = 0;
        for (const unsigned char *d = digits; d < int_end; d++) {
            unsigned dig = (unsigned)(*d - '0');
            if (v > (limit - dig) / 10)
            {
                if (ps->where)
                    ps->where->out_of_range = 1;
                return fail(ps, s, neg ? "too big negative integer" : "too big integer");
            }
            v = v * 10 + dig;
        }
        json_int_t iv;
        if (!neg)
            iv = (json_int_t)v;
        else if (v == JP_INT_MAX + 1)
            iv = LLONG_MIN;
        else
            iv = -(json_int_t)v;
        json_t *j = json_integer(iv);
        return j ? j : oom(ps, s);
    }

    size_t len = (size_t)(p - s);
    char *buf = scratch(ps, len + 1);
    if (!buf)
        return oom(ps, s);
    memcpy(buf, s, len);
    buf[len] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (isinf(d)) {
        if (ps->where)
            ps->where->out_of_range = 1;
        return fail(ps, s, "real number overflow");
    }
    json_t *j = json_real(d);
    return j ? j : oom(ps, s);
}

static json_t *parse_value(struct jp *ps);

static json_t *parse_object(struct jp *ps)
{
    json_t *obj = json_object();
    if (!obj)
        return oom(ps, ps->p);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        skip_ws(ps);
        const unsigned char *key_at = ps->p;
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, ps->p, "string or '}' expected");
            goto error;
        }
        struct span key;
        if (scan_string(ps, &key) != 0)
            goto error;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, ps->p, "':' expected");
            goto error;
        }
        ps->p++;
        json_t *v = parse_value(ps);
        if (!v) {
            if (ps->where && ps->where->out_of_range) {
                size_t klen;
                const char *k = span_text(ps, &key, &klen);
                if (k) {
                    path_prepend(ps, k, klen);
                    path_prepend(ps, ".", 1);
                }
            }
            goto error;
        }
        /* The key is decoded after the value so the scratch buffer is free again. */
        size_t klen;
        const char *k = span_text(ps, &key, &klen);
        if (!k) {
            json_decref(v);
            oom(ps, key_at);
            goto error;
        }
        /* Duplicate check without a second hash lookup: setting an existing key replaces
         * its value and leaves the size as it was; the object is thrown away then anyway. */
        size_t before = json_object_size(obj);
        if (json_object_setn_new_nocheck(obj, k, klen, v) != 0) {   /* steals v even then */
            oom(ps, key_at);
            goto error;
        }
        if (json_object_size(obj) == before) {
            fail(ps, key_at, "duplicate object key");
            goto error;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        fail(ps, ps->p, "'}' expected");
        goto error;
    }
error:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(struct jp *ps)
{
    json_t *arr = json_array();
    if (!arr)
        return oom(ps, ps->p);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(ps);
        if (!v) {
            char idx[24];
            int len = snprintf(idx, sizeof idx, "[%zu]", json_array_size(arr));
            path_prepend(ps, idx, (size_t)len);
            goto error;
        }
        if (json_array_append_new(arr, v) != 0) {   /* steals v even then */
            oom(ps, ps->p);
            goto error;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        fail(ps, ps->p, "']' expected");
        goto error;
    }
error:
    json_decref(arr);
    return NULL;
}

static json_t *literal(struct jp *ps, const char *word, size_t len, json_t *v)
{
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
        return fail(ps, ps->p, "invalid token");
    ps->p += len;
    return v;
}

static json_t *parse_value(struct jp *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, ps->p, "unexpected token");
    if (++ps->depth > JSONP_JANSSON_MAX_DEPTH)
        return fail(ps, ps->p, "maximum parsing depth reached");
    json_t *v;
    switch (*ps->p) {
    case '{':
    case '[':
        if (ps->depth > ps->max_depth)
            return fail(ps, ps->p, "maximum nesting depth (%d) exceeded", ps->max_depth);
        v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        break;
    case '"': {
        const unsigned char *at = ps->p;
        struct span sp;
        if (scan_string(ps, &sp) != 0)
            return NULL;
        size_t len;
        const char *txt = span_text(ps, &sp, &len);
        v = txt ? json_stringn_nocheck(txt, len) : NULL;
        if (!v)
            return oom(ps, at);
        break;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        v = parse_number(ps);
        break;
    case 't':
        v = literal(ps, "true", 4, json_true());
        break;
    case 'f':
        v = literal(ps, "false", 5, json_false());
        break;
    case 'n':
        v = literal(ps, "null", 4, json_null());
        break;
    default:
        return fail(ps, ps->p, *ps->p == ']' || *ps->p == '}' || *ps->p == ',' ||
                                       *ps->p == ':' ? "unexpected token" : "invalid token");
    }
    if (v)
        ps->depth--;
    return v;
}

json_t *jsonp_parse(const char *s, size_t n, int max_depth, char *err, size_t err_cap)
{
    return jsonp_parse_at(s, n, max_depth, err, err_cap, NULL);
}

json_t *jsonp_parse_at(const char *s, size_t n, int max_depth, char *err, size_t err_cap,
                       struct jsonp_error *where)
{
    if (err && err_cap)
        err[0] = '\0';
    if (where)
        memset(where, 0, sizeof *where);
    static const char empty[1] = "";
    struct jp ps = {
        .start = (const unsigned char *)(s ? s : empty),
        .max_depth = max_depth < 0 ? 0
                     : max_depth > JSONP_JANSSON_MAX_DEPTH ? JSONP_JANSSON_MAX_DEPTH
                     : max_depth,
        .err = err,
        .err_cap = err_cap,
        .where = where,
        .path_at = where ? sizeof where->path - 1 : 0,
    };
    ps.p = ps.start;
    ps.end = ps.start + (s ? n : 0);
    json_t *v = parse_value(&ps);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, ps.p, "end of file expected");
            json_decref(v);
            v = NULL;
        }
    }
    if (!v && where && where->out_of_range) {
        /* The path was written right-aligned; move it to the front, without a leading dot. */
        const char *p = where->path + ps.path_at;
        size_t len = sizeof where->path - 1 - ps.path_at;
        if (len && *p == '.') {
            p++;
            len--;
        }
        memmove(where->path, p, len);
        where->path[len] = '\0';
    }
    free(ps.scratch);
    return v;
}
