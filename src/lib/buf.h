/* buf: a growable byte buffer with a hard maximum (curl's habit: going past the maximum is an
 * error, not a realloc). Always NUL-terminated when data != NULL. */
#ifndef KASSE_BUF_H
#define KASSE_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
/* Makes room for n bytes in all (capped at max) without changing the contents. */
int buf_reserve(struct buf *b, size_t n);
/* Returns -1 (buffer unchanged) when len + n would exceed max or memory runs out. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

#endif
