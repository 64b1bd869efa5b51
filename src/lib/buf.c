/* buf: bounded growable buffer (see buf.h). */
#include "lib/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int buf_reserve(struct buf *b, size_t n)
{
    if (n > b->max)
        n = b->max;
    if (n + 1 <= b->cap)
        return 0;
    char *d = mem_realloc(b->data, n + 1);
    if (!d)
        return -1;
    if (!b->data)
        d[0] = '\0';
    b->data = d;
    b->cap = n + 1;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = mem_realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    char *big = mem_malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}
