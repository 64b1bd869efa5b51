/* parse: HTTP/1.1 request heads and chunked bodies, strictly (RFC 9112), with no I/O.
 *
 * Kasse owns its HTTP framing (issue 9): whatever the bytes, a request is either parsed exactly
 * or refused with one status and Klarna's error code, and the connection is closed after the
 * reply whenever the framing could be ambiguous. What is refused, and why, is in
 * docs/architecture.md ("HTTP framing"). The head is parsed in place: every string the result
 * points to lives in the text given to http_parse_head, which must outlive it. */
#ifndef KASSE_HTTP_PARSE_H
#define KASSE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/kerr.h"

struct http_field {
    const char *name;
    const char *value;            /* a query argument without "=" has a NULL value */
};

enum http_body_kind { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http_head {
    const char *method;
    const char *path;             /* percent-decoded; "%00" kept as written */
    int minor;                    /* HTTP/1.<minor>: 0 or 1 */
    struct http_field *headers;   /* malloc'ed, n_headers long */
    int n_headers;
    struct http_field *query;     /* malloc'ed; '+' is a space, percent-decoded */
    int n_query;
    enum http_body_kind body;
    uint64_t content_length;      /* HTTP_BODY_LENGTH */
    bool keep_alive;              /* the client allows the connection to be reused */
    bool expect_continue;         /* "Expect: 100-continue" */
};

/* Where a head ends in buf[0..len): its length including the final CRLF CRLF, 0 when more
 * bytes are needed, or -1 with err (a bare LF or NUL anywhere, or a head longer than
 * LIMIT_HEAD_BYTES: 431, or a request line longer than LIMIT_REQUEST_LINE_BYTES: 414). Empty
 * lines before the request line are allowed (RFC 9112 §2.2): *skip is how many bytes of them
 * lead the head. Looks only at bytes from *scanned on, and advances it. */
long http_head_end(const char *buf, size_t len, size_t *scanned, size_t *skip, struct kerr *err);

/* Parses text[0..len), a whole head as delimited by http_head_end (without the leading empty
 * lines), in place. 0 with h filled (free with http_head_free), or -1 with err: 400
 * BAD_REQUEST, 414 URI_TOO_LONG, 431 REQUEST_HEADER_FIELDS_TOO_LARGE, 413 REQUEST_TOO_LARGE,
 * 417 EXPECTATION_FAILED or 505 HTTP_VERSION_NOT_SUPPORTED. h->minor is set as soon as the
 * version was read, so a refusal can still be answered in the client's version. */
int http_parse_head(char *text, size_t len, struct http_head *h, struct kerr *err);
void http_head_free(struct http_head *h);

/* The first value of a header (case-insensitive name), or NULL. */
const char *http_head_header(const struct http_head *h, const char *name);

/* Incremental chunked-body decoder. Zero-initialise, then feed bytes as they arrive. */
struct http_chunked {
    int state;
    uint64_t left;                /* bytes left in the current chunk */
    size_t line;                  /* bytes of the current size, extension or trailer line */
    size_t trailers;              /* bytes of trailer section so far */
    int digits;
};

/* Decodes in[0..len), appending data to body (its max is the body limit). Returns the bytes
 * consumed (fewer than len only when the body ended: the rest is the next request) and sets
 * *done at the end of the trailer section; -1 with err on malformed framing (400) or a body past
 * body->max (413). */
long http_chunked_feed(struct http_chunked *c, const char *in, size_t len, struct buf *body,
                       bool *done, struct kerr *err);

/* Percent-decodes s in place ('+' as a space when plus), leaving "%00" and malformed escapes as
 * written. Returns the new length. */
size_t http_unescape(char *s, bool plus);

#endif
