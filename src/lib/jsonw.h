/* jsonw: compact JSON output for jansson values (see jsonw.c for why not json_dumps). */
#ifndef KASSE_JSONW_H
#define KASSE_JSONW_H

#include <jansson.h>
#include <stddef.h>

#include "lib/buf.h"

/* Appends the compact JSON text of v to out; -1 (out unchanged) on overflow of out's maximum,
 * memory exhaustion or nesting deeper than 64. */
int jsonw_append(const json_t *v, struct buf *out);
/* A malloc'ed NUL-terminated compact JSON text of v (length in *len if not NULL), or NULL. */
char *jsonw_dumps(const json_t *v, size_t *len);

#endif
